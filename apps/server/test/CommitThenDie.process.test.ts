/**
 * A node killed right after it committed a message: the message was stored,
 * so the teammate it mentions answers it, exactly once, from the nodes that
 * are left. Teammates hear of messages from the event log (the outbox), not
 * from the request that stored them.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as TroupeClient from "@troupe/client/TroupeClient"
import * as Database from "@troupe/store/Database"
import { Context, Effect, Fiber, Layer, Option, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import { email, eventually, slug, testConfig } from "./Harness.js"
import { fastFailover, freePort, nodeEnv, requireRedis, startNode } from "./Processes.js"

describe("a node that dies right after a commit", () => {
  it.live(
    "a stored message that mentions a teammate is answered once, though the node that stored it was killed",
    () =>
      Effect.gen(function*() {
        yield* requireRedis
        const database = yield* Database.makeTestDatabase
        const env = { ...nodeEnv(), ...fastFailover }
        const a = yield* startNode(database, { ...env, CLUSTER_RUNNER_PORT: String(yield* freePort) }, "a")
        const b = yield* startNode(database, { ...env, CLUSTER_RUNNER_PORT: String(yield* freePort) }, "b")
        const admin = Context.get(yield* Layer.build(Database.layerAdmin(database)), Database.AdminSql)

        const anonymous = yield* TroupeClient.make({ baseUrl: b.url })
        const ana = yield* anonymous.auth.signup({
          payload: { email: email("ana"), password: "correct horse battery", name: "Ana" }
        })
        const onB = yield* TroupeClient.make({ baseUrl: b.url, token: ana.token })
        const onA = yield* TroupeClient.make({ baseUrl: a.url, token: ana.token })
        const org = yield* onB.orgs.create({ payload: { name: "Acme", slug: slug() } })
        const room = yield* onB.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        const rhea = yield* onB.teammates.hire({
          path: { org: org.id },
          payload: { template: "researcher", handle: "rhea" }
        })
        yield* onB.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: rhea.id } })

        // Post through A, and kill A the moment the message is committed (seen from another connection).
        const clientMessageId = randomUUID()
        const posting = yield* onA.messages.post({
          path: { room: room.id },
          payload: { text: "@rhea what did we decide?", clientMessageId }
        }).pipe(Effect.either, Effect.fork)
        const stored = admin<{ id: string }>`SELECT id FROM messages WHERE client_message_id = ${clientMessageId}`
        const [message] = yield* stored.pipe(
          Effect.filterOrFail((rows) => rows.length > 0),
          Effect.retry(Schedule.spaced("1 millis"))
        )
        a.child.kill("SIGKILL")
        yield* Fiber.join(posting)

        const replies = Effect.map(
          onB.messages.list({ path: { room: room.id }, urlParams: { limit: 50 } }),
          (page) => page.messages.filter((m) => m.authorKind === "teammate")
        )
        const runs = onB.teammates.runs({ path: { org: org.id, teammate: rhea.id }, urlParams: {} })
        const settled = yield* eventually(
          Effect.map(
            runs,
            (list) => list.length > 0 && list.every((r) => r.status === "completed") ? Option.some(list) : Option.none()
          ),
          "90 seconds"
        )
        expect(settled).toHaveLength(1)
        const answered = yield* replies
        expect(answered).toHaveLength(1)
        expect(answered[0]!.text).toContain("what did we decide")
        expect(settled[0]!.replyMessageId).toBe(answered[0]!.id)
        const [trigger] = yield* admin<{ messageId: string; status: string }>`
        SELECT message_id, status FROM teammate_triggers WHERE teammate_id = ${rhea.id}`
        expect(trigger).toEqual({ messageId: message!.id, status: "done" })
      }).pipe(
        Effect.timeoutFail({
          duration: "150 seconds",
          onTimeout: () => new Error("the scenario did not finish in 150 s")
        }),
        Effect.scoped,
        Effect.provide(Layer.merge(FetchHttpClient.layer, testConfig()))
      ),
    180_000
  )
})
