/**
 * The realtime services from configuration: the event bus, presence and the
 * rate limiter's counters live in Redis when `REDIS_URL` is set (shared by
 * every node), in the process otherwise (one node).
 */
import { RateLimiter } from "@effect/experimental"
import * as RateLimiterRedis from "@effect/experimental/RateLimiter/Redis"
import { Config, Effect, Layer, Option, Redacted } from "effect"
import * as EventBus from "./EventBus.js"
import * as Presence from "./Presence.js"

/** Redis settings. */
export const RealtimeConfig = Config.all({
  /** Redis for cross-node fan-out, presence and rate limits (`REDIS_URL`); in-process when unset. */
  url: Config.option(Config.redacted("REDIS_URL")),
  /** Prefix for every Redis key and channel (`REDIS_PREFIX`, default `troupe:`). */
  prefix: Config.string("REDIS_PREFIX").pipe(Config.withDefault("troupe:"))
})

/** ioredis connection options from a `redis://` URL. */
const redisOptions = (url: string) => {
  const u = new URL(url)
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    db: Number(u.pathname.slice(1) || 0),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {})
  }
}

/** The bus, presence and the rate limiter's store, from configuration. */
export const layerConfig = Layer.unwrapEffect(Effect.gen(function*() {
  const config = yield* RealtimeConfig
  if (Option.isNone(config.url)) {
    return Layer.mergeAll(EventBus.layerMemory, Presence.layerMemory, RateLimiter.layerStoreMemory)
  }
  const url = config.url.value
  yield* Effect.logInfo(`realtime over Redis with prefix ${config.prefix}`)
  return Layer.mergeAll(
    EventBus.layerRedis({ url, prefix: config.prefix }),
    Presence.layerRedis({ url, prefix: config.prefix }),
    RateLimiterRedis.layerStore({
      ...redisOptions(Redacted.value(url)),
      prefix: `${config.prefix}rl:`,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false
    })
  )
}))
