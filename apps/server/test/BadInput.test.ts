import { describe, expect, layer } from "@effect/vitest"
import { MAX_BODY_BYTES } from "@troupe/api/Api"
import type { TroupeClient } from "@troupe/client/TroupeClient"
import type { OrgId, RoomId } from "@troupe/domain/Ids"
import { MAX_MESSAGE_LENGTH } from "@troupe/domain/Message"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { request } from "node:http"
import { anaAndBen, baseUrl, person, raw, type RawResponse, slug, TestServer } from "./Harness.js"

/** Asserts a refusal: the status, and a JSON error body with a `_tag` and a `message`. */
const expectRefused = (res: RawResponse, status: number, tag?: string) => {
  expect(res.status, res.text).toBe(status)
  expect(res.status).toBeLessThan(500)
  expect(res.headers.get("content-type")).toContain("application/json")
  expect(res.json).toMatchObject({ _tag: tag ?? expect.any(String), message: expect.stringMatching(/\S/) })
}

/** POSTs `body` without Content-Length, in 16 KiB chunks (Transfer-Encoding: chunked). */
const postChunked = (path: string, token: string, body: string) =>
  Effect.flatMap(
    baseUrl,
    (url) =>
      Effect.promise(() =>
        new Promise<{ status: number; json: unknown; error?: string }>((resolve) => {
          const req = request(`${url}${path}`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }
          }, (res) => {
            let text = ""
            res.on("data", (chunk: Buffer) => text += chunk.toString())
            res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || "null") }))
          })
          req.on("error", (e) => resolve({ status: 0, json: null, error: e.message }))
          const bytes = Buffer.from(body)
          const write = (offset: number): void => {
            if (offset >= bytes.length) return void req.end()
            const ok = req.write(bytes.subarray(offset, offset + 16 * 1024))
            if (ok) setImmediate(() => write(offset + 16 * 1024))
            else req.once("drain", () => write(offset + 16 * 1024))
          }
          write(0)
        })
      )
  )

/** What a room holds, as `observer` sees it, and the event log's position. */
const stored = (observer: TroupeClient, org: OrgId, room: RoomId) =>
  Effect.all({
    messages: Effect.map(observer.messages.list({ path: { room }, urlParams: {} }), (page) => page.messages),
    position: Effect.map(observer.rooms.list({ path: { org } }), (listing) => listing.position)
  })

/** Two people in one org, a room with a message from each, and an outsider with an org and room of their own. */
const world = Effect.gen(function*() {
  const { ana, ben, org, room } = yield* anaAndBen
  const anas = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "from ana" } })
  const bens = yield* ben.api.messages.post({ path: { room: room.id }, payload: { text: "from ben" } })
  yield* ana.api.messages.react({ path: { room: room.id, message: bens.id, emoji: "+1" } })
  const eve = yield* person("Eve")
  const eveOrg = yield* eve.api.orgs.create({ payload: { name: "Elsewhere", slug: slug() } })
  const eveRoom = yield* eve.api.rooms.create({ path: { org: eveOrg.id }, payload: { name: "private-ish" } })
  return { ana, ben, eve, org, room, anas, bens, eveRoom }
})

