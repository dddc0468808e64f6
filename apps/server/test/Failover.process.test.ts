import { FetchHttpClient } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import * as EventStream from "@troupe/client/EventStream"
import * as TroupeClient from "@troupe/client/TroupeClient"
import type { Delivered } from "@troupe/domain/Event"
import * as FakeOpenAI from "@troupe/llm/testing/FakeOpenAI"
import * as Database from "@troupe/store/Database"
import { Context, Effect, Fiber, Layer, Option, Stream } from "effect"
import { durable, email, eventually, readEvents, slug, testConfig, watch } from "./Harness.js"
import { anaWithRoom, fastFailover, freePort, nodeEnv, requireRedis, startNode } from "./Processes.js"

describe("failover with real node processes", () => {
  it.live(
    "runners killed or stopped mid-turn lose nothing and every message is answered exactly once",
    () =>
      Effect.gen(function*() {
        yield* requireRedis
        const fake = yield* FakeOpenAI.make
        const database = yield* Database.makeTestDatabase
        const env = { ...nodeEnv(), ...fastFailover, OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: "test-key" }
        const runner = Effect.flatMap(
          freePort,
          (port) => startNode(database, { ...env, TROUPE_ROLE: "runner", CLUSTER_RUNNER_PORT: String(port) })
        )
        const r1 = yield* runner
        const r2 = yield* runner
        const api = yield* startNode(database, { ...env, TROUPE_ROLE: "api" })

        const { ana, client, org, room } = yield* anaWithRoom(api.url)
        const teammates = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => `mate${i}`),
          (handle) =>
            client.teammates.hire({ path: { org: org.id }, payload: { handle, name: handle, role: "Helper" } })
        )
        for (const t of teammates) {
          yield* client.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: t.id } })
        }

        // The runners share the shards.
        const sql = Context.get(yield* Layer.build(Database.layerUrl(database, 2)), SqlClient.SqlClient)
        // Shard locks are session advisory locks: one holding connection per runner.
        const owners = () =>
          sql<{ pid: number; n: number }>`SELECT pid, count(*)::int AS n FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          GROUP BY pid`
        const spread = yield* eventually(
          Effect.map(owners(), (rows) => rows.length === 2 ? Option.some(rows) : Option.none()),
          "40 seconds"
        )
        expect(spread.map((r) => r.n).reduce((a, b) => a + b, 0)).toBe(300)

        const everyone = teammates.map((t) => `@${t.handle}`).join(" ")
        const teammateReplies = Effect.map(
          client.messages.list({ path: { room: room.id }, urlParams: { limit: 200 } }),
          (page) => page.messages.filter((m) => m.authorKind === "teammate")
        )
        const answered = (n: number) =>
          eventually(Effect.map(teammateReplies, (r) => r.length >= n ? Option.some(r) : Option.none()), "90 seconds")

        /** Waits until every teammate is streaming its reply to `text` (each has a delta on the stream). */
        const allStreaming = (from: string) =>
          EventStream.open({ baseUrl: api.url, token: ana.token, lastEventId: from }).pipe(
            Stream.filterMap((d) => d.event.type === "message.delta" ? Option.some(d.event.teammateId) : Option.none()),
            Stream.scan(new Set<string>(), (seen, id) => new Set([...seen, id])),
            Stream.takeUntil((seen) => seen.size === teammates.length),
            Stream.runDrain,
            Effect.timeout("60 seconds")
          )
        const here = () => Effect.map(client.rooms.list({ path: { org: org.id } }), (l) => l.position)

        // 1. kill -9 a runner while every teammate is streaming a reply.
        const beforeOne = yield* here()
        yield* client.messages.post({
          path: { room: room.id },
          payload: { text: `${everyone} round one [[slow:250]]` }
        })
        yield* allStreaming(beforeOne)
        r1.child.kill("SIGKILL")
        const killedAt = Date.now()
        const first = yield* answered(8)
        yield* Effect.logInfo(`all 8 answered ${Date.now() - killedAt} ms after kill -9`)
        expect(new Set(first.map((m) => m.authorId)).size).toBe(8)

        // The dead runner's teammates answer again, from the survivor.
        yield* client.messages.post({ path: { room: room.id }, payload: { text: `${everyone} round two` } })
        const second = yield* answered(16)
        expect(second.filter((m) => m.text.includes("round two"))).toHaveLength(8)

        // 2. SIGTERM (rolling restart): a new runner joins, the old one stops mid-turn.
        yield* runner
        yield* eventually(
          Effect.map(owners(), (rows) => rows.length === 2 ? Option.some(rows) : Option.none()),
          "40 seconds"
        )
        const beforeThree = yield* here()
        yield* client.messages.post({
          path: { room: room.id },
          payload: { text: `${everyone} round three [[slow:250]]` }
        })
        yield* allStreaming(beforeThree)
        r2.child.kill("SIGTERM")
        const third = yield* answered(24)
        expect(third.filter((m) => m.text.includes("round three"))).toHaveLength(8)

        // Nothing answered twice, once every run has settled: a redelivered trigger whose run finished starts none.
        yield* eventually(
          Effect.map(
            Effect.forEach(
              teammates,
              (t) => client.teammates.runs({ path: { org: org.id, teammate: t.id }, urlParams: {} })
            ),
            (lists) =>
              lists.every((l) => l.length === 3 && l.every((r) => r.status === "completed"))
                ? Option.some(lists)
                : Option.none()
          ),
          "60 seconds"
        )
        const final = yield* teammateReplies
        expect(final).toHaveLength(24)
        for (const round of ["round one", "round two", "round three"]) {
          const authors = final.filter((m) => m.text.includes(round)).map((m) => m.authorId)
          expect(new Set(authors).size, round).toBe(8)
          expect(authors, round).toHaveLength(8)
        }
        const runs = yield* Effect.forEach(
          teammates,
          (t) => client.teammates.runs({ path: { org: org.id, teammate: t.id }, urlParams: {} })
        )
        for (const list of runs) expect(list.filter((r) => r.status === "completed")).toHaveLength(3)
      }).pipe(
        Effect.timeoutFail({
          duration: "220 seconds",
          onTimeout: () => new Error("failover scenario did not finish in 220 s")
        }),
        Effect.scoped,
        Effect.provide(Layer.merge(FetchHttpClient.layer, testConfig()))
      ),
    240_000
  )

  it.live(
    "an api node dies: its SSE clients reconnect to another with Last-Event-ID and miss nothing",
    () =>
      Effect.gen(function*() {
        yield* requireRedis
        const database = yield* Database.makeTestDatabase
        const env = { ...nodeEnv(), ...fastFailover }
        yield* startNode(database, { ...env, TROUPE_ROLE: "runner", CLUSTER_RUNNER_PORT: String(yield* freePort) })
        const api = yield* startNode(database, { ...env, TROUPE_ROLE: "api" })
        const api2 = yield* startNode(database, { ...env, TROUPE_ROLE: "api" })
        const anonymous = yield* TroupeClient.make({ baseUrl: api.url })
        const ana = yield* anonymous.auth.signup({
          payload: { email: email("ana"), password: "correct horse battery", name: "Ana" }
        })
        const other = yield* TroupeClient.make({ baseUrl: api2.url, token: ana.token })
        const org = yield* other.orgs.create({ payload: { name: "Acme", slug: slug() } })
        const room = yield* other.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        const { position } = yield* other.rooms.list({ path: { org: org.id } })
        const onFirst = yield* watch({
          baseUrl: api.url,
          token: ana.token,
          lastEventId: position,
          count: 1000,
          keep: durable,
          timeout: "30 seconds"
        })
        const posted: Array<string> = []
        const postSome = (n: number, from: number) =>
          Effect.forEach(Array.from({ length: n }, (_, i) => from + i), (i) =>
            Effect.map(other.messages.post({ path: { room: room.id }, payload: { text: `note ${i}` } }), (m) => {
              posted.push(m.id)
            }), { discard: true })
        // Ten notes reach the first node's stream; then it dies, and ten more are posted through the other.
        yield* postSome(10, 0)
        yield* readEvents({
          baseUrl: api.url,
          token: ana.token,
          lastEventId: position,
          count: 10,
          keep: (d) =>
            d.event.type === "message.created"
        })
        api.child.kill("SIGKILL")
        yield* postSome(10, 10)
        const seen: ReadonlyArray<Delivered> = yield* Fiber.join(onFirst)
        expect(seen.length).toBeGreaterThan(0)
        expect(
          seen.filter((d) =>
            d.event.type === "message.created"
          ).length
        ).toBeLessThan(20)
        // The stream broke with the node; the client resumes from the last id it saw, on the other node.
        const after = yield* readEvents({
          baseUrl: api2.url,
          token: ana.token,
          lastEventId: seen[seen.length - 1]!.id,
          count: 20 - seen.filter((d) => d.event.type === "message.created").length,
          keep: (d) => d.event.type === "message.created",
          timeout: "20 seconds"
        })
        const created = [...seen, ...after].flatMap((d) =>
          d.event.type === "message.created" ? [d.event.message.id] : []
        )
        expect(created).toEqual(posted)
        const ids = [...seen, ...after].map((d) => Number(d.id))
        expect(new Set(ids).size).toBe(ids.length)
      }).pipe(
        Effect.timeoutFail({
          duration: "100 seconds",
          onTimeout: () => new Error("api failover scenario did not finish in 100 s")
        }),
        Effect.scoped,
        Effect.provide(Layer.merge(FetchHttpClient.layer, testConfig()))
      ),
    120_000
  )
})
