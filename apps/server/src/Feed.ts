/**
 * The realtime feed on one node. A single tailer follows the durable log
 * (woken by the bus, polling as a fallback) and republishes each event to
 * the node's subscribers; each subscriber filters by what its user may see.
 *
 * Positions in the log are contiguous, so a subscriber that sees position
 * p+2 after p knows it missed p+1 and reads it back from Postgres: a slow or
 * late subscriber never skips an event, and never sees one twice.
 */
import { Event, Delivered, PresenceChanged, Reset } from "@troupe/domain/Event"
import { EventBus, type Ephemeral } from "@troupe/realtime/EventBus"
import { Presence } from "@troupe/realtime/Presence"
import { EventLog, type LoggedEvent } from "@troupe/store/EventLog"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Chunk, Duration, Effect, Metric, Option, PubSub, Queue, Ref, Schedule, Schema, Scope, Stream, Tracer } from "effect"
import { randomUUID } from "node:crypto"
import { eventsPublished, queuedTriggers } from "./Metrics.js"
import { ServerConfig } from "./ServerConfig.js"

type Item =
  | { readonly _tag: "Logged"; readonly event: LoggedEvent }
  | { readonly _tag: "Ephemeral"; readonly event: Ephemeral }

/** What a user may see, loaded when a stream opens and refreshed when their memberships change. */
interface Visibility {
  readonly orgs: ReadonlyMap<string, boolean>
  readonly rooms: ReadonlySet<string>
}

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

/** The span that appended an event, from its stored W3C `traceparent`. */
const writerSpan = (e: LoggedEvent): Option.Option<Tracer.ExternalSpan> => {
  const match = e.traceParent?.match(/^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/)
  if (!match) return Option.none()
  return Option.some(Tracer.externalSpan({ traceId: match[1]!, spanId: match[2]!, sampled: (parseInt(match[3]!, 16) & 1) === 1 }))
}

/**
 * Records, in the trace of the request or turn that wrote `e`, that this node
 * handed it to a subscriber (`Feed.deliver`, linked to the subscriber's own
 * request span). Events without a stored trace context are not recorded.
 */
