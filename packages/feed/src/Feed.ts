/**
 * The realtime feed on one node. A single tailer follows the durable log
 * (woken by the bus, polling as a fallback) and republishes each event to
 * the node's subscribers; each subscriber filters by what its user may see.
 *
 * Positions in the log are contiguous, so a subscriber that sees position
 * p+2 after p knows it missed p+1 and reads it back from Postgres: a slow or
 * late subscriber never skips an event, and never sees one twice.
 */
import { AccessRevoked, Audience, Delivered, Event, PresenceChanged, Reset } from "@troupe/domain/Event"
import type { OrgId, RoomId, UserId } from "@troupe/domain/Ids"
import { changesAccess, sees, type Viewer } from "@troupe/domain/Visibility"
import { type Ephemeral, EventBus } from "@troupe/realtime/EventBus"
import { Presence } from "@troupe/realtime/Presence"
import { EventLog, type LoggedEvent } from "@troupe/store/EventLog"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Chunk, Config, Duration, Effect, Metric, Option, PubSub, Queue, Ref, Schedule, Schema, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { eventsPublished, queuedTriggers } from "./FeedMetrics.js"

/** The feed's settings. */
export const FeedConfig = Config.all({
  /** How often the node reads the log when no wake-up arrives (`EVENT_POLL_INTERVAL`, default 1 second). */
  pollInterval: Config.duration("EVENT_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(1)))
})

type Item =
  | { readonly _tag: "Logged"; readonly event: LoggedEvent }
  | { readonly _tag: "Ephemeral"; readonly event: Ephemeral }

const decodeUnknownEvent = Schema.decodeUnknownOption(Event)
const decoded = new WeakMap<object, Option.Option<Event>>()

/** Decodes an ephemeral event once per node, however many subscribers see it. */
const decodeEvent = (raw: unknown): Option.Option<Event> => {
  if (typeof raw !== "object" || raw === null) return decodeUnknownEvent(raw)
  const cached = decoded.get(raw)
  if (cached !== undefined) return cached
  const result = decodeUnknownEvent(raw)
  decoded.set(raw, result)
  return result
}
const encodeEvent = Schema.encodeSync(Event)

/** Parses a client cursor: a log position, optionally followed by an ephemeral suffix (`12~3`). */
export const parseCursor = (id: string | undefined): Option.Option<number> => {
  if (id === undefined || id.trim() === "") return Option.none()
  const match = id.trim().match(/^(\d{1,15})(?:~\d+)?$/)
  return match ? Option.some(Number(match[1])) : Option.some(-1)
}

const durablePublished = Metric.tagged(eventsPublished, "kind", "durable")
const ephemeralPublished = Metric.tagged(eventsPublished, "kind", "ephemeral")

/**
 * Records, in the trace of the request or turn that wrote `e`, that this node
 * handed it to a subscriber (`Feed.deliver`, linked to the subscriber's own
 * request span). Events without a stored trace context are not recorded.
 */
const recordDelivery = (userId: string, e: LoggedEvent) =>
  Option.match(e.writer, {
    onNone: () => Effect.void,
    onSome: (parent) =>
      Effect.flatMap(Effect.option(Effect.currentSpan), (subscriber) =>
        Effect.withSpan(Effect.void, "Feed.deliver", {
          parent,
          kind: "consumer",
          attributes: { "event.id": e.delivered.id, "event.type": e.delivered.event.type, "user.id": userId },
          links: Option.match(subscriber, {
            onNone: () => [],
            onSome: (span) => [{ _tag: "SpanLink" as const, span, attributes: {} }]
          })
        }))
  })

/** Who a subscription delivers to: a person (or an API key's bot) and the credential the stream was opened with. */
export interface Reader {
  readonly userId: UserId
  readonly credential: {
    readonly kind: "session" | "api_key"
    readonly id: string
    /** When the credential stops being valid (sessions), if ever. */
    readonly expiresAt: Date | null
  }
}

/** How a subscription starts. */
export interface SubscribeOptions {
  /**
   * At most this many events in the initial step (a long-poll page); the
   * rest follow. Unbounded by default (a stream sends the whole backlog).
   */
  readonly backlogLimit?: number | undefined
  /**
   * Leave out live steps that deliver nothing (events the reader may not
   * see): a stream has nothing to write for them, and an idle reader then
   * costs one wake-up per batch of the node's events rather than a step.
   * A long-poll keeps them, since their position is its next cursor.
   */
  readonly skipEmpty?: boolean | undefined
}

/** A step of a subscription: the events it delivers, and the log position reached once they are delivered. */
export interface Step {
  readonly events: ReadonlyArray<Delivered>
  readonly position: number
  /** The stream ends after this step: its credential was revoked or expired. */
  readonly final: boolean
}

/** A subscription. */
export interface Subscription {
  /** The position the subscription started from (after any reset). */
  readonly startedAt: number
  /** Any reset, and the backlog up to the node's tail, read when the subscription opened. */
  readonly initial: Step
  /** What follows `initial`, one step per event that reached the node. Ends after a final step. */
  readonly live: Stream.Stream<Step>
}

/** Forks a loop of the feed's own (tailing): untraced, or every poll would be a trace of its own. */
const background = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.forkScoped(Effect.withTracerEnabled(self, false))

/** Ephemeral events waiting for the log position they must follow, at most this many per node. */
const MAX_HELD_EPHEMERAL = 10_000

/** The longest single sleep: timers beyond about 24.8 days never fire. */
const MAX_SLEEP_MS = 24 * 60 * 60 * 1000

/** Sleeps until `at`, however far away. */
const sleepUntil = (at: Date): Effect.Effect<void> =>
  Effect.suspend(() => {
    const left = at.getTime() - Date.now()
    if (left <= 0) return Effect.void
    return Effect.zipRight(Effect.sleep(Math.min(left, MAX_SLEEP_MS)), sleepUntil(at))
  })

/** The node's feed. */
export class Feed extends Effect.Service<Feed>()("@troupe/feed/Feed", {
  scoped: Effect.gen(function*() {
    const log = yield* EventLog
    const bus = yield* EventBus
    const orgRepo = yield* OrgRepo
    const roomRepo = yield* RoomRepo
    const presence = yield* Presence
    const config = yield* FeedConfig

    const hub = yield* PubSub.sliding<Item>(16_384)
    const initial = yield* log.head().pipe(
      Effect.retry(Schedule.exponential("200 millis").pipe(Schedule.upTo("30 seconds")))
    )
    const tail = yield* Ref.make(initial.position)
    const kick = yield* Queue.sliding<void>(1)
    /** Ephemeral events that must follow a log position this node has not read yet, in arrival order. */
    let held: Array<Ephemeral> = []
    /** Queue depth per teammate, as last announced in the log (absent when zero). */
    const queued = new Map<string, number>()
    yield* Metric.modify(queuedTriggers, 0)

    const observe = (event: LoggedEvent) => {
      const ev = event.delivered.event
      if (ev.type !== "teammate.updated") return Effect.void
      if (ev.queueDepth > 0) queued.set(ev.teammate.id, ev.queueDepth)
      else queued.delete(ev.teammate.id)
      let total = 0
      for (const depth of queued.values()) total += depth
      return Metric.set(queuedTriggers, total)
    }

    const publishEphemeralItem = (event: Ephemeral) =>
      Effect.zipRight(PubSub.publish(hub, { _tag: "Ephemeral", event }), Metric.increment(ephemeralPublished))

    /** Publishes the held ephemeral events whose position the tail has passed. */
    const release = Effect.gen(function*() {
      if (held.length === 0) return
      const at = yield* Ref.get(tail)
      const ready = held.filter((e) => (e.after ?? 0) <= at)
      if (ready.length === 0) return
      held = held.filter((e) => (e.after ?? 0) > at)
      for (const e of ready) yield* publishEphemeralItem(e)
    })

    const drain = Effect.gen(function*() {
      while (true) {
        const from = yield* Ref.get(tail)
        const batch = yield* log.readAfter(from, 500)
        for (const event of batch) {
          // Published before the tail moves: an ephemeral event that follows
          // this position is never published ahead of it.
          yield* PubSub.publish(hub, { _tag: "Logged", event })
          yield* Ref.set(tail, event.position)
          yield* Metric.increment(durablePublished)
          yield* observe(event)
        }
        yield* release
        if (batch.length < 500) return
      }
    })

    yield* bus.wakes.pipe(Stream.runForEach(() => Queue.offer(kick, undefined)), background)
    yield* Effect.gen(function*() {
      yield* Queue.take(kick).pipe(Effect.timeout(config.pollInterval), Effect.ignore)
      yield* Queue.takeAll(kick)
      yield* drain.pipe(
        Effect.catchAll((e) =>
          Effect.zipRight(Effect.logWarning("event tailer cannot read the log", e), Effect.sleep("1 second"))
        )
      )
    }).pipe(Effect.forever, background)

    yield* bus.ephemeral.pipe(
      Stream.runForEach((event) =>
        Effect.gen(function*() {
          if (event.after === undefined || event.after <= (yield* Ref.get(tail))) {
            return yield* publishEphemeralItem(event)
          }
          if (held.length >= MAX_HELD_EPHEMERAL) held = held.slice(1)
          held.push(event)
          yield* Queue.offer(kick, undefined)
        })
      ),
      background
    )

    /** What a reader may see now: their orgs with their roles, and their rooms. */
    const loadViewer = (userId: UserId) =>
      Effect.gen(function*() {
        const memberships = yield* orgRepo.membershipsOf(userId)
        const rooms = yield* roomRepo.roomIdsOf(userId)
        return {
          userId,
          orgs: new Map(memberships.map((m) => [m.orgId, m.role])),
          rooms: new Set(rooms)
        } satisfies Viewer
      })

    /**
     * Opens a subscription for a reader from a cursor. Without a cursor it
     * starts at the current tail. A cursor outside the retained log (too old,
     * or ahead of this history) yields a `reset` event first.
     *
     * Every event is checked against the reader's `Viewer` as of that event:
     * events that change the reader's access (joining or leaving an org or a
     * room, a new role) reload it before the next delivery, and an
     * `access.revoked` naming the stream's credential is its last event.
     */
    const subscribe = (reader: Reader, cursor: Option.Option<number>, options: SubscribeOptions = {}) =>
      Effect.gen(function*() {
        const queue = yield* PubSub.subscribe(hub)
        let viewer: Viewer = yield* loadViewer(reader.userId)
        const head = yield* log.head()
        const tailNow = yield* Ref.get(tail)
        const first: Array<Delivered> = []
        let start = Option.getOrElse(cursor, () => tailNow)
        if (Option.isSome(cursor) && (start < head.retainedFrom - 1 || start > head.position)) {
          const reason = start < 0
            ? "the cursor is not a valid event id"
            : start > head.position
            ? "the cursor is ahead of this server's history"
            : "the cursor is older than the retained history"
          start = tailNow
          first.push(new Delivered({ id: String(start), orgId: null, at: new Date(), event: new Reset({ reason }) }))
        }
        let position = start
        let ephemeralCount = 0
        let ended = false

        /**
         * Delivers `e` at once, if the reader may see it, when that needs no
         * I/O: it neither ends the stream, nor changes the reader's access,
         * nor carries a trace to record the delivery in. False when it does.
         */
        const deliverPlain = (e: LoggedEvent, out: Array<Delivered>): boolean => {
          const ev = e.delivered.event
          if (
            Option.isSome(e.writer) || ev.type === "access.revoked" ||
            (changesAccess(ev) && e.audience.userIds.includes(reader.userId))
          ) return false
          if (sees(viewer, e.orgId, e.audience)) out.push(e.delivered)
          return true
        }

        /** Delivers one logged event if the reader may see it; true when the reader's orgs changed. */
        const deliver = (e: LoggedEvent, out: Array<Delivered>) =>
          deliverPlain(e, out) ? Effect.succeed(false) : Effect.gen(function*() {
            const ev = e.delivered.event
            if (ev.type === "access.revoked") {
              if (ev.credentialId !== reader.credential.id) return false
              out.push(e.delivered)
              ended = true
              return false
            }
            let orgsChanged = false
            if (changesAccess(ev) && e.audience.userIds.includes(reader.userId)) {
              const before = viewer.orgs
              viewer = yield* loadViewer(reader.userId)
              orgsChanged = before.size !== viewer.orgs.size || [...viewer.orgs.keys()].some((o) => !before.has(o))
            }
            if (!sees(viewer, e.orgId, e.audience)) return orgsChanged
            out.push(e.delivered)
            yield* recordDelivery(reader.userId, e)
            return orgsChanged
          })

        /** Reads the log from `position` up to `until` for the reader, stopping once `out` holds `limit` events. */
        const replay = (until: number, out: Array<Delivered>, limit = Number.POSITIVE_INFINITY) =>
          Effect.gen(function*() {
            while (position < until && !ended && out.length < limit) {
              const batch = yield* log.replay(
                { userId: reader.userId, orgIds: [...viewer.orgs.keys()] },
                position,
                until,
                Math.min(500, Math.max(1, limit - out.length))
              )
              let stop = false
              for (const e of batch.events) {
                // The reader's orgs changed: read the rest again with the new set.
                stop = yield* deliver(e, out)
                position = e.position
                if (stop || ended || out.length >= limit) {
                  stop = true
                  break
                }
              }
              if (!stop && !ended) position = batch.full && batch.last !== null ? batch.last : until
            }
          })

        /**
         * The common case, decided without I/O: the next logged event, when
         * `deliverPlain` takes it. False when the item needs `handle` (an
         * ephemeral event, a gap to replay, or an event `deliver` must do).
         */
        const handleNow = (item: Item, out: Array<Delivered>): boolean => {
          if (ended) return true
          if (item._tag === "Ephemeral") return false
          const e = item.event
          if (e.position <= position) return true
          if (e.position > position + 1 || !deliverPlain(e, out)) return false
          position = e.position
          return true
        }

        /** What one item of the node's hub gives this reader. */
        const handle = (item: Item, out: Array<Delivered>) =>
          Effect.gen(function*() {
            if (ended) return
            if (item._tag === "Ephemeral") {
              const e = item.event
              const audience = new Audience(
                { roomId: e.roomId, orgWide: e.roomId === null, userIds: [] },
                true
              )
              if (!sees(viewer, e.orgId, audience)) return
              const event = decodeEvent(e.event)
              if (Option.isNone(event)) return
              ephemeralCount++
              // Fields were validated when the event was decoded; skip re-validating per subscriber.
              out.push(
                new Delivered({
                  id: `${position}~${ephemeralCount}`,
                  orgId: e.orgId,
                  at: new Date(e.at),
                  event: event.value
                }, true)
              )
              return
            }
            const e = item.event
            if (e.position <= position) return
            if (e.position > position + 1) yield* replay(e.position - 1, out)
            if (ended) return
            yield* deliver(e, out)
            position = e.position
          })

        /**
         * Runs `work`, retrying while the database is away. Events already
         * collected survive a retry: the position only moves past delivered ones.
         */
        const step = (work: (out: Array<Delivered>) => Effect.Effect<void, unknown>, out: Array<Delivered> = []) =>
          Effect.suspend(() =>
            work(out).pipe(
              Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.upTo("10 seconds"))),
              Effect.orDie,
              Effect.map((): Step => ({ events: out, position, final: ended }))
            )
          )

        /**
         * The items that reached the node since the last pull, as one step:
         * under load a reader gets many events in one write. Items are
         * handled in order; from the first that needs I/O on, `handle` does it.
         */
        const stepOf = (items: Chunk.Chunk<Item>): Effect.Effect<Step> =>
          Effect.suspend(() => {
            const out: Array<Delivered> = []
            const all = Chunk.toReadonlyArray(items)
            const slow = all.findIndex((item) => !handleNow(item, out))
            if (slow < 0) return Effect.succeed<Step>({ events: out, position, final: ended })
            // `next` survives a retry of the step: an item is handled once, however often the database fails.
            let next = slow
            const work = (more: Array<Delivered>) =>
              Effect.gen(function*() {
                for (; next < all.length; next++) {
                  const item = all[next]
                  if (item !== undefined) yield* handle(item, more)
                }
              })
            return step(work, out)
          })

        /** The next step: what reached the node since the last one (with `skipEmpty`, the next that delivers). */
        const nextStep = Effect.gen(function*() {
          while (true) {
            const next = yield* stepOf(yield* Queue.takeBetween(queue, 1, 4096))
            if (!options.skipEmpty || next.events.length > 0 || next.final) return next
          }
        })

        const backlog = yield* step((out) => replay(tailNow, out, options.backlogLimit))
        const expiry = reader.credential.expiresAt === null
          ? Stream.never
          : Stream.fromEffect(Effect.map(sleepUntil(reader.credential.expiresAt), (): Step => {
            ephemeralCount++
            ended = true
            const event = new AccessRevoked({
              credential: "session",
              credentialId: reader.credential.id,
              reason: "the session expired"
            })
            return {
              events: [new Delivered({ id: `${position}~${ephemeralCount}`, orgId: null, at: new Date(), event })],
              position,
              final: true
            }
          }))
        const live = Stream.merge(
          Stream.repeatEffect(nextStep),
          expiry
        ).pipe(
          Stream.takeUntil((s) => s.final)
        )
        return {
          startedAt: start,
          initial: { events: [...first, ...backlog.events], position: backlog.position, final: backlog.final },
          live: backlog.final ? Stream.empty : live
        } satisfies Subscription
      })

    /** Publishes an ephemeral event (typing, presence) to every node. */
    const publishEphemeral = (orgId: OrgId, roomId: RoomId | null, event: Event) =>
      bus.publish({ orgId, roomId, event: encodeEvent(event), at: Date.now() })

    /** Marks a stream open for presence; announces the person online if it is their first. */
    const connected = (userId: UserId) =>
      Effect.gen(function*() {
        const connectionId = randomUUID()
        const online = yield* presence.connect(userId, connectionId)
        const announce = (status: "online" | "offline") =>
          Effect.gen(function*() {
            const memberships = yield* orgRepo.membershipsOf(userId).pipe(Effect.orElseSucceed(() => []))
            for (const m of memberships) {
              yield* publishEphemeral(m.orgId, null, new PresenceChanged({ userId, status }))
            }
          })
        if (online) yield* announce("online")
        yield* Effect.addFinalizer(() =>
          Effect.flatMap(presence.disconnect(userId, connectionId), (offline) =>
            offline ? announce("offline") : Effect.void)
        )
        return { refresh: presence.refresh(userId, connectionId) }
      })

    return { subscribe, publishEphemeral, connected, tail: Ref.get(tail) } as const
  })
}) {}
