/**
 * Sign-up, log-in, the current user and log-out.
 */
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { normalizeEmail, Session } from "@troupe/domain/User"
import { AccountRepo } from "@troupe/store/AccountRepo"
import { Effect, Option } from "effect"
import { Access, orUnavailable } from "../Access.js"
import { ServerConfig } from "../ServerConfig.js"

/** The auth group. */
export const AuthLive = HttpApiBuilder.group(TroupeApi, "auth", (handlers) =>
  Effect.gen(function*() {
    const accounts = yield* AccountRepo
    const access = yield* Access
    const { trustProxy } = yield* ServerConfig
    /** The client's address: the connection's, or behind a trusted proxy the first X-Forwarded-For entry. */
    const clientAddress = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
      const forwarded = trustProxy ? request.headers["x-forwarded-for"]?.split(",")[0]?.trim() : undefined
      return forwarded || Option.getOrElse(request.remoteAddress, () => "unknown")
    })
    return handlers
      .handle("signup", ({ payload }) =>
        Effect.gen(function*() {
          yield* access.signup(yield* clientAddress)
          return new Session(yield* orUnavailable(accounts.signup(payload)))
        }))
      .handle("login", ({ payload }) =>
        Effect.gen(function*() {
          yield* access.login(normalizeEmail(payload.email), yield* clientAddress)
          return new Session(yield* orUnavailable(accounts.login(payload.email, payload.password)))
        }))
      .handle("me", () => Effect.map(CurrentUser, (c) => c.user))
      .handle("logout", () => Effect.flatMap(CurrentUser, (c) => orUnavailable(accounts.logout(c.token))))
  }))