const recordDelivery = (userId: string, e: LoggedEvent) =>
  Option.match(writerSpan(e), {
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

/** A subscription: its events, and the position it has reached. */
export interface Subscription {
  readonly events: Stream.Stream<Delivered>
  readonly position: Ref.Ref<number>
  /** The position the subscription started from (after any reset). */
  readonly startedAt: number
}

/** Forks a loop of the feed's own (tailing, retention): untraced, or every poll would be a trace of its own. */
const background = <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.forkScoped(Effect.withTracerEnabled(self, false))

/** The node's feed. */
export class Feed extends Effect.Service<Feed>()("@troupe/server/Feed", {
  scoped: Effect.gen(function*() {
    const log = yield* EventLog
    const bus = yield* EventBus
    const orgRepo = yield* OrgRepo
    const roomRepo = yield* RoomRepo
    const presence = yield* Presence
    const config = yield* ServerConfig

    const hub = yield* PubSub.sliding<Item>(16_384)
    const initial = yield* log.head().pipe(
      Effect.retry(Schedule.exponential("200 millis").pipe(Schedule.upTo("30 seconds")))
    )
    const tail = yield* Ref.make(initial.position)
    const kick = yield* Queue.sliding<void>(1)
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

    const drain = Effect.gen(function*() {
      while (true) {
        const from = yield* Ref.get(tail)
        const batch = yield* log.readAfter(from, 500)
        for (const event of batch) {
          yield* Ref.set(tail, event.position)
          yield* PubSub.publish(hub, { _tag: "Logged", event })
          yield* Metric.increment(durablePublished)
          yield* observe(event)
        }
        if (batch.length < 500) return
      }
    })

    yield* bus.wakes.pipe(Stream.runForEach(() => Queue.offer(kick, undefined)), background)
    yield* Effect.gen(function*() {
      yield* Queue.take(kick).pipe(Effect.timeout(config.eventPollInterval), Effect.ignore)
      yield* Queue.takeAll(kick)
      yield* drain.pipe(
        Effect.catchAll((e) => Effect.zipRight(Effect.logWarning("event tailer cannot read the log", e), Effect.sleep("1 second")))
      )
    }).pipe(Effect.forever, background)

    yield* bus.ephemeral.pipe(
      Stream.runForEach((event) => Effect.zipRight(PubSub.publish(hub, { _tag: "Ephemeral", event }), Metric.increment(ephemeralPublished))),
      background
    )

    const retentionSeconds = Math.max(60, Math.round(Duration.toSeconds(config.eventRetention)))
    yield* log.prune(retentionSeconds).pipe(
      Effect.tap((n) => n > 0 ? Effect.logInfo(`pruned ${n} events older than the retention period`) : Effect.void),
      Effect.catchAll((e) => Effect.logWarning("event retention failed", e)),
      Effect.repeat(Schedule.spaced("10 minutes")),
      Effect.delay("5 seconds"),
      background
    )

    /** Wakes every node's tailer: call after a transaction that appended events commits. */
    const wake = bus.wake

    const loadVisibility = (userId: string) =>
      Effect.gen(function*() {
        const memberships = yield* orgRepo.membershipsOf(userId)
        const rooms = yield* roomRepo.roomIdsOf(userId)
        return {
          orgs: new Map(memberships.map((m) => [m.orgId, m.role === "guest"])),
          rooms: new Set(rooms)
        } satisfies Visibility
      })

    const sees = (userId: string, v: Visibility, e: LoggedEvent) => {
      if (e.audience.userIds.includes(userId as never)) return true
      const guest = v.orgs.get(e.orgId)
      if (guest === undefined) return false
      if (e.audience.orgWide && !guest) return true
      return e.audience.roomId !== null && v.rooms.has(e.audience.roomId)
    }

    const touchesMembership = (userId: string, e: LoggedEvent) => {
      const ev = e.delivered.event
      return e.audience.userIds.includes(userId as never) ||
        (ev.type === "member.joined" && ev.member.id === userId) ||
        (ev.type === "member.left" && ev.memberId === userId) ||
        ev.type === "room.created"
    }

    /**
     * Opens a subscription for a user from a cursor. Without a cursor it
     * starts at the current tail. A cursor outside the retained log (too old,
     * or ahead of this history) yields a `reset` event first.
     */
    const subscribe = (userId: string, cursor: Option.Option<number>) =>
      Effect.gen(function*() {
        const subscription = yield* PubSub.subscribe(hub)
        const visibility = yield* Ref.make(yield* loadVisibility(userId))
        const head = yield* log.head()
        const tailNow = yield* Ref.get(tail)
        const resets: Array<Delivered> = []
        let start = Option.getOrElse(cursor, () => tailNow)
        if (Option.isSome(cursor) && (start < head.retainedFrom - 1 || start > head.position)) {
          const reason = start < 0
            ? "the cursor is not a valid event id"
            : start > head.position
            ? "the cursor is ahead of this server's history"
            : "the cursor is older than the retained history"
          start = tailNow
          resets.push(new Delivered({ id: String(start), orgId: null, at: new Date(), event: new Reset({ reason }) }))
        }
        const position = yield* Ref.make(start)
        let ephemeralCount = 0

        const replay = (until: number) =>
          Effect.gen(function*() {
            const out: Array<Delivered> = []
            while (true) {
              const from = yield* Ref.get(position)
              if (from >= until) return out
              const v = yield* Ref.get(visibility)
              const batch = yield* log.replay(
                { userId, orgs: [...v.orgs].map(([orgId, guest]) => ({ orgId, guest })), roomIds: [...v.rooms] },
                from,
                until,
                500
              )
              for (const e of batch) {
                out.push(e.delivered)
                if (touchesMembership(userId, e)) yield* Ref.set(visibility, yield* loadVisibility(userId))
              }
              yield* Ref.set(position, batch.length < 500 ? until : batch[batch.length - 1]!.position)
            }
          })

        const handle = (item: Item): Effect.Effect<ReadonlyArray<Delivered>, unknown> =>
          Effect.gen(function*() {
            const at = yield* Ref.get(position)
            if (item._tag === "Ephemeral") {
              const v = yield* Ref.get(visibility)
              const e = item.event
              if (!v.orgs.has(e.orgId) || (e.roomId !== null && !v.rooms.has(e.roomId))) return []
              const event = decodeEvent(e.event)
              if (Option.isNone(event)) return []
              ephemeralCount++
              // Fields were validated when the event was decoded; skip re-validating per subscriber.
              return [new Delivered({ id: `${at}~${ephemeralCount}`, orgId: e.orgId as never, at: new Date(e.at), event: event.value }, true)]
            }
            const e = item.event
            if (e.position <= at) return []
            const missed = e.position > at + 1 ? yield* replay(e.position - 1) : []
            yield* Ref.set(position, e.position)
            if (touchesMembership(userId, e)) yield* Ref.set(visibility, yield* loadVisibility(userId))
            const v = yield* Ref.get(visibility)
            if (!sees(userId, v, e)) return missed
            yield* recordDelivery(userId, e)
            return [...missed, e.delivered]
          })

        const backlog = yield* replay(tailNow)
        const live = Stream.fromQueue(subscription).pipe(
          Stream.mapEffect((item) =>
            handle(item).pipe(
              Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.upTo("10 seconds"))),
              Effect.orDie
            )
          ),
          Stream.flattenIterables
        )
        return {
          events: Stream.concat(Stream.fromIterable([...resets, ...backlog]), live),
          position,
          startedAt: start
        } satisfies Subscription
      })

    /** Publishes an ephemeral event (typing, presence) to every node. */
    const publishEphemeral = (orgId: string, roomId: string | null, event: Event) =>
      bus.publish({ orgId, roomId, event: encodeEvent(event), at: Date.now() })

    /** Marks a stream open for presence; announces the person online if it is their first. */
    const connected = (userId: string) =>
      Effect.gen(function*() {
        const connectionId = randomUUID()
        const online = yield* presence.connect(userId, connectionId)
        const announce = (status: "online" | "offline") =>
          Effect.gen(function*() {
            const memberships = yield* orgRepo.membershipsOf(userId).pipe(Effect.orElseSucceed(() => []))
            for (const m of memberships) {
              yield* publishEphemeral(m.orgId, null, new PresenceChanged({ userId: userId as never, status }))
            }
          })
        if (online) yield* announce("online")
        yield* Effect.addFinalizer(() =>
          Effect.flatMap(presence.disconnect(userId, connectionId), (offline) => offline ? announce("offline") : Effect.void)
        )
        return { refresh: presence.refresh(userId, connectionId) }
      })

    return { wake, subscribe, publishEphemeral, connected, tail: Ref.get(tail) } as const
  })
}) {}

