/**
 * Bearer tokens issued by an external auth service (Supabase, Auth0, an
 * OpenID provider's ID tokens, …): JSON Web Tokens verified with `jose`
 * against the configured algorithms, issuer, audience and expiry, with an
 * HS256 secret or the provider's published keys (JWKS). The token's verified
 * e-mail is the person: their Troupe account, made on first sight.
 */
import { Unauthorized } from "@troupe/domain/Errors"
import { Config, ConfigError, Effect, Either, Option, Redacted } from "effect"
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from "jose"
import { createHash } from "node:crypto"

/** External token settings; all unset means Troupe's own sessions and API keys only. */
export const ExternalAuthConfig = Config.all({
  /** The `iss` tokens must carry (`AUTH_JWT_ISSUER`); setting it turns external tokens on. */
  issuer: Config.option(Config.string("AUTH_JWT_ISSUER")),
  /** The `aud` tokens must carry (`AUTH_JWT_AUDIENCE`). */
  audience: Config.option(Config.string("AUTH_JWT_AUDIENCE")),
  /** A shared secret for HS256 tokens (`AUTH_JWT_SECRET`), or … */
  secret: Config.option(Config.redacted("AUTH_JWT_SECRET")),
  /** … the URL of the provider's public keys (`AUTH_JWKS_URL`). */
  jwksUrl: Config.option(Config.url("AUTH_JWKS_URL")),
  /** Accepted algorithms (`AUTH_JWT_ALGORITHMS`; default HS256 with a secret, RS256,ES256,EdDSA with JWKS). */
  algorithms: Config.option(Config.array(Config.string(), "AUTH_JWT_ALGORITHMS")),
  /**
   * Require `email_verified: true` in the token (`AUTH_JWT_REQUIRE_VERIFIED_EMAIL`, default true).
   * Turn off only for a provider that issues tokens for verified addresses alone and omits the claim.
   */
  requireVerifiedEmail: Config.boolean("AUTH_JWT_REQUIRE_VERIFIED_EMAIL").pipe(Config.withDefault(true))
}).pipe(
  Config.mapOrFail((c) => {
    if (Option.isNone(c.issuer)) return Either.right(Option.none())
    const fail = (message: string) => Either.left(ConfigError.InvalidData([], message))
    if (Option.isNone(c.audience)) return fail("AUTH_JWT_ISSUER needs AUTH_JWT_AUDIENCE as well")
    if (Option.isSome(c.secret) === Option.isSome(c.jwksUrl)) {
      return fail("AUTH_JWT_ISSUER needs exactly one of AUTH_JWT_SECRET and AUTH_JWKS_URL")
    }
    return Either.right(Option.some({
      issuer: c.issuer.value,
      audience: c.audience.value,
      secret: c.secret,
      jwksUrl: c.jwksUrl,
      algorithms: Option.getOrElse(
        c.algorithms,
        () => Option.isSome(c.secret) ? ["HS256"] : ["RS256", "ES256", "EdDSA"]
      ),
      requireVerifiedEmail: c.requireVerifiedEmail
    }))
  })
)

/** Who an external token stands for. */
export interface ExternalIdentity {
  readonly email: string
  readonly name: string
  /** The token's subject at its issuer, as a UUID (the id of the credential a stream was opened with). */
  readonly credentialId: string
  readonly expiresAt: Date | null
}

/** A stable UUID-shaped id for a text (the first 128 bits of its SHA-256). */
const uuidOf = (text: string) => {
  const hex = createHash("sha256").update(text).digest("hex")
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}

/** True for a token in the compact JWT form (three base64url parts). */
export const looksLikeJwt = (token: string) => /^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)

/** What was wrong with a token `jose` refused, for people (never the token itself). */
export const refusal = (error: unknown): Unauthorized => {
  const code = typeof error === "object" && error !== null ? Reflect.get(error, "code") : undefined
  const claim = typeof error === "object" && error !== null ? Reflect.get(error, "claim") : undefined
  const message = code === "ERR_JWT_EXPIRED"
    ? "the token has expired"
    : code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && claim === "aud"
    ? "the token is not meant for this server (audience)"
    : code === "ERR_JWT_CLAIM_VALIDATION_FAILED" && claim === "iss"
    ? "the token comes from an issuer this server does not trust"
    : code === "ERR_JWT_CLAIM_VALIDATION_FAILED"
    ? `the token's ${String(claim)} claim is not valid`
    : code === "ERR_JOSE_ALG_NOT_ALLOWED"
    ? "the token is signed with an algorithm this server does not accept"
    : code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" || code === "ERR_JWKS_NO_MATCHING_KEY"
    ? "the token's signature is not valid"
    : code === "ERR_JWKS_TIMEOUT" || code === "ERR_JOSE_GENERIC"
    ? "the identity provider's keys cannot be read right now"
    : "the token is not a valid signed token"
  return new Unauthorized({ message })
}

const stringClaim = (payload: JWTPayload, name: string): string | undefined => {
  const value = payload[name]
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined
}

/** Verifies external tokens, when configured; `verify` is null otherwise. */
export const makeVerifier = Effect.map(
  ExternalAuthConfig,
  Option.map((config) => {
    const key = Option.match(config.secret, {
      onSome: (secret) => new TextEncoder().encode(Redacted.value(secret)),
      onNone: () => undefined
    })
    const jwks = Option.map(config.jwksUrl, (url) => createRemoteJWKSet(url))
    const check = (token: string) =>
      key !== undefined
        ? jwtVerify(token, key, { issuer: config.issuer, audience: config.audience, algorithms: config.algorithms })
        : Option.isSome(jwks)
        ? jwtVerify(token, jwks.value, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: config.algorithms
        })
        : Promise.reject(new Error("no key configured"))
    return (token: string): Effect.Effect<ExternalIdentity, Unauthorized> =>
      Effect.gen(function*() {
        const { payload } = yield* Effect.tryPromise({ try: () => check(token), catch: refusal })
        const email = stringClaim(payload, "email")
        if (email === undefined) return yield* new Unauthorized({ message: "the token carries no e-mail address" })
        if (config.requireVerifiedEmail && payload["email_verified"] !== true) {
          return yield* new Unauthorized({ message: "the token's e-mail address is not verified" })
        }
        return {
          email,
          name: stringClaim(payload, "name") ?? email.slice(0, Math.max(1, email.indexOf("@"))),
          credentialId: uuidOf(`${config.issuer} ${payload.sub ?? email}`),
          expiresAt: payload.exp === undefined ? null : new Date(payload.exp * 1000)
        }
      })
  })
)
