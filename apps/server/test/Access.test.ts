/**
 * Access taking effect on open streams and on the data behind teammates:
 * removal, demotion, log-out and key revocation end what a person (or key)
 * may receive; teammates' memory and runs show only rooms the reader can read.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as EventStream from "@troupe/client/EventStream"
import type { Delivered } from "@troupe/domain/Event"
import { Chunk, Effect, Fiber, Option, Stream } from "effect"
import { baseUrl, client, eventually, messageTexts, person, raw, readEvents, slug, TestServer } from "./Harness.js"

/** Reads a stream from `lastEventId` until the server ends it (failing after `timeout`). */
const untilEnd = (token: string, lastEventId: string) =>
  Effect.flatMap(baseUrl, (url) =>
    EventStream.open({ baseUrl: url, token, lastEventId }).pipe(
      Stream.runCollect,
      Effect.map(Chunk.toReadonlyArray),
      Effect.timeoutFail({
        duration: "15 seconds",
        onTimeout: () => new Error("the stream was not ended by the server")
      })
    ))

/** Reads a stream from `lastEventId` until a message with `text` arrives, and returns every event until then. */
const untilMessage = (token: string, lastEventId: string, text: string) =>
  Effect.flatMap(baseUrl, (url) =>
    EventStream.open({ baseUrl: url, token, lastEventId }).pipe(
      Stream.takeUntil((d) => d.event.type === "message.created" && d.event.message.text === text),
      Stream.runCollect,
      Effect.map(Chunk.toReadonlyArray),
      Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error(`"${text}" never arrived`) })
    ))

const types = (events: ReadonlyArray<Delivered>) => events.map((d) => d.event.type)

/** Ana owns an org with a private room that Ben is in, and a second org both are in (for markers). */
const setup = Effect.gen(function*() {
  const ana = yield* person("Ana")
  const ben = yield* person("Ben")
  const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
  yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
  const secret = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "secret", kind: "private" } })
  yield* ana.api.rooms.addMember({ path: { room: secret.id }, payload: { userId: ben.user.id } })
  const other = yield* ana.api.orgs.create({ payload: { name: "Other", slug: slug() } })
  yield* ana.api.orgs.addMember({ path: { org: other.id }, payload: { email: ben.user.email } })
  const lobby = yield* ana.api.rooms.create({ path: { org: other.id }, payload: { name: "lobby" } })
  yield* ben.api.rooms.join({ path: { room: lobby.id } })
  const { position } = yield* ben.api.rooms.list({ path: { org: org.id } })
  return { ana, ben, org, secret, other, lobby, position }
})

