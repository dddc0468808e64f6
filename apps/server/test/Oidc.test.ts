/**
 * Signing in through an OpenID Connect provider. A real `oidc-provider`
 * (its own keys, a test client, interactions finished by HTTP requests
 * instead of a browser) signs people in through the whole flow: start,
 * provider, callback, one-time code, session. A small fake provider hands out
 * forged ID tokens (another key, another audience, expired, another nonce …)
 * to show that each is refused and nothing is stored.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Session, User } from "@troupe/domain/User"
import { Context, Effect, Layer, Schema } from "effect"
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from "jose"
import { createHash, randomBytes } from "node:crypto"
import * as OidcProvider from "../src/testing/OidcProvider.js"
import { baseUrl, client, email, person, raw, slug, TestServer } from "./Harness.js"

/** Where Troupe believes it is reached (its default `PUBLIC_URL`): the provider sends browsers there. */
const PUBLIC = "http://127.0.0.1:8787"

/** A GET that does not follow redirects: the status and where it points. */
const visit = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const res = await fetch(url, { redirect: "manual", headers })
    const text = await res.text()
    return {
      status: res.status,
      location: res.headers.get("location") ?? "",
      cookies: res.headers.getSetCookie(),
      text,
      retryAfter: res.headers.get("retry-after")
    }
  })

