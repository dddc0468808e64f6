/**
 * Bearer tokens from an external auth service: a local identity provider
 * publishes its keys (JWKS) and signs tokens; Troupe accepts those with the
 * right signature, issuer, audience and expiry and a verified e-mail, maps
 * them to the person with that address (made on first sight), and refuses
 * every other one with a 401 that says why.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose"
import { randomBytes } from "node:crypto"
import { createServer, type Server } from "node:http"
import { baseUrl, client, email, person, raw, readEvents, slug, TestServer } from "./Harness.js"

const ISSUER = "https://id.example.test"
const AUDIENCE = "troupe-tests"

const provider = await generateKeyPair("RS256")
const stranger = await generateKeyPair("RS256")
const jwk = { ...(await exportJWK(provider.publicKey)), kid: "k1", alg: "RS256", use: "sig" }

/** A test server trusting the local provider, whose keys are served over HTTP. */
const WithProvider = Layer.unwrapScoped(Effect.gen(function*() {
  const server = yield* Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<Server>((resolve) => {
        const s = createServer((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify({ keys: [jwk] }))
        })
        s.listen(0, "127.0.0.1", () => resolve(s))
      })
    ),
    (s) => Effect.promise(() => new Promise<void>((resolve) => s.close(() => resolve())))
  )
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return TestServer({
    AUTH_JWT_ISSUER: ISSUER,
    AUTH_JWT_AUDIENCE: AUDIENCE,
    AUTH_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`
  })
}))

interface Signing {
  readonly key?: Parameters<SignJWT["sign"]>[0]
  readonly alg?: string
  readonly issuer?: string
  readonly audience?: string
  readonly expires?: number | string
}

/** A token the provider (or, with `key`, someone else) signs. */
const token = (claims: JWTPayload, options: Signing = {}) =>
  Effect.promise(() =>
    new SignJWT({ email_verified: true, ...claims })
      .setProtectedHeader({ alg: options.alg ?? "RS256", kid: "k1" })
      .setIssuer(options.issuer ?? ISSUER)
      .setAudience(options.audience ?? AUDIENCE)
      .setSubject(`sub-${randomBytes(4).toString("hex")}`)
      .setIssuedAt()
      .setExpirationTime(options.expires ?? "10m")
      .sign(options.key ?? provider.privateKey)
  )

const me = (bearer: string) => raw("GET", "/v1/auth/me", { token: bearer })

describe("tokens from an external auth service", () => {
  layer(WithProvider, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a valid token is the person with its verified address: made on first sight, the same after", () =>
      Effect.gen(function*() {
        const address = email("zoe").toLowerCase()
        const first = yield* me(yield* token({ email: address, name: "Zoe Quinn" }))
        expect(first.status).toBe(200)
        expect(first.json).toMatchObject({ email: address, name: "Zoe Quinn" })
        const again = yield* me(yield* token({ email: address.toUpperCase() }))
        expect(again.json).toMatchObject({ id: Reflect.get(Object(first.json), "id"), email: address })
        // She works like anyone else: makes an org and posts in its #general.
        const zoe = yield* client(yield* token({ email: address }))
        const org = yield* zoe.orgs.create({ payload: { name: "Zoe's", slug: slug() } })
        const [general] = (yield* zoe.rooms.list({ path: { org: org.id } })).rooms
        yield* zoe.messages.post({ path: { room: general!.id }, payload: { text: "hello from the provider" } })

        // Someone who signed up with a password is the same person through the provider.
        const ana = yield* person("Ana")
        const viaProvider = yield* me(yield* token({ email: ana.user.email }))
        expect(Reflect.get(Object(viaProvider.json), "id")).toBe(ana.user.id)
      }))

    it.effect("a bad signature, another audience or issuer, an expired or unverified token: 401, and why", () =>
      Effect.gen(function*() {
        const address = email("mal").toLowerCase()
        const cases: ReadonlyArray<readonly [string, Effect.Effect<string>]> = [
          ["signature", token({ email: address }, { key: stranger.privateKey })],
          ["audience", token({ email: address }, { audience: "someone-else" })],
          ["issuer", token({ email: address }, { issuer: "https://evil.example.test" })],
          ["expired", token({ email: address }, { expires: Math.floor(Date.now() / 1000) - 60 })],
          ["not verified", token({ email: address, email_verified: false })],
          ["no e-mail", token({})],
          ["not a valid", Effect.succeed("aaaa.bbbb.cccc")]
        ]
        for (const [why, make] of cases) {
          const res = yield* me(yield* make)
          expect([why, res.status]).toEqual([why, 401])
          expect(res.json).toMatchObject({ _tag: "Unauthorized", message: expect.stringContaining(why) })
        }
        // An HS256 token (the provider publishes RS256 keys) is refused for its algorithm.
        const hs = yield* Effect.promise(() =>
          new SignJWT({ email: address, email_verified: true }).setProtectedHeader({ alg: "HS256" })
            .setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime("10m")
            .sign(new TextEncoder().encode("a shared secret nobody configured"))
        )
        const refused = yield* me(hs)
        expect(refused.status).toBe(401)
        expect(refused.json).toMatchObject({ message: expect.stringContaining("algorithm") })
        // None of these made an account.
        const later = yield* me(yield* token({ email: address }))
        expect(later.status).toBe(200)
      }))

    it.effect("a stream opened with an external token ends when the token expires", () =>
      Effect.gen(function*() {
        const address = email("tim").toLowerCase()
        const short = yield* token({ email: address }, { expires: Math.floor(Date.now() / 1000) + 4 })
        const ended = yield* readEvents({
          baseUrl: yield* baseUrl,
          token: short,
          count: 1,
          keep: (d) => d.event.type === "access.revoked",
          timeout: "20 seconds"
        })
        expect(ended.map((d) => d.event)).toMatchObject([{ type: "access.revoked", credential: "session" }])
      }))
  })
})
