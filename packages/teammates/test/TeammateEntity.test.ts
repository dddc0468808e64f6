/**
 * The teammate entity under the cluster's in-memory test runner, over a real
 * database, with a scripted model and the test clock: a trigger is answered,
 * triggers that arrive during a turn follow the busy policy, and a model that
 * never answers fails the turn when its timeout passes on the clock.
 */
import { ClusterWorkflowEngine, TestRunner } from "@effect/cluster"
import { describe, expect, layer } from "@effect/vitest"
import type { BusyPolicy } from "@troupe/domain/Teammate"
import { LanguageModel, type ModelChunk } from "@troupe/llm/LanguageModel"
import * as EventBus from "@troupe/realtime/EventBus"
import { AccountRepo } from "@troupe/store/AccountRepo"
import * as Database from "@troupe/store/Database"
import { LogWaker } from "@troupe/store/EventLog"
import { MessageRepo } from "@troupe/store/MessageRepo"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { RunRepo, type Trigger } from "@troupe/store/RunRepo"
import * as Store from "@troupe/store/Store"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import { Deferred, Effect, Fiber, Layer, Queue, Stream, TestClock } from "effect"
import { randomUUID } from "node:crypto"
import * as Catalog from "../src/Catalog.js"
import { triggerId } from "../src/Dispatcher.js"
import { TeammateEntity } from "../src/TeammateEntity.js"
import * as TeammateRuntime from "../src/TeammateRuntime.js"

/** One call of the scripted model: the last user message, and the gate a "[hold]" call waits on. */
interface Call {
  readonly text: string
  readonly release: Deferred.Deferred<void>
}

const nextCall = (calls: Queue.Queue<Call>, fragment: string): Effect.Effect<Call> =>
  Effect.flatMap(
    Queue.take(calls),
    (call) => call.text.includes(fragment) ? Effect.succeed(call) : nextCall(calls, fragment)
  )

/**
 * The scripted model. It answers "ok: <last user message>", except that a
 * message containing "[hold]" waits for its call's `release` first, and one
 * containing "[silent]" never sends a chunk. Every call is announced on `calls`.
 */
class Script extends Effect.Service<Script>()("test/Script", {
  effect: Effect.map(Queue.unbounded<Call>(), (calls) => ({
    calls,
    /** The next call whose text contains `fragment` (calls of earlier tests are skipped). */
    next: (fragment: string) => nextCall(calls, fragment)
  }))
}) {}

const ScriptedModel = Layer.effect(
  LanguageModel,
  Effect.map(Script, (script) =>
    LanguageModel.of({
      name: "local",
      stream: (request) => {
        const last = request.messages.filter((m) => m.role === "user").at(-1)?.content ?? ""
        const answer = Stream.make<Array<ModelChunk>>(
          { _tag: "Delta", text: `ok: ${last}` },
          { _tag: "Usage", inputTokens: 10, outputTokens: 5 }
        )
        return Stream.unwrap(Effect.gen(function*() {
          const release = yield* Deferred.make<void>()
          yield* Queue.offer(script.calls, { text: last, release })
          if (last.includes("[silent]")) return Stream.never
          if (last.includes("[hold]")) yield* Deferred.await(release)
          return answer
        }))
      }
    }))
)

const TestLive = TeammateRuntime.layer.pipe(
  Layer.provide(Catalog.layer()),
  Layer.provideMerge(Store.layer),
  Layer.provide([EventBus.layerMemory, LogWaker.none]),
  Layer.provide(ScriptedModel),
  Layer.provideMerge(Script.Default),
  Layer.provideMerge(ClusterWorkflowEngine.layer),
  Layer.provideMerge(TestRunner.layer),
  Layer.provideMerge(Database.layerTest)
)