/** A path of the Troupe server under test, not followed. */
const troupe = (path: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(baseUrl, (url) => visit(`${url}${path}`, headers))

/** The outcome the callback hands the web app in `/oidc#…`. */
const outcome = (location: string) => {
  expect(location.startsWith(`${PUBLIC}/oidc#`), location).toBe(true)
  return Object.fromEntries(new URLSearchParams(new URL(location).hash.slice(1)))
}

/** Sends the browser's return from the provider to the Troupe server under test (which thinks it is `PUBLIC`). */
const returnToTroupe = (callback: string) => {
  expect(callback.startsWith(`${PUBLIC}/v1/auth/oidc/callback?`), callback).toBe(true)
  return troupe(callback.slice(PUBLIC.length))
}

const exchange = (code: string) => raw("POST", "/v1/auth/oidc/exchange", { body: { code } })

// ---------------------------------------------------------------------------------------------
// A real provider

/** The real provider, whose client may send people back to Troupe's default callback. */
class RealProvider extends Context.Tag("test/RealProvider")<RealProvider, OidcProvider.TestProvider>() {}

const WithRealProvider = Layer.unwrapScoped(Effect.map(
  OidcProvider.make(`${PUBLIC}/v1/auth/oidc/callback`),
  (provider) =>
    TestServer({
      OIDC_ISSUER: provider.url,
      OIDC_CLIENT_ID: provider.clientId,
      OIDC_CLIENT_SECRET: provider.clientSecret,
      OIDC_DISPLAY_NAME: "Test IdP"
    }).pipe(Layer.provideMerge(Layer.succeed(RealProvider, provider)))
))

/**
 * A browser at the provider: follows its redirects with its cookies, finishing
 * interactions as `account`, until the provider sends it back to Troupe.
 */
const atProvider = (start: string, account: string) =>
  Effect.gen(function*() {
    const jar = new Map<string, string>()
    let url = start
    for (let hop = 0; hop < 12; hop++) {
      if (url.startsWith(PUBLIC)) return url
      const next = new URL(url)
      if (next.pathname.startsWith("/interaction/")) next.searchParams.set("as", account)
      const res = yield* visit(next.href, { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") })
      for (const cookie of res.cookies) {
        const [pair = ""] = cookie.split(";")
        const eq = pair.indexOf("=")
        jar.set(pair.slice(0, eq), pair.slice(eq + 1))
      }
      expect(res.location, `${res.status} at ${url}`).not.toBe("")
      url = new URL(res.location, url).href
    }
    return yield* Effect.dieMessage(`the provider never sent the browser back: ${url}`)
  })

/** Signs `account` in through the provider: the callback's redirect to the app. */
const signIn = (account: string) =>
  Effect.gen(function*() {
    const started = yield* troupe("/v1/auth/oidc/start")
    expect(started.status).toBe(302)
    const callback = yield* atProvider(started.location, account)
    const back = yield* returnToTroupe(callback)
    expect(back.status).toBe(302)
    return { callback, app: outcome(back.location) }
  })

/** A person at the provider (a fresh address unless given). */
const providerPerson = (name: string, options: { readonly verified?: boolean; readonly email?: string } = {}) =>
  Effect.map(RealProvider, (provider) => {
    const address = options.email ?? email(name.toLowerCase()).toLowerCase()
    return { id: provider.add({ email: address, name, verified: options.verified ?? true }), email: address }
  })

describe("sign-in through a real OpenID Connect provider", () => {
  layer(WithRealProvider, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("the login page learns that a provider is configured, and its name", () =>
      Effect.gen(function*() {
        const res = yield* raw("GET", "/v1/auth/oidc")
        expect(res.json).toEqual({ enabled: true, displayName: "Test IdP" })
      }))

    it.effect("start sends the browser to the provider with state, nonce and an S256 PKCE challenge", () =>
      Effect.gen(function*() {
        const { url } = yield* RealProvider
        const res = yield* troupe("/v1/auth/oidc/start")
        expect(res.status).toBe(302)
        const location = new URL(res.location)
        expect(location.origin).toBe(url)
        const params = Object.fromEntries(location.searchParams)
        expect(params).toMatchObject({
          response_type: "code",
          client_id: (yield* RealProvider).clientId,
          redirect_uri: `${PUBLIC}/v1/auth/oidc/callback`,
          scope: "openid email profile",
          code_challenge_method: "S256"
        })
        for (const key of ["state", "nonce", "code_challenge"]) expect(params[key]).toMatch(/^[\w-]{43}$/)
      }))

    it.effect("a first sign-in makes the account (address from userinfo); the next one is the same person; a code works once", () =>
      Effect.gen(function*() {
        const zoe = yield* providerPerson("Zoe")
        const first = yield* signIn(zoe.id)
        expect(first.app["code"]).toMatch(/^trp_o_/)
        const session = yield* exchange(first.app["code"] ?? "")
        expect(session.status).toBe(200)
        expect(session.json).toMatchObject({
          user: { email: zoe.email, name: "Zoe" },
          token: expect.stringMatching(/^trp_s_/)
        })
        const { token } = Schema.decodeUnknownSync(Session)(session.json)
        const me = yield* raw("GET", "/v1/auth/me", { token })
        expect(me.json).toMatchObject({ email: zoe.email })
        // The one-time code is used up.
        const again = yield* exchange(first.app["code"] ?? "")
        expect(again.status).toBe(401)
        expect(again.json).toMatchObject({ _tag: "Unauthorized" })

        const second = yield* signIn(zoe.id)
        const later = yield* exchange(second.app["code"] ?? "")
        expect(Schema.decodeUnknownSync(Session)(later.json).user.id).toBe(Schema.decodeUnknownSync(User)(me.json).id)
      }))

    it.effect("someone who signed up with a password is the same person through the provider", () =>
      Effect.gen(function*() {
        const ana = yield* person("Ana")
        const atIdp = yield* providerPerson("Ana", { email: ana.user.email.toUpperCase() })
        const { app } = yield* signIn(atIdp.id)
        const session = yield* exchange(app["code"] ?? "")
        expect(session.json).toMatchObject({ user: { id: ana.user.id, email: ana.user.email } })
      }))

    it.effect("a state works once; an unknown or missing state is refused", () =>
      Effect.gen(function*() {
        const bob = yield* providerPerson("Bob")
        const { callback } = yield* signIn(bob.id)
        const replay = yield* returnToTroupe(callback)
        expect(outcome(replay.location)).toMatchObject({ error: "state_unknown" })
        const wrong = yield* troupe(`/v1/auth/oidc/callback?code=abc&state=${randomBytes(32).toString("base64url")}`)
        expect(outcome(wrong.location)).toMatchObject({ error: "state_unknown" })
        const none = yield* troupe("/v1/auth/oidc/callback?code=abc")
        expect(outcome(none.location)).toMatchObject({ error: "state_missing" })
      }))

    it.effect("a person who says no at the provider comes back with access_denied", () =>
      Effect.gen(function*() {
        const { app } = yield* signIn("deny")
        expect(app).toMatchObject({ error: "access_denied", message: expect.stringContaining("cancelled") })
      }))

    it.effect("an address the provider has not verified is refused, and no account is made", () =>
      Effect.gen(function*() {
        const eve = yield* providerPerson("Eve", { verified: false })
        const { app } = yield* signIn(eve.id)
        expect(app).toMatchObject({ error: "email_unverified" })
        const signup = yield* raw("POST", "/v1/auth/signup", {
          body: { email: eve.email, password: "correct horse battery", name: "Eve" }
        })
        expect(signup.status).toBe(201)
      }))

    it.effect("people of an org's e-mail domain join it as members when they sign in through the provider", () =>
      Effect.gen(function*() {
        const olga = yield* person("Olga")
        const domain = `acme-${randomBytes(3).toString("hex")}.test`
        const org = yield* olga.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
        const updated = yield* olga.api.orgs.update({
          path: { org: org.id },
          payload: { allowedEmailDomains: [domain, domain] }
        })
        expect(updated.allowedEmailDomains).toEqual([domain])
        expect((yield* olga.api.orgs.get({ path: { org: org.id } })).allowedEmailDomains).toEqual([domain])

        const inside = yield* providerPerson("Ida", { email: `ida.${randomBytes(3).toString("hex")}@${domain}` })
        const outside = yield* providerPerson("Oz", { email: `oz.${randomBytes(3).toString("hex")}@sub.${domain}` })
        const orgsOf = (account: string) =>
          Effect.gen(function*() {
            const { app } = yield* signIn(account)
            const { token } = Schema.decodeUnknownSync(Session)((yield* exchange(app["code"] ?? "")).json)
            return yield* (yield* client(token)).orgs.list()
          })
        const idaOrgs = yield* orgsOf(inside.id)
        expect(idaOrgs.map((o) => [o.id, o.role])).toEqual([[org.id, "member"]])
        // A second sign-in changes nothing; a subdomain is another domain.
        expect((yield* orgsOf(inside.id)).map((o) => o.id)).toEqual([org.id])
        expect(yield* orgsOf(outside.id)).toEqual([])
        const members = yield* olga.api.orgs.members({ path: { org: org.id } })
        expect(members.filter((m) => m.kind === "user").map((m) => m.role).sort()).toEqual(["member", "owner"])
      }))

    it.effect("an org that lists e-mail domains refuses to add or invite other addresses (403)", () =>
      Effect.gen(function*() {
        const olga = yield* person("Olga")
        const other = yield* person("Otto")
        const org = yield* olga.api.orgs.create({ payload: { name: "Closed", slug: slug() } })
        // An invitation made before the restriction cannot be accepted after it.
        const early = yield* olga.api.invitations.create({
          path: { org: org.id },
          payload: { email: other.user.email }
        })
        const domain = `closed-${randomBytes(3).toString("hex")}.test`
        yield* olga.api.orgs.update({ path: { org: org.id }, payload: { allowedEmailDomains: [domain] } })

        const add = yield* raw("POST", `/v1/orgs/${org.id}/members`, {
          token: olga.token,
          body: { email: other.user.email }
        })
        expect(add.status).toBe(403)
        expect(add.json).toMatchObject({ _tag: "Forbidden", message: expect.stringContaining(domain) })
        const invite = yield* raw("POST", `/v1/orgs/${org.id}/invitations`, {
          token: olga.token,
          body: { email: `someone@elsewhere.test` }
        })
        expect(invite.status).toBe(403)
        const accept = yield* raw("POST", "/v1/invitations/accept", {
          token: other.token,
          body: { token: early.token }
        })
        expect(accept.status).toBe(403)
        // Addresses at the domain are fine.
        const welcome = yield* raw("POST", `/v1/orgs/${org.id}/invitations`, {
          token: olga.token,
          body: { email: `Someone@${domain.toUpperCase()}` }
        })
        expect(welcome.status).toBe(201)
        // Domains are written in lower case; an empty list lifts the restriction.
        const upper = yield* raw("PATCH", `/v1/orgs/${org.id}`, {
          token: olga.token,
          body: { allowedEmailDomains: ["Example.COM"] }
        })
        expect(upper.status).toBe(400)
        yield* olga.api.orgs.update({ path: { org: org.id }, payload: { allowedEmailDomains: [] } })
        const added = yield* raw("POST", `/v1/orgs/${org.id}/members`, {
          token: olga.token,
          body: { email: other.user.email }
        })
        expect(added.status).toBe(201)
      }))
  })
})

// ---------------------------------------------------------------------------------------------
// A fake provider with forged tokens

/** What the fake provider's token endpoint answers, given the nonce of the sign-in. */
type Forge = (nonce: string, issuer: string) => Promise<{ readonly status: number; readonly body: unknown }>

/** The fake provider: its URL, the code exchanges it received, and how it answers the next. */
class FakeProvider extends Context.Tag("test/FakeProvider")<FakeProvider, {
  readonly url: string
  readonly requests: Array<{ readonly body: URLSearchParams; readonly authorization: string | undefined }>
  /** Makes the token endpoint answer the code `code` (of the sign-in with `nonce`) with `forge`. */
  readonly expect: (code: string, nonce: string, forge: Forge) => void
}>() {}

const FAKE_CLIENT = "troupe-public-client"
const REDIRECT = "https://troupe.example.test/v1/auth/oidc/callback"

const issuerKey = await generateKeyPair("RS256")
const strangerKey = await generateKeyPair("RS256")
const issuerJwk = { ...(await exportJWK(issuerKey.publicKey)), kid: "fake-key", alg: "RS256", use: "sig" }

/** A test server signing in through the fake provider, with `overrides` to its settings. */
const withFakeProvider = (overrides: Record<string, string> = {}) =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const requests: Array<{ readonly body: URLSearchParams; readonly authorization: string | undefined }> = []
    const answers = new Map<string, { readonly nonce: string; readonly forge: Forge }>()
    let issuer = ""
    const url = yield* OidcProvider.listen((req, res) => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" })
        res.end(JSON.stringify(body))
      }
      if (req.url === "/.well-known/openid-configuration") {
        return send(200, {
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          userinfo_endpoint: `${issuer}/userinfo`,
          id_token_signing_alg_values_supported: ["RS256"]
        })
      }
      if (req.url === "/jwks") return send(200, { keys: [issuerJwk] })
      // Userinfo answers for someone else: an ID token without an address must not borrow theirs.
      if (req.url === "/userinfo") {
        return send(200, { sub: "someone-else", email: "x@example.com", email_verified: true })
      }
      if (req.url !== "/token") return send(404, {})
      let text = ""
      req.on("data", (chunk: Buffer) => (text += chunk.toString()))
      req.on("end", () => {
        const body = new URLSearchParams(text)
        requests.push({ body, authorization: req.headers.authorization })
        const answer = answers.get(body.get("code") ?? "")
        if (answer === undefined) return send(400, { error: "invalid_grant" })
        void answer.forge(answer.nonce, issuer).then((r) => send(r.status, r.body))
      })
    })
    issuer = url
    return TestServer({
      OIDC_ISSUER: url,
      OIDC_CLIENT_ID: FAKE_CLIENT,
      OIDC_REDIRECT_URL: REDIRECT,
      OIDC_SCOPES: "openid email",
      ...overrides
    }).pipe(Layer.provideMerge(Layer.succeed(FakeProvider, {
      url,
      requests,
      expect: (code, nonce, forge) => answers.set(code, { nonce, forge })
    })))
  }))