describe("bad input", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("code on another origin may call the API and read Retry-After and the request id", () =>
      Effect.gen(function*() {
        const origin = { origin: "https://elsewhere.example" }
        const preflight = yield* raw("OPTIONS", "/v1/auth/me", {
          headers: {
            ...origin,
            "access-control-request-method": "GET",
            "access-control-request-headers": "authorization"
          }
        })
        expect(preflight.status).toBeLessThan(300)
        expect(preflight.headers.get("access-control-allow-origin")).toBe("*")
        expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization")
        const res = yield* raw("GET", "/v1/auth/me", { headers: origin })
        expect(res.status).toBe(401)
        expect(res.headers.get("access-control-allow-origin")).toBe("*")
        const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase().split(/\s*,\s*/)
        expect(exposed).toEqual(expect.arrayContaining(["retry-after", "x-request-id"]))
        expect(res.headers.get("x-request-id")).toMatch(/\S/)
      }))

    it.effect("malformed JSON is 400 MalformedRequest and stores nothing", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        for (const body of [`{"text": "hi"`, `{text: "hi"}`, `{"text": "hi"} trailing`, `'single'`]) {
          const res = yield* raw("POST", `/v1/rooms/${room.id}/messages`, { token: ana.token, body })
          expectRefused(res, 400, "MalformedRequest")
        }
        expectRefused(yield* raw("POST", "/v1/auth/login", { body: "{" }), 400, "MalformedRequest")
        expectRefused(yield* raw("POST", "/v1/orgs", { token: ana.token, body: "[1, 2" }), 400, "MalformedRequest")
        const notJson = yield* raw("POST", `/v1/rooms/${room.id}/messages`, {
          token: ana.token,
          body: "text=hi",
          headers: { "content-type": "application/x-www-form-urlencoded" }
        })
        expectRefused(notJson, 400, "MalformedRequest")
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
      }))

    it.effect("wrong types and missing fields are 400 and store nothing", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        const bodies: ReadonlyArray<unknown> = [
          { text: 5 },
          { text: null },
          { text: ["hi"] },
          { text: "hi", threadId: "not-a-uuid" },
          { text: "hi", clientMessageId: 7 },
          {},
          { txt: "hi" },
          "null",
          "[]",
          "\"hi\""
        ]
        for (const body of bodies) {
          const res = yield* raw("POST", `/v1/rooms/${room.id}/messages`, { token: ana.token, body })
          expectRefused(res, 400)
        }
        expectRefused(yield* raw("POST", `/v1/rooms/${room.id}/messages`, { token: ana.token }), 400)
        expectRefused(yield* raw("POST", "/v1/auth/signup", { body: { email: "x@example.com", name: "X" } }), 400)
        expectRefused(
          yield* raw("POST", "/v1/auth/signup", {
            body: { email: "not an email", password: "long enough", name: "X" }
          }),
          400
        )
        expectRefused(yield* raw("POST", "/v1/orgs", { token: ana.token, body: { name: "No slug" } }), 400)
        expectRefused(
          yield* raw("POST", "/v1/orgs", { token: ana.token, body: { name: "Bad", slug: "Has Spaces" } }),
          400
        )
        expectRefused(
          yield* raw("POST", `/v1/orgs/${org.id}/rooms`, { token: ana.token, body: { name: "x", kind: "secret" } }),
          400
        )
        expectRefused(
          yield* raw("PATCH", `/v1/orgs/${org.id}/members/${ana.user.id}`, { token: ana.token, body: { role: "god" } }),
          400
        )
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
        expect((yield* ana.api.orgs.list()).map((o) => o.id)).toEqual([org.id])
        // The org's default room and the test's room, no other.
        const rooms = (yield* ana.api.rooms.list({ path: { org: org.id } })).rooms
        expect(rooms.map((r) => r.name)).toEqual(["general", "general"])
        expect(rooms.map((r) => r.id)).toContain(room.id)
      }))

    it.effect("empty, whitespace-only and over-long message text is 400 and stores nothing", () =>
      Effect.gen(function*() {
        const { ana, anas, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        for (const text of ["", " ", "\n\t  \n", "x".repeat(MAX_MESSAGE_LENGTH + 1)]) {
          expectRefused(yield* raw("POST", `/v1/rooms/${room.id}/messages`, { token: ana.token, body: { text } }), 400)
          const edit = yield* raw("PATCH", `/v1/rooms/${room.id}/messages/${anas.id}`, {
            token: ana.token,
            body: { text }
          })
          expectRefused(edit, 400)
        }
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
        const longest = yield* ana.api.messages.post({
          path: { room: room.id },
          payload: { text: "x".repeat(MAX_MESSAGE_LENGTH) }
        })
        expect(longest.text.length).toBe(MAX_MESSAGE_LENGTH)
      }))

    it.effect("NUL characters, which Postgres text cannot hold, are 400 (not 503) and store nothing", () =>
      Effect.gen(function*() {
        const { ana, bens, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        const messages = `/v1/rooms/${room.id}/messages`
        for (
          const body of [
            `{"text":"a\\u0000b"}`,
            `{"text":"ok","clientMessageId":"\\u0000"}`,
            `{"text":"ok","\\u0000":1}`
          ]
        ) {
          expectRefused(yield* raw("POST", messages, { token: ana.token, body }), 400, "MalformedRequest")
        }
        expectRefused(
          yield* raw("PATCH", `${messages}/${bens.id}`, { token: ana.token, body: `{"text":"\\u0000"}` }),
          400
        )
        expectRefused(
          yield* raw("POST", "/v1/orgs", { token: ana.token, body: `{"name":"a\\u0000","slug":"${slug()}"}` }),
          400
        )
        expectRefused(
          yield* raw("POST", "/v1/auth/signup", {
            body: `{"email":"a@example.com","password":"12345678","name":"\\u0000"}`
          }),
          400
        )
        expectRefused(
          yield* raw("PUT", `${messages}/${bens.id}/reactions/a%00`, { token: ana.token }),
          400,
          "MalformedRequest"
        )
        expectRefused(
          yield* raw("GET", `/v1/orgs/${org.id}/search?q=%00`, { token: ana.token }),
          400,
          "MalformedRequest"
        )
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
        // an escaped backslash followed by "u0000" is ordinary text
        const literal = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "see \\u0000" } })
        expect(literal.text).toBe("see \\u0000")
      }))

    it.effect("a body over the limit is 413 PayloadTooLarge and stores nothing; one at the limit is read", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        /** A JSON message body of exactly `bytes` bytes. */
        const bodyOf = (bytes: number) => `{"text":"${"x".repeat(bytes - `{"text":""}`.length)}"}`
        expect(bodyOf(MAX_BODY_BYTES).length).toBe(MAX_BODY_BYTES)
        for (const body of [bodyOf(MAX_BODY_BYTES + 1), bodyOf(4 * MAX_BODY_BYTES)]) {
          const res = yield* raw("POST", `/v1/rooms/${room.id}/messages`, { token: ana.token, body })
          expectRefused(res, 413, "PayloadTooLarge")
          expect(res.json).toMatchObject({ limitBytes: MAX_BODY_BYTES })
        }
        const orgs = yield* raw("POST", "/v1/orgs", {
          token: ana.token,
          body: { name: "x".repeat(MAX_BODY_BYTES), slug: slug() }
        })
        expectRefused(orgs, 413, "PayloadTooLarge")
        // at the limit the body is read and decoded: the text is then too long for a message
        const atLimit = yield* raw("POST", `/v1/rooms/${room.id}/messages`, {
          token: ana.token,
          body: bodyOf(MAX_BODY_BYTES)
        })
        expectRefused(atLimit, 400)
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
        expect((yield* ana.api.orgs.list()).map((o) => o.id)).toEqual([org.id])
      }))

    it.effect("a chunked body (no Content-Length) over the limit is a 413 the client receives; a small one is read", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        const path = `/v1/rooms/${room.id}/messages`
        const big = yield* postChunked(path, ana.token, JSON.stringify({ text: "x".repeat(4 * MAX_BODY_BYTES) }))
        expect(big.error).toBeUndefined()
        expect(big.status).toBe(413)
        expect(big.json).toMatchObject({ _tag: "PayloadTooLarge", limitBytes: MAX_BODY_BYTES })
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
        const small = yield* postChunked(path, ana.token, JSON.stringify({ text: "sent in chunks" }))
        expect(small.status).toBe(201)
        expect(small.json).toMatchObject({ text: "sent in chunks" })
      }))

    it.effect("a room id that is not a UUID is 400", () =>
      Effect.gen(function*() {
        const { ana, anas, room } = yield* world
        for (
          const [method, path] of [
            ["GET", "/v1/rooms/not-a-uuid"],
            ["GET", "/v1/rooms/123/messages"],
            ["POST", "/v1/rooms/not-a-uuid/messages"],
            ["PATCH", `/v1/rooms/${room.id}/messages/not-a-uuid`],
            ["GET", `/v1/rooms/${room.id.slice(0, -1)}/messages/${anas.id}`],
            ["GET", "/v1/orgs/acme"]
          ] as const
        ) {
          const res = yield* raw(method, path, {
            token: ana.token,
            ...(method === "GET" ? {} : { body: { text: "hi" } })
          })
          expectRefused(res, 400)
        }
      }))

    it.effect("an unknown room, and a room in another org, are 404 and store nothing", () =>
      Effect.gen(function*() {
        const { ana, eve, eveRoom, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        const eveBefore = yield* stored(eve.api, eveRoom.orgId, eveRoom.id)
        for (const target of [randomUUID(), eveRoom.id]) {
          expectRefused(yield* raw("GET", `/v1/rooms/${target}`, { token: ana.token }), 404, "NotFound")
          expectRefused(yield* raw("GET", `/v1/rooms/${target}/messages`, { token: ana.token }), 404, "NotFound")
          expectRefused(
            yield* raw("POST", `/v1/rooms/${target}/messages`, { token: ana.token, body: { text: "hi" } }),
            404,
            "NotFound"
          )
          expectRefused(yield* raw("POST", `/v1/rooms/${target}/join`, { token: ana.token }), 404, "NotFound")
        }
        // the refusal for another org's room reads the same as for a room that does not exist
        const missing = randomUUID()
        const absent = yield* raw("GET", `/v1/rooms/${missing}`, { token: ana.token })
        const hidden = yield* raw("GET", `/v1/rooms/${eveRoom.id}`, { token: ana.token })
        expect(hidden.text.replace(eveRoom.id, "ID")).toBe(absent.text.replace(missing, "ID"))
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
        expect(yield* stored(eve.api, eveRoom.orgId, eveRoom.id)).toEqual(eveBefore)
      }))

    it.effect("posting to an archived room is 409 and stores nothing", () =>
      Effect.gen(function*() {
        const { ana, org } = yield* world
        const old = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "old" } })
        yield* ana.api.messages.post({ path: { room: old.id }, payload: { text: "before archiving" } })
        const archived = yield* ana.api.rooms.archive({ path: { room: old.id } })
        expect(archived.archived).toBe(true)
        const before = yield* stored(ana.api, org.id, old.id)
        const res = yield* raw("POST", `/v1/rooms/${old.id}/messages`, {
          token: ana.token,
          body: { text: "after archiving" }
        })
        expectRefused(res, 409, "Conflict")
        expect(yield* stored(ana.api, org.id, old.id)).toEqual(before)
        expect(before.messages.map((m) => m.text)).toEqual(["before archiving"])
      }))

    it.effect("posting to a room you are not a member of is refused and stores nothing", () =>
      Effect.gen(function*() {
        const { ana, ben, org } = yield* world
        const open = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "open" } })
        const closed = yield* ana.api.rooms.create({
          path: { org: org.id },
          payload: { name: "closed", kind: "private" }
        })
        const openBefore = yield* stored(ana.api, org.id, open.id)
        const closedBefore = yield* stored(ana.api, org.id, closed.id)
        // a public room Ben can see but has not joined: he is told to join
        const notJoined = yield* raw("POST", `/v1/rooms/${open.id}/messages`, {
          token: ben.token,
          body: { text: "hi" }
        })
        expectRefused(notJoined, 403, "Forbidden")
        // a private room Ben is not in: it is hidden from him
        const hidden = yield* raw("POST", `/v1/rooms/${closed.id}/messages`, { token: ben.token, body: { text: "hi" } })
        expectRefused(hidden, 404, "NotFound")
        expect(yield* stored(ana.api, org.id, open.id)).toEqual(openBefore)
        expect(yield* stored(ana.api, org.id, closed.id)).toEqual(closedBefore)
        expect(openBefore.messages).toEqual([])
      }))

    it.effect("editing someone else's message is 403 and changes nothing, even for the org's owner", () =>
      Effect.gen(function*() {
        const { ana, ben, bens, anas, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        const byOwner = yield* raw("PATCH", `/v1/rooms/${room.id}/messages/${bens.id}`, {
          token: ana.token,
          body: { text: "rewritten" }
        })
        expectRefused(byOwner, 403, "Forbidden")
        const byMember = yield* raw("PATCH", `/v1/rooms/${room.id}/messages/${anas.id}`, {
          token: ben.token,
          body: { text: "rewritten" }
        })
        expectRefused(byMember, 403, "Forbidden")
        const deleteByMember = yield* raw("DELETE", `/v1/rooms/${room.id}/messages/${anas.id}`, { token: ben.token })
        expectRefused(deleteByMember, 403, "Forbidden")
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
        expect(yield* ana.api.messages.edits({ path: { room: room.id, message: bens.id } })).toEqual([])
        const unknown = yield* raw("PATCH", `/v1/rooms/${room.id}/messages/${randomUUID()}`, {
          token: ana.token,
          body: { text: "x" }
        })
        expectRefused(unknown, 404, "NotFound")
      }))

    it.effect("an emoji with spaces, or empty, is 400 and adds no reaction", () =>
      Effect.gen(function*() {
        const { ana, bens, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        for (const emoji of ["thumbs%20up", "%20", "a%09b", "x".repeat(65)]) {
          const path = `/v1/rooms/${room.id}/messages/${bens.id}/reactions/${emoji}`
          expectRefused(yield* raw("PUT", path, { token: ana.token }), 400)
          expectRefused(yield* raw("DELETE", path, { token: ana.token }), 400)
        }
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
        const reacted = yield* ana.api.messages.react({ path: { room: room.id, message: bens.id, emoji: "tada" } })
        expect(reacted.reactions.map((r) => r.emoji).sort()).toEqual(["+1", "tada"])
      }))

    it.effect("deeply nested JSON is 400 on every route with a body, sign-up and log-in included, and stores nothing", () =>
      Effect.gen(function*() {
        const { ana, anas, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        const deep = ["[".repeat(5000) + "]".repeat(5000), "{\"a\":".repeat(20000) + "1" + "}".repeat(20000)]
        const routes: ReadonlyArray<readonly [string, string, string | undefined]> = [
          ["POST", "/v1/auth/signup", undefined],
          ["POST", "/v1/auth/login", undefined],
          ["POST", "/v1/orgs", ana.token],
          ["POST", `/v1/orgs/${org.id}/rooms`, ana.token],
          ["POST", `/v1/rooms/${room.id}/messages`, ana.token],
          ["PATCH", `/v1/rooms/${room.id}/messages/${anas.id}`, ana.token],
          ["POST", `/v1/orgs/${org.id}/teammates`, ana.token],
          ["PUT", `/v1/orgs/${org.id}/model-policy`, ana.token]
        ]
        for (const [method, path, token] of routes) {
          for (const body of deep) {
            const res = yield* raw(method, path, { body, ...(token === undefined ? {} : { token }) })
            expectRefused(res, 400, "MalformedRequest")
            expect(res.text.length).toBeLessThan(500)
          }
        }
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
      }))

    it.effect("an error never echoes the rejected value: a 200 KB field and a password stay out of the answer", () =>
      Effect.gen(function*() {
        const { ana, room } = yield* world
        const huge = "q".repeat(200_000)
        const res = yield* raw("POST", `/v1/rooms/${room.id}/messages`, {
          token: ana.token,
          body: { text: huge, clientMessageId: 5 }
        })
        expectRefused(res, 400, "MalformedRequest")
        expect(res.text.length).toBeLessThan(1000)
        expect(res.json).toMatchObject({
          message: expect.stringMatching(/^(text|clientMessageId): /),
          issues: expect.arrayContaining([expect.objectContaining({ path: "text" })])
        })
        const secret = "my very secret password that is far too long ".repeat(10)
        const login = yield* raw("POST", "/v1/auth/login", { body: { email: "ana@example.com", password: secret } })
        expectRefused(login, 400, "MalformedRequest")
        expect(login.text).not.toContain("secret password")
        expect(login.json).toMatchObject({ message: "password: expected a string at most 256 character(s) long" })
        const broken = yield* raw("POST", "/v1/auth/login", {
          body: `{"email":"a@b.co","password":"hunter2hunter2" oops}`
        })
        expectRefused(broken, 400, "MalformedRequest")
        expect(broken.text).not.toContain("hunter2")
      }))

    it.effect("a lone surrogate is 400 (not 503) in text, ids and names, and stores nothing", () =>
      Effect.gen(function*() {
        const { ana, anas, org, room } = yield* world
        const before = yield* stored(ana.api, org.id, room.id)
        const messages = `/v1/rooms/${room.id}/messages`
        for (
          const body of [`{"text":"\\ud800"}`, `{"text":"a\\udc00b"}`, `{"text":"ok","clientMessageId":"\\ud800"}`]
        ) {
          const res = yield* raw("POST", messages, { token: ana.token, body })
          expectRefused(res, 400, "MalformedRequest")
        }
        expectRefused(
          yield* raw("PATCH", `${messages}/${anas.id}`, { token: ana.token, body: `{"text":"\\ud800"}` }),
          400
        )
        expectRefused(
          yield* raw("POST", `/v1/orgs/${org.id}/rooms`, { token: ana.token, body: `{"name":"\\udfff"}` }),
          400
        )
        expect(yield* stored(ana.api, org.id, room.id)).toEqual(before)
        // a well-formed pair is an ordinary character
        const emoji = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "launch \u{1F680}" } })
        expect(emoji.text).toBe("launch \u{1F680}")
      }))

    it.effect("a request head over 16 KB gets a JSON 431 the client reads, not a reset", () =>
      Effect.gen(function*() {
        const { ana } = yield* world
        for (const size of [20_000, 200_000]) {
          const res = yield* Effect.either(
            raw("GET", "/v1/auth/me", { token: ana.token, headers: { "x-filler": "f".repeat(size) } })
          )
          expect(res._tag, `${size}`).toBe("Right")
          if (res._tag === "Right") {
            expect(res.right.status).toBe(431)
            expect(res.right.json).toMatchObject({
              _tag: "MalformedRequest",
              message: expect.stringContaining("16 KiB")
            })
          }
        }
        expect((yield* raw("GET", "/v1/auth/me", { token: ana.token })).status).toBe(200)
      }))
  })
})
