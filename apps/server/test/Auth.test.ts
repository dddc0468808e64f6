import { describe, expect, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { client, email, person, raw, TestServer } from "./Harness.js"

const password = "correct horse battery"

describe("auth", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("sign-up answers 201 with the user and a working token", () =>
      Effect.gen(function*() {
        const address = email("sam")
        const res = yield* raw("POST", "/v1/auth/signup", { body: { email: address, password, name: "Sam Smith" } })
        expect(res.status).toBe(201)
        expect(res.json).toMatchObject({ user: { email: address, name: "Sam Smith", handle: "sam.smith" } })
        const session = yield* (yield* client()).auth.login({ payload: { email: address, password } })
        const me = yield* (yield* client(session.token)).auth.me()
        expect(me.email).toBe(address)
        expect(res.json).toMatchObject({ user: { id: me.id } })
      }))

    it.effect("sign-up stores the e-mail in lower case and answers 409 to the same e-mail in any case", () =>
      Effect.gen(function*() {
        const anonymous = yield* client()
        const address = email("case")
        const first = yield* anonymous.auth.signup({
          payload: { email: address.toUpperCase(), password, name: "Case" }
        })
        expect(first.user.email).toBe(address)
        for (const variant of [address, address.toUpperCase(), ` ${address} `]) {
          const error = yield* Effect.flip(
            anonymous.auth.signup({ payload: { email: variant, password, name: "Other" } })
          )
          expect(error._tag).toBe("Conflict")
        }
        const res = yield* raw("POST", "/v1/auth/signup", { body: { email: address, password, name: "Other" } })
        expect(res.status).toBe(409)
        expect(res.json).toMatchObject({ _tag: "Conflict" })
        // the first account is untouched: its password still logs in
        const again = yield* anonymous.auth.login({ payload: { email: address, password } })
        expect(again.user.id).toBe(first.user.id)
        expect(again.user.name).toBe("Case")
      }))

    it.effect("log-in with the right password gives a new session; the e-mail's case does not matter", () =>
      Effect.gen(function*() {
        const lee = yield* person("Lee")
        const anonymous = yield* client()
        const session = yield* anonymous.auth.login({ payload: { email: lee.user.email.toUpperCase(), password } })
        expect(session.user.id).toBe(lee.user.id)
        expect(session.token).not.toBe(lee.token)
        const me = yield* (yield* client(session.token)).auth.me()
        expect(me.id).toBe(lee.user.id)
      }))

    it.effect("a wrong password and an unknown e-mail are both 401 with the same message", () =>
      Effect.gen(function*() {
        const kim = yield* person("Kim")
        const wrong = yield* raw("POST", "/v1/auth/login", {
          body: { email: kim.user.email, password: "not the password" }
        })
        const unknown = yield* raw("POST", "/v1/auth/login", { body: { email: email("nobody"), password } })
        expect(wrong.status).toBe(401)
        expect(unknown.status).toBe(401)
        expect(wrong.json).toMatchObject({ _tag: "Unauthorized" })
        expect(unknown.json).toEqual(wrong.json)
        const error = yield* Effect.flip(
          (yield* client()).auth.login({ payload: { email: kim.user.email, password: "nope" } })
        )
        expect(error._tag).toBe("Unauthorized")
      }))

    it.effect("me returns the token's user", () =>
      Effect.gen(function*() {
        const ana = yield* person("Ana")
        const ben = yield* person("Ben")
        const meAna = yield* ana.api.auth.me()
        const meBen = yield* ben.api.auth.me()
        expect(meAna).toMatchObject({ id: ana.user.id, email: ana.user.email, name: "Ana", handle: ana.user.handle })
        expect(meBen.id).toBe(ben.user.id)
        expect(meBen.id).not.toBe(meAna.id)
      }))

    it.effect("log-out revokes that token at once; another session of the same user keeps working", () =>
      Effect.gen(function*() {
        const max = yield* person("Max")
        const other = yield* (yield* client()).auth.login({ payload: { email: max.user.email, password } })
        const otherApi = yield* client(other.token)
        yield* max.api.auth.me()
        yield* max.api.auth.logout()
        const error = yield* Effect.flip(max.api.auth.me())
        expect(error._tag).toBe("Unauthorized")
        const res = yield* raw("GET", "/v1/orgs", { token: max.token })
        expect(res.status).toBe(401)
        expect(res.json).toMatchObject({ _tag: "Unauthorized" })
        // logging out twice does not revive or break anything
        expect((yield* raw("POST", "/v1/auth/logout", { token: max.token })).status).toBe(401)
        const me = yield* otherApi.auth.me()
        expect(me.id).toBe(max.user.id)
      }))

    it.effect("a missing, empty or unknown bearer token is 401", () =>
      Effect.gen(function*() {
        const ana = yield* person("Ana")
        const attempts = [
          {},
          { authorization: "Bearer " },
          { authorization: "Bearer garbage" },
          { authorization: "Bearer trp_s_0000000000000000000000000000" },
          { authorization: "Bearer trp_k_0000000000000000000000000000" },
          { authorization: `Basic ${ana.token}` }
        ]
        for (const headers of attempts) {
          const res = yield* raw("GET", "/v1/auth/me", { headers })
          expect(res.status, JSON.stringify(headers)).toBe(401)
          expect(res.json).toMatchObject({ _tag: "Unauthorized", message: expect.any(String) })
        }
        const error = yield* Effect.flip((yield* client()).auth.me())
        expect(error._tag).toBe("Unauthorized")
        expect((yield* raw("GET", "/v1/auth/me", { token: ana.token })).status).toBe(200)
      }))
  })

  layer(
    TestServer({ RATE_LOGIN_PER_15MIN: "3", RATE_LOGIN_PER_ADDRESS_PER_15MIN: "5" }),
    { excludeTestServices: true, timeout: 120_000 }
  )((it) => {
    it.effect("the 4th log-in attempt in the window is 429 with Retry-After, even with the right password", () =>
      Effect.gen(function*() {
        // sign-ups have a limit of their own: they do not count as log-in attempts
        const zoe = yield* person("Zoe")
        const login = (body: { email: string; password: string }) => raw("POST", "/v1/auth/login", { body })
        expect((yield* login({ email: zoe.user.email, password: "wrong password" })).status).toBe(401)
        expect((yield* login({ email: zoe.user.email, password })).status).toBe(200)
        expect((yield* login({ email: zoe.user.email, password })).status).toBe(200)
        const limited = yield* login({ email: zoe.user.email, password })
        expect(limited.status).toBe(429)
        expect(limited.json).toMatchObject({ _tag: "RateLimited", message: expect.any(String) })
        const retryAfter = Number(limited.headers.get("retry-after"))
        expect(retryAfter).toBeGreaterThan(0)
        expect(retryAfter).toBeLessThanOrEqual(15 * 60)
        expect(limited.json).toMatchObject({ retryAfterSeconds: retryAfter })
        // the address has a limit of its own (5 here), shared by every account logging in from it
        expect((yield* login({ email: email("someone"), password })).status).toBe(401)
        expect((yield* login({ email: email("someone"), password })).status).toBe(401)
        const other = yield* login({ email: email("someone"), password })
        expect(other.status).toBe(429)
        const error = yield* Effect.flip((yield* client()).auth.login({ payload: { email: zoe.user.email, password } }))
        expect(error._tag).toBe("RateLimited")
        // a session issued before the limit keeps working
        expect((yield* zoe.api.auth.me()).id).toBe(zoe.user.id)
      }))
  })

  layer(
    TestServer({ RATE_LOGIN_PER_ADDRESS_PER_15MIN: "2", TRUST_PROXY: "true" }),
    { excludeTestServices: true, timeout: 120_000 }
  )((it) => {
    it.effect("behind a trusted proxy, the per-address limit counts the forwarded client address", () =>
      Effect.gen(function*() {
        const login = (address: string) =>
          raw("POST", "/v1/auth/login", {
            body: { email: email("nobody"), password: "wrong password" },
            headers: { "x-forwarded-for": `${address}, 10.0.0.1` }
          })
        expect((yield* login("203.0.113.7")).status).toBe(401)
        expect((yield* login("203.0.113.7")).status).toBe(401)
        expect((yield* login("203.0.113.7")).status).toBe(429)
        expect((yield* login("198.51.100.9")).status).toBe(401)
      }))
  })

  layer(TestServer({ RATE_SIGNUP_PER_ADDRESS_PER_HOUR: "3" }), { excludeTestServices: true, timeout: 120_000 })(
    (it) => {
      it.effect("sign-ups are limited per address on their own terms, and do not use up the log-in limits", () =>
        Effect.gen(function*() {
          const signup = (name: string) =>
            raw("POST", "/v1/auth/signup", { body: { email: email(name), password, name } })
          const people = [yield* signup("a"), yield* signup("b"), yield* signup("c")]
          expect(people.map((r) => r.status)).toEqual([201, 201, 201])
          const fourth = yield* signup("d")
          expect(fourth.status).toBe(429)
          expect(fourth.json).toMatchObject({ _tag: "RateLimited", message: expect.stringContaining("sign-ups") })
          const first = Schema.decodeUnknownSync(Schema.Struct({ user: Schema.Struct({ email: Schema.String }) }))(
            people[0]?.json
          )
          const login = yield* raw("POST", "/v1/auth/login", { body: { email: first.user.email, password } })
          expect(login.status).toBe(200)
        }))
    }
  )
})