interface Forgery {
  readonly key?: Parameters<SignJWT["sign"]>[0]
  readonly issuer?: string
  readonly audience?: string | Array<string>
  readonly expires?: number | string
  readonly nonce?: string
  /** An access token next to the ID token (for the userinfo endpoint). */
  readonly accessToken?: string
}

/** An ID token the fake provider (or, with `key`, someone else) signs. */
const withToken = (claims: JWTPayload, options: Forgery = {}): Forge => async (nonce, issuer) => ({
  status: 200,
  body: {
    ...(options.accessToken === undefined ? {} : { access_token: options.accessToken }),
    id_token: await new SignJWT({ email_verified: true, nonce: options.nonce ?? nonce, ...claims })
      .setProtectedHeader({ alg: "RS256", kid: "fake-key" })
      .setIssuer(options.issuer ?? issuer)
      .setAudience(options.audience ?? FAKE_CLIENT)
      .setSubject(`sub-${randomBytes(4).toString("hex")}`)
      .setIssuedAt()
      .setExpirationTime(options.expires ?? "5m")
      .sign(options.key ?? issuerKey.privateKey)
  }
})

/**
 * Starts a sign-in, has the fake answer its code exchange with `forge`, and
 * returns what the callback told the app, and the parameters sent to the provider.
 */
