/**
 * Background tasks through the public API: a goal given to a teammate is
 * planned and worked on in steps as a durable workflow, its progress arrives
 * as task.updated, its result is posted once where it came from, it is a
 * run of the teammate that counts against the budget, and it can be
 * cancelled between steps. Bad requests are refused with the usual errors.
 */
import { describe, expect, layer } from "@effect/vitest"
import type { Delivered } from "@troupe/domain/Event"
import { isFinal, type Task } from "@troupe/domain/Task"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import {
  anaBenAndTeammate,
  baseUrl,
  firstFound,
  person,
  raw,
  readEvents,
  slug,
  TestServerWithModel
} from "./Harness.js"

/** The org of Ana and Ben, with a teammate in the room. */
const setup = anaBenAndTeammate

/** The first `task.updated` for `taskId` (any task: "") on `token`'s stream that `until` accepts. */
const taskWhen = (token: string, taskId: string, until: (task: Task) => boolean) =>
  firstFound(
    token,
    (d) =>
      d.event.type === "task.updated" && (taskId === "" || d.event.task.id === taskId) && until(d.event.task)
        ? d.event.task
        : undefined
  )

const final = (t: Task) => isFinal(t.status)

describe("tasks", () => {
  layer(TestServerWithModel(), { excludeTestServices: true, timeout: 180_000 })((it) => {
    it.effect("a task is planned, worked on step by step and its result posted once in its thread", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room, teammate } = yield* setup
        const root = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "launch prep" } })
        const created = yield* ana.api.tasks.create({
          path: { room: room.id },
          payload: { teammateId: teammate.id, goal: "Draft the launch checklist", threadId: root.id }
        })
        expect(created).toMatchObject({ status: "queued", steps: [], goal: "Draft the launch checklist" })

        const done = yield* taskWhen(ben.token, created.id, final)
        expect(done.status).toBe("succeeded")
        expect(done.steps.length).toBeGreaterThan(0)
        expect(done.steps.every((s) => s.status === "done" && s.output !== null)).toBe(true)
        expect(done.inputTokens).toBeGreaterThan(0)

        // Its creation was announced as task.created, queued.
        const [announced] = yield* readEvents({
          baseUrl: yield* baseUrl,
          token: ben.token,
          lastEventId: "0",
          count: 1,
          keep: (d: Delivered) => d.event.type === "task.created" && d.event.task.id === created.id
        })
        expect(announced?.event.type === "task.created" && announced.event.task.status).toBe("queued")
        // Progress was visible: a step running before it was done.
        const running = yield* taskWhen(ben.token, created.id, (t) => t.steps[0]?.status === "running")
        expect(running.status).toBe("running")

        // One result message, in the thread, by the teammate.
        const thread = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: { threadId: root.id } })
        const results = thread.messages.filter((m) => m.authorId === teammate.id)
        expect(results.map((m) => m.id)).toEqual([done.resultMessageId])
        expect(results[0]?.text).toMatch(/^Task done: Draft the launch checklist/)

        // It is a run of the teammate, with a step per model call, and counts in the org's usage.
        const runs = yield* ana.api.teammates.runs({ path: { org: org.id, teammate: teammate.id }, urlParams: {} })
        const run = runs.find((r) => r.id === created.id)
        expect(run?.status).toBe("completed")
        expect(run?.steps).toHaveLength(done.steps.length + 1)
        expect(run?.inputTokens).toBe(done.inputTokens)
        const usage = yield* ana.api.teammates.usage({ path: { org: org.id } })
        expect(usage.total.inputTokens).toBeGreaterThanOrEqual(done.inputTokens)

        expect(yield* ben.api.tasks.get({ path: { room: room.id, task: created.id } })).toEqual(done)
        expect((yield* ben.api.tasks.list({ path: { room: room.id }, urlParams: {} })).map((t) => t.id)).toEqual([
          created.id
        ])
        // A finished task cannot be cancelled.
        const late = yield* raw("POST", `/v1/rooms/${room.id}/tasks/${created.id}/cancel`, { token: ana.token })
        expect([late.status, late.text]).toEqual([409, expect.stringContaining("succeeded")])
      }))

    it.effect("a teammate starts a task with start_task; its result goes to the thread of the message it answered", () =>
      Effect.gen(function*() {
        const { ana, room, teammate } = yield* setup
        const asked = yield* ana.api.messages.post({
          path: { room: room.id },
          payload: { text: `@${teammate.handle} [[tool:start_task:{"goal":"Write the release notes"}]]` }
        })
        const started = yield* taskWhen(ana.token, "", (t) => t.goal === "Write the release notes")
        expect(started).toMatchObject({ createdByKind: "teammate", createdById: teammate.id, threadId: asked.id })
        const done = yield* taskWhen(ana.token, started.id, final)
        expect(done.status).toBe("succeeded")
        const thread = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: { threadId: asked.id } })
        expect(thread.messages.map((m) => m.id)).toContain(done.resultMessageId)
        const page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })
        const reply = page.messages.find((m) => m.authorId === teammate.id)
        expect(reply?.text).toBe(`done: started task ${started.id}: Write the release notes`)
        expect(yield* ana.api.tasks.list({ path: { room: room.id }, urlParams: {} })).toHaveLength(1)
      }))

    it.effect("a cancelled task stops before its next step and posts no result", () =>
      Effect.gen(function*() {
        const { ana, ben, room, teammate } = yield* setup
        const created = yield* ana.api.tasks.create({
          path: { room: room.id },
          payload: { teammateId: teammate.id, goal: "Compare the three vendors [[slow:150]]" }
        })
        yield* taskWhen(ana.token, created.id, (t) => t.status === "running")
        // Only whoever gave the task, or an admin, may cancel it.
        const refused = yield* raw("POST", `/v1/rooms/${room.id}/tasks/${created.id}/cancel`, { token: ben.token })
        expect(refused.status).toBe(403)
        const asked = yield* ana.api.tasks.cancel({ path: { room: room.id, task: created.id } })
        expect(asked.cancelRequested).toBe(true)
        const ended = yield* taskWhen(ana.token, created.id, final)
        expect(ended.status).toBe("cancelled")
        expect(ended.steps.some((s) => s.status !== "done")).toBe(true)
        const page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(page.messages.filter((m) => m.authorId === teammate.id)).toEqual([])
      }))

    it.effect("a task over the org's token budget fails with the reason in the room", () =>
      Effect.gen(function*() {
        const { ana, org, room, teammate } = yield* setup
        yield* ana.api.teammates.budget({ path: { org: org.id }, payload: { monthlyTokens: 1 } })
        const created = yield* ana.api.tasks.create({
          path: { room: room.id },
          payload: { teammateId: teammate.id, goal: "Summarise the quarter" }
        })
        const ended = yield* taskWhen(ana.token, created.id, final)
        expect(ended.status).toBe("failed")
        expect(ended.error).toContain("monthly budget of 1 tokens")
        const page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(page.messages.filter((m) => m.authorId === teammate.id).map((m) => m.text)).toEqual([
          expect.stringContaining("I could not finish the task")
        ])
      }))

    it.effect("bad task requests get typed errors and store nothing", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room, teammate } = yield* setup
        const other = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: `o-${slug()}` } })
        const notHere = yield* raw("POST", `/v1/rooms/${other.id}/tasks`, {
          token: ana.token,
          body: { teammateId: teammate.id, goal: "x" }
        })
        expect([notHere.status, notHere.text]).toEqual([422, expect.stringContaining("not in this room")])
        for (
          const body of [{ teammateId: teammate.id, goal: "  " }, { goal: "x" }, { teammateId: "nope", goal: "x" }]
        ) {
          expect((yield* raw("POST", `/v1/rooms/${room.id}/tasks`, { token: ana.token, body })).status).toBe(400)
        }
        const badThread = yield* raw("POST", `/v1/rooms/${room.id}/tasks`, {
          token: ana.token,
          body: { teammateId: teammate.id, goal: "x", threadId: randomUUID() }
        })
        expect(badThread.status).toBe(404)
        expect((yield* raw("GET", `/v1/rooms/${room.id}/tasks/${randomUUID()}`, { token: ben.token })).status).toBe(404)

        const guest = yield* person("Gus")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: guest.user.email, role: "guest" } })
        yield* ana.api.rooms.addMember({ path: { room: room.id }, payload: { userId: guest.user.id } })
        const asGuest = yield* raw("POST", `/v1/rooms/${room.id}/tasks`, {
          token: guest.token,
          body: { teammateId: teammate.id, goal: "x" }
        })
        expect(asGuest.status).toBe(403)

        const eve = yield* person("Eve")
        expect((yield* raw("GET", `/v1/rooms/${room.id}/tasks`, { token: eve.token })).status).toBe(404)
        expect(yield* ana.api.tasks.list({ path: { room: room.id }, urlParams: {} })).toEqual([])
      }))
  })
})
