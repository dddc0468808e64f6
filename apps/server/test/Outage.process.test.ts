import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as Database from "@troupe/store/Database"
import { Effect, Fiber, Layer, Option } from "effect"
import { eventually, messageTexts, readEvents, testConfig } from "./Harness.js"
import {
  anaWithRoom,
  controlledPostgres,
  controlledRedis,
  freePort,
  nodeEnv,
  requireRedis,
  startNode
} from "./Processes.js"

describe("outages of the servers Troupe depends on", () => {
  it.live(
    "Redis flushed, killed and restarted: no message is lost, the stream keeps up, the nodes recover by themselves",
    () =>
      Effect.gen(function*() {
        const redis = yield* controlledRedis
        const database = yield* Database.makeTestDatabase
        const env = nodeEnv(redis.url)
        yield* startNode(database, { ...env, TROUPE_ROLE: "runner", CLUSTER_RUNNER_PORT: String(yield* freePort) })
        const api = yield* startNode(database, { ...env, TROUPE_ROLE: "api" })
        const { ana, client, org, room } = yield* anaWithRoom(api.url)
        const { position } = yield* client.rooms.list({ path: { org: org.id } })
        const reader = yield* readEvents({
          baseUrl: api.url,
          token: ana.token,
          lastEventId: position,
          count: 20,
          keep: (d) => d.event.type === "message.created",
          timeout: "60 seconds"
        }).pipe(Effect.fork)
        const texts: Array<string> = []
        const post = (phase: string) =>
          Effect.forEach([1, 2, 3, 4, 5], (i) => {
            const text = `${phase} ${i}`
            texts.push(text)
            return client.messages.post({ path: { room: room.id }, payload: { text } })
          }, { discard: true })
        yield* post("before")
        yield* redis.flush
        yield* post("flushed")
        yield* redis.kill
        yield* post("down")
        yield* redis.restart
        yield* post("back")
        const streamed = yield* Fiber.join(reader)
        expect(messageTexts(streamed)).toEqual(texts)
        const stored = yield* client.messages.list({ path: { room: room.id }, urlParams: { limit: 100 } })
        expect(stored.messages.map((m) => m.text)).toEqual(texts)
      }).pipe(
        Effect.timeoutFail({
          duration: "120 seconds",
          onTimeout: () => new Error("Redis outage scenario did not finish in 120 s")
        }),
        Effect.scoped,
        Effect.provide(Layer.merge(FetchHttpClient.layer, testConfig()))
      ),
    150_000
  )

  it.live(
    "Postgres restarted under load: requests answer 503 while it is down, nodes recover, no accepted message is lost",
    () =>
      Effect.gen(function*() {
        yield* requireRedis
        const pg = yield* controlledPostgres
        const env = nodeEnv()
        yield* startNode(pg.url, { ...env, TROUPE_ROLE: "runner", CLUSTER_RUNNER_PORT: String(yield* freePort) })
        const api = yield* startNode(pg.url, { ...env, TROUPE_ROLE: "api" })
        const { ana, client, room } = yield* anaWithRoom(api.url)
        const outcomes: Array<{ text: string; status: number }> = []
        let posting = true
        // Posts one after another until told to stop, through the outage and back.
        const poster = yield* Effect.gen(function*() {
          for (let i = 0; posting; i++) {
            const text = `load ${i}`
            const status = yield* Effect.promise(() =>
              fetch(`${api.url}/v1/rooms/${room.id}/messages`, {
                method: "POST",
                headers: { authorization: `Bearer ${ana.token}`, "content-type": "application/json" },
                body: JSON.stringify({ text }),
                signal: AbortSignal.timeout(10_000)
              }).then((r) => r.status, () => 0)
            )
            outcomes.push({ text, status })
          }
        }).pipe(Effect.fork)
        const count = (status: number, from = 0) => outcomes.slice(from).filter((o) => o.status === status).length
        const until = (check: () => boolean) =>
          eventually(Effect.sync(() => check() ? Option.some(true) : Option.none()), "60 seconds")
        yield* until(() => count(201) >= 5)
        yield* pg.stop
        const stoppedAt = outcomes.length
        yield* until(() => count(503, stoppedAt) >= 3)
        yield* pg.start
        const startedAt = outcomes.length
        yield* until(() => count(201, startedAt) >= 3)
        posting = false
        yield* Fiber.join(poster)
        yield* eventually(
          Effect.promise(() =>
            fetch(`${api.url}/health/ready`).then((r) => r.ok ? Option.some(true) : Option.none(), () => Option.none())
          ),
          "60 seconds"
        )
        const after = yield* client.messages.post({ path: { room: room.id }, payload: { text: "after the restart" } })
        expect(after.text).toBe("after the restart")
        const statuses = new Set(outcomes.map((o) => o.status))
        const seen = `statuses in order: ${outcomes.map((o) => o.status).join(" ")}`
        const unexpected = [...statuses].filter((s) => s !== 201 && s !== 503)
        expect(unexpected, unexpected.length > 0 ? `${seen}\napi node output:\n${api.output().slice(-4000)}` : seen)
          .toEqual([])
        expect(outcomes.some((o) => o.status === 503), seen).toBe(true)
        const accepted = outcomes.filter((o) => o.status === 201).map((o) => o.text)
        const stored = yield* client.messages.list({ path: { room: room.id }, urlParams: { limit: 200 } })
        const storedTexts = stored.messages.map((m) => m.text)
        for (const text of accepted) expect(storedTexts).toContain(text)
      }).pipe(
        Effect.timeoutFail({
          duration: "150 seconds",
          onTimeout: () => new Error("Postgres outage scenario did not finish in 150 s")
        }),
        Effect.scoped,
        Effect.provide(Layer.merge(FetchHttpClient.layer, testConfig()))
      ),
    180_000
  )
})