const forgedSignIn = (forge: Forge) =>
  Effect.gen(function*() {
    const fake = yield* FakeProvider
    const started = yield* troupe("/v1/auth/oidc/start")
    expect(started.status).toBe(302)
    const params = new URL(started.location).searchParams
    const code = randomBytes(8).toString("hex")
    fake.expect(code, params.get("nonce") ?? "", forge)
    const back = yield* troupe(`/v1/auth/oidc/callback?code=${code}&state=${params.get("state") ?? ""}`)
    expect(back.status).toBe(302)
    return { app: outcome(back.location), params }
  })

describe("sign-in with forged or refused ID tokens", () => {
  layer(withFakeProvider(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a good token signs in; the code exchange carries the PKCE verifier of the challenge", () =>
      Effect.gen(function*() {
        const fake = yield* FakeProvider
        const address = email("pia").toLowerCase()
        const { app, params } = yield* forgedSignIn(withToken({ email: address, name: "Pia" }))
        expect(params.get("redirect_uri")).toBe(REDIRECT)
        expect(params.get("scope")).toBe("openid email")
        const request = fake.requests.at(-1)
        // A public client: no secret, its id in the form.
        expect(request?.authorization).toBeUndefined()
        expect(request?.body.get("client_id")).toBe(FAKE_CLIENT)
        expect(request?.body.get("redirect_uri")).toBe(REDIRECT)
        const verifier = request?.body.get("code_verifier") ?? ""
        expect(createHash("sha256").update(verifier).digest("base64url")).toBe(params.get("code_challenge"))
        const session = yield* exchange(app["code"] ?? "")
        expect(session.json).toMatchObject({ user: { email: address, name: "Pia" } })
      }))

    it.effect("an answer naming another issuer (RFC 9207 iss) is refused before the code is redeemed", () =>
      Effect.gen(function*() {
        const fake = yield* FakeProvider
        const started = yield* troupe("/v1/auth/oidc/start")
        const state = new URL(started.location).searchParams.get("state") ?? ""
        const before = fake.requests.length
        const back = yield* troupe(
          `/v1/auth/oidc/callback?code=abc&state=${state}&iss=${encodeURIComponent("https://evil.example.test")}`
        )
        expect(outcome(back.location)).toMatchObject({ error: "issuer_mismatch" })
        expect(fake.requests.length).toBe(before)
        // Its own issuer is fine (the fake answers an unknown code with invalid_grant).
        const again = yield* troupe("/v1/auth/oidc/start")
        const ok = yield* troupe(
          `/v1/auth/oidc/callback?code=unknown&state=${new URL(again.location).searchParams.get("state") ?? ""}&iss=${
            encodeURIComponent(fake.url)
          }`
        )
        expect(outcome(ok.location)).toMatchObject({ error: "token_refused" })
      }))

    it.effect("another key, audience, issuer, nonce or client, an expired or unverified token: refused, nothing stored", () =>
      Effect.gen(function*() {
        const address = email("mal").toLowerCase()
        const cases: ReadonlyArray<readonly [string, string, Forge]> = [
          ["id_token_invalid", "signature", withToken({ email: address }, { key: strangerKey.privateKey })],
          ["id_token_invalid", "audience", withToken({ email: address }, { audience: "someone-else" })],
          ["id_token_invalid", "issuer", withToken({ email: address }, { issuer: "https://evil.example.test" })],
          [
            "id_token_invalid",
            "expired",
            withToken({ email: address }, { expires: Math.floor(Date.now() / 1000) - 60 })
          ],
          ["id_token_invalid", "nonce", withToken({ email: address }, { nonce: "another sign-in" })],
          ["id_token_invalid", "azp", withToken({ email: address, azp: "another-client" })],
          ["id_token_invalid", "azp", withToken({ email: address }, { audience: [FAKE_CLIENT, "another-client"] })],
          ["email_unverified", "not verified", withToken({ email: address, email_verified: false })],
          ["email_missing", "e-mail", withToken({})],
          ["userinfo_refused", "sub", withToken({}, { accessToken: "an-access-token" })],
          [
            "token_refused",
            "invalid_grant",
            () => Promise.resolve({ status: 400, body: { error: "invalid_grant" } })
          ],
          ["token_refused", "without an ID token", () => Promise.resolve({ status: 200, body: { access_token: "x" } })]
        ]
        for (const [code, why, forge] of cases) {
          const { app } = yield* forgedSignIn(forge)
          expect([why, app]).toEqual([why, { error: code, message: expect.stringContaining(why) }])
        }
        // None of these made an account.
        const signup = yield* raw("POST", "/v1/auth/signup", {
          body: { email: address, password: "correct horse battery", name: "Mal" }
        })
        expect(signup.status).toBe(201)
      }))
  })
})

