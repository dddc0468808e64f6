/**
 * Sign-up, log-in, the current user and log-out; a person's profile and
 * password, and a new password through a link for who forgot theirs;
 * sign-in through an OpenID Connect provider.
 */
import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Accounts } from "@troupe/workspace/Accounts"
import { Oidc } from "@troupe/workspace/Oidc"
import { Effect, Option } from "effect"
import { publicBase, ServerConfig } from "../ServerConfig.js"

/** The auth group. */
export const AuthLive = HttpApiBuilder.group(TroupeApi, "auth", (handlers) =>
  Effect.gen(function*() {
    const accounts = yield* Accounts
    const config = yield* ServerConfig
    const { trustProxy } = config
    /** The page of the web app a reset link opens. */
    const resetLink = (token: string) => `${publicBase(config)}/reset#${token}`
    const oidc = yield* Oidc
    /** The provider's callback, unless `OIDC_REDIRECT_URL` says otherwise. */
    const oidcCallback = `${publicBase(config)}/v1/auth/oidc/callback`
    /** The web app's page that finishes a provider sign-in, told the outcome in the fragment (never sent to a server). */
    const oidcPage = (outcome: Record<string, string>) =>
      HttpServerResponse.redirect(`${publicBase(config)}/oidc#${new URLSearchParams(outcome).toString()}`, {
        status: 302,
        headers: { "cache-control": "no-store", "referrer-policy": "no-referrer" }
      })
    /** The client's address: the connection's, or behind a trusted proxy the first X-Forwarded-For entry. */
    const clientAddress = Effect.map(HttpServerRequest.HttpServerRequest, (request) => {
      const forwarded = trustProxy ? request.headers["x-forwarded-for"]?.split(",")[0]?.trim() : undefined
      return forwarded || Option.getOrElse(request.remoteAddress, () => "unknown")
    })
    return handlers
      .handle("signup", ({ payload }) => Effect.flatMap(clientAddress, (address) => accounts.signup(payload, address)))
      .handle("login", ({ payload }) => Effect.flatMap(clientAddress, (address) => accounts.login(payload, address)))
      .handle("me", () => Effect.map(CurrentUser, (c) => c.user))
      .handle("updateMe", ({ payload }) => Effect.flatMap(CurrentUser, (c) => accounts.updateProfile(c, payload)))
      .handle("logout", () => Effect.flatMap(CurrentUser, (c) => accounts.logout(c.token)))
      .handle("changePassword", ({ payload }) =>
        Effect.flatMap(
          Effect.zip(CurrentUser, clientAddress),
          ([c, address]) => accounts.changePassword(c, payload, address)
        ))
      .handle("requestPasswordReset", ({ payload }) =>
        Effect.flatMap(clientAddress, (address) =>
          accounts.requestPasswordReset(payload, address, resetLink)))
      .handle("confirmPasswordReset", ({ payload }) =>
        accounts.confirmPasswordReset(payload))
      .handle("oidc", () => Effect.succeed(oidc.info))
      .handle("oidcStart", () =>
        Effect.map(
          Effect.flatMap(clientAddress, (address) => oidc.start(oidcCallback, address)),
          (location) => HttpServerResponse.redirect(location, { status: 302, headers: { "cache-control": "no-store" } })
        ))
      .handle("oidcCallback", ({ urlParams }) =>
        oidc.callback(urlParams, oidcCallback).pipe(
          Effect.map((code) => oidcPage({ code })),
          Effect.catchTags({
            OidcRefused: (e) => Effect.succeed(oidcPage({ error: e.code, message: e.message })),
            Unavailable: (e) => Effect.succeed(oidcPage({ error: "unavailable", message: e.message }))
          })
        ))
      .handle("oidcExchange", ({ payload }) => oidc.exchange(payload.code))
  }))
