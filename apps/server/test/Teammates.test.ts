import { describe, expect, layer } from "@effect/vitest"
import type { Delivered } from "@troupe/domain/Event"
import type { TeammateId } from "@troupe/domain/Ids"
import type { Message } from "@troupe/domain/Message"
import type { Run, Teammate } from "@troupe/domain/Teammate"
import { FakeOpenAI } from "@troupe/llm/testing/FakeOpenAI"
import * as Database from "@troupe/store/Database"
import { Effect, Fiber, Option, Schema } from "effect"
import { baseUrl, eventually, person, raw, readEvents, slug, TestServerWithModel, watch } from "./Harness.js"

/** An org with a room, a person (Ana) and a hired teammate in the room. */
const setup = (busyPolicy: Teammate["busyPolicy"] = "queue", handle = "rhea") =>
  Effect.gen(function*() {
    const ana = yield* person("Ana")
    const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
    const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
    const teammate = yield* ana.api.teammates.hire({
      path: { org: org.id },
      payload: { template: "researcher", handle, busyPolicy }
    })
    yield* ana.api.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: teammate.id } })
    const { position } = yield* ana.api.rooms.list({ path: { org: org.id } })
    return { ana, org, room, teammate, position, url: yield* baseUrl }
  })

type Setup = Effect.Effect.Success<ReturnType<typeof setup>>

const replies = (s: Setup) =>
  Effect.map(
    s.ana.api.messages.list({ path: { room: s.room.id }, urlParams: { limit: 200 } }),
    (page) => page.messages.filter((m) => m.authorKind === "teammate")
  )

/** Waits until the teammate has `n` settled runs, and returns them oldest first. */
const settledRuns = (s: Setup, n: number, teammateId: TeammateId = s.teammate.id) =>
  eventually(
    Effect.map(
      s.ana.api.teammates.runs({ path: { org: s.org.id, teammate: teammateId }, urlParams: {} }),
      (runs) => {
        const settled = runs.filter((r) => r.status !== "running")
        return settled.length >= n && settled.length === runs.length
          ? Option.some([...runs].reverse())
          : Option.none<Array<Run>>()
      }
    ),
    "20 seconds"
  )

const say = (s: Setup, text: string) => s.ana.api.messages.post({ path: { room: s.room.id }, payload: { text } })

/** Waits until the teammate's current turn is streaming its reply (its first delta reached Ana's stream). */
const streaming = (s: Setup) =>
  readEvents({
    baseUrl: s.url,
    token: s.ana.token,
    lastEventId: s.position,
    count: 1,
    keep: (d) => d.event.type === "message.delta"
  })
    .pipe(Effect.filterOrFail((got) => got.length === 1, () => new Error("no turn started streaming")))

/** The triggers recorded for a teammate (read as the tables' owner). */
const triggersOf = (teammateId: string) =>
  Effect.flatMap(
    Database.AdminSql,
    (sql) =>
      sql<
        { messageId: string; status: string }
      >`SELECT message_id, status FROM teammate_triggers WHERE teammate_id = ${teammateId}`
  )

