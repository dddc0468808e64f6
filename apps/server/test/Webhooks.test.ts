/**
 * Generic webhooks through the public API: outbound endpoints (admins only,
 * the secret shown once) whose deliveries a local receiver checks with the
 * `standardwebhooks` library, and inbound messages signed the same way.
 * Retries on the outbox's schedule are driven by `TestClock` in
 * packages/gateway/test/WebhookOutbox.test.ts.
 */
import { describe, expect, layer } from "@effect/vitest"
import { WebhookDelivery, WebhookEndpoint, WebhookWithSecret } from "@troupe/domain/Webhook"
import * as WebhookReceiver from "@troupe/gateway/testing/WebhookReceiver"
import * as Database from "@troupe/store/Database"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { Webhook } from "standardwebhooks"
import { anaAndBen, counterOf, eventually, person, raw, slug, testChannelKey, TestServer } from "./Harness.js"

class Receiver extends Context.Tag("test/WebhookReceiver")<Receiver, WebhookReceiver.WebhookReceiver>() {}

/** A test server and a receiver on loopback, which the server may send to only when `allowPrivate`. */
const TestServerWithReceiver = (allowPrivate: boolean) =>
  Layer.unwrapScoped(
    Effect.map(
      WebhookReceiver.make,
      (receiver) =>
        TestServer({ CHANNEL_KEY: testChannelKey, WEBHOOK_ALLOW_PRIVATE: String(allowPrivate) }).pipe(
          Layer.provideMerge(Layer.succeed(Receiver, receiver))
        )
    )
  )

/** A path of its own on the receiver. */
const hookPath = () => `/hook/${randomBytes(4).toString("hex")}`

/** The body of a delivery, as the receiver's library reads it once the signature holds. */
const Payload = Schema.Struct({
  type: Schema.String,
  timestamp: Schema.String,
  data: Schema.Struct({
    id: Schema.String,
    orgId: Schema.String,
    event: Schema.Struct({ type: Schema.String, message: Schema.Struct({ text: Schema.String }) })
  })
})

/** Subscribes `path` on the receiver to `eventTypes` as `token`, answering the endpoint and its secret. */
const subscribe = (token: string, org: string, path: string, body: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const receiver = yield* Receiver
    const res = yield* raw("POST", `/v1/orgs/${org}/webhooks`, {
      token,
      body: { url: `${receiver.url}${path}`, eventTypes: ["message.created"], ...body }
    })
    expect(res.status, res.text).toBe(201)
    return Schema.decodeUnknownSync(WebhookWithSecret)(res.json)
  })

/** The endpoint's deliveries once `ready` holds for them. */
const deliveriesWhen = (
  token: string,
  org: string,
  id: string,
  ready: (ds: ReadonlyArray<WebhookDelivery>) => boolean
) =>
  eventually(Effect.map(raw("GET", `/v1/orgs/${org}/webhooks/${id}/deliveries`, { token }), (res) => {
    const list = Schema.decodeUnknownSync(Schema.Array(WebhookDelivery))(res.json)
    return ready(list) ? Option.some(list) : Option.none()
  }))

