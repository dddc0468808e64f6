/**
 * Limits on what callers may do how fast: writes per person and per org, a
 * fair share of each node per org, log-ins per account and per address,
 * sign-ups per address, and password-reset requests per e-mail address and
 * per client address. Refusals are `RateLimited` with the seconds to wait
 * (the API sends them as `Retry-After`).
 */
import { RateLimiter } from "@effect/experimental"
import type { Caller } from "@troupe/domain/Caller"
import { RateLimited } from "@troupe/domain/Errors"
import { Config, Duration, Effect, Option } from "effect"
import * as OrgShare from "./OrgShare.js"

/** The limits, from configuration. */
export const LimitsConfig = Config.all({
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
  /** Password-reset requests per e-mail address per hour (`RATE_PASSWORD_RESET_PER_HOUR`, default 5). */
  passwordResetsPerHour: Config.integer("RATE_PASSWORD_RESET_PER_HOUR").pipe(Config.withDefault(5)),
  /**
   * Password-reset requests per client address per hour, all e-mail addresses
   * together (`RATE_PASSWORD_RESET_PER_ADDRESS_PER_HOUR`, default 50).
   */
  passwordResetsPerAddressPerHour: Config.integer("RATE_PASSWORD_RESET_PER_ADDRESS_PER_HOUR").pipe(
    Config.withDefault(50)
  )
})

/** A refusal that says how long to wait. */
const refuse = (message: string, delay: Duration.Duration) =>
  new RateLimited({ message, retryAfterSeconds: Math.max(1, Math.ceil(Duration.toSeconds(delay))) })

/** The limits of this node (counters are shared through the rate limiter's store: Redis across nodes). */
export class Limits extends Effect.Service<Limits>()("@troupe/workspace/Limits", {
  effect: Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    const config = yield* LimitsConfig
    const share = OrgShare.make(config.orgConcurrentWrites)

    /** Counts one attempt; the delay before the next when over the limit. */
    const consume = (key: string, limit: number, window: Duration.DurationInput) =>
      limiter.consume({ key, limit, window, algorithm: "fixed-window", onExceeded: "fail" }).pipe(
        Effect.map(() => Option.none<Duration.Duration>()),
        Effect.catchAll((e) =>
          Effect.succeed(e.reason === "Exceeded" ? Option.some(e.retryAfter) : Option.none<Duration.Duration>())
        )
      )

    /** Counts an attempt against each of `limits` in turn; the first one over refuses with `message`. */
    const within = (
      limits: ReadonlyArray<readonly [key: string, limit: number]>,
      window: Duration.DurationInput,
      message: string
    ) =>
      Effect.forEach(limits, ([key, limit]) =>
        Effect.flatMap(
          consume(key, limit, window),
          Option.match({ onNone: () => Effect.void, onSome: (delay) => Effect.fail(refuse(message, delay)) })
        ), { discard: true })

    /** Counts a write of the person's own (not in an org) against their rate limit. */
    const personal = Effect.fn("Limits.personal")(function*(caller: Caller) {
      yield* within([[`w:u:${caller.user.id}`, config.userWritesPerMinute]], "1 minute", "too many writes; slow down")
    })

    /**
     * Counts a write against the caller's and the org's rate limits, then
     * takes one of the org's write slots on this node until the scope closes
     * (waiting while the org has `ORG_CONCURRENT_WRITES` running).
     */
    const write = Effect.fn("Limits.write")(function*(caller: Caller, orgId: string) {
      yield* personal(caller)
      yield* within(
        [[`w:o:${orgId}`, config.orgWritesPerMinute]],
        "1 minute",
        "this org is writing too fast; slow down"
      )
      yield* share.slot(orgId)
    })

    /** Counts a log-in attempt against the account (strict) and the client address (generous). */
    const login = Effect.fn("Limits.login")(function*(email: string, address: string) {
      yield* within(
        [[`l:e:${email}`, config.loginsPer15Minutes], [`l:a:${address}`, config.loginsPerAddressPer15Minutes]],
        "15 minutes",
        "too many log-in attempts; wait and try again"
      )
    })

    /**
     * Counts a password-reset request against the e-mail address and the
     * client address, whether or not the e-mail address has an account.
     */
    const passwordReset = Effect.fn("Limits.passwordReset")(function*(email: string, address: string) {
      yield* within(
        [[`r:e:${email}`, config.passwordResetsPerHour], [`r:a:${address}`, config.passwordResetsPerAddressPerHour]],
        "1 hour",
        "too many password-reset requests; wait and try again"
      )
    })

    /**
     * Counts the start of a sign-in through the identity provider as a
     * log-in attempt of the client address (the provider checks the person).
     */
    const providerSignIn = Effect.fn("Limits.providerSignIn")(function*(address: string) {
      yield* within(
        [[`l:a:${address}`, config.loginsPerAddressPer15Minutes]],
        "15 minutes",
        "too many log-in attempts; wait and try again"
      )
    })

    /** Counts a sign-up against the client address, on its own terms (not the log-in limits). */
    const signup = Effect.fn("Limits.signup")(function*(address: string) {
      yield* within(
        [[`s:a:${address}`, config.signupsPerAddressPerHour]],
        "1 hour",
        "too many sign-ups from this address; wait and try again"
      )
    })

    return { write, personal, login, providerSignIn, signup, passwordReset } as const
  })
}) {}
