/**
 * The messaging gateway through the public API: channel accounts and
 * bridges (admins only, credentials never shown), and Slack Events API
 * deliveries signed as Slack signs them.
 */
import { describe, expect, layer } from "@effect/vitest"
import {
  ChannelAccount,
  type CreateChannelRequest,
  CreateSlackChannel,
  CreateTelegramChannel
} from "@troupe/domain/Channel"
import type { MessageId } from "@troupe/domain/Ids"
import * as Pacing from "@troupe/gateway/Pacing"
import * as Database from "@troupe/store/Database"
import { Effect, Fiber, Layer, Option, Schema } from "effect"
import { createHmac, randomBytes, randomUUID } from "node:crypto"
import * as Fake from "./FakePlatforms.js"
import { download, sha256, text } from "./FileApi.js"
import {
  anaAndBen,
  anaBenAndTeammate,
  baseUrl,
  counterOf,
  eventually,
  firstFound,
  person,
  raw,
  slug,
  testChannelKey,
  TestServer,
  watch
} from "./Harness.js"

const slackSecrets = { botToken: "xoxb-1111-2222-abcd", signingSecret: "8f742231b10e8888abcd99yyyzzz85a5" }

/** Every credential a response must never contain. */
const secretsIn = (text: string) =>
  [slackSecrets.botToken, slackSecrets.signingSecret, "xoxb-rotated-9876", "rotated-signing-secret"].filter((s) =>
    text.includes(s)
  )

/**
 * Whether calls at `times` (ms, in order) stay within a token bucket of
 * `limit`: between any two of them, no more calls than it lets through in
 * that time (give or take `slackMs` of network jitter).
 */
const withinBucket = (times: ReadonlyArray<number>, limit: Pacing.Limit, slackMs = 100) =>
  times.every((from, i) =>
    times.slice(i).every((to, k) => k + 1 <= limit.burst + (limit.perSecond * (to - from + slackMs)) / 1000)
  )

describe("channel accounts", () => {
  layer(TestServer({ CHANNEL_KEY: testChannelKey }), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("admins connect, read, rotate and remove accounts; credentials never come back", () =>
      Effect.gen(function*() {
        const { ana, ben, org } = yield* anaAndBen
        const created = yield* raw("POST", `/v1/orgs/${org.id}/channels`, {
          token: ana.token,
          body: { kind: "slack", name: "Acme Slack", ...slackSecrets, botUserId: "UBOT1" }
        })
        expect(created.status, created.text).toBe(201)
        expect(secretsIn(created.text)).toEqual([])
        const account = Schema.decodeUnknownSync(ChannelAccount)(created.json)
        expect(account.tokenHint).toBe("…abcd")
        expect(account.health.queueDepth).toBe(0)
        expect(account.health.lastInboundAt).toBeNull()

        const path = `/v1/orgs/${org.id}/channels/${account.id}`
        for (
          const read of [
            yield* raw("GET", path, { token: ana.token }),
            yield* raw("GET", `/v1/orgs/${org.id}/channels`, { token: ana.token })
          ]
        ) {
          expect(read.status).toBe(200)
          expect(secretsIn(read.text)).toEqual([])
        }

        // Stored encrypted: the database holds neither secret.
        const sql = yield* Database.AdminSql
        const rows = yield* sql<
          { credentials: Uint8Array }
        >`SELECT credentials FROM channel_accounts WHERE id = ${account.id}`
        const stored = Buffer.from(rows[0]?.credentials ?? new Uint8Array()).toString("latin1")
        expect(stored.length).toBeGreaterThan(28)
        expect(secretsIn(stored)).toEqual([])

        const rotated = yield* raw("PATCH", path, {
          token: ana.token,
          body: { botToken: "xoxb-rotated-9876", signingSecret: "rotated-signing-secret", enabled: false }
        })
        expect(rotated.status, rotated.text).toBe(200)
        expect(secretsIn(rotated.text)).toEqual([])
        expect(rotated.json).toMatchObject({ tokenHint: "…9876", enabled: false })

        const wrongKind = yield* raw("PATCH", path, {
          token: ana.token,
          body: { webhookSecret: "telegram-only-secret" }
        })
        expect(wrongKind.status).toBe(422)

        // Ben is a member, not an admin.
        const asBen = yield* raw("GET", path, { token: ben.token })
        expect(asBen.status).toBe(403)

        const removed = yield* raw("DELETE", path, { token: ana.token })
        expect(removed.status).toBe(204)
        expect((yield* raw("GET", path, { token: ana.token })).status).toBe(404)
      }))

    it.effect("bridges join a platform channel to a room of the org, once", () =>
      Effect.gen(function*() {
        const { ana, org, room } = yield* anaAndBen
        const account = yield* ana.api.channels.create({
          path: { org: org.id },
          payload: { kind: "telegram", name: "Acme bot", botToken: "123:telegram-token", webhookSecret: "hook-secret" }
        })
        const at = { org: org.id, account: account.id }
        const bridge = yield* ana.api.channels.createBridge({
          path: at,
          payload: { externalChannel: "-1001234", roomId: room.id }
        })
        expect(bridge).toMatchObject({ externalChannel: "-1001234", roomId: room.id, accountId: account.id })
        const again = yield* raw("POST", `/v1/orgs/${org.id}/channels/${account.id}/bridges`, {
          token: ana.token,
          body: { externalChannel: "-1001234", roomId: room.id }
        })
        expect(again.status).toBe(409)

        // A room of another org is not found.
        const eve = yield* person("Eve")
        const eveOrg = yield* eve.api.orgs.create({ payload: { name: "Elsewhere", slug: slug() } })
        const eveRoom = yield* eve.api.rooms.create({ path: { org: eveOrg.id }, payload: { name: "theirs" } })
        const foreign = yield* raw("POST", `/v1/orgs/${org.id}/channels/${account.id}/bridges`, {
          token: ana.token,
          body: { externalChannel: "-1009999", roomId: eveRoom.id }
        })
        expect(foreign.status).toBe(404)

        expect((yield* ana.api.channels.bridges({ path: at })).map((b) => b.id)).toEqual([bridge.id])
        yield* ana.api.channels.deleteBridge({ path: { ...at, bridge: bridge.id } })
        expect(yield* ana.api.channels.bridges({ path: at })).toEqual([])
      }))
  })
})

