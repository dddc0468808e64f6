/**
 * Access changes made on one node take effect on streams open on another:
 * removal, demotion, log-out and key revocation, with two real server
 * processes over one Postgres and Redis.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as EventStream from "@troupe/client/EventStream"
import * as TroupeClient from "@troupe/client/TroupeClient"
import type { Delivered } from "@troupe/domain/Event"
import * as Database from "@troupe/store/Database"
import { Chunk, Effect, Fiber, Stream } from "effect"
import { email, messageTexts, slug, testConfig } from "./Harness.js"
import { freePort, nodeEnv, requireRedis, startNode } from "./Processes.js"

const password = "correct horse battery"

/** Reads a stream until `stop` holds for an event (included) or the server ends it; fails after 30 s. */
const read = (baseUrl: string, token: string, lastEventId: string, stop: (d: Delivered) => boolean = () => false) =>
  EventStream.open({ baseUrl, token, lastEventId }).pipe(
    Stream.takeUntil(stop),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.timeoutFail({
      duration: "30 seconds",
      onTimeout: () => new Error("the stream neither ended nor saw its marker")
    }),
    Effect.fork
  )

const isMarker = (d: Delivered) => d.event.type === "message.created" && d.event.message.text === "marker"

describe("access changes across nodes", () => {
  it.live(
    "removal, demotion, log-out and key revocation made on one node reach streams open on another",
    () =>
      Effect.gen(function*() {
        yield* requireRedis
        const database = yield* Database.makeTestDatabase
        const env = nodeEnv()
        const a = yield* startNode(database, { ...env, CLUSTER_RUNNER_PORT: String(yield* freePort) }, "a")
        const b = yield* startNode(database, { ...env, CLUSTER_RUNNER_PORT: String(yield* freePort) }, "b")
        const anonymous = yield* TroupeClient.make({ baseUrl: b.url })
        const signup = (name: string) => anonymous.auth.signup({ payload: { email: email(name), password, name } })
        const [ana, ben, cat, dan] = yield* Effect.all([signup("Ana"), signup("Ben"), signup("Cat"), signup("Dan")])
        const anaOnB = yield* TroupeClient.make({ baseUrl: b.url, token: ana!.token })
        const org = yield* anaOnB.orgs.create({ payload: { name: "Acme", slug: slug() } })
        const other = yield* anaOnB.orgs.create({ payload: { name: "Other", slug: slug() } })
        const secret = yield* anaOnB.rooms.create({
          path: { org: org.id },
          payload: { name: "secret", kind: "private" }
        })
        const lobby = yield* anaOnB.rooms.create({ path: { org: other.id }, payload: { name: "lobby" } })
        for (const p of [ben!, cat!, dan!]) {
          yield* anaOnB.orgs.addMember({ path: { org: org.id }, payload: { email: p.user.email } })
          yield* anaOnB.orgs.addMember({ path: { org: other.id }, payload: { email: p.user.email } })
          yield* anaOnB.rooms.addMember({ path: { room: secret.id }, payload: { userId: p.user.id } })
          yield* anaOnB.rooms.addMember({ path: { room: lobby.id }, payload: { userId: p.user.id } })
        }
        const key = yield* anaOnB.orgs.createApiKey({ path: { org: org.id }, payload: { name: "ci" } })
        const { position } = yield* anaOnB.rooms.list({ path: { org: org.id } })

        // Streams on node A; every change is made through node B.
        const benStream = yield* read(a.url, ben!.token, position, isMarker)
        const catStream = yield* read(a.url, cat!.token, position, isMarker)
        const danStream = yield* read(a.url, dan!.token, position)
        const keyStream = yield* read(a.url, key.secret, position)
        yield* anaOnB.messages.post({ path: { room: secret.id }, payload: { text: "before" } })
        yield* anaOnB.orgs.removeMember({ path: { org: org.id, user: ben!.user.id } })
        yield* anaOnB.orgs.changeRole({ path: { org: org.id, user: cat!.user.id }, payload: { role: "guest" } })
        yield* (yield* TroupeClient.make({ baseUrl: b.url, token: dan!.token })).auth.logout()
        yield* anaOnB.orgs.revokeApiKey({ path: { org: org.id, key: key.key.id } })
        yield* anaOnB.rooms.create({ path: { org: org.id }, payload: { name: "after-public" } })
        yield* anaOnB.messages.post({ path: { room: secret.id }, payload: { text: "after" } })
        yield* anaOnB.messages.post({ path: { room: lobby.id }, payload: { text: "marker" } })

        const bens = yield* Fiber.join(benStream)
        expect(messageTexts(bens)).toEqual(["before", "marker"])
        expect(bens.some((d) => d.event.type === "org.member.left")).toBe(true)

        const cats = yield* Fiber.join(catStream)
        expect(messageTexts(cats)).toEqual(["before", "after", "marker"])
        const demoted = cats.findIndex((d) =>
          d.event.type === "org.member.updated" && d.event.member.id === cat!.user.id
        )
        expect(demoted).toBeGreaterThan(-1)
        expect(cats.slice(demoted).some((d) => d.event.type === "room.created")).toBe(false)

        const dans = yield* Fiber.join(danStream)
        expect(dans.at(-1)?.event).toMatchObject({ type: "access.revoked", credential: "session" })
        expect(messageTexts(dans)).toEqual(["before"])

        const keys = yield* Fiber.join(keyStream)
        expect(keys.at(-1)?.event).toMatchObject({
          type: "access.revoked",
          credential: "api_key",
          credentialId: key.key.id
        })
      }).pipe(
        Effect.timeoutFail({
          duration: "150 seconds",
          onTimeout: () => new Error("the scenario did not finish in 150 s")
        }),
        Effect.scoped,
        Effect.provide(FetchHttpClient.layer),
        Effect.provide(testConfig())
      ),
    180_000
  )
})
