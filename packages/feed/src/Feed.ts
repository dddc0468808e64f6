/**
 * The realtime feed on one node. A single tailer follows the durable log
 * (woken by the bus, polling as a fallback) and routes each event to the
 * node's subscriptions at its addresses (its room, its org, the people it
 * names: `@troupe/domain/Visibility`), so a subscription wakes only for
 * events it may see; each still decides by the one rule, `sees`.
 *
 * Routing and the node's tail move together in one synchronous step, so a
 * subscription that has taken its items has everything routed to it up to
 * the tail. What routing cannot vouch for (the backlog before it subscribed,
 * items it dropped when it fell too far behind, what the old addresses missed
 * while its access changed) it reads back from Postgres: a slow or late
 * subscriber never skips an event, and never sees one twice.
 */
import { AccessRevoked, Audience, Delivered, Event, PresenceChanged, Reset } from "@troupe/domain/Event"
import type { OrgId, RoomId, UserId } from "@troupe/domain/Ids"
import { addressesFor, addressesOf, changesAccess, sees, type Viewer } from "@troupe/domain/Visibility"
import { type Ephemeral, EventBus, wakeSignal } from "@troupe/realtime/EventBus"
import { Presence } from "@troupe/realtime/Presence"
import { EventLog, type LoggedEvent } from "@troupe/store/EventLog"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Config, Duration, Effect, Metric, Option, Queue, Schedule, Schema, Stream } from "effect"
import { randomUUID } from "node:crypto"
import { eventsPublished, feedSubscriptions, queuedTriggers } from "./FeedMetrics.js"

/** The feed's settings. */
export const FeedConfig = Config.all({
  /** How often the node reads the log when no wake-up arrives (`EVENT_POLL_INTERVAL`, default 1 second). */
  pollInterval: Config.duration("EVENT_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(1)))
})

/** What the node routes to a subscription: an event of the log, or an ephemeral event decoded once per node. */
type Item =
  | { readonly _tag: "Logged"; readonly event: LoggedEvent }
  | {
    readonly _tag: "Ephemeral"
    readonly event: Ephemeral
    readonly decoded: Event
    readonly audience: Audience
  }

/** An item routed to a subscription, with the node's tail position once it was routed. */
interface Routed {
  readonly item: Item
  readonly at: number
}

/**
 * A subscription as the node's router sees it: the addresses it is reached
 * at (see `addressesOf`), and what was routed to it and not yet taken.
 */
interface Mailbox {
  addresses: ReadonlyArray<string>
  items: Array<Routed>
  /** Items were dropped (the reader fell too far behind): it reads the log again up to the tail. */
  lost: boolean
  /** The reader's credential expired. */
  expired: boolean
  /** Resumes the reader if it is waiting for items. */
  wake: (() => void) | undefined
  /** The last routing round that reached it: an event reaches a mailbox once, whichever addresses match. */
  round: number
}

/** Items a mailbox holds before it drops them and its reader reads the log instead. */
const MAX_MAILBOX = 16_384

/** Items taken into one step at most: under load a reader gets many events in one write. */
const MAX_STEP = 4096

const decodeUnknownEvent = Schema.decodeUnknownOption(Event)
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
  /**
   * A stream's heartbeat: every this many milliseconds `live` also yields a
   * step marked `heartbeat` (with no events), whatever else arrives. The
   * wait for events times out by itself, so a stream needs no second
   * source of steps merged into it.
   */
  readonly heartbeatMs?: number | undefined
}

/** A step of a subscription: the events it delivers, and the log position reached once they are delivered. */
export interface Step {
  readonly events: ReadonlyArray<Delivered>
  readonly position: number
  /** The stream ends after this step: its credential was revoked or expired. */
  readonly final: boolean
  /** A heartbeat (see `SubscribeOptions.heartbeatMs`): no events, the position unchanged. */
  readonly heartbeat?: true
}

/** A subscription. */
export interface Subscription {
  /** The position the subscription started from (after any reset). */
  readonly startedAt: number
  /** Any reset, and the backlog up to the node's tail, read when the subscription opened. */
  readonly initial: Step
  /** What follows `initial`, a step per batch of events routed to the reader. Ends after a final step. */
  readonly live: Stream.Stream<Step>
  /**
   * The position up to which the reader has had everything it may see, as
   * of the steps already taken from `live`: a long-poll that stops waiting
   * resumes from here. Never ahead of an event taken but not returned.
   */
  readonly reached: Effect.Effect<number>
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