describe("teammates", () => {
  layer(TestServerWithModel({ ALLOWED_MODELS: "gpt-4o-mini,gpt-4o,o3-mini" }), {
    excludeTestServices: true,
    timeout: 300_000
  })((it) => {
    it.effect("the catalog lists curated and code-defined kinds with instructions and tools", () =>
      Effect.gen(function*() {
        const ana = yield* person("Ana")
        const catalog = yield* ana.api.teammates.catalog()
        expect(catalog.length).toBeGreaterThanOrEqual(6)
        for (const entry of catalog) {
          expect(entry.instructions.length).toBeGreaterThan(40)
          expect(entry.tools.length).toBeGreaterThan(0)
        }
        expect(catalog.find((e) => e.template === "standup-host")?.source).toBe("code")
      }))

    it.effect("a mention gets a streamed reply: deltas on the stream, then the final message and a completed run", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const watch = yield* readEvents({
          baseUrl: s.url,
          token: s.ana.token,
          lastEventId: s.position,
          count: 1,
          keep: (d) => d.event.type === "run.completed",
          timeout: "20 seconds"
        }).pipe(Effect.fork)
        const all = yield* readEvents({
          baseUrl: s.url,
          token: s.ana.token,
          lastEventId: s.position,
          count: 200,
          keep: () => true,
          timeout: "6 seconds"
        }).pipe(Effect.fork)
        yield* say(s, "@rhea what is our launch date? [[slow:40]]")
        yield* Fiber.join(watch)
        const events: ReadonlyArray<Delivered> = yield* Fiber.join(all)
        const deltas = events.flatMap((d) => d.event.type === "message.delta" ? [d.event] : [])
        expect(deltas.length).toBeGreaterThanOrEqual(2)
        const reply = events.flatMap((d) =>
          d.event.type === "message.created" && d.event.message.authorKind === "teammate" ? [d.event.message] : []
        )
        expect(reply).toHaveLength(1)
        expect(reply[0]!.authorId).toBe(s.teammate.id)
        expect(deltas.map((d) => d.text).join("")).toBe(reply[0]!.text)
        expect(deltas.map((d) => d.offset)).toEqual(
          deltas.map((_, i) => deltas.slice(0, i).reduce((n, d) => n + d.text.length, 0))
        )
        expect(reply[0]!.text).toContain("what is our launch date")
        const firstDelta = events.findIndex((d) => d.event.type === "message.delta")
        const created = events.findIndex((d) =>
          d.event.type === "message.created" && d.event.message.authorKind === "teammate"
        )
        expect(firstDelta).toBeLessThan(created)
        const [run] = yield* settledRuns(s, 1)
        expect(run!.status).toBe("completed")
        expect(run!.replyMessageId).toBe(reply[0]!.id)
        expect(run!.inputTokens).toBeGreaterThan(0)
        expect(run!.outputTokens).toBeGreaterThan(0)
        expect(run!.steps.map((st) => st.kind)).toEqual(["model"])
        expect(events.some((d) => d.event.type === "run.started")).toBe(true)
      }))

    it.effect("tool calls are recorded as run steps and memories keep their source message", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const asked = yield* say(s, `@rhea [[tool:remember:{"fact":"the launch is on Friday"}]]`)
        const [run] = yield* settledRuns(s, 1)
        expect(run!.status).toBe("completed")
        expect(run!.steps.map((st) => [st.kind, st.name])).toEqual([["model", "gpt-4o-mini"], ["tool", "remember"], [
          "model",
          "gpt-4o-mini"
        ]])
        const memory = yield* s.ana.api.teammates.memory({ path: { org: s.org.id, teammate: s.teammate.id } })
        expect(memory.entries.map((e) => [e.text, e.sourceMessageId, e.roomId])).toEqual([[
          "the launch is on Friday",
          asked.id,
          s.room.id
        ]])
        const [reply] = yield* replies(s)
        expect(reply!.text).toBe("done: remembered: the launch is on Friday")
        // Each step has its own duration; the model streams with 30 ms between chunks, so its call took that at least.
        expect(run!.steps.map((st) => st.error)).toEqual([null, null, null])
        expect(run!.steps.every((st) => st.durationMs !== null && st.durationMs >= 0)).toBe(true)

        // A call the teammate gets wrong is a step with what was wrong.
        yield* say(s, `@rhea [[slow:30]] [[tool:remember:{"note":"no fact"}]]`)
        const [, wrong] = yield* settledRuns(s, 2)
        const tool = wrong!.steps.find((st) => st.kind === "tool")
        expect(tool).toMatchObject({ name: "remember" })
        expect(tool!.error).toContain("invalid arguments")
        const model = wrong!.steps.find((st) => st.kind === "model")
        expect(model!.durationMs).toBeGreaterThanOrEqual(30)
      }))

    it.effect("an admin unarchives and deletes a room; a deleted room's messages and memories are gone", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const ben = yield* person("Ben")
        yield* s.ana.api.orgs.addMember({ path: { org: s.org.id }, payload: { email: ben.user.email } })
        yield* ben.api.rooms.join({ path: { room: s.room.id } })
        yield* say(s, `@rhea [[tool:remember:{"fact":"the vault code is 4711"}]]`)
        yield* settledRuns(s, 1)
        const remembered = yield* s.ana.api.teammates.memory({ path: { org: s.org.id, teammate: s.teammate.id } })
        expect(remembered.entries.map((e) => e.text)).toEqual(["the vault code is 4711"])

        // Archived, it refuses messages; a member cannot take it back, an admin can.
        yield* s.ana.api.rooms.archive({ path: { room: s.room.id } })
        const refused = yield* raw("POST", `/v1/rooms/${s.room.id}/messages`, { token: ben.token, body: { text: "x" } })
        expect(refused.status).toBe(409)
        expect((yield* raw("POST", `/v1/rooms/${s.room.id}/unarchive`, { token: ben.token })).status).toBe(403)
        const back = yield* s.ana.api.rooms.unarchive({ path: { room: s.room.id } })
        expect(back.archived).toBe(false)
        yield* ben.api.messages.post({ path: { room: s.room.id }, payload: { text: "vault code is 4711, right?" } })

        // Deleted: the stream says so, and nothing of the room can be read any more.
        const fresh = yield* ben.api.rooms.list({ path: { org: s.org.id } })
        expect((yield* raw("DELETE", `/v1/rooms/${s.room.id}`, { token: ben.token })).status).toBe(403)
        const deleted = yield* watch({
          baseUrl: s.url,
          token: ben.token,
          lastEventId: fresh.position,
          count: 1,
          keep: (d) => d.event.type === "room.deleted"
        })
        expect((yield* raw("DELETE", `/v1/rooms/${s.room.id}`, { token: s.ana.token })).status).toBe(204)
        const [event] = yield* Fiber.join(deleted)
        expect(event?.event).toMatchObject({ type: "room.deleted", roomId: s.room.id })
        for (const path of [`/v1/rooms/${s.room.id}`, `/v1/rooms/${s.room.id}/messages`]) {
          expect((yield* raw("GET", path, { token: s.ana.token })).status).toBe(404)
        }
        expect((yield* raw("DELETE", `/v1/rooms/${s.room.id}`, { token: s.ana.token })).status).toBe(404)
        expect((yield* s.ana.api.rooms.list({ path: { org: s.org.id } })).rooms.map((r) => r.id)).not.toContain(
          s.room.id
        )
        expect(yield* s.ana.api.orgs.search({ path: { org: s.org.id }, urlParams: { q: "vault" } })).toEqual([])
        const after = yield* s.ana.api.teammates.memory({ path: { org: s.org.id, teammate: s.teammate.id } })
        expect(after.entries).toEqual([])
        // The teammate and the org's other rooms are untouched.
        expect((yield* s.ana.api.teammates.get({ path: { org: s.org.id, teammate: s.teammate.id } })).id).toBe(
          s.teammate.id
        )
      }))

    it.effect("direct messages with a teammate are answered without a mention", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const dm = yield* s.ana.api.teammates.openDm({ path: { org: s.org.id, teammate: s.teammate.id } })
        const again = yield* s.ana.api.teammates.openDm({ path: { org: s.org.id, teammate: s.teammate.id } })
        expect(again.id).toBe(dm.id)
        yield* s.ana.api.messages.post({ path: { room: dm.id }, payload: { text: "hello there" } })
        const reply = yield* eventually(Effect.map(
          s.ana.api.messages.list({ path: { room: dm.id }, urlParams: {} }),
          (p) => Option.fromNullable(p.messages.find((m) => m.authorKind === "teammate"))
        ))
        expect(reply.text).toContain("hello there")
      }))

    it.effect("model errors are retried; a turn that still fails says so in the room and frees the teammate", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        yield* say(s, "@rhea flaky [[500x2]]")
        const [ok] = yield* settledRuns(s, 1)
        expect(ok!.status).toBe("completed")
        yield* say(s, "@rhea broken [[500]]")
        const [, failed] = yield* settledRuns(s, 2)
        expect(failed!.status).toBe("failed")
        expect(failed!.error).toContain("model failed")
        yield* say(s, "@rhea are you back?")
        const runs = yield* settledRuns(s, 3)
        expect(runs[2]!.status).toBe("completed")
        const texts = (yield* replies(s)).map((m) => m.text)
        expect(texts).toHaveLength(3)
        expect(texts[1]).toContain("couldn't finish")
        expect(texts[2]).toContain("are you back?")
      }))

    it.effect("a reply whose stream breaks midway is restarted: streams are told to drop it, and it is posted once", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const fake = yield* FakeOpenAI
        const seen = yield* readEvents({
          baseUrl: s.url,
          token: s.ana.token,
          lastEventId: s.position,
          count: 2,
          keep: (d) =>
            (d.event.type === "message.delta" && d.event.restart) ||
            (d.event.type === "message.created" && d.event.message.authorKind === "teammate"),
          timeout: "20 seconds"
        }).pipe(Effect.fork)
        yield* say(s, "@rhea cut [[brokenx1]] short")
        const [restart, created] = yield* Fiber.join(seen)
        expect(restart?.event.type === "message.delta" && restart.event.offset).toBe(0)
        expect(created?.event.type === "message.created" && created.event.message.text).toBe(
          "echo: Ana: @rhea cut short"
        )
        const [run] = yield* settledRuns(s, 1)
        expect(run!.status).toBe("completed")
        expect((yield* replies(s)).map((m) => m.text)).toEqual(["echo: Ana: @rhea cut short"])
        // The broken call and its restart: two requests, not a nested retry loop's more.
        const calls = fake.requests().filter((r) => JSON.stringify(r).includes("cut [[brokenx1]] short"))
        expect(calls).toHaveLength(2)
      }))

    it.effect("busy policy queue: a message during a turn gets its own next turn", () =>
      Effect.gen(function*() {
        const s = yield* setup("queue")
        yield* say(s, "@rhea first [[slow:150]]")
        yield* streaming(s)
        yield* say(s, "@rhea second")
        const runs = yield* settledRuns(s, 2)
        expect(runs.map((r) => r.status)).toEqual(["completed", "completed"])
        const texts = (yield* replies(s)).map((m) => m.text)
        expect(texts[0]).toContain("first")
        expect(texts[1]).toContain("second")
      }))

    it.effect("busy policy merge: messages during a turn fold into one next turn", () =>
      Effect.gen(function*() {
        const s = yield* setup("merge")
        yield* say(s, "@rhea first [[slow:150]]")
        yield* streaming(s)
        yield* say(s, "@rhea second")
        yield* say(s, "@rhea third")
        const runs = yield* settledRuns(s, 2)
        // The second run carries both later triggers: none is left to start a third.
        expect(runs.map((r) => r.triggerIds.length)).toEqual([1, 2])
        expect(yield* replies(s)).toHaveLength(2)
      }))

    it.effect("busy policy interrupt: the running turn is cancelled and the new input answered", () =>
      Effect.gen(function*() {
        const s = yield* setup("interrupt")
        yield* say(s, "@rhea long one [[slow:300]]")
        yield* streaming(s)
        yield* say(s, "@rhea actually, this instead")
        const runs = yield* settledRuns(s, 2)
        expect(runs.map((r) => r.status)).toEqual(["interrupted", "completed"])
        const texts = (yield* replies(s)).map((m) => m.text)
        expect(texts).toHaveLength(1)
        expect(texts[0]).toContain("this instead")
      }))

    it.effect("busy policy reject: a message during a turn gets a clear busy reply", () =>
      Effect.gen(function*() {
        const s = yield* setup("reject")
        yield* say(s, "@rhea first [[slow:150]]")
        yield* streaming(s)
        yield* say(s, "@rhea second")
        // Both messages answered: the first by its run, the second at once with the busy reply.
        const texts = yield* eventually(
          Effect.map(replies(s), (r) => r.length === 2 ? Option.some(r.map((m) => m.text)) : Option.none())
        )
        const runs = yield* settledRuns(s, 1)
        expect(runs.map((r) => r.status)).toEqual(["completed"])
        expect(texts.some((t) => t.includes("busy"))).toBe(true)
        expect(texts.some((t) => t.includes("first"))).toBe(true)
      }))

    it.effect("the interrupt endpoint cancels the current turn and the teammate answers the next message", () =>
      Effect.gen(function*() {
        const s = yield* setup("queue")
        yield* say(s, "@rhea long one [[slow:300]]")
        yield* streaming(s)
        const result = yield* s.ana.api.teammates.interrupt({ path: { org: s.org.id, teammate: s.teammate.id } })
        expect(result.interrupted).toBe(true)
        yield* say(s, "@rhea quick one")
        const runs = yield* settledRuns(s, 2)
        expect(runs.map((r) => r.status)).toEqual(["interrupted", "completed"])
      }))

    it.effect("a teammate changed during a turn is announced still busy, with its queue", () =>
      Effect.gen(function*() {
        const s = yield* setup("queue")
        yield* say(s, "@rhea long one [[slow:300]]")
        yield* streaming(s)
        yield* say(s, "@rhea and then this")
        // The second message waits in the teammate's queue (its trigger is pending).
        yield* eventually(Effect.map(triggersOf(s.teammate.id), (rows) =>
          rows.some((r) => r.status === "pending")
            ? Option.some(true)
            : Option.none()))
        const heard = yield* watch({
          baseUrl: s.url,
          token: s.ana.token,
          count: 1,
          keep: (d) => d.event.type === "teammate.updated" && d.event.teammate.role === "Archivist"
        })
        yield* s.ana.api.teammates.update({
          path: { org: s.org.id, teammate: s.teammate.id },
          payload: { role: "Archivist" }
        })
        const [changed] = yield* Fiber.join(heard)
        expect(changed?.event).toMatchObject({ type: "teammate.updated", busy: true, queueDepth: 1 })
        yield* s.ana.api.teammates.interrupt({ path: { org: s.org.id, teammate: s.teammate.id } })
        yield* settledRuns(s, 2)
      }))

    it.effect("soft mentions: in an auto room the router picks at most one teammate and says why", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const editor = yield* s.ana.api.teammates.hire({ path: { org: s.org.id }, payload: { template: "editor" } })
        yield* s.ana.api.teammates.addToRoom({ path: { room: s.room.id }, payload: { teammateId: editor.id } })
        yield* s.ana.api.rooms.update({ path: { room: s.room.id }, payload: { routing: "auto" } })
        const decisions = yield* readEvents({
          baseUrl: s.url,
          token: s.ana.token,
          lastEventId: s.position,
          count: 2,
          keep: (d) => d.event.type === "routing.decided",
          timeout: "15 seconds"
        }).pipe(Effect.fork)
        yield* say(s, "could someone edit this draft for clarity and concision?")
        yield* say(s, "lunch at noon")
        const got = yield* Fiber.join(decisions)
        const chosen = got.flatMap((d) => d.event.type === "routing.decided" ? [d.event.teammateId] : [])
        expect(chosen).toEqual([editor.id, null])
        yield* settledRuns(s, 1, editor.id)
        const byTeammate = (yield* replies(s)).map((m) => m.authorId)
        expect(byTeammate).toEqual([editor.id])
      }))

    it.effect("usage is counted, and at the org budget a turn is refused with a visible message and event", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        yield* say(s, "@rhea count me")
        yield* settledRuns(s, 1)
        const usage = yield* s.ana.api.teammates.usage({ path: { org: s.org.id } })
        expect(usage.total.runs).toBe(1)
        expect(usage.total.inputTokens).toBeGreaterThan(0)
        expect(usage.teammates.map((l) => l.teammateId)).toEqual([s.teammate.id])
        yield* s.ana.api.teammates.budget({ path: { org: s.org.id }, payload: { monthlyTokens: 1 } })
        const limit = yield* readEvents({
          baseUrl: s.url,
          token: s.ana.token,
          lastEventId: s.position,
          count: 1,
          keep: (d) => d.event.type === "usage.limit_reached",
          timeout: "15 seconds"
        }).pipe(Effect.fork)
        yield* say(s, "@rhea one more")
        expect(yield* Fiber.join(limit)).toHaveLength(1)
        const texts = yield* eventually(
          Effect.map(replies(s), (r) => r.length === 2 ? Option.some(r.map((m) => m.text)) : Option.none())
        )
        expect(texts[1]).toContain("budget")
      }))

    it.effect("a dismissed teammate stops answering and its history stays readable", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        yield* say(s, "@rhea hi")
        yield* settledRuns(s, 1)
        const dismissed = yield* s.ana.api.teammates.dismiss({ path: { org: s.org.id, teammate: s.teammate.id } })
        expect(dismissed.dismissed).toBe(true)
        const asked = yield* say(s, "@rhea still there?")
        // The outbox reads messages in order: once a later message is answered, the earlier one was dispatched.
        const rex = yield* s.ana.api.teammates.hire({
          path: { org: s.org.id },
          payload: { template: "researcher", handle: "rex" }
        })
        yield* s.ana.api.teammates.addToRoom({ path: { room: s.room.id }, payload: { teammateId: rex.id } })
        yield* say(s, "@rex are you?")
        yield* settledRuns(s, 1, rex.id)
        expect(asked.mentions).toEqual([])
        expect((yield* replies(s)).map((m) => m.authorId)).toEqual([s.teammate.id, rex.id])
        const triggers = yield* triggersOf(s.teammate.id)
        expect(triggers.map((t) => t.messageId)).not.toContain(asked.id)
        const runs = yield* s.ana.api.teammates.runs({
          path: { org: s.org.id, teammate: s.teammate.id },
          urlParams: {}
        })
        expect(runs).toHaveLength(1)
      }))

    it.effect("a retried post (same clientMessageId) triggers the teammate once", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const payload = { text: "@rhea only once please", clientMessageId: "retry-1" }
        yield* s.ana.api.messages.post({ path: { room: s.room.id }, payload })
        yield* s.ana.api.messages.post({ path: { room: s.room.id }, payload })
        yield* settledRuns(s, 1)
        yield* s.ana.api.messages.post({ path: { room: s.room.id }, payload })
        // Repeats return the stored message and append nothing: only one message exists for the outbox to read.
        const stored = (yield* s.ana.api.messages.list({ path: { room: s.room.id }, urlParams: {} })).messages
        expect(stored.filter((m) => m.clientMessageId === "retry-1")).toHaveLength(1)
        expect(yield* triggersOf(s.teammate.id)).toHaveLength(1)
        const runs = yield* s.ana.api.teammates.runs({
          path: { org: s.org.id, teammate: s.teammate.id },
          urlParams: {}
        })
        expect(runs).toHaveLength(1)
        const texts: ReadonlyArray<Message> = yield* replies(s)
        expect(texts).toHaveLength(1)
      }))

    it.effect("a teammate hands off to another with its tool; the other answers once; both are org members", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const cora = yield* s.ana.api.teammates.hire({ path: { org: s.org.id }, payload: { template: "coordinator" } })
        const ed = yield* s.ana.api.teammates.hire({ path: { org: s.org.id }, payload: { template: "editor" } })
        for (const t of [cora, ed]) {
          yield* s.ana.api.teammates.addToRoom({ path: { room: s.room.id }, payload: { teammateId: t.id } })
        }
        const members = yield* s.ana.api.orgs.members({ path: { org: s.org.id } })
        expect(members.filter((m) => m.kind === "teammate").map((m) => m.handle).sort()).toEqual(["cora", "ed", "rhea"])
        yield* say(s, `@cora [[tool:hand_off:{"handle":"ed","note":"please tighten the draft"}]]`)
        const [coraRun] = yield* settledRuns(s, 1, cora.id)
        expect(coraRun!.steps.map((st) => st.name)).toContain("hand_off")
        const [edRun] = yield* settledRuns(s, 1, ed.id)
        expect(edRun!.status).toBe("completed")
        expect(yield* triggersOf(ed.id)).toHaveLength(1)
        const authors = (yield* replies(s)).map((m) => m.authorId)
        expect(authors).toEqual([cora.id, ed.id])
      }))

    it.effect("hiring checks its input: unknown template, missing fields, handle clashes, other orgs", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const unknown = yield* s.ana.api.teammates.hire({ path: { org: s.org.id }, payload: { template: "nope" } })
          .pipe(Effect.flip)
        expect(unknown._tag).toBe("NotFound")
        const partial = yield* s.ana.api.teammates.hire({ path: { org: s.org.id }, payload: { handle: "solo" } }).pipe(
          Effect.flip
        )
        expect(partial._tag).toBe("InvalidInput")
        const clash = yield* s.ana.api.teammates.hire({
          path: { org: s.org.id },
          payload: { handle: s.ana.user.handle, name: "Copy", role: "Mimic" }
        }).pipe(Effect.flip)
        expect(clash._tag).toBe("Conflict")
        const twice = yield* s.ana.api.teammates.hire({
          path: { org: s.org.id },
          payload: { template: "researcher", handle: "rhea" }
        }).pipe(Effect.flip)
        expect(twice._tag).toBe("Conflict")
        const badPolicy = yield* raw("POST", `/v1/orgs/${s.org.id}/teammates`, {
          token: s.ana.token,
          body: { handle: "x1", name: "X", role: "Y", busyPolicy: "sometimes" }
        })
        expect(badPolicy.status).toBe(400)
        const other = yield* person("Olga")
        const otherOrg = yield* other.api.orgs.create({ payload: { name: "Other", slug: slug() } })
        const foreign = yield* other.api.teammates.get({ path: { org: otherOrg.id, teammate: s.teammate.id } }).pipe(
          Effect.flip
        )
        expect(foreign._tag).toBe("NotFound")
        const intoOther = yield* other.api.teammates.get({ path: { org: s.org.id, teammate: s.teammate.id } }).pipe(
          Effect.flip
        )
        expect(intoOther._tag).toBe("NotFound")
      }))

    it.effect("the org's model policy: admins set it, hiring outside it is refused, a teammate whose model was dropped says so", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const policy = { path: { org: s.org.id } }
        const initial = yield* s.ana.api.teammates.modelPolicy(policy)
        expect(initial).toMatchObject({
          allowedModels: null,
          serverAllowedModels: ["gpt-4o-mini", "gpt-4o", "o3-mini"],
          local: false
        })

        const ben = yield* person("Ben")
        yield* s.ana.api.orgs.addMember({ path: { org: s.org.id }, payload: { email: ben.user.email } })
        const byMember = yield* ben.api.teammates.setModelPolicy({ ...policy, payload: { allowedModels: ["gpt-4o"] } })
          .pipe(Effect.flip)
        expect(byMember._tag).toBe("Forbidden")
        const offServer = yield* s.ana.api.teammates.setModelPolicy({
          ...policy,
          payload: { allowedModels: ["gpt-4o", "big-model"] }
        })
          .pipe(Effect.flip)
        expect(offServer._tag).toBe("InvalidInput")
        expect(offServer.message).toContain("big-model")
        const empty = yield* raw("PUT", `/v1/orgs/${s.org.id}/model-policy`, {
          token: s.ana.token,
          body: { allowedModels: [] }
        })
        expect(empty.status).toBe(400)
        expect((yield* s.ana.api.teammates.modelPolicy(policy)).allowedModels).toBeNull()

        const narrowed = yield* s.ana.api.teammates.setModelPolicy({
          ...policy,
          payload: { allowedModels: ["gpt-4o", "o3-mini"] }
        })
        expect(narrowed.allowedModels).toEqual(["gpt-4o", "o3-mini"])
        const outside = yield* s.ana.api.teammates.hire({
          path: { org: s.org.id },
          payload: { template: "researcher", handle: "rex", model: "gpt-4o-mini" }
        }).pipe(Effect.flip)
        expect(outside._tag).toBe("InvalidInput")
        expect(outside.message).toContain("model policy")
        const defaulted = yield* s.ana.api.teammates.hire({
          path: { org: s.org.id },
          payload: { template: "researcher", handle: "rex" }
        })
        expect(defaulted.model).toBe("gpt-4o")

        // Rhea was hired on gpt-4o-mini before the policy: her turn is refused, visibly.
        yield* say(s, "@rhea are you there?")
        const refusal = yield* eventually(
          Effect.map(replies(s), (r) => r.length === 1 ? Option.some(r[0]!.text) : Option.none())
        )
        expect(refusal).toContain("model policy")

        yield* s.ana.api.teammates.update({
          path: { org: s.org.id, teammate: s.teammate.id },
          payload: { model: "o3-mini" }
        })
        yield* say(s, "@rhea and now?")
        const [answered] = yield* settledRuns(s, 1)
        expect(answered!.status).toBe("completed")
        expect(answered!.steps[0]!.name).toBe("o3-mini")
      }))

    it.effect("a turn's context names the people in the room with their org roles", () =>
      Effect.gen(function*() {
        const s = yield* setup()
        const ben = yield* person("Ben")
        yield* s.ana.api.orgs.addMember({ path: { org: s.org.id }, payload: { email: ben.user.email, role: "guest" } })
        yield* s.ana.api.rooms.addMember({ path: { room: s.room.id }, payload: { userId: ben.user.id } })
        const members = yield* s.ana.api.rooms.members({ path: { room: s.room.id } })
        expect(members.map((m) => [m.handle, m.orgRole])).toEqual([
          [s.ana.user.handle, "owner"],
          ["rhea", null],
          [ben.user.handle, "guest"]
        ])
        const fake = yield* FakeOpenAI
        const before = fake.requests().length
        yield* say(s, "@rhea who is here?")
        yield* settledRuns(s, 1)
        const request = Schema.decodeUnknownSync(
          Schema.Struct({ messages: Schema.Array(Schema.Struct({ role: Schema.String, content: Schema.String })) })
        )(fake.requests()[before])
        const system = request.messages[0]!
        expect(system.role).toBe("system")
        expect(system.content).toContain(`Ana (@${s.ana.user.handle}, org owner)`)
        expect(system.content).toContain(`Ben (@${ben.user.handle}, org guest)`)
        expect(system.content).toContain("(@rhea, AI teammate)")
      }))
  })
})
