/**
 * Signing in through an OpenID Connect provider: the authorization-code flow
 * with PKCE (S256). The provider is found by discovery, its ID tokens are
 * verified with `jose` against its published keys (signature, issuer,
 * audience, expiry, nonce, and `azp` when present), and the person is the
 * one with the token's verified e-mail address, made on first sight. People
 * whose address is at a domain an org takes join that org as members.
 *
 * Sign-ins in flight live in Postgres (`OidcRepo`), so the callback may reach
 * any node. The browser never carries a session token in a URL: it gets a
 * one-time code the web app exchanges for a session.
 */
import { NotFound, Unauthorized, Unavailable } from "@troupe/domain/Errors"
import type { OrgId } from "@troupe/domain/Ids"
import { emailDomainOf } from "@troupe/domain/Org"
import { normalizeEmail, Session, type User } from "@troupe/domain/User"
import { AccountRepo } from "@troupe/store/AccountRepo"
import { OidcRepo } from "@troupe/store/OidcRepo"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { Config, ConfigError, Data, Duration, Effect, Either, Option, Redacted, Schema, SynchronizedRef } from "effect"
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose"
import { createHash, randomBytes } from "node:crypto"
import { refusal } from "./ExternalAuth.js"
import { Limits } from "./Limits.js"
import { orUnavailable } from "./Unavailable.js"

/** OpenID Connect settings; with `OIDC_ISSUER` unset, provider sign-in is off. */
export const OidcConfig = Config.all({
  /** The provider's issuer URL (`OIDC_ISSUER`); setting it turns provider sign-in on. */
  issuer: Config.option(Config.string("OIDC_ISSUER")),
  /** This server's client id at the provider (`OIDC_CLIENT_ID`, required with an issuer). */
  clientId: Config.option(Config.string("OIDC_CLIENT_ID")),
  /** The client secret (`OIDC_CLIENT_SECRET`), sent with HTTP Basic; unset for a public client (PKCE only). */
  clientSecret: Config.option(Config.redacted("OIDC_CLIENT_SECRET")),
  /** Where the provider sends people back (`OIDC_REDIRECT_URL`; default `PUBLIC_URL` + `/v1/auth/oidc/callback`). */
  redirectUrl: Config.option(Config.url("OIDC_REDIRECT_URL")),
  /** The scopes asked for (`OIDC_SCOPES`, default `openid email profile`). */
  scopes: Config.string("OIDC_SCOPES").pipe(Config.withDefault("openid email profile")),
  /** The provider's name on the sign-in button (`OIDC_DISPLAY_NAME`, default `SSO`: "Sign in with SSO"). */
  displayName: Config.string("OIDC_DISPLAY_NAME").pipe(Config.withDefault("SSO")),
  /** How long a person has at the provider before the sign-in expires (`OIDC_LOGIN_TTL`, default 10 minutes). */
  loginTtl: Config.duration("OIDC_LOGIN_TTL").pipe(Config.withDefault(Duration.minutes(10)))
}).pipe(
  Config.mapOrFail((c) => {
    if (Option.isNone(c.issuer)) return Either.right(Option.none())
    const fail = (message: string) => Either.left(ConfigError.InvalidData([], message))
    if (!URL.canParse(c.issuer.value)) return fail("OIDC_ISSUER must be a URL")
    if (Option.isNone(c.clientId)) return fail("OIDC_ISSUER needs OIDC_CLIENT_ID as well")
    if (!c.scopes.split(/\s+/).includes("openid")) return fail("OIDC_SCOPES must include openid")
    return Either.right(Option.some({ ...c, issuer: c.issuer.value, clientId: c.clientId.value }))
  })
)

/** How long the one-time code of a finished sign-in works. */
export const HANDOFF_TTL = Duration.minutes(1)

/**
 * Why a provider sign-in did not finish: `code` is for the app (stable,
 * `a-z_`), `message` for people. Nothing was stored.
 */
export class OidcRefused extends Data.TaggedError("OidcRefused")<{
  readonly code: string
  readonly message: string
}> {}

const refused = (code: string, message: string) => new OidcRefused({ code, message })

/** The parts of a discovery document used here. */
const Discovery = Schema.Struct({
  issuer: Schema.String,
  authorization_endpoint: Schema.String,
  token_endpoint: Schema.String,
  jwks_uri: Schema.String,
  userinfo_endpoint: Schema.optional(Schema.String),
  id_token_signing_alg_values_supported: Schema.optional(Schema.Array(Schema.String))
})