    const initial = yield* log.head().pipe(
      Effect.retry(Schedule.exponential("200 millis").pipe(Schedule.upTo("30 seconds")))
    )
    /** The last log position this node has routed to its subscriptions. */
    let tail = initial.position
    const { headAfter, kick } = yield* wakeSignal
    /** Ephemeral events that must follow a log position this node has not read yet, in arrival order. */
    let held: Array<Ephemeral> = []
    /** Queue depth per teammate, as last announced in the log (absent when zero). */
    const queued = new Map<string, number>()
    yield* Metric.modify(queuedTriggers, 0)
    yield* Metric.modify(feedSubscriptions, 0)

    /** The node's subscriptions by address. */
    const routes = new Map<string, Set<Mailbox>>()
    let round = 0

    const unregister = (mailbox: Mailbox) => {
      for (const address of mailbox.addresses) {
        const readers = routes.get(address)
        readers?.delete(mailbox)
        if (readers?.size === 0) routes.delete(address)
      }
      mailbox.addresses = []
    }

    const register = (mailbox: Mailbox, addresses: ReadonlyArray<string>) => {
      unregister(mailbox)
      mailbox.addresses = addresses
      for (const address of addresses) {
        const readers = routes.get(address)
        if (readers === undefined) routes.set(address, new Set([mailbox]))
        else readers.add(mailbox)
      }
    }

    const wake = (mailbox: Mailbox) => {
      const resume = mailbox.wake
      mailbox.wake = undefined
      resume?.()
    }

    /**
     * Hands `item` to the subscriptions at `addresses`, synchronously: a
     * subscription that takes its items and reads `tail` in one synchronous
     * step has every item routed to it up to that position.
     */
    const route = (item: Item, addresses: ReadonlyArray<string>, at: number) => {
      round++
      for (const address of addresses) {
        const readers = routes.get(address)
        if (readers === undefined) continue
        for (const mailbox of readers) {
          if (mailbox.round === round) continue
          mailbox.round = round
          if (!mailbox.lost) {
            if (mailbox.items.length < MAX_MAILBOX) mailbox.items.push({ item, at })
            else {
              mailbox.items = []
              mailbox.lost = true
            }
          }
          wake(mailbox)
        }
      }
    }

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
      Effect.suspend(() => {
        const audience = new Audience(
          { roomId: event.roomId, orgWide: event.roomId === null, userIds: event.userIds ?? [] },
          true
        )
        const addresses = addressesFor(event.orgId, audience)
        if (addresses.some((address) => routes.has(address))) {
          const decoded = decodeUnknownEvent(event.event)
          if (Option.isNone(decoded)) return Effect.void
          route({ _tag: "Ephemeral", event, decoded: decoded.value, audience }, addresses, tail)
        }
        return Metric.increment(ephemeralPublished)
      })

    /** Publishes the held ephemeral events whose position the tail has passed. */
    const release = Effect.gen(function*() {
      if (held.length === 0) return
      const ready = held.filter((e) => (e.after ?? 0) <= tail)
      if (ready.length === 0) return
      held = held.filter((e) => (e.after ?? 0) > tail)
      for (const e of ready) yield* publishEphemeralItem(e)
    })

    const drain = Effect.gen(function*() {
      while (true) {
        const batch = yield* log.readAfter(tail, 500, headAfter(tail))
        // Routed before the tail moves, in one synchronous step: an ephemeral
        // event that follows this position is never routed ahead of it.
        for (const event of batch) {
          route({ _tag: "Logged", event }, addressesFor(event.orgId, event.audience), event.position)
          tail = event.position
        }
        yield* Metric.incrementBy(durablePublished, batch.length)
        for (const event of batch) yield* observe(event)
        yield* release
        if (batch.length < 500) return
      }
    })

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
          if (event.after === undefined || event.after <= tail) return yield* publishEphemeralItem(event)
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
     * The node routes each event only to the subscriptions at its addresses
     * (`addressesFor`), so an idle reader costs nothing per event; every
     * event that reaches a reader is still checked against its `Viewer` as
     * of that event (`sees`). Events that change the reader's access
     * (joining or leaving an org or a room, a new role) reload it and its
     * addresses, and what the old addresses may have missed meanwhile is read
     * back from the log; an `access.revoked` naming the stream's credential
     * is its last event.
     */
    const subscribe = (reader: Reader, cursor: Option.Option<number>, options: SubscribeOptions = {}) =>
      Effect.gen(function*() {
        const mailbox: Mailbox = { addresses: [], items: [], lost: false, expired: false, wake: undefined, round: 0 }
        let viewer: Viewer = yield* loadViewer(reader.userId)
        // Registered and the tail read in one synchronous step: every event
        // after `tailNow` is routed to this subscription by `viewer`'s addresses.
        register(mailbox, addressesOf(viewer))
        const tailNow = tail
        yield* Metric.increment(feedSubscriptions)
        yield* Effect.addFinalizer(() =>
          Effect.zipRight(Effect.sync(() => unregister(mailbox)), Metric.modify(feedSubscriptions, -1))
        )
        const head = yield* log.head()
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
        /** Everything the reader may see up to here is delivered. */
        let position = start
        /** The log is read from the database up to here: not all of it was routed to this reader's addresses. */
        let readTo = tailNow
        /** `position` as of the last whole step: where a long-poll that stops now resumes. */
        let settled = start
        /** A step is running: its items are taken, its events not yet returned. */
        let busy = false
        let ephemeralCount = 0
        let ended = false

        /** The reader's access changed: reload what it may see and where it is reached, and read back what was missed. */
        const reload = Effect.gen(function*() {
          const before = viewer.orgs
          viewer = yield* loadViewer(reader.userId)
          register(mailbox, addressesOf(viewer))
          readTo = Math.max(readTo, tail)
          return before.size !== viewer.orgs.size || [...viewer.orgs.keys()].some((o) => !before.has(o))
        })

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
            const orgsChanged = changesAccess(ev) && e.audience.userIds.includes(reader.userId)
              ? yield* reload
              : false
            if (!sees(viewer, e.orgId, e.audience)) return orgsChanged
            out.push(e.delivered)
            yield* recordDelivery(reader.userId, e)
            return orgsChanged
          })