describe("access on open streams", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a member removed from the org stops receiving its events, private rooms included, and is told why", () =>
      Effect.gen(function*() {
        const s = yield* setup
        const stream = yield* untilMessage(s.ben.token, s.position, "marker").pipe(Effect.fork)
        yield* s.ana.api.messages.post({ path: { room: s.secret.id }, payload: { text: "before" } })
        yield* s.ana.api.orgs.removeMember({ path: { org: s.org.id, user: s.ben.user.id } })
        yield* s.ana.api.messages.post({ path: { room: s.secret.id }, payload: { text: "after removal" } })
        yield* s.ana.api.rooms.create({ path: { org: s.org.id }, payload: { name: "new-public" } })
        yield* s.ana.api.messages.post({ path: { room: s.lobby.id }, payload: { text: "marker" } })
        const got = yield* Fiber.join(stream)
        expect(messageTexts(got)).toEqual(["before", "marker"])
        const left = got.find((d) => d.event.type === "org.member.left")
        expect(left?.event).toMatchObject({ userId: s.ben.user.id, reason: "removed" })
        expect(got.filter((d) => d.orgId === s.org.id).at(-1)?.event.type).toBe("org.member.left")
        expect(types(got)).not.toContain("room.created")
        // The other members see the removal too.
        const seen = yield* readEvents({
          baseUrl: yield* baseUrl,
          token: s.ana.token,
          lastEventId: s.position,
          count: 1,
          keep: (d) => d.event.type === "org.member.left"
        })
        expect(seen.length).toBe(1)
      }))

    it.effect("a member demoted to guest stops receiving org-wide events but keeps their rooms", () =>
      Effect.gen(function*() {
        const s = yield* setup
        const stream = yield* untilMessage(s.ben.token, s.position, "marker").pipe(Effect.fork)
        yield* s.ana.api.rooms.create({ path: { org: s.org.id }, payload: { name: "seen-as-member" } })
        yield* s.ana.api.orgs.changeRole({ path: { org: s.org.id, user: s.ben.user.id }, payload: { role: "guest" } })
        yield* s.ana.api.rooms.create({ path: { org: s.org.id }, payload: { name: "hidden-from-guest" } })
        yield* s.ana.api.messages.post({ path: { room: s.secret.id }, payload: { text: "marker" } })
        const got = yield* Fiber.join(stream)
        const rooms = got.flatMap((d) => d.event.type === "room.created" ? [d.event.room.name] : [])
        expect(rooms).toEqual(["seen-as-member"])
        expect(got.find((d) => d.event.type === "org.member.updated")?.event).toMatchObject({
          member: { id: s.ben.user.id, role: "guest" }
        })
        expect(messageTexts(got)).toEqual(["marker"])
      }))

    it.effect("logging out ends the session's streams with access.revoked; other sessions go on", () =>
      Effect.gen(function*() {
        const s = yield* setup
        const anonymous = yield* client()
        const second = yield* anonymous.auth.login({
          payload: { email: s.ben.user.email, password: "correct horse battery" }
        })
        const ended = yield* untilEnd(s.ben.token, s.position).pipe(Effect.fork)
        const other = yield* untilMessage(second.token, s.position, "still here").pipe(Effect.fork)
        yield* s.ana.api.messages.post({ path: { room: s.secret.id }, payload: { text: "hello" } })
        yield* s.ben.api.auth.logout()
        yield* s.ana.api.messages.post({ path: { room: s.secret.id }, payload: { text: "still here" } })
        const got = yield* Fiber.join(ended)
        expect(messageTexts(got)).toEqual(["hello"])
        expect(got.at(-1)?.event).toMatchObject({
          type: "access.revoked",
          credential: "session",
          reason: "the session logged out"
        })
        const otherGot = yield* Fiber.join(other)
        expect(messageTexts(otherGot)).toEqual(["hello", "still here"])
        expect(types(otherGot)).not.toContain("access.revoked")
        const again = yield* raw("GET", "/v1/events", { token: s.ben.token })
        expect(again.status).toBe(401)
      }))

    it.effect("a revoked API key's stream ends with access.revoked", () =>
      Effect.gen(function*() {
        const s = yield* setup
        const key = yield* s.ana.api.orgs.createApiKey({ path: { org: s.org.id }, payload: { name: "ci" } })
        const { position } = yield* s.ana.api.rooms.list({ path: { org: s.org.id } })
        const ended = yield* untilEnd(key.secret, position).pipe(Effect.fork)
        const general = yield* s.ana.api.rooms.create({ path: { org: s.org.id }, payload: { name: "general" } })
        yield* s.ana.api.orgs.revokeApiKey({ path: { org: s.org.id, key: key.key.id } })
        const got = yield* Fiber.join(ended)
        expect(got.some((d) => d.event.type === "room.created" && d.event.room.id === general.id)).toBe(true)
        expect(got.at(-1)?.event).toMatchObject({
          type: "access.revoked",
          credential: "api_key",
          credentialId: key.key.id
        })
      }))

    it.effect("a key never has more power than its creator now: demotion caps it, removal revokes it", () =>
      Effect.gen(function*() {
        const s = yield* setup
        yield* s.ana.api.orgs.changeRole({ path: { org: s.org.id, user: s.ben.user.id }, payload: { role: "admin" } })
        const key = yield* s.ben.api.orgs.createApiKey({
          path: { org: s.org.id },
          payload: { name: "ops", role: "admin" }
        })
        const bot = yield* client(key.secret)
        expect((yield* bot.orgs.apiKeys({ path: { org: s.org.id } })).length).toBe(1)

        yield* s.ana.api.orgs.changeRole({ path: { org: s.org.id, user: s.ben.user.id }, payload: { role: "member" } })
        const denied = yield* raw("GET", `/v1/orgs/${s.org.id}/api-keys`, { token: key.secret })
        expect(denied.status).toBe(403)
        const listed = yield* s.ana.api.orgs.apiKeys({ path: { org: s.org.id } })
        expect(listed.map((k) => k.role)).toEqual(["member"])
        expect((yield* bot.orgs.get({ path: { org: s.org.id } })).role).toBe("member")

        const { position } = yield* s.ana.api.rooms.list({ path: { org: s.org.id } })
        const ended = yield* untilEnd(key.secret, position).pipe(Effect.fork)
        yield* s.ana.api.orgs.removeMember({ path: { org: s.org.id, user: s.ben.user.id } })
        const got = yield* Fiber.join(ended)
        expect(got.at(-1)?.event).toMatchObject({ type: "access.revoked", credentialId: key.key.id })
        const after = yield* raw("GET", `/v1/orgs/${s.org.id}`, { token: key.secret })
        expect(after.status).toBe(401)
        expect(yield* s.ana.api.orgs.apiKeys({ path: { org: s.org.id } })).toEqual([])
      }))

    it.effect("a long-poll after removal returns nothing of the org", () =>
      Effect.gen(function*() {
        const s = yield* setup
        yield* s.ana.api.orgs.removeMember({ path: { org: s.org.id, user: s.ben.user.id } })
        yield* s.ana.api.messages.post({ path: { room: s.secret.id }, payload: { text: "private" } })
        yield* s.ana.api.messages.post({ path: { room: s.lobby.id }, payload: { text: "marker" } })
        const texts: Array<string> = []
        let cursor = s.position
        yield* eventually(Effect.gen(function*() {
          const batch = yield* s.ben.api.events.poll({ urlParams: { after: cursor, timeoutMs: 1000 } })
          texts.push(...messageTexts(batch.events))
          cursor = batch.cursor
          return texts.includes("marker") ? Option.some(texts) : Option.none()
        }))
        expect(texts).toEqual(["marker"])
      }))
  })
})

