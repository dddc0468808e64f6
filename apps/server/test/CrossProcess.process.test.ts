import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as TroupeClient from "@troupe/client/TroupeClient"
import * as Database from "@troupe/store/Database"
import { Effect, Fiber } from "effect"
import { durable, email, messageTexts, readEvents, slug, testConfig } from "./Harness.js"
import { freePort, nodeEnv, requireRedis, startNode } from "./Processes.js"

describe("two server processes over one Postgres and Redis", () => {
  it.live(
    "a stream on one node sees messages posted on the other, and resumes on either",
    () =>
      Effect.gen(function*() {
        yield* requireRedis
        const database = yield* Database.makeTestDatabase
        const env = { ...nodeEnv(), EVENT_POLL_INTERVAL: "60 seconds" }
        const a = yield* startNode(database, { ...env, CLUSTER_RUNNER_PORT: String(yield* freePort) })
        const b = yield* startNode(database, { ...env, CLUSTER_RUNNER_PORT: String(yield* freePort) })
        const onA = yield* TroupeClient.make({ baseUrl: a.url })
        const ana = yield* onA.auth.signup({
          payload: { email: email("ana"), password: "correct horse battery", name: "Ana" }
        })
        const ben = yield* onA.auth.signup({
          payload: { email: email("ben"), password: "correct horse battery", name: "Ben" }
        })
        const anaOnB = yield* TroupeClient.make({ baseUrl: b.url, token: ana.token })
        const benOnA = yield* TroupeClient.make({ baseUrl: a.url, token: ben.token })
        const org = yield* anaOnB.orgs.create({ payload: { name: "Acme", slug: slug() } })
        yield* anaOnB.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
        const room = yield* anaOnB.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        yield* benOnA.rooms.join({ path: { room: room.id } })
        const { position } = yield* benOnA.rooms.list({ path: { org: org.id } })

        // Node A only polls the log every 60 s: delivery within seconds comes from Redis wake-ups.
        const live = yield* readEvents({
          baseUrl: a.url,
          token: ben.token,
          lastEventId: position,
          count: 3,
          keep: (d) => d.event.type === "message.created",
          timeout: "8 seconds"
        }).pipe(Effect.fork)
        for (const text of ["one", "two", "three"]) {
          yield* anaOnB.messages.post({ path: { room: room.id }, payload: { text } })
        }
        const got = yield* Fiber.join(live)
        expect(messageTexts(got)).toEqual(["one", "two", "three"])

        const anaOnA = yield* TroupeClient.make({ baseUrl: a.url, token: ana.token })
        for (const text of ["four", "five"]) {
          yield* anaOnA.messages.post({ path: { room: room.id }, payload: { text } })
        }
        const resumed = yield* readEvents({
          baseUrl: b.url,
          token: ben.token,
          lastEventId: got[got.length - 1]!.id,
          count: 2,
          keep: durable
        })
        expect(messageTexts(resumed)).toEqual(["four", "five"])
      }).pipe(
        Effect.timeoutFail({
          duration: "150 seconds",
          onTimeout: () => new Error("cross-process scenario did not finish in 150 s")
        }),
        Effect.scoped,
        Effect.provide(FetchHttpClient.layer),
        Effect.provide(testConfig())
      ),
    180_000
  )
})