        /** An ephemeral event, delivered if the reader may see it; it follows every logged event up to `at`. */
        const deliverEphemeral = (item: Extract<Item, { _tag: "Ephemeral" }>, at: number, out: Array<Delivered>) => {
          position = Math.max(position, at)
          if (!sees(viewer, item.event.orgId, item.audience)) return
          ephemeralCount++
          // Fields were validated when the event was decoded; skip re-validating per subscriber.
          out.push(
            new Delivered({
              id: `${position}~${ephemeralCount}`,
              orgId: item.event.orgId,
              at: new Date(item.event.at),
              event: item.decoded
            }, true)
          )
        }

        /** Reads the log from `position` up to `readTo` for the reader, stopping once `out` holds `limit` events. */
        const catchUp = (out: Array<Delivered>, limit = Number.POSITIVE_INFINITY) =>
          Effect.gen(function*() {
            while (position < readTo && !ended && out.length < limit) {
              const until = readTo
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
         * The common case, decided without I/O: the next routed item, when
         * nothing is left to read back and `deliverPlain` takes it (or it is
         * ephemeral). False when the item needs `handle`.
         */
        const handleNow = (routed: Routed, out: Array<Delivered>): boolean => {
          if (ended) return true
          if (position < readTo) return false
          if (routed.item._tag === "Ephemeral") {
            deliverEphemeral(routed.item, routed.at, out)
            return true
          }
          const e = routed.item.event
          if (e.position <= position) return true
          if (!deliverPlain(e, out)) return false
          position = e.position
          return true
        }

        /** What one routed item gives this reader, reading back from the log first what it must. */
        const handle = (routed: Routed, out: Array<Delivered>) =>
          Effect.gen(function*() {
            yield* catchUp(out)
            if (ended) return
            if (routed.item._tag === "Ephemeral") return deliverEphemeral(routed.item, routed.at, out)
            const e = routed.item.event
            if (e.position <= position) return
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

        /** Takes what was routed to the reader, and the position that reaches, in one synchronous step. */
        const take = () => {
          const items = mailbox.items.length <= MAX_STEP ? mailbox.items : mailbox.items.slice(0, MAX_STEP)
          mailbox.items = mailbox.items.length <= MAX_STEP ? [] : mailbox.items.slice(MAX_STEP)
          const last = items[items.length - 1]
          const reached = mailbox.items.length === 0 || last === undefined ? tail : last.at
          if (mailbox.lost) {
            mailbox.lost = false
            readTo = Math.max(readTo, reached)
          }
          return { items, reached }
        }

        /**
         * The items routed to the reader since the last step, as one step.
         * Items are handled in order; from the first that needs I/O on,
         * `handle` does it. Once all are handled the reader has everything
         * up to the position the take reached.
         */
        const stepOf = (items: ReadonlyArray<Routed>, reached: number): Effect.Effect<Step> =>
          Effect.suspend(() => {
            const out: Array<Delivered> = []
            const slow = items.findIndex((routed) => !handleNow(routed, out))
            if (slow < 0 && position >= readTo) {
              if (!ended) position = Math.max(position, reached)
              return Effect.succeed<Step>({ events: out, position, final: ended })
            }
            // `next` survives a retry of the step: an item is handled once, however often the database fails.
            let next = slow < 0 ? items.length : slow
            const work = (more: Array<Delivered>) =>
              Effect.gen(function*() {
                for (; next < items.length; next++) {
                  const routed = items[next]
                  if (routed !== undefined) yield* handle(routed, more)
                }
                yield* catchUp(more)
                if (!ended) position = Math.max(position, reached)
              })
            return step(work, out)
          })

        const expired = (): Step => {
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
        }

        /**
         * Waits until something was routed to the reader, it lost items, or
         * its credential expired (true), or until `timeoutMs` passed (false).
         */
        const arrival = (timeoutMs: number | undefined) =>
          Effect.async<boolean>((resume) => {
            if (mailbox.items.length > 0 || mailbox.lost || mailbox.expired) {
              resume(Effect.succeed(true))
              return
            }
            const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
              mailbox.wake = undefined
              resume(Effect.succeed(false))
            }, Math.max(0, timeoutMs))
            mailbox.wake = () => {
              clearTimeout(timer)
              resume(Effect.succeed(true))
            }
            return Effect.sync(() => {
              clearTimeout(timer)
              mailbox.wake = undefined
            })
          })

        const heartbeatMs = options.heartbeatMs
        let nextBeat = heartbeatMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + heartbeatMs

        /**
         * The next step: what was routed to the reader since the last one
         * (with `skipEmpty`, the next that delivers), or a heartbeat when one
         * is due.
         */
        const nextStep = Effect.gen(function*() {
          while (true) {
            if (heartbeatMs !== undefined && Date.now() >= nextBeat) {
              nextBeat = Date.now() + heartbeatMs
              return { events: [], position: settled, final: false, heartbeat: true } satisfies Step
            }
            const arrived = yield* arrival(heartbeatMs === undefined ? undefined : nextBeat - Date.now())
            if (!arrived) continue
            busy = true
            const next = mailbox.expired ? expired() : yield* Effect.suspend(() => {
              const { items, reached } = take()
              return stepOf(items, reached)
            })
            busy = false
            settled = next.position
            if (!options.skipEmpty || next.events.length > 0 || next.final) return next
          }
        })

        const backlog = yield* step((out) => catchUp(out, options.backlogLimit))
        settled = backlog.position
        if (reader.credential.expiresAt !== null && !backlog.final) {
          yield* sleepUntil(reader.credential.expiresAt).pipe(
            Effect.andThen(Effect.sync(() => {
              mailbox.expired = true
              wake(mailbox)
            })),
            Effect.forkScoped
          )
        }
        return {
          startedAt: start,
          initial: { events: [...first, ...backlog.events], position: backlog.position, final: backlog.final },
          live: backlog.final ? Stream.empty : Stream.repeatEffect(nextStep).pipe(Stream.takeUntil((s) => s.final)),
          reached: Effect.sync(() =>
            busy || mailbox.items.length > 0 || mailbox.lost || position < readTo ? settled : Math.max(settled, tail)
          )
        } satisfies Subscription
      })

    /** Publishes an ephemeral event (typing, presence) to every node; `userIds` see it too. */
    const publishEphemeral = (
      orgId: OrgId,
      roomId: RoomId | null,
      event: Event,
      userIds: ReadonlyArray<UserId> = []
    ) => bus.publish({ orgId, roomId, event: encodeEvent(event), at: Date.now(), userIds })

    /** Marks a stream open for presence; announces the person online if it is their first. */
    const connected = (userId: UserId) =>
      Effect.gen(function*() {
        const connectionId = randomUUID()
        const online = yield* presence.connect(userId, connectionId)
        const announce = (status: "online" | "offline") =>
          Effect.gen(function*() {
            const memberships = yield* orgRepo.membershipsOf(userId).pipe(Effect.orElseSucceed(() => []))
            for (const m of memberships) {
              // Org-wide, and the guests who share a room with the person.
              const guests = yield* orgRepo.guestsBeside(m.orgId, userId).pipe(Effect.orElseSucceed(() => []))
              yield* publishEphemeral(m.orgId, null, new PresenceChanged({ userId, status }), guests)
            }
          })
        if (online) yield* announce("online")
        yield* Effect.addFinalizer(() =>
          Effect.flatMap(presence.disconnect(userId, connectionId), (offline) =>
            offline ? announce("offline") : Effect.void)
        )
        return { refresh: presence.refresh(userId, connectionId) }
      })

    return { subscribe, publishEphemeral, connected, tail: Effect.sync(() => tail) } as const
  })
}) {}