describe("who sees a teammate's memory, runs and limits", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("memory and runs show only rooms the reader can read; guests see neither", () =>
      Effect.gen(function*() {
        const ana = yield* person("Ana")
        const ben = yield* person("Ben")
        const gus = yield* person("Gus")
        const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: gus.user.email, role: "guest" } })
        const secret = yield* ana.api.rooms.create({
          path: { org: org.id },
          payload: { name: "secret", kind: "private" }
        })
        const open = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "open" } })
        const rhea = yield* ana.api.teammates.hire({
          path: { org: org.id },
          payload: { template: "researcher", handle: "rhea" }
        })
        for (const room of [secret, open]) {
          yield* ana.api.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: rhea.id } })
        }
        yield* ana.api.messages.post({
          path: { room: secret.id },
          payload: { text: "@rhea remember that the merger is with Initech" }
        })
        yield* ana.api.messages.post({
          path: { room: open.id },
          payload: { text: "@rhea remember that lunch is at noon" }
        })
        const path = { org: org.id, teammate: rhea.id }
        yield* eventually(Effect.map(
          ana.api.teammates.runs({ path, urlParams: {} }),
          (runs) => runs.length === 2 && runs.every((r) => r.status === "completed") ? Option.some(runs) : Option.none()
        ))

        const anas = yield* ana.api.teammates.memory({ path })
        expect(anas.entries.map((e) => e.text).sort()).toEqual(["lunch is at noon", "the merger is with Initech"])
        const bens = yield* ben.api.teammates.memory({ path })
        expect(bens.entries.map((e) => e.text)).toEqual(["lunch is at noon"])
        const benRuns = yield* ben.api.teammates.runs({ path, urlParams: {} })
        expect(benRuns.map((r) => r.roomId)).toEqual([open.id])
        expect(JSON.stringify(benRuns)).not.toContain("Initech")

        for (const endpoint of ["memory", "runs"]) {
          const res = yield* raw("GET", `/v1/orgs/${org.id}/teammates/${rhea.id}/${endpoint}`, { token: gus.token })
          expect(res.status, endpoint).toBe(403)
        }
        const usage = yield* raw("GET", `/v1/orgs/${org.id}/usage`, { token: gus.token })
        expect(usage.status).toBe(403)
        expect((yield* ben.api.teammates.usage({ path: { org: org.id } })).total.runs).toBe(2)
      }))

    it.effect("token limits are admin-only, on hire and on change", () =>
      Effect.gen(function*() {
        const ana = yield* person("Ana")
        const ben = yield* person("Ben")
        const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
        const rhea = yield* ana.api.teammates.hire({
          path: { org: org.id },
          payload: { template: "researcher", handle: "rhea", monthlyTokenLimit: 1000 }
        })
        const lifted = yield* raw("PATCH", `/v1/orgs/${org.id}/teammates/${rhea.id}`, {
          token: ben.token,
          body: { monthlyTokenLimit: null }
        })
        expect(lifted.status).toBe(403)
        const hired = yield* raw("POST", `/v1/orgs/${org.id}/teammates`, {
          token: ben.token,
          body: { template: "researcher", handle: "rex", monthlyTokenLimit: 5 }
        })
        expect(hired.status).toBe(403)
        const renamed = yield* ben.api.teammates.update({
          path: { org: org.id, teammate: rhea.id },
          payload: { name: "Rhea 2" }
        })
        expect(renamed.monthlyTokenLimit).toBe(1000)
        const changed = yield* ana.api.teammates.update({
          path: { org: org.id, teammate: rhea.id },
          payload: { monthlyTokenLimit: 2000 }
        })
        expect(changed.monthlyTokenLimit).toBe(2000)
      }))
  })
})