const TokenResponse = Schema.Struct({ id_token: Schema.String, access_token: Schema.optional(Schema.String) })
const UserInfo = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const TokenError = Schema.Struct({ error: Schema.String })

/** Signature algorithms an ID token may use: public-key ones only (never `none` or a shared secret). */
const asymmetric = new Set(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"])

const base64url = (bytes: Buffer) => bytes.toString("base64url")
const random = () => base64url(randomBytes(32))

const stringClaim = (payload: Readonly<Record<string, unknown>>, name: string): string | undefined => {
  const value = payload[name]
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined
}

/** The parameters the provider sends the browser back with. */
export interface CallbackParams {
  readonly code?: string | undefined
  readonly state?: string | undefined
  readonly error?: string | undefined
  readonly error_description?: string | undefined
  readonly iss?: string | undefined
}

const notConfigured = new NotFound({
  resource: "OpenID Connect sign-in",
  message: "sign-in through an identity provider is not configured on this server"
})

/** Provider sign-in. */
export class Oidc extends Effect.Service<Oidc>()("@troupe/workspace/Oidc", {
  effect: Effect.gen(function*() {
    const settings = yield* OidcConfig
    const accounts = yield* AccountRepo
    const logins = yield* OidcRepo
    const orgs = yield* OrgRepo
    const limits = yield* Limits
    /** The provider's discovery document and keys, read once they are first needed. */
    const provider = yield* SynchronizedRef.make(
      Option.none<{ readonly discovery: typeof Discovery.Type; readonly jwks: ReturnType<typeof createRemoteJWKSet> }>()
    )

    const configured = Option.match(settings, {
      onNone: () => Effect.fail(notConfigured),
      onSome: Effect.succeed
    })

    const unreachable = (what: string) =>
      new Unavailable({ message: `the identity provider cannot be reached (${what}); retry shortly` })

    /** GETs or POSTs to the provider; a network failure or timeout is `Unavailable`. */
    const call = (url: string, init: RequestInit, what: string) =>
      Effect.tryPromise({
        try: async (signal) => {
          const response = await fetch(url, { ...init, signal, redirect: "error" })
          const text = await response.text()
          return { status: response.status, text }
        },
        catch: () => unreachable(what)
      }).pipe(
        Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => unreachable(what) })
      )

    const discover = SynchronizedRef.modifyEffect(provider, (known) => {
      if (Option.isSome(known)) return Effect.succeed([known.value, known])
      return Effect.gen(function*() {
        const c = yield* configured
        const url = `${c.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`
        const res = yield* call(url, { headers: { accept: "application/json" } }, "discovery")
        if (res.status !== 200) return yield* unreachable(`discovery answered ${res.status}`)
        const discovery = yield* Schema.decodeUnknown(Schema.parseJson(Discovery))(res.text).pipe(
          Effect.mapError(() => unreachable("its discovery document cannot be read"))
        )
        if (discovery.issuer !== c.issuer) {
          return yield* Effect.fail(
            new Unavailable({
              message: `the identity provider calls itself ${discovery.issuer}, not ${c.issuer} (OIDC_ISSUER)`
            })
          )
        }
        const value = { discovery, jwks: createRemoteJWKSet(new URL(discovery.jwks_uri)) }
        return [value, Option.some(value)] as const
      })
    })

    /** Whether provider sign-in is on, and the button's name. */
    const info = Option.match(settings, {
      onNone: () => ({ enabled: false, displayName: null }),
      onSome: (c) => ({ enabled: true, displayName: c.displayName })
    })

    /**
     * Where to send a browser to sign in: the provider's authorization
     * endpoint with a fresh state, nonce and PKCE challenge, remembered for
     * the callback. `fallbackRedirect` is the callback URL when none is configured.
     * Counts as a log-in attempt of the client `address`.
     */
    const start = Effect.fn("Oidc.start")(function*(fallbackRedirect: string, address: string) {
      const c = yield* configured
      yield* limits.providerSignIn(address)
      const { discovery } = yield* discover
      const state = random()
      const nonce = random()
      const codeVerifier = random()
      yield* orUnavailable(logins.begin({ state, nonce, codeVerifier }, c.loginTtl))
      const url = new URL(discovery.authorization_endpoint)
      const params: Record<string, string> = {
        response_type: "code",
        client_id: c.clientId,
        redirect_uri: Option.match(c.redirectUrl, { onNone: () => fallbackRedirect, onSome: (u) => u.href }),
        scope: c.scopes,
        state,
        nonce,
        code_challenge: base64url(createHash("sha256").update(codeVerifier).digest()),
        code_challenge_method: "S256"
      }
      for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v)
      return url.href
    })

    /** Exchanges the authorization code at the token endpoint for an ID token. */
    const redeem = (code: string, codeVerifier: string, redirectUri: string) =>
      Effect.gen(function*() {
        const c = yield* configured
        const { discovery } = yield* discover
        const body = new URLSearchParams({
          grant_type: "authorization_code",
          code,
          redirect_uri: redirectUri,
          code_verifier: codeVerifier
        })
        const headers: Record<string, string> = {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json"
        }
        if (Option.isSome(c.clientSecret)) {
          // client_secret_basic: both parts form-encoded, then Base64 (RFC 6749 §2.3.1).
          const encode = (s: string) => encodeURIComponent(s).replace(/%20/g, "+")
          const pair = `${encode(c.clientId)}:${encode(Redacted.value(c.clientSecret.value))}`
          headers["authorization"] = `Basic ${Buffer.from(pair).toString("base64")}`
        } else {
          body.set("client_id", c.clientId)
        }
        const res = yield* call(discovery.token_endpoint, { method: "POST", headers, body: body.toString() }, "token")
        if (res.status !== 200) {
          const error = Option.match(Schema.decodeUnknownOption(Schema.parseJson(TokenError))(res.text), {
            onNone: () => `status ${res.status}`,
            onSome: (e) => e.error
          })
          return yield* refused("token_refused", `the identity provider refused the sign-in code (${error})`)
        }
        const tokens = yield* Schema.decodeUnknown(Schema.parseJson(TokenResponse))(res.text).pipe(
          Effect.mapError(() => refused("token_refused", "the identity provider answered without an ID token"))
        )
        return tokens
      })

    /** Verifies an ID token: signature, issuer, audience, expiry, nonce and `azp`; answers its claims. */
    const verify = (idToken: string, nonce: string) =>
      Effect.gen(function*() {
        const c = yield* configured
        const { discovery, jwks } = yield* discover
        const algorithms = (discovery.id_token_signing_alg_values_supported ?? ["RS256"]).filter((a) =>
          asymmetric.has(a)
        )
        const { payload } = yield* Effect.tryPromise({
          try: () => jwtVerify(idToken, jwks, { issuer: c.issuer, audience: c.clientId, algorithms }),
          catch: (e) => refused("id_token_invalid", refusal(e).message.replace(/^the token/, "the ID token"))
        })
        if (payload["nonce"] !== nonce) {
          return yield* refused("id_token_invalid", "the ID token was not issued for this sign-in (nonce)")
        }
        const azp = payload["azp"]
        const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud]
        if ((azp !== undefined || audiences.length > 1) && azp !== c.clientId) {
          return yield* refused("id_token_invalid", "the ID token was issued to another client (azp)")
        }
        return payload
      })

    /**
     * The claims about the person: the ID token's, or, when it carries no
     * e-mail address (as conformant providers do for the `email` scope), the
     * userinfo endpoint's for the same subject.
     */
    const claimsOf = (payload: JWTPayload, accessToken: string | undefined) =>
      Effect.gen(function*() {
        if (stringClaim(payload, "email") !== undefined) return payload
        const { discovery } = yield* discover
        if (discovery.userinfo_endpoint === undefined || accessToken === undefined) return payload
        const res = yield* call(discovery.userinfo_endpoint, {
          headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" }
        }, "userinfo")
        const info = res.status === 200
          ? Option.getOrUndefined(Schema.decodeUnknownOption(Schema.parseJson(UserInfo))(res.text))
          : undefined
        if (info === undefined) {
          return yield* refused("userinfo_refused", `the identity provider's userinfo endpoint answered ${res.status}`)
        }
        if (info["sub"] !== payload.sub) {
          return yield* refused("userinfo_refused", "the userinfo endpoint answered for another person (sub)")
        }
        return info
      })

    /** The verified e-mail address and name in `claims`. */
    const personIn = (claims: Readonly<Record<string, unknown>>) =>
      Effect.gen(function*() {
        const email = stringClaim(claims, "email")
        if (email === undefined) {
          return yield* refused("email_missing", "the identity provider did not share an e-mail address")
        }
        if (claims["email_verified"] !== true) {
          return yield* refused("email_unverified", "the identity provider has not verified this e-mail address")
        }
        return {
          email: normalizeEmail(email),
          name: stringClaim(claims, "name") ?? email.slice(0, Math.max(1, email.indexOf("@")))
        }
      })

    /** Makes `user` a member of every org that takes people of their address's domain (and they are not in yet). */
    const joinByDomain = (user: User) =>
      Effect.gen(function*() {
        const ids: ReadonlyArray<OrgId> = yield* logins.orgsForDomain(emailDomainOf(user.email))
        for (const orgId of ids) {
          yield* orgs.addMember(orgId, user, "member").pipe(Effect.catchTag("Conflict", () => Effect.void))
        }
      })

    /**
     * The provider sent the browser back: takes the sign-in its state names
     * (once), exchanges the code, verifies the ID token and answers a
     * one-time code for the web app. Every failure is `OidcRefused` (or
     * `Unavailable`) and stores nothing.
     */
    const callback = Effect.fn("Oidc.callback")(function*(params: CallbackParams, fallbackRedirect: string) {
      const c = yield* configured
      const pending = params.state === undefined || params.state === ""
        ? Option.none()
        : yield* orUnavailable(logins.take(params.state))
      // RFC 9207: a provider that names itself must be ours (a defence against mix-up attacks).
      if (params.iss !== undefined && params.iss !== c.issuer) {
        return yield* refused("issuer_mismatch", "the answer came from another identity provider (iss)")
      }
      if (params.error !== undefined) {
        const code = /^[a-z_]{1,64}$/.test(params.error) ? params.error : "provider_error"
        return yield* refused(
          code,
          code === "access_denied"
            ? "the sign-in was cancelled or refused at the identity provider"
            : `the identity provider could not sign you in (${code})`
        )
      }
      if (params.state === undefined || params.state === "") {
        return yield* refused("state_missing", "the identity provider sent no state back; start the sign-in again")
      }
      if (Option.isNone(pending)) {
        return yield* refused("state_unknown", "this sign-in is unknown or was already used; start it again")
      }
      if (pending.value.expired) return yield* refused("state_expired", "this sign-in took too long; start it again")
      if (params.code === undefined || params.code === "") {
        return yield* refused("code_missing", "the identity provider sent no sign-in code back")
      }
      const redirectUri = Option.match(c.redirectUrl, { onNone: () => fallbackRedirect, onSome: (u) => u.href })
      const tokens = yield* redeem(params.code, pending.value.codeVerifier, redirectUri)
      const payload = yield* verify(tokens.id_token, pending.value.nonce)
      const who = yield* personIn(yield* claimsOf(payload, tokens.access_token))
      const user = yield* orUnavailable(accounts.personFor(who)).pipe(
        Effect.catchTag("Unauthorized", (e) => Effect.fail(refused("account_unavailable", e.message)))
      )
      yield* orUnavailable(joinByDomain(user))
      return yield* orUnavailable(logins.handoff(user, HANDOFF_TTL))
    }, (effect) =>
      // Operators see why sign-ins fail (a wrong client secret shows as token_refused), never a token.
      Effect.tapErrorTag(
        effect,
        "OidcRefused",
        (e) => Effect.logInfo(`a sign-in through the identity provider was refused: ${e.code}: ${e.message}`)
      ))

    /** The web app's one-time code, exchanged (once, within a minute) for a session. */
    const exchange = Effect.fn("Oidc.exchange")(function*(code: string) {
      yield* configured
      const used = yield* orUnavailable(logins.useHandoff(code))
      if (Option.isNone(used) || used.value.expired) {
        return yield* new Unauthorized({
          message: "this sign-in code is unknown, used or expired; sign in through the identity provider again"
        })
      }
      return new Session(yield* orUnavailable(accounts.startSession(used.value.user)))
    })

    return { info, start, callback, exchange } as const
  }),
  dependencies: [Limits.Default]
}) {}