/** An org with a person (Ana), a room, and a teammate in it with the given busy policy. */
const world = (busyPolicy: BusyPolicy) =>
  Effect.gen(function*() {
    const tag = randomUUID().slice(0, 8)
    const { user } = yield* (yield* AccountRepo).signup({
      email: `ana-${tag}@example.com`,
      password: "correct horse battery staple",
      name: "Ana"
    })
    const org = yield* (yield* OrgRepo).create(user, { name: "Acme", slug: `acme-${tag}` })
    const room = yield* (yield* RoomRepo).create(org.id, user, { name: "general", kind: "public", topic: "" })
    const teammates = yield* TeammateRepo
    const mate = yield* teammates.create(org.id, user.id, {
      handle: "rhea",
      name: "Rhea",
      role: "Researcher",
      personality: "",
      instructions: "Answer briefly.",
      model: "local",
      tools: [],
      busyPolicy,
      template: null,
      monthlyTokenLimit: null
    })
    yield* teammates.addToRoom(org.id, room.id, mate.id)
    const client = (yield* TeammateEntity.client)(mate.id)

    /** Ana mentions Rhea; the trigger is recorded as the outbox would, and returned. */
    const mention = (text: string) =>
      Effect.gen(function*() {
        const { message } = yield* (yield* MessageRepo).post(
          room,
          { kind: "user", id: user.id, name: "Ana" },
          { text: `@rhea ${text}` }
        )
        const trigger: Trigger = {
          id: triggerId(message.id, mate.id),
          orgId: org.id,
          teammateId: mate.id,
          roomId: room.id,
          threadId: null,
          messageId: message.id,
          kind: "mention"
        }
        yield* (yield* RunRepo).addTrigger(trigger)
        return trigger
      })

    /** Sends the trigger to the entity; the answer is the trigger's outcome once settled. */
    const send = (t: Trigger) => client.Trigger({ triggerId: t.id, orgId: t.orgId })

    const replies = Effect.map(
      (yield* MessageRepo).page(room, user.id, { limit: 50 }),
      (page) => page.messages.filter((m) => m.authorKind === "teammate").map((m) => m.text)
    )
    const runs = (yield* RunRepo).list(org.id, mate.id, 50, [room.id])
    return { mention, send, replies, runs }
  })

describe("the teammate entity", () => {
  layer(TestLive, { timeout: 120_000 })((it) => {
    it.effect("answers a trigger: the model's reply is posted, the run completed, the trigger done", () =>
      Effect.gen(function*() {
        const w = yield* world("queue")
        const outcome = yield* w.send(yield* w.mention("what is the plan?"))
        expect(outcome).toBe("done")
        expect(yield* w.replies).toEqual(["ok: Ana: @rhea what is the plan?"])
        const [run] = yield* w.runs
        expect(run?.status).toBe("completed")
        expect([run?.inputTokens, run?.outputTokens]).toEqual([10, 5])
      }))

    it.effect("merge: triggers that arrive during a turn fold into one next turn", () =>
      Effect.gen(function*() {
        const script = yield* Script
        const w = yield* world("merge")
        const first = yield* Effect.fork(w.send(yield* w.mention("first [hold]")))
        const held = yield* script.next("first [hold]")
        // The turn is waiting on the model: two more mentions arrive.
        const second = yield* Effect.fork(w.send(yield* w.mention("second")))
        const third = yield* Effect.fork(w.send(yield* w.mention("third")))
        yield* Deferred.succeed(held.release, undefined)
        expect(yield* Fiber.join(first)).toBe("done")
        expect([yield* Fiber.join(second), yield* Fiber.join(third)]).toEqual(["done", "merged"])
        // Two turns in all: the held one, then one for both later mentions.
        const runs = yield* w.runs
        expect(runs.map((r) => r.triggerIds.length).sort()).toEqual([1, 2])
        expect(yield* w.replies).toEqual(["ok: Ana: @rhea first [hold]", "ok: Ana: @rhea third"])
      }))

    it.effect("reject: a trigger that arrives during a turn is answered busy at once", () =>
      Effect.gen(function*() {
        const script = yield* Script
        const w = yield* world("reject")
        const first = yield* Effect.fork(w.send(yield* w.mention("long one [hold]")))
        const held = yield* script.next("long one [hold]")
        expect(yield* w.send(yield* w.mention("are you there?"))).toBe("rejected")
        yield* Deferred.succeed(held.release, undefined)
        expect(yield* Fiber.join(first)).toBe("done")
        const replies = yield* w.replies
        expect(replies).toHaveLength(2)
        expect(replies[0]).toContain("busy")
        expect(replies[1]).toBe("ok: Ana: @rhea long one [hold]")
      }))

    it.effect("a model that never answers fails the turn once every attempt timed out, and frees the teammate", () =>
      Effect.gen(function*() {
        const script = yield* Script
        const w = yield* world("queue")
        const silent = yield* Effect.fork(w.send(yield* w.mention("hello? [silent]")))
        yield* script.next("[silent]")
        // Drive the test clock until the turn settles: each attempt's first-chunk timeout and the backoff between.
        const clock = yield* Effect.fork(
          Effect.forever(Effect.zipRight(TestClock.adjust("1 second"), Effect.yieldNow()))
        )
        expect(yield* Fiber.join(silent)).toBe("failed")
        yield* Fiber.interrupt(clock)
        // MODEL_ATTEMPTS (3) calls in all: the one above and two more.
        yield* script.next("[silent]")
        yield* script.next("[silent]")
        expect(yield* Queue.size(script.calls)).toBe(0)
        const [run] = yield* w.runs
        expect(run?.status).toBe("failed")
        expect(run?.error).toContain("first chunk")
        expect((yield* w.replies)[0]).toContain("couldn't finish")
        // The teammate takes the next message.
        expect(yield* w.send(yield* w.mention("now?"))).toBe("done")
      }))
  })
})
