/**
 * The messaging gateway through the public API: channel accounts and
 * bridges (admins only, credentials never shown).
 */
import { describe, expect, layer } from "@effect/vitest"
import { ChannelAccount } from "@troupe/domain/Channel"
import * as Database from "@troupe/store/Database"
import { Effect, Schema } from "effect"
import { anaAndBen, person, raw, slug, testChannelKey, TestServer } from "./Harness.js"

const slackSecrets = { botToken: "xoxb-1111-2222-abcd", signingSecret: "8f742231b10e8888abcd99yyyzzz85a5" }

/** Every credential a response must never contain. */
const secretsIn = (text: string) =>
  [slackSecrets.botToken, slackSecrets.signingSecret, "xoxb-rotated-9876", "rotated-signing-secret"].filter((s) =>
    text.includes(s)
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
  })
})