describe("outbound webhooks", () => {
  layer(TestServerWithReceiver(true), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("deliver signed events an admin may read, once, and show the secret only when it is made", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* anaAndBen
        const receiver = yield* Receiver
        const path = hookPath()
        const { endpoint, secret } = yield* subscribe(ana.token, org.id, path)
        expect(secret).toMatch(/^whsec_/)
        expect(endpoint).toMatchObject({ enabled: true, eventTypes: ["message.created"] })
        for (
          const read of [
            yield* raw("GET", `/v1/orgs/${org.id}/webhooks/${endpoint.id}`, { token: ana.token }),
            yield* raw("GET", `/v1/orgs/${org.id}/webhooks`, { token: ana.token })
          ]
        ) {
          expect(read.status).toBe(200)
          expect(read.text.includes(secret)).toBe(false)
        }

        // A private room's message, and an edit (a type not subscribed to), never go out.
        const secretRoom = yield* ana.api.rooms.create({
          path: { org: org.id },
          payload: { name: "board", kind: "private" }
        })
        yield* ana.api.messages.post({ path: { room: secretRoom.id }, payload: { text: "the private plan" } })
        const first = yield* ben.api.messages.post({ path: { room: room.id }, payload: { text: "hello hooks" } })
        yield* ben.api.messages.edit({ path: { room: room.id, message: first.id }, payload: { text: "hello hooks!" } })
        yield* ben.api.messages.post({ path: { room: room.id }, payload: { text: "second" } })

        const calls = yield* receiver.waitFor(path, 2)
        const bodies = calls.map((call) =>
          Schema.decodeUnknownSync(Payload)(new Webhook(secret).verify(call.body, call.headers))
        )
        expect(bodies.map((b) => [b.type, b.data.event.message.text, b.data.orgId])).toEqual([
          ["message.created", "hello hooks", org.id],
          ["message.created", "second", org.id]
        ])
        expect(calls.every((c) => c.headers["content-type"] === "application/json")).toBe(true)
        // Signed with another secret, the same delivery does not verify.
        const other = `whsec_${randomBytes(32).toString("base64")}`
        expect(() => new Webhook(other).verify(calls[0]?.body ?? "", calls[0]?.headers ?? {})).toThrow()

        const deliveries = yield* deliveriesWhen(
          ana.token,
          org.id,
          endpoint.id,
          (ds) => ds.length === 2 && ds.every((d) => d.status === "sent")
        )
        expect(deliveries.map((d) => [d.eventType, d.attempts, d.lastStatus, d.nextAttemptAt])).toEqual([
          ["message.created", 1, 204, null],
          ["message.created", 1, 204, null]
        ])
        // The webhook-id is the delivery's id; the event's id is its id on the event stream.
        expect(new Set(calls.map((c) => c.headers["webhook-id"]))).toEqual(new Set(deliveries.map((d) => d.id)))
        expect(new Set(bodies.map((b) => b.data.id))).toEqual(new Set(deliveries.map((d) => d.eventId)))
        expect(receiver.received.filter((r) => r.path === path)).toHaveLength(2)

        const health = Schema.decodeUnknownSync(WebhookEndpoint)(
          (yield* raw("GET", `/v1/orgs/${org.id}/webhooks/${endpoint.id}`, { token: ana.token })).json
        )
        expect(health.health.lastSuccessAt).not.toBeNull()
        expect(health.health.pending).toBe(0)
        const metrics = yield* raw("GET", "/metrics")
        expect(counterOf(metrics.text, "troupe_gateway_outbound_total", { platform: "webhook", outcome: "sent" }))
          .toBeGreaterThanOrEqual(2)
      }))

    it.effect("a rotated secret signs what follows, beside the old one (for a day) so receivers can switch", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* anaAndBen
        const receiver = yield* Receiver
        const path = hookPath()
        const { endpoint, secret: old } = yield* subscribe(ana.token, org.id, path)
        const rotated = yield* raw("POST", `/v1/orgs/${org.id}/webhooks/${endpoint.id}/rotate-secret`, {
          token: ana.token
        })
        expect(rotated.status, rotated.text).toBe(200)
        const { secret } = Schema.decodeUnknownSync(WebhookWithSecret)(rotated.json)
        expect(secret).not.toBe(old)
        expect(rotated.text.includes(old)).toBe(false)
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "after rotation" } })
        const [call] = yield* receiver.waitFor(path)
        expect(call?.headers["webhook-signature"]?.split(" ")).toHaveLength(2)
        for (const key of [secret, old]) {
          expect(() => new Webhook(key).verify(call?.body ?? "", call?.headers ?? {})).not.toThrow()
        }
        const stranger = `whsec_${randomBytes(32).toString("base64")}`
        expect(() => new Webhook(stranger).verify(call?.body ?? "", call?.headers ?? {})).toThrow()
      }))

    it.effect("a disabled endpoint receives nothing; an updated one goes to its new URL", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* anaAndBen
        const receiver = yield* Receiver
        const [offPath, onPath, movedPath] = [hookPath(), hookPath(), hookPath()]
        const off = yield* subscribe(ana.token, org.id, offPath, { enabled: false })
        const on = yield* subscribe(ana.token, org.id, onPath)
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "only for the enabled one" } })
        yield* receiver.waitFor(onPath)
        // Both endpoints were considered in the same pass of the log: the disabled one was queued nothing.
        const offDeliveries = yield* raw("GET", `/v1/orgs/${org.id}/webhooks/${off.endpoint.id}/deliveries`, {
          token: ana.token
        })
        expect(offDeliveries.json).toEqual([])
        expect(receiver.received.filter((r) => r.path === offPath)).toEqual([])

        const moved = yield* raw("PATCH", `/v1/orgs/${org.id}/webhooks/${on.endpoint.id}`, {
          token: ana.token,
          body: { url: `${receiver.url}${movedPath}`, eventTypes: ["message.created", "pin.created"] }
        })
        expect(moved.status, moved.text).toBe(200)
        expect(moved.json).toMatchObject({ eventTypes: ["message.created", "pin.created"] })
        const disable = yield* raw("PATCH", `/v1/orgs/${org.id}/webhooks/${off.endpoint.id}`, {
          token: ana.token,
          body: { enabled: true }
        })
        expect(disable.json).toMatchObject({ enabled: true })
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "to both" } })
        const [toMoved] = yield* receiver.waitFor(movedPath)
        const [toOff] = yield* receiver.waitFor(offPath)
        expect(() => new Webhook(on.secret).verify(toMoved?.body ?? "", toMoved?.headers ?? {})).not.toThrow()
        expect(() => new Webhook(off.secret).verify(toOff?.body ?? "", toOff?.headers ?? {})).not.toThrow()

        const removed = yield* raw("DELETE", `/v1/orgs/${org.id}/webhooks/${on.endpoint.id}`, { token: ana.token })
        expect(removed.status).toBe(204)
        expect((yield* raw("GET", `/v1/orgs/${org.id}/webhooks/${on.endpoint.id}`, { token: ana.token })).status)
          .toBe(404)
      }))

    it.effect("members get 403, other orgs 404, URLs that may not be sent to 422, malformed ones 400", () =>
      Effect.gen(function*() {
        const { ana, ben, org } = yield* anaAndBen
        const receiver = yield* Receiver
        const { endpoint } = yield* subscribe(ana.token, org.id, hookPath())
        const base = `/v1/orgs/${org.id}/webhooks`
        const asBen = yield* raw("POST", base, {
          token: ben.token,
          body: { url: `${receiver.url}/x`, eventTypes: ["message.created"] }
        })
        expect([asBen.status, Object(asBen.json)._tag]).toEqual([403, "Forbidden"])
        expect((yield* raw("GET", `${base}/${endpoint.id}`, { token: ben.token })).status).toBe(403)

        const eve = yield* person("Eve")
        const eveOrg = yield* eve.api.orgs.create({ payload: { name: "Elsewhere", slug: slug() } })
        expect((yield* raw("GET", base, { token: eve.token })).status).toBe(404)
        expect((yield* raw("GET", `${base}/${endpoint.id}`, { token: eve.token })).status).toBe(404)
        // Eve's own endpoint, named under Ana's org (or Ana's under Eve's), does not exist there.
        const eves = yield* subscribe(eve.token, eveOrg.id, hookPath())
        expect((yield* raw("GET", `${base}/${eves.endpoint.id}`, { token: ana.token })).status).toBe(404)
        expect((yield* raw("DELETE", `${base}/${eves.endpoint.id}`, { token: ana.token })).status).toBe(404)
        expect(
          (yield* raw("GET", `/v1/orgs/${eveOrg.id}/webhooks/${endpoint.id}/deliveries`, { token: eve.token })).status
        ).toBe(404)
        expect((yield* raw("GET", `${base}/${randomUUID()}`, { token: ana.token })).status).toBe(404)

        for (
          const [body, message] of [
            [
              { url: "not a url", eventTypes: ["message.created"] },
              "a webhook URL is an absolute http:// or https:// URL"
            ],
            [
              { url: "ftp://example.com/hook", eventTypes: ["message.created"] },
              "a webhook URL starts with http:// or https://, not ftp://"
            ],
            [
              { url: "https://user:pw@example.com/hook", eventTypes: ["message.created"] },
              "a webhook URL has no user name or password in it"
            ]
          ] as const
        ) {
          const res = yield* raw("POST", base, { token: ana.token, body })
          expect([res.status, res.json]).toEqual([422, { _tag: "InvalidInput", message }])
        }
        for (
          const body of [
            { url: `https://example.com/${"x".repeat(2100)}`, eventTypes: ["message.created"] },
            { url: "https://example.com/hook", eventTypes: [] },
            { url: "https://example.com/hook", eventTypes: ["typing"] },
            { url: "https://example.com/hook", eventTypes: ["message.created", "message.created"] },
            { url: 42, eventTypes: ["message.created"] }
          ]
        ) {
          const res = yield* raw("POST", base, { token: ana.token, body })
          expect([res.status, Object(res.json)._tag], JSON.stringify(body).slice(0, 80)).toEqual([
            400,
            "MalformedRequest"
          ])
        }
        const notJson = yield* raw("POST", base, { token: ana.token, body: "{nope" })
        expect(notJson.status).toBe(400)
        const badPatch = yield* raw("PATCH", `${base}/${endpoint.id}`, { token: ana.token, body: { url: "nope" } })
        expect([badPatch.status, Object(badPatch.json)._tag]).toEqual([422, "InvalidInput"])
        const longPatch = yield* raw("PATCH", `${base}/${endpoint.id}`, {
          token: ana.token,
          body: { url: `https://example.com/${"x".repeat(2100)}` }
        })
        expect(longPatch.status).toBe(400)
        const list = Schema.decodeUnknownSync(Schema.Array(WebhookEndpoint))(
          (yield* raw("GET", base, { token: ana.token })).json
        )
        expect(list.map((e) => e.id)).toEqual([endpoint.id])
      }))
  })
})