describe("a sign-in that outlived OIDC_LOGIN_TTL; too many starts", () => {
  // A TTL of zero: every sign-in has expired by the time its callback is read, without waiting.
  // Two log-in attempts per client address: starts count as such.
  const strict = withFakeProvider({
    OIDC_LOGIN_TTL: "0 millis",
    RATE_LOGIN_PER_ADDRESS_PER_15MIN: "2",
    TRUST_PROXY: "true"
  })
  layer(strict, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("is refused as expired, and is used up by that refusal", () =>
      Effect.gen(function*() {
        const fake = yield* FakeProvider
        const started = yield* troupe("/v1/auth/oidc/start")
        const params = new URL(started.location).searchParams
        const callback = `/v1/auth/oidc/callback?code=abc&state=${params.get("state") ?? ""}`
        const first = yield* troupe(callback)
        expect(outcome(first.location)).toMatchObject({ error: "state_expired" })
        const again = yield* troupe(callback)
        expect(outcome(again.location)).toMatchObject({ error: "state_unknown" })
        // The provider was never asked to redeem the code.
        expect(fake.requests).toEqual([])
      }))

    it.effect("starting counts as a log-in attempt of the client address: over the limit, 429", () =>
      Effect.gen(function*() {
        // A client address of this test's own (the server trusts X-Forwarded-For here).
        const from = { "x-forwarded-for": `198.51.100.${randomBytes(1)[0] ?? 0}` }
        expect((yield* troupe("/v1/auth/oidc/start", from)).status).toBe(302)
        expect((yield* troupe("/v1/auth/oidc/start", from)).status).toBe(302)
        const refused = yield* troupe("/v1/auth/oidc/start", from)
        expect(refused.status).toBe(429)
        expect(refused.text).toContain("RateLimited")
        expect(refused.retryAfter).toMatch(/^\d+$/)
      }))
  })
})
