/**
 * The gateway's outbox when its node dies with a backlog: a Slack channel
 * held by a 429, five messages waiting behind it, the node killed. The node
 * left takes the outbox over and sends each message once, in the room's
 * order, after the hold the platform asked for.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as TroupeClient from "@troupe/client/TroupeClient"
import * as Database from "@troupe/store/Database"
import { Effect, Layer } from "effect"
import * as Fake from "./FakePlatforms.js"
import { testChannelKey, testConfig } from "./Harness.js"
import { anaWithRoom, fastFailover, freePort, nodeEnv, requireRedis, startNode } from "./Processes.js"

/** How long the fake Slack holds the channel with its 429: longer than starting a node and a failover. */
const HOLD_SECONDS = 40

describe("the gateway's outbox on a node that dies", () => {
  it.live(
    "a backlog held by a 429 is sent by the node left, each message once, in order, after the hold",
    () =>
      Effect.gen(function*() {
        yield* requireRedis
        const slack = yield* Fake.make
        const database = yield* Database.makeTestDatabase
        const env = { ...nodeEnv(), ...fastFailover, CHANNEL_KEY: testChannelKey, SLACK_API_URL: slack.url }
        const a = yield* startNode(database, { ...env, CLUSTER_RUNNER_PORT: String(yield* freePort) }, "a")

        const { ana, client: onA, org, room } = yield* anaWithRoom(a.url)
        const account = yield* onA.channels.create({
          path: { org: org.id },
          payload: { kind: "slack", name: "Acme", botToken: "xoxb-failover-0001", signingSecret: "failover-secret" }
        })
        yield* onA.channels.createBridge({
          path: { org: org.id, account: account.id },
          payload: { externalChannel: "C0FAILOVER", roomId: room.id }
        })

        slack.script("C0FAILOVER", [{ kind: "rateLimited", retryAfterSeconds: HOLD_SECONDS }])
        const texts = ["m1", "m2", "m3", "m4", "m5"]
        for (const text of texts) yield* onA.messages.post({ path: { room: room.id }, payload: { text } })
        yield* slack.waitFor((c) => c.channel === "C0FAILOVER")

        const b = yield* startNode(database, { ...env, CLUSTER_RUNNER_PORT: String(yield* freePort) }, "b")
        a.child.kill("SIGKILL")
        const onB = yield* TroupeClient.make({ baseUrl: b.url, token: ana.token })
        yield* onB.messages.post({ path: { room: room.id }, payload: { text: "last" } })
        // One destination goes in order: once "last" arrived, everything before it has.
        const calls = yield* slack.waitFor((c) => c.channel === "C0FAILOVER" && c.text === "Ana: last")
        expect(calls).toHaveLength(1)
        const all = slack.calls.filter((c) => c.channel === "C0FAILOVER")
        expect(all.map((c) => c.text)).toEqual(["Ana: m1", ...[...texts, "last"].map((t) => `Ana: ${t}`)])
        expect((all[1]?.at ?? 0) - (all[0]?.at ?? 0)).toBeGreaterThanOrEqual((HOLD_SECONDS - 1) * 1000)
        const health = yield* onB.channels.get({ path: { org: org.id, account: account.id } })
        expect(health.health.lastOutboundAt).not.toBeNull()
      }).pipe(
        Effect.timeoutFail({
          duration: "170 seconds",
          onTimeout: () => new Error("the scenario did not finish in 170 s")
        }),
        Effect.scoped,
        Effect.provide(Layer.merge(FetchHttpClient.layer, testConfig()))
      ),
    200_000
  )
})
