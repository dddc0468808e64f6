/**
 * Server configuration, all from the environment with documented defaults.
 */
import { Config, Duration, Option, Redacted } from "effect"

/** HTTP listener and feed settings. */
export const ServerConfig = Config.all({
  /** HTTP port (`PORT`, default 8787). */
  port: Config.integer("PORT").pipe(Config.withDefault(8787)),
  /** HTTP listen address (`HOST`, default 127.0.0.1). */
  host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1")),
  /** Redis for cross-node fan-out, presence and rate limits (`REDIS_URL`); in-process when unset. */
  redisUrl: Config.option(Config.redacted("REDIS_URL")),
  /** Prefix for every Redis key and channel (`REDIS_PREFIX`, default `troupe:`). */
  redisPrefix: Config.string("REDIS_PREFIX").pipe(Config.withDefault("troupe:")),
  /** SSE keep-alive interval (`SSE_HEARTBEAT`, default 15 seconds). */
  heartbeat: Config.duration("SSE_HEARTBEAT").pipe(Config.withDefault(Duration.seconds(15))),
  /** Writes allowed per user per minute (`RATE_USER_WRITES_PER_MIN`, default 120). */
  userWritesPerMinute: Config.integer("RATE_USER_WRITES_PER_MIN").pipe(Config.withDefault(120)),
  /** Writes allowed per org per minute (`RATE_ORG_WRITES_PER_MIN`, default 3000). */
  orgWritesPerMinute: Config.integer("RATE_ORG_WRITES_PER_MIN").pipe(Config.withDefault(3000)),
  /**
   * Writes of one org running at once on a node (`ORG_CONCURRENT_WRITES`,
   * default 8); more wait their turn, so one org cannot crowd out the others.
   */
  orgConcurrentWrites: Config.integer("ORG_CONCURRENT_WRITES").pipe(
    Config.validate({ message: "ORG_CONCURRENT_WRITES must be at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(8)
  ),
  /** Log-in attempts per account per 15 minutes (`RATE_LOGIN_PER_15MIN`, default 10). */
  loginsPer15Minutes: Config.integer("RATE_LOGIN_PER_15MIN").pipe(Config.withDefault(10)),
  /**
   * Log-in attempts per client address per 15 minutes, all accounts together
   * (`RATE_LOGIN_PER_ADDRESS_PER_15MIN`, default 300): generous, since an office
   * behind one address shares it.
   */
  loginsPerAddressPer15Minutes: Config.integer("RATE_LOGIN_PER_ADDRESS_PER_15MIN").pipe(Config.withDefault(300)),
  /** Sign-ups per client address per hour (`RATE_SIGNUP_PER_ADDRESS_PER_HOUR`, default 100). */
  signupsPerAddressPerHour: Config.integer("RATE_SIGNUP_PER_ADDRESS_PER_HOUR").pipe(Config.withDefault(100)),
  /**
   * Trust the first address in `X-Forwarded-For` as the client's (`TRUST_PROXY`, default false).
   * Turn on only behind a proxy that sets it, or clients could pick their own address.
   */
  trustProxy: Config.boolean("TRUST_PROXY").pipe(Config.withDefault(false))
})

/** The resolved configuration. */
export type ServerConfig = Config.Config.Success<typeof ServerConfig>

/** The Redis URL, if configured. */
export const redisUrl = (config: ServerConfig): Option.Option<Redacted.Redacted> => config.redisUrl