/** A Standard Webhooks secret for an inbound account. */
const inboundSecret = `whsec_${randomBytes(32).toString("base64")}`

/** Posts `body` to the account's inbound URL, signed with `secret` as `id` at `at` (or with `headers`). */
const send = (
  accountId: string,
  body: string,
  options: {
    readonly id?: string
    readonly secret?: string
    readonly at?: Date
    readonly headers?: Record<string, string>
  } = {}
) => {
  const id = options.id ?? `msg_${randomBytes(8).toString("hex")}`
  const at = options.at ?? new Date()
  const headers = options.headers ?? {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(options.secret ?? inboundSecret).sign(id, at, body)
  }
  return raw("POST", `/v1/gateway/webhook/${accountId}`, { body, headers })
}

describe("outbound webhooks with WEBHOOK_ALLOW_PRIVATE off", () => {
  layer(TestServerWithReceiver(false), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("refuse private addresses written in a URL (422) and fail a delivery to a name resolving to one", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* anaAndBen
        const receiver = yield* Receiver
        const base = `/v1/orgs/${org.id}/webhooks`
        for (const url of [`${receiver.url}/hook`, "http://[::1]/hook", "http://169.254.169.254/latest/meta-data"]) {
          const res = yield* raw("POST", base, { token: ana.token, body: { url, eventTypes: ["message.created"] } })
          expect([res.status, Object(res.json)._tag], url).toEqual([422, "InvalidInput"])
          expect(Object(res.json).message).toMatch(/a private or loopback address \(the server's WEBHOOK_ALLOW_PRIVATE/)
        }
        // A name is checked where the connection is made, on the address it resolves to.
        const path = hookPath()
        const { endpoint } = yield* subscribe(ana.token, org.id, path, {
          url: `${receiver.url.replace("127.0.0.1", "localhost")}${path}`
        })
        const moved = yield* raw("PATCH", `${base}/${endpoint.id}`, {
          token: ana.token,
          body: { url: "http://10.0.0.8/hook" }
        })
        expect([moved.status, Object(moved.json)._tag]).toEqual([422, "InvalidInput"])

        yield* ben.api.messages.post({ path: { room: room.id }, payload: { text: "stays inside" } })
        const [failed] = yield* deliveriesWhen(ana.token, org.id, endpoint.id, (ds) => ds[0]?.status === "failed")
        expect([failed?.attempts, failed?.lastStatus, failed?.nextAttemptAt]).toEqual([1, null, null])
        expect(failed?.lastError).toMatch(/^refused: localhost resolves to (127\.0\.0\.1|::1), a private or loopback/)
        expect(receiver.received).toHaveLength(0)
      }))
  })
})

