/**
 * Background tasks survive the loss of the node running them: with two
 * runner processes and an API node sharing one Postgres, a runner is killed
 * with SIGKILL while every task is in the middle of a step. Every task still
 * succeeds on the surviving runner, with each step recorded once, its tokens
 * counted once, and exactly one result message.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as EventStream from "@troupe/client/EventStream"
import * as FakeOpenAI from "@troupe/llm/testing/FakeOpenAI"
import * as Database from "@troupe/store/Database"
import { Effect, Option, Stream } from "effect"
import { eventually, testConfig } from "./Harness.js"
import { anaWithRoom, fastFailover, freePort, nodeEnv, requireRedis, startNode } from "./Processes.js"

const TASKS = 6

/** Two runner processes and an API node over one fresh database, models from a fake OpenAI server. */
const twoRunners = (extra: Record<string, string>) =>
  Effect.gen(function*() {
    yield* requireRedis
    const fake = yield* FakeOpenAI.make
    const database = yield* Database.makeTestDatabase
    const env = { ...nodeEnv(), ...fastFailover, OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: "test-key", ...extra }
    const runner = Effect.flatMap(
      freePort,
      (port) => startNode(database, { ...env, TROUPE_ROLE: "runner", CLUSTER_RUNNER_PORT: String(port) })
    )
    const r1 = yield* runner
    yield* runner
    const api = yield* startNode(database, { ...env, TROUPE_ROLE: "api" })
    return { r1, api }
  })

describe("task failover with real node processes", () => {
  it.live(
    "a runner killed mid-task: every task finishes on the other, each step and result once",
    () =>
      Effect.gen(function*() {
        const { api, r1 } = yield* twoRunners({ TASK_MAX_STEPS: "3" })
        const { ana, client, org, room } = yield* anaWithRoom(api.url)
        const teammate = yield* client.teammates.hire({
          path: { org: org.id },
          payload: { handle: "worker", name: "Worker", role: "Analyst", model: "gpt-4o-mini" }
        })
        yield* client.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: teammate.id } })
        const { position } = yield* client.rooms.list({ path: { org: org.id } })

        const tasks = yield* Effect.forEach(
          Array.from({ length: TASKS }, (_, i) => i),
          (i) =>
            client.tasks.create({
              path: { room: room.id },
              payload: { teammateId: teammate.id, goal: `Survey supplier ${i} [[slow:300]]` }
            })
        )
        const ids = new Set(tasks.map((t) => t.id))

        // Every task is in the middle of one of its steps.
        yield* EventStream.open({ baseUrl: api.url, token: ana.token, lastEventId: position }).pipe(
          Stream.filterMap((d) =>
            d.event.type === "task.updated" && ids.has(d.event.task.id) &&
              d.event.task.steps.some((s) => s.status === "running")
              ? Option.some(d.event.task.id)
              : Option.none()
          ),
          Stream.scan(new Set<string>(), (seen, id) => new Set([...seen, id])),
          Stream.takeUntil((seen) => seen.size === TASKS),
          Stream.runDrain,
          Effect.timeout("90 seconds")
        )
        r1.child.kill("SIGKILL")

        const finished = yield* eventually(
          Effect.map(
            client.tasks.list({ path: { room: room.id }, urlParams: {} }),
            (list) =>
              list.every((t) => t.status !== "queued" && t.status !== "running") ? Option.some(list) : Option.none()
          ),
          "120 seconds"
        )
        expect(finished.map((t) => t.status)).toEqual(Array.from({ length: TASKS }, () => "succeeded"))

        // One result message per task, each the one the task names.
        const page = yield* client.messages.list({ path: { room: room.id }, urlParams: { limit: 200 } })
        const results = page.messages.filter((m) => m.authorId === teammate.id)
        expect(results.map((m) => m.id).sort()).toEqual(finished.map((t) => t.resultMessageId).sort())

        // Each task's run: one step per model call, the run's tokens those the task counted.
        const runs = yield* client.teammates.runs({ path: { org: org.id, teammate: teammate.id }, urlParams: {} })
        for (const task of finished) {
          const run = runs.find((r) => r.id === task.id)
          expect(run?.status).toBe("completed")
          expect(run?.steps.map((s) => s.index)).toEqual(Array.from({ length: task.steps.length + 1 }, (_, i) => i))
          expect(run?.inputTokens).toBe(task.inputTokens)
        }
      }).pipe(Effect.provide(FetchHttpClient.layer), Effect.provide(testConfig()), Effect.scoped),
    240_000
  )

  it.live(
    "a schedule ticks once per tick with two runners polling, and goes on when one is killed",
    () =>
      Effect.gen(function*() {
        const { api, r1 } = yield* twoRunners({ TASK_MAX_STEPS: "1", SCHEDULE_POLL: "200 millis" })
        const { client, org, room } = yield* anaWithRoom(api.url)
        const teammate = yield* client.teammates.hire({
          path: { org: org.id },
          payload: { handle: "clock", name: "Clock", role: "Host", model: "gpt-4o-mini" }
        })
        yield* client.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: teammate.id } })
        const schedule = yield* client.schedules.create({
          path: { room: room.id },
          payload: { teammateId: teammate.id, goal: "Say the time", cron: "* * * * * *" }
        })
        const ticks = (atLeast: number, after: number) =>
          eventually(
            Effect.map(client.tasks.list({ path: { room: room.id }, urlParams: { limit: 100 } }), (list) => {
              const made = list.filter((t) => t.scheduleId === schedule.id)
              return made.filter((t) => (t.scheduledFor?.getTime() ?? 0) > after).length >= atLeast
                ? Option.some(made)
                : Option.none()
            }),
            "60 seconds"
          )
        yield* ticks(2, 0)
        r1.child.kill("SIGKILL")
        const killedAt = Date.now()
        const made = yield* ticks(3, killedAt + 1000)
        const forTicks = made.map((t) => t.scheduledFor?.toISOString())
        expect(new Set(forTicks).size).toBe(made.length)
      }).pipe(Effect.provide(FetchHttpClient.layer), Effect.provide(testConfig()), Effect.scoped),
    240_000
  )
})
