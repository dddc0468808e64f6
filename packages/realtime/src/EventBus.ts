/**
 * Cross-process signals for the realtime feed. Durable events live in the
 * Postgres log; the bus only carries wake-ups ("the log has grown to
 * position N") and ephemeral events (typing, presence) that are never
 * replayed. Losing a wake-up costs latency, never an event: readers also
 * poll the log.
 */
import { OrgId, RoomId, UserId } from "@troupe/domain/Ids"
import { Context, Effect, Layer, PubSub, Queue, Redacted, Schema, Stream } from "effect"
import { Redis } from "ioredis"

/** An ephemeral event with who may see it, as it travels between nodes. */
export const Ephemeral = Schema.Struct({
  /** The org the event belongs to. */
  orgId: OrgId,
  /** When set, only members of this room see it; otherwise every member of the org. */
  roomId: Schema.NullOr(RoomId),
  /** The encoded event (`typing`, `presence.changed`, `message.delta`). */
  event: Schema.Unknown,
  at: Schema.Number,
  /**
   * The log position this event must follow: a node holds it back until its
   * own tail has passed that position, so a reply's deltas never overtake the
   * `run.started` that announced the run.
   */
  after: Schema.optional(Schema.Number),
  /** People who see it besides the room's or org's members (the guests beside a person coming online). */
  userIds: Schema.optional(Schema.Array(UserId))
})
/** An ephemeral event with who may see it, as it travels between nodes. */
export type Ephemeral = typeof Ephemeral.Type

/** The bus: wake-ups for the durable log and ephemeral events. */
export class EventBus extends Context.Tag("@troupe/realtime/EventBus")<EventBus, {
  /** Announces that the log has grown to `position` (readers then read it). Never fails. */
  readonly wake: (position: number) => Effect.Effect<void>
  /** Wake-ups from every node (including this one): the log positions reached, the latest kept when they pile up. */
  readonly wakes: Stream.Stream<number>
  /** Sends an ephemeral event to every node. Never fails; may drop. */
  readonly publish: (event: Ephemeral) => Effect.Effect<void>
  /** Ephemeral events from every node. */
  readonly ephemeral: Stream.Stream<Ephemeral>
}>() {}

/**
 * A log reader's wake-ups: `kick` is signalled on each (the latest kept), and
 * `headAfter(position)` is the furthest position announced when it is past
 * `position` (for `EventLog.readAfter`, which then needs read nothing back
 * that the node holds), else undefined.
 */
export const wakeSignal = Effect.gen(function*() {
  const bus = yield* EventBus
  const kick = yield* Queue.sliding<void>(1)
  let woken = 0
  yield* bus.wakes.pipe(
    Stream.runForEach((position) => {
      woken = Math.max(woken, position)
      return Queue.offer(kick, undefined)
    }),
    Effect.withTracerEnabled(false),
    Effect.forkScoped
  )
  return { kick, headAfter: (position: number) => (woken > position ? woken : undefined) }
})

const local = Effect.gen(function*() {
  const wakes = yield* PubSub.sliding<number>(1)
  const ephemeral = yield* PubSub.sliding<Ephemeral>(4096)
  return { wakes, ephemeral }
})

/** One process: an in-memory bus. */
export const layerMemory = Layer.scoped(
  EventBus,
  Effect.gen(function*() {
    const { ephemeral, wakes } = yield* local
    return EventBus.of({
      wake: (position) => Effect.asVoid(PubSub.publish(wakes, position)),
      wakes: Stream.fromPubSub(wakes),
      publish: (event) => Effect.asVoid(PubSub.publish(ephemeral, event)),
      ephemeral: Stream.fromPubSub(ephemeral)
    })
  })
)

/** Options for the Redis bus. */
export interface RedisBusOptions {
  readonly url: Redacted.Redacted
  /** Prefix for channel names, so clusters sharing a Redis do not hear each other. */
  readonly prefix: string
}

/** Opens an ioredis connection that fails fast while Redis is down and reconnects by itself. */
export const connect = (url: Redacted.Redacted, name: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const redis = new Redis(Redacted.value(url), {
        connectionName: name,
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        retryStrategy: (times) => Math.min(times * 200, 2000),
        lazyConnect: false
      })
      redis.on("error", () => {})
      return redis
    }),
    (redis) => Effect.promise(() => redis.quit().catch(() => redis.disconnect()))
  )

/** Many processes: wake-ups and ephemeral events over Redis pub/sub. */
export const layerRedis = (options: RedisBusOptions) =>
  Layer.scoped(
    EventBus,
    Effect.gen(function*() {
      const { ephemeral, wakes } = yield* local
      const publisher = yield* connect(options.url, "troupe-bus-pub")
      const subscriber = yield* connect(options.url, "troupe-bus-sub")
      const wakeChannel = `${options.prefix}wake`
      const ephemeralChannel = `${options.prefix}ephemeral`
      const decode = Schema.decodeUnknownOption(Schema.parseJson(Ephemeral))
      subscriber.on("message", (channel: string, message: string) => {
        if (channel === wakeChannel) {
          const position = Number(message)
          if (Number.isSafeInteger(position)) Effect.runSync(PubSub.publish(wakes, position))
        } else if (channel === ephemeralChannel) {
          const event = decode(message)
          if (event._tag === "Some") Effect.runSync(PubSub.publish(ephemeral, event.value))
        }
      })
      subscriber.on("ready", () => {
        subscriber.subscribe(wakeChannel, ephemeralChannel).catch(() => {})
      })
      // Ready once subscribed, so nothing published after start-up is missed; with Redis down the
      // node starts anyway (readers poll the log) and subscribes when Redis is back.
      yield* Effect.async<void>((resume) => {
        const subscribe = () => {
          subscriber.subscribe(wakeChannel, ephemeralChannel).then(() => resume(Effect.void), () => {})
        }
        if (subscriber.status === "ready") subscribe()
        else subscriber.once("ready", subscribe)
      }).pipe(
        Effect.timeout("2 seconds"),
        Effect.catchAll(() => Effect.logWarning("Redis is not reachable: starting without cross-node wake-ups for now"))
      )
      const send = (channel: string, message: string) =>
        Effect.tryPromise(() => publisher.publish(channel, message)).pipe(Effect.ignore)
      return EventBus.of({
        wake: (position) => Effect.zipRight(PubSub.publish(wakes, position), send(wakeChannel, String(position))),
        wakes: Stream.fromPubSub(wakes),
        publish: (event) => send(ephemeralChannel, JSON.stringify(event)),
        ephemeral: Stream.fromPubSub(ephemeral)
      })
    })
  )