const eventJson = new WeakMap<Event, string>()
const frames = new WeakMap<Delivered, string>()

/**
 * Encodes one event as an SSE frame. A durable event is one object shared by
 * every subscriber on the node, so its frame is built once; an ephemeral
 * event's payload is encoded once and only its per-subscriber id varies.
 */
export const sseFrame = (delivered: Delivered): string => {
  const cached = frames.get(delivered)
  if (cached !== undefined) return cached
  let event = eventJson.get(delivered.event)
  if (event === undefined) {
    event = JSON.stringify(encodeEvent(delivered.event))
    eventJson.set(delivered.event, event)
  }
  const data = `{"id":${JSON.stringify(delivered.id)},"orgId":${JSON.stringify(delivered.orgId)},"at":${JSON.stringify(delivered.at.toISOString())},"event":${event}}`
  const frame = `id: ${delivered.id}\nevent: ${delivered.event.type}\ndata: ${data}\n\n`
  frames.set(delivered, frame)
  return frame
}

/** Collects events for a long-poll: waits up to `timeout` for the first, then takes what is ready. */
export const collect = (subscription: Subscription, timeout: Duration.DurationInput) =>
  subscription.events.pipe(
    Stream.groupedWithin(500, "25 millis"),
    Stream.take(1),
    Stream.runCollect,
    Effect.map((chunks) => Chunk.toReadonlyArray(Chunk.flatten(chunks))),
    Effect.timeout(timeout),
    Effect.orElseSucceed(() => [] as ReadonlyArray<Delivered>)
  )

/** Runs `f` with a subscription that is released afterwards. */
export const withSubscription = <A, E, R>(
  open: Effect.Effect<Subscription, unknown, Scope.Scope>,
  f: (s: Subscription) => Effect.Effect<A, E, R>
) => Effect.scoped(Effect.flatMap(Effect.orDie(open), f))