describe("inbound webhooks", () => {
  layer(TestServer({ CHANNEL_KEY: testChannelKey }), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a signed message is stored in the bridged room once across replays; forged ones store nothing", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* anaAndBen
        const account = yield* ana.api.channels.create({
          path: { org: org.id },
          payload: { kind: "webhook", name: "Ops alerts", signingSecret: inboundSecret }
        })
        expect(account.kind).toBe("webhook")
        yield* ana.api.channels.createBridge({
          path: { org: org.id, account: account.id },
          payload: { externalChannel: "ops", roomId: room.id }
        })
        const texts = Effect.map(
          ana.api.messages.list({ path: { room: room.id }, urlParams: {} }),
          (page) => page.messages.map((m) => [m.authorName, m.text])
        )
        const body = JSON.stringify({
          channel: "ops",
          user: { id: "pager-7", name: "Pager" },
          text: "disk full on db-2",
          messageId: "a-1"
        })
        const first = yield* send(account.id, body, { id: "msg_first" })
        expect([first.status, first.json]).toEqual([200, { ok: true }])
        // A replay, even signed again at a later time, is acknowledged and not stored twice.
        const again = yield* send(account.id, body, { id: "msg_first" })
        expect([again.status, again.json]).toEqual([200, { ok: true, duplicate: true }])
        expect(yield* texts).toContainEqual(["Pager", "disk full on db-2"])
        expect((yield* texts).filter(([, t]) => t === "disk full on db-2")).toHaveLength(1)

        // A reply joins the room thread of the message it names.
        const reply = JSON.stringify({ channel: "ops", user: { id: "pager-7" }, text: "fixed", replyTo: "a-1" })
        expect((yield* send(account.id, reply)).status).toBe(200)
        const root = (yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })).messages.find((m) =>
          m.text === "disk full on db-2"
        )
        const thread = root === undefined
          ? []
          : (yield* ana.api.messages.list({ path: { room: room.id }, urlParams: { threadId: root.id } })).messages
        expect(thread.map((m) => m.text)).toContain("fixed")

        const before = yield* texts
        const forged = JSON.stringify({ channel: "ops", user: { id: "mallory" }, text: "forged" })
        const stale = new Date(Date.now() - 6 * 60_000)
        const refusals = [
          yield* send(account.id, forged, { id: "msg_forged", secret: `whsec_${randomBytes(32).toString("base64")}` }),
          yield* send(account.id, forged, { id: "msg_stale", at: stale }),
          yield* send(account.id, forged, { headers: {} }),
          yield* send(account.id, forged, {
            headers: { "webhook-id": "msg_x", "webhook-timestamp": "soon", "webhook-signature": "v1,AAAA" }
          })
        ]
        expect(refusals.map((r) => [r.status, Object(r.json)._tag])).toEqual(
          Array.from({ length: 4 }, () => [401, "Unauthorized"])
        )
        expect((yield* send(randomUUID(), forged)).status).toBe(404)
        const longId = yield* send(account.id, forged, { id: `msg_${"x".repeat(300)}` })
        expect([longId.status, Object(longId.json)._tag]).toEqual([400, "MalformedRequest"])
        const notJson = yield* send(account.id, "{nope")
        expect([notJson.status, Object(notJson.json)._tag]).toEqual([400, "MalformedRequest"])
        const wrongShape = yield* send(account.id, JSON.stringify({ channel: "ops", text: 7 }))
        expect(wrongShape.status).toBe(400)
        expect(yield* texts).toEqual(before)
        const sql = yield* Database.AdminSql
        const stored = yield* sql<{ providerId: string }>`
          SELECT provider_id FROM channel_inbound WHERE account_id = ${account.id} ORDER BY received_at`
        expect(stored.map((r) => r.providerId)).not.toContain("msg_forged")
        expect(stored.map((r) => r.providerId)).not.toContain("msg_stale")
        expect(stored).toHaveLength(2)

        const metrics = yield* raw("GET", "/metrics")
        for (const outcome of ["stored", "duplicate", "unauthorized", "not_found", "malformed"]) {
          expect(counterOf(metrics.text, "troupe_gateway_inbound_total", { platform: "webhook", outcome }), outcome)
            .toBeGreaterThanOrEqual(1)
        }

        // The secret is the account's own: rotating it with something that is not a Standard Webhooks secret is 422.
        const badRotate = yield* raw("PATCH", `/v1/orgs/${org.id}/channels/${account.id}`, {
          token: ana.token,
          body: { signingSecret: "not-a-whsec-secret" }
        })
        expect(badRotate.status).toBe(422)
        const botToken = yield* raw("PATCH", `/v1/orgs/${org.id}/channels/${account.id}`, {
          token: ana.token,
          body: { botToken: "xoxb-not-for-webhooks" }
        })
        expect(botToken.status).toBe(422)
        const bad = yield* raw("POST", `/v1/orgs/${org.id}/channels`, {
          token: ana.token,
          body: { kind: "webhook", name: "x", signingSecret: "plain" }
        })
        expect(bad.status).toBe(400)
      }))
  })
})
