/**
 * Accounts: sign-up, log-in, log-out, and resolving a bearer token to its
 * caller.
 */
import { Unauthorized, Unavailable } from "@troupe/domain/Errors"
import { normalizeEmail, Session } from "@troupe/domain/User"
import { AccountRepo } from "@troupe/store/AccountRepo"
import { isUnavailable } from "@troupe/store/DatabaseError"
import { Effect } from "effect"
import { Limits } from "./Limits.js"
import { orUnavailable } from "./Unavailable.js"

/** Accounts and sessions. */
export class Accounts extends Effect.Service<Accounts>()("@troupe/workspace/Accounts", {
  effect: Effect.gen(function*() {
    const accounts = yield* AccountRepo
    const limits = yield* Limits

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

    /** The caller a bearer token stands for. */
    const authenticate = Effect.fn("Accounts.authenticate")(function*(token: string) {
      if (token.length === 0) return yield* new Unauthorized({ message: "missing bearer token" })
      return yield* accounts.authenticate(token).pipe(
        Effect.catchTag("SqlError", (e) =>
          isUnavailable(e)
            ? Effect.fail(new Unavailable({ message: "cannot verify the token right now; retry shortly" }))
            : Effect.die(e)),
        Effect.catchTag("RowError", Effect.die)
      )
    })

    return { signup, login, logout, authenticate } as const
  }),
  dependencies: [AccountRepo.Default, Limits.Default]
}) {}
