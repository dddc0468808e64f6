/**
 * Sign-up, log-in, the current user and log-out.
 */
import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Accounts } from "@troupe/workspace/Accounts"
import { Effect, Option } from "effect"
import { ServerConfig } from "../ServerConfig.js"

/** The auth group. */
export const AuthLive = HttpApiBuilder.group(TroupeApi, "auth", (handlers) =>
  Effect.gen(function*() {
    const accounts = yield* Accounts
    const { trustProxy } = yield* ServerConfig
    /** The client's address: the connection's, or behind a trusted proxy the first X-Forwarded-For entry. */
    const clientAddress = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
      const forwarded = trustProxy ? request.headers["x-forwarded-for"]?.split(",")[0]?.trim() : undefined
      return forwarded || Option.getOrElse(request.remoteAddress, () => "unknown")
    })
    return handlers
      .handle("signup", ({ payload }) => Effect.flatMap(clientAddress, (address) => accounts.signup(payload, address)))
      .handle("login", ({ payload }) => Effect.flatMap(clientAddress, (address) => accounts.login(payload, address)))
      .handle("me", () => Effect.map(CurrentUser, (c) => c.user))
      .handle("logout", () => Effect.flatMap(CurrentUser, (c) => accounts.logout(c.token)))
  }))
