/**
 * The outbound webhooks' outbox when its node dies with a backlog: five
 * messages whose first attempts the receiver refused (503), waiting for their
 * retry, and the node killed. The node left takes the outbox over and
 * delivers each message once more, under the same `webhook-id`, signed; a
 * message posted after the death is delivered too. Nothing is lost and no
 * delivery is accepted twice.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as TroupeClient from "@troupe/client/TroupeClient"
import * as WebhookReceiver from "@troupe/gateway/testing/WebhookReceiver"
import * as Database from "@troupe/store/Database"
import { Effect, Layer, Option, Schema } from "effect"
import { Webhook } from "standardwebhooks"
import { eventually, testChannelKey, testConfig } from "./Harness.js"
import { anaWithRoom, fastFailover, freePort, nodeEnv, requireRedis, startNode } from "./Processes.js"

const Body = Schema.parseJson(Schema.Struct({
  data: Schema.Struct({
    event: Schema.Struct({ type: Schema.String, message: Schema.Struct({ text: Schema.String }) })
  })
}))

describe("the webhooks' outbox on a node that dies", () => {
  it.live(
    "deliveries waiting for their retry are made by the node left, each once more under its own webhook-id",
    () =>
      Effect.gen(function*() {
        yield* requireRedis
        const receiver = yield* WebhookReceiver.make
        const database = yield* Database.makeTestDatabase
        // The receiver is on loopback, which webhook targets may only be when the operator allows it.
        const env = { ...nodeEnv(), ...fastFailover, CHANNEL_KEY: testChannelKey, WEBHOOK_ALLOW_PRIVATE: "true" }
        const a = yield* startNode(database, { ...env, CLUSTER_RUNNER_PORT: String(yield* freePort) }, "a")

        const { ana, client: onA, org, room } = yield* anaWithRoom(a.url)
        const { secret } = yield* onA.webhooks.create({
          path: { org: org.id },
          payload: { url: `${receiver.url}/hook`, eventTypes: ["message.created"] }
        })

        // Every first attempt is refused: each delivery then waits 30 s for its retry.
        const texts = ["m1", "m2", "m3", "m4", "m5"]
        receiver.script("/hook", texts.map(() => 503))
        for (const text of texts) yield* onA.messages.post({ path: { room: room.id }, payload: { text } })
        const refused = yield* receiver.waitFor("/hook", texts.length)

        const b = yield* startNode(database, { ...env, CLUSTER_RUNNER_PORT: String(yield* freePort) }, "b")
        a.child.kill("SIGKILL")
        const onB = yield* TroupeClient.make({ baseUrl: b.url, token: ana.token })
        yield* onB.messages.post({ path: { room: room.id }, payload: { text: "last" } })

        const all = yield* receiver.waitFor("/hook", texts.length * 2 + 1)
        const accepted = all.slice(texts.length)
        const verifier = new Webhook(secret)
        const textOf = (r: WebhookReceiver.ReceivedRequest) => {
          verifier.verify(r.body, r.headers)
          return Schema.decodeUnknownSync(Body)(r.body).data.event.message.text
        }
        // Each message accepted once: the five retried under the ids of their refused attempts, then the new one.
        expect(accepted.map(textOf).sort()).toEqual([...texts, "last"].sort())
        const ids = accepted.map((r) => r.headers["webhook-id"])
        expect(new Set(ids).size).toBe(ids.length)
        const refusedIds = new Map(refused.map((r) => [textOf(r), r.headers["webhook-id"]]))
        for (const r of accepted) {
          const text = textOf(r)
          if (text !== "last") expect(r.headers["webhook-id"]).toBe(refusedIds.get(text))
        }
        // Nothing is left waiting to be sent again (marked sent just after the receiver answered).
        yield* eventually(Effect.map(
          onB.webhooks.list({ path: { org: org.id } }),
          (endpoints) => endpoints.every((e) => e.health.pending === 0) ? Option.some(endpoints) : Option.none()
        ))
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
