/**
 * Who is online. A person is online while any of their event streams is
 * open, on any node. Each stream is a connection entry that expires unless
 * refreshed by the stream's heartbeat, so a crashed node's streams age out.
 */
import { Context, Effect, Layer, Redacted } from "effect"
import { connect } from "./EventBus.js"

/** Presence tracking across nodes. */
export class Presence extends Context.Tag("@troupe/realtime/Presence")<Presence, {
  /** Registers a stream; true when the person just came online. */
  readonly connect: (userId: string, connectionId: string) => Effect.Effect<boolean>
  /** Keeps a stream's entry alive. */
  readonly refresh: (userId: string, connectionId: string) => Effect.Effect<void>
  /** Removes a stream; true when the person just went offline. */
  readonly disconnect: (userId: string, connectionId: string) => Effect.Effect<boolean>
  /** Which of these people are online. */
  readonly online: (userIds: ReadonlyArray<string>) => Effect.Effect<ReadonlySet<string>>
}>() {}

/** How long a stream's entry lives without a heartbeat. */
export const ENTRY_TTL_MS = 90_000

/** One process: presence in memory. */
export const layerMemory = Layer.sync(Presence, () => {
  const streams = new Map<string, Map<string, number>>()
  const live = (userId: string) => {
    const entries = streams.get(userId)
    if (!entries) return 0
    const now = Date.now()
    for (const [id, expiry] of entries) if (expiry <= now) entries.delete(id)
    if (entries.size === 0) streams.delete(userId)
    return entries.size
  }
  return Presence.of({
    connect: (userId, connectionId) =>
      Effect.sync(() => {
        const before = live(userId)
        const entries = streams.get(userId) ?? new Map<string, number>()
        entries.set(connectionId, Date.now() + ENTRY_TTL_MS)
        streams.set(userId, entries)
        return before === 0
      }),
    refresh: (userId, connectionId) =>
      Effect.sync(() => {
        streams.get(userId)?.set(connectionId, Date.now() + ENTRY_TTL_MS)
      }),
    disconnect: (userId, connectionId) =>
      Effect.sync(() => {
        const entries = streams.get(userId)
        const had = entries?.delete(connectionId) ?? false
        return had && live(userId) === 0
      }),
    online: (userIds) => Effect.sync(() => new Set(userIds.filter((id) => live(id) > 0)))
  })
})

/** Many processes: presence in Redis sorted sets scored by expiry. */
export const layerRedis = (options: { readonly url: Redacted.Redacted; readonly prefix: string }) =>
  Layer.scoped(
    Presence,
    Effect.gen(function*() {
      const redis = yield* connect(options.url, "troupe-presence")
      const key = (userId: string) => `${options.prefix}presence:${userId}`
      const run = <A>(f: () => Promise<A>, fallback: A) =>
        Effect.tryPromise(f).pipe(Effect.orElseSucceed(() => fallback))
      return Presence.of({
        connect: (userId, connectionId) =>
          run(async () => {
            const now = Date.now()
            const result = await redis.multi()
              .zremrangebyscore(key(userId), "-inf", now)
              .zcard(key(userId))
              .zadd(key(userId), now + ENTRY_TTL_MS, connectionId)
              .pexpire(key(userId), ENTRY_TTL_MS)
              .exec()
            return Number(result?.[1]?.[1] ?? 1) === 0
          }, false),
        refresh: (userId, connectionId) =>
          run(async () => {
            await redis.multi()
              .zadd(key(userId), Date.now() + ENTRY_TTL_MS, connectionId)
              .pexpire(key(userId), ENTRY_TTL_MS)
              .exec()
          }, undefined),
        disconnect: (userId, connectionId) =>
          run(async () => {
            const result = await redis.multi()
              .zrem(key(userId), connectionId)
              .zremrangebyscore(key(userId), "-inf", Date.now())
              .zcard(key(userId))
              .exec()
            return Number(result?.[0]?.[1] ?? 0) === 1 && Number(result?.[2]?.[1] ?? 1) === 0
          }, false),
        online: (userIds) =>
          run(async () => {
            if (userIds.length === 0) return new Set<string>()
            const now = Date.now()
            const pipeline = redis.pipeline()
            for (const id of userIds) pipeline.zcount(key(id), now, "+inf")
            const result = await pipeline.exec()
            return new Set(userIds.filter((_, i) => Number(result?.[i]?.[1] ?? 0) > 0))
          }, new Set<string>())
      })
    })
  )
