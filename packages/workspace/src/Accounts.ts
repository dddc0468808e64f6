/**
 * Accounts: sign-up, log-in, log-out, resolving a bearer token to its
 * caller, and a person's own account: their name and handle, their password,
 * and a new password through a link sent to their address when they forgot
 * it.
 */
import type { Caller } from "@troupe/domain/Caller"
import { Forbidden, Unauthorized, Unavailable } from "@troupe/domain/Errors"
import { normalizeEmail, PasswordResetAccepted, Session } from "@troupe/domain/User"
import { AccountRepo } from "@troupe/store/AccountRepo"
import { isUnavailable } from "@troupe/store/DatabaseError"
import { Config, Duration, Effect, FiberSet, Option } from "effect"
import { looksLikeJwt, makeVerifier } from "./ExternalAuth.js"
import { Limits } from "./Limits.js"
import { type Mail, Mailer } from "./Mailer.js"
import { orUnavailable } from "./Unavailable.js"

/** Password-reset settings. */
export const PasswordResetConfig = Config.all({
  /** How long a password-reset link works (`PASSWORD_RESET_TTL`, default 1 hour). */
  ttl: Config.duration("PASSWORD_RESET_TTL").pipe(
    Config.validate({
      message: "PASSWORD_RESET_TTL must be longer than zero",
      validation: (ttl) => Duration.greaterThan(ttl, Duration.zero)
    }),
    Config.withDefault(Duration.hours(1))
  )
})

/** The answer to every password-reset request, whether or not an account uses the address. */
const resetAccepted = new PasswordResetAccepted({
  message: "If an account uses that address, a link to choose a new password is on its way."
})

/** The mail that carries a password-reset link. */
const resetMail = (to: string, link: string, expiresAt: Date): Mail => ({
  to,
  subject: "Choose a new Troupe password",
  text: [
    `Someone, probably you, asked to choose a new password for the Troupe account of ${to}.`,
    "",
    `Open this link to choose it. It works once, until ${expiresAt.toUTCString()}:`,
    "",
    link,
    "",
    "If it was not you, ignore this mail: your password stays as it is."
  ].join("\n")
})

/** People may change only their own account, signed in as themselves. */
const ownAccount = (caller: Caller, what: string) =>
  caller.apiKey === null && caller.credential.kind === "session"
    ? Effect.void
    : Effect.fail(new Forbidden({ message: `API keys cannot ${what}; sign in as a person` }))

/** Accounts and sessions. */
export class Accounts extends Effect.Service<Accounts>()("@troupe/workspace/Accounts", {
  scoped: Effect.gen(function*() {
    const accounts = yield* AccountRepo
    const external = yield* makeVerifier
    const limits = yield* Limits
    const mailer = yield* Mailer
    const resets = yield* PasswordResetConfig
    /** Mail being sent; what is still sending when the node stops is dropped. */
    const outgoing = yield* FiberSet.make()

    /** Creates an account and its first session; sign-ups are limited per client `address`. */
    const signup = Effect.fn("Accounts.signup")(
      function*(input: { email: string; password: string; name: string }, address: string) {
        yield* limits.signup(address)
        return new Session(yield* orUnavailable(accounts.signup(input)))
      }
    )

    /** A new session for the right password; attempts are limited per account and per client `address`. */
    const login = Effect.fn("Accounts.login")(function*(input: { email: string; password: string }, address: string) {
      yield* limits.login(normalizeEmail(input.email), address)
      return new Session(yield* orUnavailable(accounts.login(input.email, input.password)))
    })

    /** Ends the session of `token`; its open streams end too. */
    const logout = Effect.fn("Accounts.logout")(function*(token: string) {
      yield* orUnavailable(accounts.logout(token))
    })

    /**
     * A person signed in with a session sets a new password, giving the
     * current one (a wrong one is `Forbidden`; attempts count as log-in
     * attempts). Their other sessions end; this one stays.
     */
    const changePassword = Effect.fn("Accounts.changePassword")(
      function*(caller: Caller, input: { currentPassword: string; newPassword: string }, address: string) {
        yield* ownAccount(caller, "change passwords")
        yield* limits.login(normalizeEmail(caller.user.email), address)
        yield* orUnavailable(
          accounts.changePassword(caller.user, caller.credential.id, input.currentPassword, input.newPassword)
        )
      }
    )

    /**
     * Sends a link to choose a new password (made by `linkTo` from the
     * link's token) when a person has an account with the address. The
     * answer is the same either way, and comes as fast: the mail is sent
     * after it. Limited per e-mail address and per client `address`.
     */
    const requestPasswordReset = Effect.fn("Accounts.requestPasswordReset")(
      function*(input: { email: string }, address: string, linkTo: (token: string) => string) {
        const email = normalizeEmail(input.email)
        yield* limits.passwordReset(email, address)
        const issued = yield* orUnavailable(accounts.requestPasswordReset(email, resets.ttl))
        if (Option.isSome(issued)) {
          const { expiresAt, token } = issued.value
          yield* FiberSet.run(
            outgoing,
            mailer.send(resetMail(email, linkTo(token), expiresAt)).pipe(
              Effect.catchAll((e) => Effect.logError(`the password-reset link for ${email} was not sent: ${e.message}`))
            )
          )
        }
        return resetAccepted
      }
    )

    /**
     * Sets a new password with a reset link's token: the link is used up,
     * every session of the person ends, and they are signed in with a new one.
     */
    const confirmPasswordReset = Effect.fn("Accounts.confirmPasswordReset")(
      function*(input: { token: string; newPassword: string }) {
        return new Session(yield* orUnavailable(accounts.confirmPasswordReset(input.token, input.newPassword)))
      }
    )

    /** A person changes their name or handle; every org they are in hears of it. */
    const updateProfile = Effect.fn("Accounts.updateProfile")(
      function*(caller: Caller, patch: { readonly name?: string | undefined; readonly handle?: string | undefined }) {
        yield* ownAccount(caller, "change a profile")
        yield* limits.personal(caller)
        return yield* orUnavailable(accounts.updateProfile(caller.user, patch))
      }
    )

    /**
     * The caller a bearer token stands for: a session or API key of Troupe's
     * own, or (when configured) a token of the external auth service.
     */
    const authenticate = Effect.fn("Accounts.authenticate")(function*(token: string) {
      if (token.length === 0) return yield* new Unauthorized({ message: "missing bearer token" })
      if (Option.isSome(external) && !token.startsWith("trp_") && looksLikeJwt(token)) {
        const who = yield* external.value(token)
        const user = yield* orUnavailable(accounts.personFor({ email: who.email, name: who.name }))
        return {
          user,
          credential: { kind: "session" as const, id: who.credentialId, expiresAt: who.expiresAt },
          apiKey: null
        }
      }
      return yield* accounts.authenticate(token).pipe(
        Effect.catchTag("SqlError", (e) =>
          isUnavailable(e)
            ? Effect.fail(new Unavailable({ message: "cannot verify the token right now; retry shortly" }))
            : Effect.die(e)),
        Effect.catchTag("RowError", Effect.die)
      )
    })

    return {
      signup,
      login,
      logout,
      changePassword,
      requestPasswordReset,
      confirmPasswordReset,
      updateProfile,
      authenticate
    } as const
  }),
  dependencies: [AccountRepo.Default, Limits.Default]
}) {}