describe("channel accounts without CHANNEL_KEY", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("are refused with 503 naming the setting, and nothing is stored", () =>
      Effect.gen(function*() {
        const { ana, org } = yield* anaAndBen
        const refused = yield* raw("POST", `/v1/orgs/${org.id}/channels`, {
          token: ana.token,
          body: { kind: "slack", name: "Acme Slack", ...slackSecrets }
        })
        expect(refused.status).toBe(503)
        expect(refused.text).toContain("CHANNEL_KEY")
        expect(yield* ana.api.channels.list({ path: { org: org.id } })).toEqual([])
      }))

    it.effect("so are outbound webhook endpoints, whose signing secrets are sealed with the same key", () =>
      Effect.gen(function*() {
        const { ana, org } = yield* anaAndBen
        const refused = yield* raw("POST", `/v1/orgs/${org.id}/webhooks`, {
          token: ana.token,
          body: { url: "https://example.com/hook", eventTypes: ["message.created"] }
        })
        expect(refused.status).toBe(503)
        expect(refused.text).toContain("CHANNEL_KEY")
        expect((yield* raw("GET", `/v1/orgs/${org.id}/webhooks`, { token: ana.token })).json).toEqual([])
      }))
  })
})

/** Slack's signature of a delivery: `v0=` and the HMAC-SHA256 of `v0:{timestamp}:{body}`. */
const slackSignature = (secret: string, timestamp: string, body: string) =>
  `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${body}`).digest("hex")}`

/** Posts `payload` to the account's Events API URL, signed with `secret` (or as `options` say). */
const deliver = (
  accountId: string,
  payload: unknown,
  options: {
    readonly secret?: string
    readonly timestamp?: number
    readonly retry?: number
    readonly body?: string
    readonly signature?: string
  } = {}
) => {
  const body = options.body ?? JSON.stringify(payload)
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000))
  const signature = options.signature ?? slackSignature(options.secret ?? slackSecrets.signingSecret, timestamp, body)
  return raw("POST", `/v1/gateway/slack/${accountId}/events`, {
    body,
    headers: {
      "x-slack-request-timestamp": timestamp,
      "x-slack-signature": signature,
      ...(options.retry === undefined ? {} : { "x-slack-retry-num": String(options.retry) })
    }
  })
}

/** An Events API delivery of a message from a Slack user in `channel`. */
const slackMessage = (channel: string, text: string, extra: Record<string, unknown> = {}) => ({
  token: "deprecated-verification-token",
  team_id: "T0001",
  type: "event_callback",
  event_id: `Ev${randomBytes(6).toString("hex")}`,
  event_time: Math.floor(Date.now() / 1000),
  event: {
    type: "message",
    channel,
    user: "U0ALICE",
    text,
    ts: `${Math.floor(Date.now() / 1000)}.000100`,
    user_profile: { display_name: "alice", real_name: "Alice Slack" },
    ...extra
  }
})

/** An org with a room bridged to `channel` through a new account (`payload`), and a teammate in the room. */
const bridged = (payload: typeof CreateChannelRequest.Type, channel: string) =>
  Effect.gen(function*() {
    const world = yield* anaBenAndTeammate
    const path = { org: world.org.id }
    const account = yield* (payload.kind === "slack"
      ? world.ana.api.channels.create({ path, payload })
      : payload.kind === "telegram"
      ? world.ana.api.channels.create({ path, payload })
      : world.ana.api.channels.create({ path, payload }))
    yield* world.ana.api.channels.createBridge({
      path: { org: world.org.id, account: account.id },
      payload: { externalChannel: channel, roomId: world.room.id }
    })
    const texts = Effect.map(
      world.ana.api.messages.list({ path: { room: world.room.id }, urlParams: { limit: 200 } }),
      (page) => page.messages.map((m) => m.text)
    )
    return { ...world, account, channel, texts }
  })

/** A room bridged to a Slack channel of its own (the bot is `UBOT1`). */
const bridgedToSlack = Effect.suspend(() =>
  bridged(
    new CreateSlackChannel({ kind: "slack", name: "Acme Slack", ...slackSecrets, botUserId: "UBOT1" }),
    `C${randomBytes(5).toString("hex").toUpperCase()}`
  )
)

/**
 * A test server whose Slack and Telegram are local fakes (`SLACK_API_URL`,
 * `TELEGRAM_API_URL`, and the fake as the Slack file host, `SLACK_FILES_URL`).
 */
const withPlatforms = (overrides: Record<string, string> = {}) =>
  Layer.unwrapScoped(
    Effect.map(
      Fake.make,
      (fake) =>
        TestServer({
          CHANNEL_KEY: testChannelKey,
          SLACK_API_URL: fake.url,
          TELEGRAM_API_URL: fake.telegramUrl,
          SLACK_FILES_URL: fake.telegramUrl,
          ...overrides
        }).pipe(Layer.provideMerge(Layer.succeed(Fake.FakePlatforms, fake)))
    )
  )
const TestServerWithPlatforms = withPlatforms()

describe("Slack inbound", () => {
  layer(TestServerWithPlatforms, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("answers Slack's URL check with its challenge", () =>
      Effect.gen(function*() {
        const { account } = yield* bridgedToSlack
        const res = yield* deliver(account.id, { type: "url_verification", token: "x", challenge: "3eZbrw1aB" })
        expect(res.status, res.text).toBe(200)
        expect(res.json).toMatchObject({ ok: true, challenge: "3eZbrw1aB" })
      }))

    it.effect("stores a message in the bridged room once, however often Slack retries it", () =>
      Effect.gen(function*() {
        const { account, ana, channel, room, texts } = yield* bridgedToSlack
        const created = yield* watch({
          baseUrl: yield* baseUrl,
          token: ana.token,
          count: 1,
          keep: (d) => d.event.type === "message.created" && d.event.message.roomId === room.id
        })
        const delivery = slackMessage(channel, "hello from Slack &amp; friends &lt;3")
        const first = yield* deliver(account.id, delivery)
        expect(first.status, first.text).toBe(200)
        expect(first.json).toEqual({ ok: true })
        const [event] = yield* Fiber.join(created)
        expect(event?.event.type === "message.created" ? event.event.message : undefined).toMatchObject({
          text: "hello from Slack & friends <3",
          authorKind: "user",
          authorName: "alice"
        })
        for (const retry of [1, 2]) {
          const again = yield* deliver(account.id, delivery, { retry })
          expect(again.status).toBe(200)
          expect(again.json).toEqual({ ok: true, duplicate: true })
        }
        expect((yield* texts).filter((t) => t === "hello from Slack & friends <3")).toHaveLength(1)

        // The same Slack user is one identity in the org.
        const second = slackMessage(channel, "me again")
        expect((yield* deliver(account.id, second)).status).toBe(200)
        const page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })
        const authors = new Set(page.messages.filter((m) => m.authorName === "alice").map((m) => m.authorId))
        expect(authors.size).toBe(1)
        const health = yield* ana.api.channels.get({ path: { org: room.orgId, account: account.id } })
        expect(health.health.lastInboundAt).not.toBeNull()
      }))

    it.effect("names a sender whose event has no profile by users.info, asked once per account and user", () =>
      Effect.gen(function*() {
        const { account, channel, room, ana } = yield* bridgedToSlack
        const slack = yield* Fake.FakePlatforms
        const bob = `U0BOB${randomBytes(3).toString("hex").toUpperCase()}`
        const ghost = `U0GHOST${randomBytes(3).toString("hex").toUpperCase()}`
        slack.addUser(bob, { display_name: "", real_name: "Bob Slack" })
        const noProfile = (user: string, text: string) => slackMessage(channel, text, { user, user_profile: undefined })
        for (const [user, text] of [[bob, "first"], [bob, "second"], [ghost, "boo"], [ghost, "boo again"]]) {
          const res = yield* deliver(account.id, noProfile(user ?? "", text ?? ""))
          expect(res.status, res.text).toBe(200)
        }
        const page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(page.messages.map((m) => [m.text, m.authorName])).toEqual(
          expect.arrayContaining([["first", "Bob Slack"], ["second", "Bob Slack"], ["boo", ghost], [
            "boo again",
            ghost
          ]])
        )
        const asked = (user: string) =>
          slack.calls.filter((c) => c.method === "users.info" && c.target === user && c.token === slackSecrets.botToken)
        // Bob's name is kept after the first lookup; a user Slack does not know is asked about again.
        expect([asked(bob).length, asked(ghost).length]).toEqual([1, 2])
      }))

    it.effect("refuses forged, stale, unknown, disabled and malformed deliveries, storing nothing", () =>
      Effect.gen(function*() {
        const { account, ana, channel, org, texts } = yield* bridgedToSlack
        const before = yield* texts
        const payload = slackMessage(channel, "should never arrive")
        const forged = yield* deliver(account.id, payload, { secret: "not-the-signing-secret" })
        expect([forged.status, Object(forged.json)._tag]).toEqual([401, "Unauthorized"])
        const unsigned = yield* deliver(account.id, payload, { signature: "" })
        expect(unsigned.status).toBe(401)
        const stale = yield* deliver(account.id, payload, { timestamp: Math.floor(Date.now() / 1000) - 301 })
        expect([stale.status, Object(stale.json)._tag]).toEqual([401, "Unauthorized"])
        const unknown = yield* deliver(randomUUID(), payload)
        expect([unknown.status, Object(unknown.json)._tag]).toEqual([404, "NotFound"])
        const notJson = yield* deliver(account.id, undefined, { body: "{not json" })
        expect([notJson.status, Object(notJson.json)._tag]).toEqual([400, "MalformedRequest"])
        const notAnEvent = yield* deliver(account.id, { event_id: 7 })
        expect(notAnEvent.status).toBe(400)
        const tooLarge = yield* deliver(account.id, undefined, { body: JSON.stringify({ text: "x".repeat(300_000) }) })
        expect([tooLarge.status, Object(tooLarge.json)._tag]).toEqual([413, "PayloadTooLarge"])
        // Signed with the secret of another account: the signature is per account.
        const other = yield* ana.api.channels.create({
          path: { org: org.id },
          payload: {
            kind: "slack",
            name: "Other",
            botToken: "xoxb-other-0000",
            signingSecret: "another-signing-secret"
          }
        })
        expect((yield* deliver(other.id, payload)).status).toBe(401)
        yield* ana.api.channels.update({ path: { org: org.id, account: account.id }, payload: { enabled: false } })
        const disabled = yield* deliver(account.id, payload)
        expect([disabled.status, Object(disabled.json)._tag]).toEqual([404, "NotFound"])
        yield* ana.api.channels.update({ path: { org: org.id, account: account.id }, payload: { enabled: true } })
        expect(yield* texts).toEqual(before)
        const sql = yield* Database.AdminSql
        const rows = yield* sql<
          { n: string }
        >`SELECT count(*) AS n FROM channel_inbound WHERE account_id = ${account.id}`
        expect(rows[0]?.n).toBe("0")
        // Refusals are counted by kind on /metrics.
        const metrics = yield* raw("GET", "/metrics")
        for (const outcome of ["unauthorized", "not_found", "malformed"]) {
          expect(counterOf(metrics.text, "troupe_gateway_inbound_total", { platform: "slack", outcome }))
            .toBeGreaterThanOrEqual(1)
        }
      }))

    it.effect("never echoes the bot's own messages, other bots' or edits into the room", () =>
      Effect.gen(function*() {
        const { account, channel, texts } = yield* bridgedToSlack
        const before = yield* texts
        for (
          const delivery of [
            slackMessage(channel, "from our bot", { user: "UBOT1" }),
            slackMessage(channel, "from a bot", { bot_id: "B0001" }),
            slackMessage(channel, "an edit", { subtype: "message_changed" }),
            slackMessage("C0OTHER", "an unbridged channel")
          ]
        ) {
          const res = yield* deliver(account.id, delivery)
          expect(res.status, res.text).toBe(200)
        }
        expect(yield* texts).toEqual(before)
      }))

    it.effect("a teammate mentioned from Slack answers in the room", () =>
      Effect.gen(function*() {
        const { account, ana, channel, room, teammate } = yield* bridgedToSlack
        const answered = yield* watch({
          baseUrl: yield* baseUrl,
          token: ana.token,
          count: 1,
          timeout: "60 seconds",
          keep: (d) =>
            d.event.type === "message.created" && d.event.message.roomId === room.id &&
            d.event.message.authorKind === "teammate"
        })
        const res = yield* deliver(account.id, slackMessage(channel, `@${teammate.handle} what is on today?`))
        expect(res.status).toBe(200)
        const [reply] = yield* Fiber.join(answered)
        expect(reply?.event.type === "message.created" ? reply.event.message.authorId : undefined).toBe(teammate.id)
      }))
  })
})

describe("Slack outbound", () => {
  layer(TestServerWithPlatforms, { excludeTestServices: true, timeout: 120_000 })((it) => {
    /** Ben posts `text` in the room and the fake Slack receives it: the calls to the channel so far. */
    const postAndAwait = (w: Effect.Effect.Success<typeof bridgedToSlack>, text: string) =>
      Effect.gen(function*() {
        const slack = yield* Fake.FakePlatforms
        yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text } })
        yield* slack.waitFor((c) => c.channel === w.channel && c.text === `Ben: ${text}`)
        return slack.calls.filter((c) => c.channel === w.channel)
      })

    it.effect("a person's message in the room reaches the Slack channel once; Slack's own are not sent back", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToSlack
        const slack = yield* Fake.FakePlatforms
        expect((yield* deliver(w.account.id, slackMessage(w.channel, "from alice in Slack"))).status).toBe(200)
        yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "x < y && y > z" } })
        yield* slack.waitFor((c) => c.channel === w.channel && c.text === "Ben: x &lt; y &amp;&amp; y &gt; z")
        yield* postAndAwait(w, "hello Slack")
        // Sends to one channel go in order: once the next one arrived, a second copy would have too.
        const calls = yield* postAndAwait(w, "and a second message")
        expect(calls.map((c) => [c.method, c.token, c.text])).toEqual([
          ["chat.postMessage", slackSecrets.botToken, "Ben: x &lt; y &amp;&amp; y &gt; z"],
          ["chat.postMessage", slackSecrets.botToken, "Ben: hello Slack"],
          ["chat.postMessage", slackSecrets.botToken, "Ben: and a second message"]
        ])
        expect(slack.calls.some((c) => c.text.includes("from alice in Slack"))).toBe(false)
        // The fake answers before the outbox records the send: wait for the record.
        const account = yield* eventually(Effect.map(
          w.ana.api.channels.get({ path: { org: w.org.id, account: w.account.id } }),
          (a) => a.health.queueDepth === 0 ? Option.some(a) : Option.none()
        ))
        expect(account.health.lastOutboundAt).not.toBeNull()
      }))

    it.effect("messages to one channel go in the room's order, past the burst at the paced rate", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToSlack
        const slack = yield* Fake.FakePlatforms
        const texts = ["one", "two", "three", "four", "five"]
        for (const text of texts) yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text } })
        const calls = yield* slack.waitFor((c) => c.channel === w.channel, texts.length)
        expect(calls.map((c) => c.text)).toEqual(texts.map((t) => `Ben: ${t}`))
        // Bursts of 3, then one a second: the fifth goes at least a second after the first.
        expect((calls[4]?.at ?? 0) - (calls[0]?.at ?? 0)).toBeGreaterThanOrEqual(900)
        expect(withinBucket(calls.map((c) => c.at), Pacing.PER_CHANNEL)).toBe(true)
      }))

    it.effect("Slack threads and room threads map to each other, both ways", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToSlack
        const slack = yield* Fake.FakePlatforms
        const inRoom = (text: string, threadId?: MessageId) =>
          Effect.map(
            w.ana.api.messages.list({
              path: { room: w.room.id },
              urlParams: threadId === undefined ? {} : { threadId }
            }),
            (page) => page.messages.find((m) => m.text === text)
          )
        // A Slack thread comes in as a room thread.
        yield* deliver(w.account.id, slackMessage(w.channel, "a question", { ts: "1700000001.000100" }))
        yield* deliver(
          w.account.id,
          slackMessage(w.channel, "a detail", { ts: "1700000002.000200", thread_ts: "1700000001.000100" })
        )
        const root = yield* inRoom("a question")
        expect(root?.threadId).toBeNull()
        const detail = root === undefined ? undefined : yield* inRoom("a detail", root.id)
        expect(detail?.threadId).toBe(root?.id)

        // A reply in that room thread goes into the Slack thread.
        yield* w.ben.api.messages.post({
          path: { room: w.room.id },
          payload: { text: "an answer", threadId: root?.id }
        })
        const [answer] = yield* slack.waitFor((c) => c.channel === w.channel && c.text === "Ben: an answer")
        expect(answer?.thread).toBe("1700000001.000100")

        // A room thread started here goes out as a Slack thread under the message Slack accepted.
        const topic = yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "new topic" } })
        yield* w.ben.api.messages.post({
          path: { room: w.room.id },
          payload: { text: "more on it", threadId: topic.id }
        })
        const calls = yield* slack.waitFor((c) => c.channel === w.channel && c.text === "Ben: more on it")
        const sentTopic = slack.calls.find((c) => c.channel === w.channel && c.text === "Ben: new topic")
        expect([sentTopic?.thread, calls[0]?.thread]).toEqual([undefined, sentTopic?.id])
      }))

    it.effect("a teammate's reply to a Slack message reaches Slack once, complete", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToSlack
        const answered = yield* watch({
          baseUrl: yield* baseUrl,
          token: w.ana.token,
          count: 1,
          timeout: "60 seconds",
          keep: (d) =>
            d.event.type === "message.created" && d.event.message.roomId === w.room.id &&
            d.event.message.authorKind === "teammate"
        })
        yield* deliver(w.account.id, slackMessage(w.channel, `@${w.teammate.handle} summarise the week`))
        const [reply] = yield* Fiber.join(answered)
        const message = reply?.event.type === "message.created" ? reply.event.message : undefined
        expect(message?.text.length).toBeGreaterThan(0)
        const calls = yield* postAndAwait(w, "thanks")
        expect(calls.map((c) => c.text)).toEqual([`${message?.authorName}: ${message?.text}`, "Ben: thanks"])
      }))

    it.effect("an edit and a deletion in the room reach Slack as chat.update and chat.delete of what was sent", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToSlack
        const slack = yield* Fake.FakePlatforms
        const inChannel = (c: Fake.PlatformCall) => c.channel === w.channel
        const draft = yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "draft" } })
        const [posted] = yield* slack.waitFor(inChannel)
        yield* w.ben.api.messages.edit({ path: { room: w.room.id, message: draft.id }, payload: { text: "final" } })
        const [, updated] = yield* slack.waitFor(inChannel, 2)
        expect([updated?.method, updated?.target, updated?.text]).toEqual(["chat.update", posted?.id, "Ben: final"])
        // A reply changes the root's reply count (a message.updated with the same text): no second chat.update.
        yield* w.ana.api.messages.post({ path: { room: w.room.id }, payload: { text: "a reply", threadId: draft.id } })
        yield* w.ben.api.messages.delete({ path: { room: w.room.id, message: draft.id } })
        const calls = yield* slack.waitFor((c) => inChannel(c) && c.method === "chat.delete")
        expect(calls.map((c) => c.target)).toEqual([posted?.id])
        expect(slack.calls.filter(inChannel).map((c) => [c.method, c.text])).toEqual([
          ["chat.postMessage", "Ben: draft"],
          ["chat.update", "Ben: final"],
          ["chat.postMessage", "Ana: a reply"],
          ["chat.delete", ""]
        ])
      }))

    it.effect("an edit before the message went out sends the new text once; a deletion before, nothing", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToSlack
        const slack = yield* Fake.FakePlatforms
        // Held by a 429 for 3 seconds, the first message waits; meanwhile it is edited, and a second one is
        // posted and deleted (all in well under the hold).
        slack.script(w.channel, [{ kind: "rateLimited", retryAfterSeconds: 3 }])
        const first = yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "frist" } })
        yield* slack.waitFor((c) => c.channel === w.channel)
        yield* w.ben.api.messages.edit({ path: { room: w.room.id, message: first.id }, payload: { text: "first" } })
        const gone = yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "oops" } })
        yield* w.ben.api.messages.delete({ path: { room: w.room.id, message: gone.id } })
        yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "last" } })
        yield* slack.waitFor((c) => c.channel === w.channel && c.text === "Ben: last")
        expect(slack.calls.filter((c) => c.channel === w.channel).map((c) => [c.method, c.text])).toEqual([
          ["chat.postMessage", "Ben: frist"],
          ["chat.postMessage", "Ben: first"],
          ["chat.postMessage", "Ben: last"]
        ])
      }))

    it.effect("a 429 holds the channel for its Retry-After, then the message goes", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToSlack
        const slack = yield* Fake.FakePlatforms
        slack.script(w.channel, [{ kind: "rateLimited", retryAfterSeconds: 1 }])
        yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "patience" } })
        yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "then this" } })
        const [limited, sent, next] = yield* slack.waitFor((c) => c.channel === w.channel, 3)
        // The later message waits behind the held one: the channel keeps the room's order.
        expect([limited?.text, sent?.text, next?.text]).toEqual(["Ben: patience", "Ben: patience", "Ben: then this"])
        expect((sent?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(900)
      }))

    it.effect("a 5xx is tried again; a permanent refusal marks the message failed with the reason", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToSlack
        const slack = yield* Fake.FakePlatforms
        slack.script(w.channel, [{ kind: "status", status: 503 }, { kind: "ok" }, {
          kind: "error",
          error: "not_in_channel"
        }])
        yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "flaky" } })
        yield* slack.waitFor((c) => c.channel === w.channel, 2)
        yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "refused" } })
        yield* slack.waitFor((c) => c.channel === w.channel, 3)
        const account = yield* eventually(Effect.map(
          w.ana.api.channels.get({ path: { org: w.org.id, account: w.account.id } }),
          (a) =>
            a.health.lastError === "slack: not_in_channel" && a.health.queueDepth === 0 ? Option.some(a) : Option.none()
        ))
        expect(account.health.lastErrorAt).not.toBeNull()
        const metrics = yield* raw("GET", "/metrics")
        for (const outcome of ["sent", "retry", "failed"]) {
          expect(counterOf(metrics.text, "troupe_gateway_outbound_total", { platform: "slack", outcome }))
            .toBeGreaterThanOrEqual(1)
        }
        expect(slack.calls.filter((c) => c.channel === w.channel).map((c) => c.text)).toEqual([
          "Ben: flaky",
          "Ben: flaky",
          "Ben: refused"
        ])
        // The room hears which message did not go, where and why. The first such event names it, not the
        // message that went after a retry (whose failure would have come first).
        const failure = yield* firstFound(
          w.ben.token,
          (d) => d.event.type === "message.delivery_failed" ? d.event : undefined
        )
        const messages = yield* w.ben.api.messages.list({ path: { room: w.room.id }, urlParams: {} })
        expect(failure).toMatchObject({
          messageId: messages.messages.find((m) => m.text === "refused")?.id,
          roomId: w.room.id,
          action: "post",
          channel: { accountId: w.account.id, kind: "slack", name: "Acme Slack", externalChannel: w.channel },
          reason: "slack: not_in_channel"
        })
      }))
  })
})

const telegramSecrets = { botToken: "123456:telegram-bot-token", webhookSecret: "telegram-webhook-secret" }

/** A room bridged to a Telegram group chat of its own. */
const bridgedToTelegram = Effect.suspend(() =>
  bridged(
    new CreateTelegramChannel({ kind: "telegram", name: "Acme bot", ...telegramSecrets }),
    `-100${randomBytes(4).readUInt32BE()}`
  )
)

/** A Telegram update with a message from a person in `chat`. */
const telegramUpdate = (
  chat: string,
  text: string,
  from: Record<string, unknown> = {},
  message: Record<string, unknown> = {}
) => ({
  update_id: randomBytes(4).readUInt32BE(),
  message: {
    message_id: 17,
    from: { id: 4242, is_bot: false, first_name: "Tanya", last_name: "Gram", username: "tanya", ...from },
    chat: { id: Number(chat), type: "supergroup", title: "Acme" },
    date: Math.floor(Date.now() / 1000),
    text,
    ...message
  }
})

/** Posts an update to the account's webhook with the secret token (or `secret`). */
const deliverTelegram = (accountId: string, update: unknown, secret: string | null = telegramSecrets.webhookSecret) =>
  raw("POST", `/v1/gateway/telegram/${accountId}`, {
    body: typeof update === "string" ? update : JSON.stringify(update),
    headers: secret === null ? {} : { "x-telegram-bot-api-secret-token": secret }
  })

describe("Telegram", () => {
  layer(TestServerWithPlatforms, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("an update is stored once per update_id; forged, unknown and malformed ones store nothing", () =>
      Effect.gen(function*() {
        const { account, channel: chat, texts } = yield* bridgedToTelegram
        const update = telegramUpdate(chat, "hello from Telegram")
        const first = yield* deliverTelegram(account.id, update)
        expect([first.status, first.json]).toEqual([200, { ok: true }])
        const again = yield* deliverTelegram(account.id, update)
        expect(again.json).toEqual({ ok: true, duplicate: true })
        expect((yield* texts).filter((t) => t === "hello from Telegram")).toHaveLength(1)

        // Deliveries are remembered for GATEWAY_RETENTION (7 days): older ones are pruned, pending sends kept.
        const sql = yield* Database.AdminSql
        yield* sql`UPDATE channel_inbound SET received_at = now() - interval '8 days' WHERE account_id = ${account.id}`
        const pruned = yield* sql<{ deleted: string }>`SELECT deleted FROM troupe_channel_prune('7 days')`
        expect(Number(pruned[0]?.deleted)).toBeGreaterThanOrEqual(1)
        const remembered = yield* sql<{ n: string }>`
          SELECT count(*) AS n FROM channel_inbound WHERE account_id = ${account.id}`
        expect(remembered[0]?.n).toBe("0")

        const before = yield* texts
        const other = telegramUpdate(chat, "never stored")
        expect((yield* deliverTelegram(account.id, other, "wrong-secret")).status).toBe(401)
        expect((yield* deliverTelegram(account.id, other, null)).status).toBe(401)
        expect((yield* deliverTelegram(randomUUID(), other)).status).toBe(404)
        expect((yield* deliverTelegram(account.id, "{nope")).status).toBe(400)
        expect((yield* deliverTelegram(account.id, { update_id: "x" })).status).toBe(400)
        const fromBot = yield* deliverTelegram(account.id, telegramUpdate(chat, "a bot", { is_bot: true }))
        expect(fromBot.status).toBe(200)
        expect(yield* texts).toEqual(before)
      }))

    it.effect("a burst of one account's updates, delivered at once, is stored whole, a few at a time", () =>
      Effect.gen(function*() {
        const { account, channel: chat, texts } = yield* bridgedToTelegram
        const updates = Array.from({ length: 24 }, (_, i) => telegramUpdate(chat, `burst ${i}`))
        const answers = yield* Effect.forEach(updates, (u) => deliverTelegram(account.id, u), {
          concurrency: "unbounded"
        })
        expect(answers.map((a) => a.status)).toEqual(updates.map(() => 200))
        expect((yield* texts).filter((t) => t.startsWith("burst ")).sort()).toEqual(
          updates.map((u) => u.message.text).sort()
        )
      }))

    it.effect("a Telegram reply joins the room thread of the message it replies to, and room replies go back as replies", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToTelegram
        const fake = yield* Fake.FakePlatforms
        yield* deliverTelegram(w.account.id, telegramUpdate(w.channel, "the plan", {}, { message_id: 501 }))
        yield* deliverTelegram(
          w.account.id,
          telegramUpdate(w.channel, "looks good", {}, { message_id: 502, reply_to_message: { message_id: 501 } })
        )
        const top = yield* w.ana.api.messages.list({ path: { room: w.room.id }, urlParams: {} })
        const plan = top.messages.find((m) => m.text === "the plan")
        expect(top.messages.some((m) => m.text === "looks good")).toBe(false)
        const thread = plan === undefined
          ? []
          : (yield* w.ana.api.messages.list({ path: { room: w.room.id }, urlParams: { threadId: plan.id } })).messages
        expect(thread.map((m) => m.text)).toContain("looks good")
        yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "agreed", threadId: plan?.id } })
        const [sent] = yield* fake.waitFor((c) => c.channel === w.channel && c.text === "Ben: agreed")
        expect(sent?.thread).toBe("501")
      }))

    it.effect("an edit and a deletion in the room reach the chat as editMessageText and deleteMessage", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToTelegram
        const fake = yield* Fake.FakePlatforms
        const inChat = (c: Fake.PlatformCall) => c.channel === w.channel
        const note = yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "see you at 3" } })
        const [sent] = yield* fake.waitFor(inChat)
        yield* w.ben.api.messages.edit({ path: { room: w.room.id, message: note.id }, payload: { text: "at 4" } })
        yield* w.ben.api.messages.delete({ path: { room: w.room.id, message: note.id } })
        const calls = yield* fake.waitFor(inChat, 3)
        expect(calls.map((c) => [c.method, c.target, c.text])).toEqual([
          ["sendMessage", undefined, "Ben: see you at 3"],
          ["editMessageText", sent?.id, "Ben: at 4"],
          ["deleteMessage", sent?.id, ""]
        ])
        const tail = yield* eventually(Effect.map(
          w.ana.api.channels.traffic({ path: { org: w.org.id, account: w.account.id }, urlParams: {} }),
          (t) => t.every((x) => x.status === "sent") ? Option.some(t) : Option.none()
        ))
        expect(tail.map((t) => [t.direction, t.action, t.status])).toEqual([
          ["outbound", "delete", "sent"],
          ["outbound", "update", "sent"],
          ["outbound", "post", "sent"]
        ])
      }))

    it.effect("a group chat gets its burst, then never more than its chat's and its group's buckets allow", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToTelegram
        const fake = yield* Fake.FakePlatforms
        expect(w.channel.startsWith("-")).toBe(true)
        const texts = ["1", "2", "3", "4", "5", "6", "7"]
        for (const text of texts) yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text } })
        const calls = yield* fake.waitFor((c) => c.channel === w.channel, texts.length)
        expect(calls.map((c) => c.text)).toEqual(texts.map((t) => `Ben: ${t}`))
        const times = calls.map((c) => c.at)
        expect(withinBucket(times, Pacing.PER_CHANNEL)).toBe(true)
        expect(withinBucket(times, Pacing.PER_GROUP)).toBe(true)
        // The group's 5 go within the chat's pace; the sixth waits for the group's bucket (4 s a token).
        expect((times[5] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(3900)
      }))

    it.effect("room messages reach the chat through sendMessage, paced by retry_after; a refusal is marked failed", () =>
      Effect.gen(function*() {
        const w = yield* bridgedToTelegram
        const fake = yield* Fake.FakePlatforms
        yield* deliverTelegram(w.account.id, telegramUpdate(w.channel, "from Tanya"))
        fake.script(w.channel, [{ kind: "rateLimited", retryAfterSeconds: 1 }])
        yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "hello Telegram" } })
        const [limited, sent] = yield* fake.waitFor((c) => c.channel === w.channel, 2)
        expect([limited?.platform, limited?.method, limited?.token, sent?.text]).toEqual([
          "telegram",
          "sendMessage",
          telegramSecrets.botToken,
          "Ben: hello Telegram"
        ])
        expect((sent?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(900)

        fake.script(w.channel, [{ kind: "error", error: "Bad Request: chat not found" }])
        yield* w.ben.api.messages.post({ path: { room: w.room.id }, payload: { text: "lost" } })
        yield* fake.waitFor((c) => c.channel === w.channel, 3)
        const account = yield* eventually(Effect.map(
          w.ana.api.channels.get({ path: { org: w.org.id, account: w.account.id } }),
          (a) => a.health.lastError !== null && a.health.queueDepth === 0 ? Option.some(a) : Option.none()
        ))
        expect(account.health.lastError).toBe("telegram: 400 Bad Request: chat not found")

        // The operator's tail: newest first, in and out, with each delivery's status.
        const tail = yield* w.ana.api.channels.traffic({
          path: { org: w.org.id, account: w.account.id },
          urlParams: { limit: 10 }
        })
        expect(tail.map((t) => [t.direction, t.status, t.attempts, t.error])).toEqual([
          ["outbound", "failed", 1, "telegram: 400 Bad Request: chat not found"],
          ["outbound", "sent", 2, null],
          ["inbound", "received", 0, null]
        ])
        expect(tail.every((t) => t.externalChannel === w.channel)).toBe(true)
        for (
          const path of [
            `/v1/orgs/${w.org.id}/channels/${w.account.id}/traffic`,
            `/v1/orgs/${w.org.id}/channels/${w.account.id}/bridges`,
            `/v1/orgs/${w.org.id}/channels`
          ]
        ) {
          const read = yield* raw("GET", path, { token: w.ana.token })
          expect(read.status).toBe(200)
          expect([telegramSecrets.botToken, telegramSecrets.webhookSecret].filter((x) => read.text.includes(x)))
            .toEqual([])
        }
        const asBen = yield* raw("GET", `/v1/orgs/${w.org.id}/channels/${w.account.id}/traffic`, { token: w.ben.token })
        expect(asBen.status).toBe(403)
        expect(fake.calls.filter((c) => c.channel === w.channel).map((c) => c.text)).toEqual([
          "Ben: hello Telegram",
          "Ben: hello Telegram",
          "Ben: lost"
        ])
      }))
  })
})

/** The largest file the media suite's server takes (`FILE_MAX_BYTES`). */
const MEDIA_MAX_BYTES = 64 * 1024
/** What each org of the media suite may store (`FILE_ORG_QUOTA_BYTES`): one file near the largest, not two. */
const MEDIA_QUOTA_BYTES = 100 * 1024

/** A file of a Slack message: its name, download URL and declared size (if any). */
const slackFile = (name: string, url: string, size?: number) => ({
  id: `F${randomBytes(4).toString("hex")}`,
  name,
  title: name,
  mimetype: "application/pdf",
  url_private: url,
  url_private_download: url,
  ...(size === undefined ? {} : { size })
})

/**
 * Waits (after `act`) for the message of `room` to be completed with its
 * files: the `message.updated` that the fetch ends with.
 */
const completed = <R>(
  token: string,
  roomId: string,
  act: Effect.Effect<{ readonly status: number; readonly text: string }, never, R>
) =>
  Effect.gen(function*() {
    const updated = yield* watch({
      baseUrl: yield* baseUrl,
      token,
      count: 1,
      timeout: "30 seconds",
      keep: (d) => d.event.type === "message.updated" && d.event.message.roomId === roomId
    })
    const delivered = yield* act
    expect([delivered.status, delivered.text]).toEqual([200, JSON.stringify({ ok: true })])
    const [event] = yield* Fiber.join(updated)
    const message = event?.event.type === "message.updated" ? event.event.message : undefined
    if (message === undefined) return yield* Effect.die(new Error("the message was not completed"))
    return message
  })

/** A world with a bridged room, as `bridged` makes it. */
type Bridged = Effect.Effect.Success<typeof bridgedToSlack>

/** Shares `files` on Slack with `text`; the room message once its files are in. */
const shareOnSlack = (w: Bridged, text: string, files: ReadonlyArray<ReturnType<typeof slackFile>>) =>
  completed(
    w.ana.token,
    w.room.id,
    deliver(w.account.id, slackMessage(w.channel, text, { subtype: "file_share", files }))
  )

/** Sends a Telegram message with files (`fields` of the message, no text); the room message once they are in. */
const sendOnTelegram = (w: Bridged, fields: Record<string, unknown>) =>
  completed(
    w.ana.token,
    w.room.id,
    deliverTelegram(w.account.id, telegramUpdate(w.channel, "", {}, { text: undefined, ...fields }))
  )

describe("platform files", () => {
  layer(withPlatforms({ FILE_MAX_BYTES: String(MEDIA_MAX_BYTES), FILE_ORG_QUOTA_BYTES: String(MEDIA_QUOTA_BYTES) }), {
    excludeTestServices: true,
    timeout: 120_000
  })(
    (it) => {
      it.effect("a Slack file arrives in the room attached to its message, the same bytes", () =>
        Effect.gen(function*() {
          const w = yield* bridgedToSlack
          const fake = yield* Fake.FakePlatforms
          const bytes = new Uint8Array(randomBytes(20_000))
          const served = fake.serveFile(bytes)
          const message = yield* shareOnSlack(w, "the report", [slackFile("report.pdf", served.slackUrl, bytes.length)])
          expect(message.text).toBe("the report")
          expect(message.attachments.map((a) => [a.name, a.size])).toEqual([["report.pdf", bytes.length]])
          const [attachment] = message.attachments
          const file = yield* w.ana.api.files.get({ path: { room: w.room.id, file: attachment?.id ?? "" } })
          expect(file).toMatchObject({ sha256: sha256(bytes), messageId: message.id, uploaderId: message.authorId })
          const got = yield* download(w.ana.token, w.room.id, file.id)
          expect(got.status).toBe(200)
          expect(sha256(got.bytes)).toBe(sha256(bytes))
          // Fetched with the bot token.
          expect(fake.downloads.filter((d) => served.slackUrl.endsWith(d.path)).map((d) => d.authorization))
            .toEqual([`Bearer ${slackSecrets.botToken}`])
        }))

      it.effect("a Telegram photo (its largest size) and a document arrive with their captions", () =>
        Effect.gen(function*() {
          const w = yield* bridgedToTelegram
          const fake = yield* Fake.FakePlatforms
          const small = fake.serveFile(new Uint8Array(randomBytes(1_000)))
          const large = new Uint8Array(randomBytes(30_000))
          const largeFile = fake.serveFile(large)
          const photo = yield* sendOnTelegram(w, {
            message_id: 801,
            caption: "the whiteboard",
            photo: [
              { file_id: small.fileId, width: 90, height: 60, file_size: 1_000 },
              { file_id: largeFile.fileId, width: 1280, height: 853, file_size: large.length }
            ]
          })
          expect(photo.text).toBe("the whiteboard")
          expect(photo.attachments.map((a) => [a.name, a.size])).toEqual([["photo-801.jpg", large.length]])
          const photoBytes = yield* download(w.ana.token, w.room.id, photo.attachments[0]?.id ?? "")
          expect(sha256(photoBytes.bytes)).toBe(sha256(large))

          const doc = text("minutes of the meeting\n")
          const docFile = fake.serveFile(doc)
          const document = yield* sendOnTelegram(w, {
            message_id: 802,
            document: { file_id: docFile.fileId, file_name: "minutes.txt", mime_type: "text/plain" }
          })
          expect(document.text).toBe("")
          const [attached] = document.attachments
          expect(attached).toMatchObject({ name: "minutes.txt", size: doc.length, contentType: "text/plain" })
          const file = yield* w.ana.api.files.get({ path: { room: w.room.id, file: attached?.id ?? "" } })
          expect(file.sha256).toBe(sha256(doc))
        }))

      it.effect("a file over a limit, or not on the Slack file host, is left behind with a note", () =>
        Effect.gen(function*() {
          const w = yield* bridgedToSlack
          const fake = yield* Fake.FakePlatforms
          const declared = fake.serveFile(new Uint8Array(MEDIA_MAX_BYTES + 1))
          const undeclared = fake.serveFile(new Uint8Array(randomBytes(MEDIA_MAX_BYTES + 10_000)))
          const fits = new Uint8Array(randomBytes(5_000))
          const fitting = fake.serveFile(fits)
          const message = yield* shareOnSlack(w, "three files and one elsewhere", [
            slackFile("huge.pdf", declared.slackUrl, MEDIA_MAX_BYTES + 1),
            slackFile("sneaky.pdf", undeclared.slackUrl),
            slackFile("small.pdf", fitting.slackUrl, fits.length),
            slackFile("elsewhere.pdf", "https://files.example.com/x/elsewhere.pdf", 10)
          ])
          expect(message.attachments.map((a) => a.name)).toEqual(["small.pdf"])
          expect(message.text.split("\n")).toEqual([
            "three files and one elsewhere",
            `[file "huge.pdf" was not brought over: it is larger than the ${MEDIA_MAX_BYTES} bytes limit]`,
            `[file "sneaky.pdf" was not brought over: it is larger than the ${MEDIA_MAX_BYTES} bytes limit]`,
            `[file "elsewhere.pdf" was not brought over: its download is not on an allowed Slack file host]`
          ])
          // The declared size was enough to leave it: never downloaded.
          expect(fake.downloads.some((d) => declared.slackUrl.endsWith(d.path))).toBe(false)
        }))

      it.effect("a file past the org's storage quota is left behind with a note; the one that fits is kept", () =>
        Effect.gen(function*() {
          const w = yield* bridgedToSlack
          const fake = yield* Fake.FakePlatforms
          const files = [0, 1].map(() => new Uint8Array(randomBytes(60 * 1024)))
          const served = files.map((bytes) => fake.serveFile(bytes))
          const message = yield* shareOnSlack(
            w,
            "two big ones",
            served.map((f, i) => slackFile(`big-${i}.bin`, f.slackUrl, 60 * 1024))
          )
          expect(message.attachments).toHaveLength(1)
          const kept = message.attachments[0]?.name ?? ""
          const left = kept === "big-0.bin" ? "big-1.bin" : "big-0.bin"
          expect(message.text.split("\n")).toEqual([
            "two big ones",
            `[file "${left}" was not brought over: the org's file storage is full]`
          ])
        }))

      it.effect("a download that fails keeps the message's text, with a note", () =>
        Effect.gen(function*() {
          const w = yield* bridgedToTelegram
          const fake = yield* Fake.FakePlatforms
          const broken = fake.serveFile(text("never served"), 500)
          const message = yield* sendOnTelegram(w, {
            message_id: 901,
            caption: "see attached",
            document: { file_id: broken.fileId, file_name: "broken.txt" },
            voice: { file_id: "unknown-file-id", mime_type: "audio/ogg" }
          })
          expect(message.attachments).toEqual([])
          expect(message.text.split("\n")).toEqual([
            "see attached",
            `[file "broken.txt" was not brought over: it could not be fetched (the platform answered 500)]`,
            `[file "voice-901.ogg" was not brought over: Telegram did not offer it: Bad Request: invalid file_id]`
          ])
          // Tried three times before giving up.
          expect(fake.downloads.filter((d) => d.path.includes(broken.fileId)).map((d) => d.status))
            .toEqual([500, 500, 500])
          // A file field that is not a file is a malformed update.
          const malformed = yield* deliverTelegram(
            w.account.id,
            telegramUpdate(w.channel, "", {}, { text: undefined, caption: "x", document: { file_name: "no id" } })
          )
          expect([malformed.status, Object(malformed.json)._tag]).toEqual([400, "MalformedRequest"])
        }))
    }
  )
})
