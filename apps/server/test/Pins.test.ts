import { describe, expect, layer } from "@effect/vitest"
import { MAX_PIN_LENGTH } from "@troupe/domain/Pin"
import * as FakeOpenAI from "@troupe/llm/testing/FakeOpenAI"
import * as Database from "@troupe/store/Database"
import { Effect, Fiber, Option } from "effect"
import { anaAndBen, baseUrl, eventually, person, raw, slug, TestServer, TestServerWithModel, watch } from "./Harness.js"

/** Ana's org with a public room Ben joined, and Cat: a member of the org who has not joined the room. */
const setup = Effect.gen(function*() {
  const world = yield* anaAndBen
  const cat = yield* person("Cat")
  yield* world.ana.api.orgs.addMember({ path: { org: world.org.id }, payload: { email: cat.user.email } })
  const { position } = yield* world.ana.api.rooms.list({ path: { org: world.org.id } })
  return { ...world, cat, position }
})

/** Watches `token`'s stream after `position` for the next `count` pin events. */
const watchPins = (token: string, position: string, count: number) =>
  Effect.flatMap(
    baseUrl,
    (url) => watch({ baseUrl: url, token, lastEventId: position, count, keep: (d) => d.event.type.startsWith("pin.") })
  )

describe("the room pinboard", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("notes are pinned, listed, edited as versions and removed, and every change is an event", () =>
      Effect.gen(function*() {
        const { ana, ben, room, position } = yield* setup
        const events = yield* watchPins(ben.token, position, 4)
        const note = yield* ana.api.pins.create({ path: { room: room.id }, payload: { text: "ship on Friday" } })
        expect(note).toMatchObject({
          kind: "note",
          text: "ship on Friday",
          messageId: null,
          authorKind: "user",
          authorId: ana.user.id,
          authorName: "Ana",
          version: 1
        })
        const path = { room: room.id, pin: note.id }
        // Ben is in the room, so he may edit Ana's note.
        const v2 = yield* ben.api.pins.edit({ path, payload: { text: "ship on Monday" } })
        expect([v2.text, v2.version, v2.authorName]).toEqual(["ship on Monday", 2, "Ana"])
        const same = yield* ben.api.pins.edit({ path, payload: { text: "ship on Monday" } })
        expect(same.version).toBe(2)
        const stale = yield* raw("PATCH", `/v1/rooms/${room.id}/pins/${note.id}`, {
          token: ana.token,
          body: { text: "ship on Tuesday", version: 1 }
        })
        expect([stale.status, stale.json]).toMatchObject([409, { _tag: "Conflict" }])
        const v3 = yield* ana.api.pins.edit({ path, payload: { text: "ship on Tuesday", version: 2 } })
        expect(v3.version).toBe(3)
        const versions = yield* ben.api.pins.versions({ path })
        expect(versions.map((v) => [v.version, v.text, v.editorName, v.editorKind])).toEqual([
          [1, "ship on Friday", "Ana", "user"],
          [2, "ship on Monday", "Ben", "user"],
          [3, "ship on Tuesday", "Ana", "user"]
        ])
        expect((yield* ben.api.pins.list({ path: { room: room.id } })).map((p) => [p.id, p.text])).toEqual([
          [note.id, "ship on Tuesday"]
        ])
        yield* ben.api.pins.delete({ path })
        expect(yield* ana.api.pins.list({ path: { room: room.id } })).toEqual([])
        const gone = yield* ana.api.pins.versions({ path }).pipe(Effect.flip)
        expect(gone._tag).toBe("NotFound")

        const seen = yield* Fiber.join(events)
        expect(seen.map((d) => d.event.type)).toEqual(["pin.created", "pin.updated", "pin.updated", "pin.deleted"])
        expect(seen.map((d) => d.event.type === "pin.deleted" ? d.event.pinId : "pin" in d.event ? d.event.pin.id : ""))
          .toEqual([note.id, note.id, note.id, note.id])
        const updated = seen[2]?.event
        expect(updated?.type === "pin.updated" && [updated.pin.text, updated.pin.version]).toEqual([
          "ship on Tuesday",
          3
        ])
      }))

    it.effect("a pinned message is pinned once, reads as the message does now, and changes only with it", () =>
      Effect.gen(function*() {
        const { ana, ben, cat, org, room } = yield* setup
        const message = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "the plan" } })
        const pin = yield* ben.api.pins.create({ path: { room: room.id }, payload: { messageId: message.id } })
        expect(pin).toMatchObject({ kind: "message", messageId: message.id, text: "the plan", authorName: "Ben" })
        const again = yield* raw("POST", `/v1/rooms/${room.id}/pins`, {
          token: ana.token,
          body: { messageId: message.id }
        })
        expect([again.status, again.json]).toMatchObject([409, { _tag: "Conflict" }])

        yield* ana.api.messages.edit({
          path: { room: room.id, message: message.id },
          payload: { text: "the new plan" }
        })
        const [listed] = yield* cat.api.pins.list({ path: { room: room.id } })
        expect([listed?.text, listed?.version]).toEqual(["the new plan", 1])
        const edit = yield* raw("PATCH", `/v1/rooms/${room.id}/pins/${pin.id}`, {
          token: ben.token,
          body: { text: "rewritten" }
        })
        expect([edit.status, edit.json]).toMatchObject([422, { _tag: "InvalidInput" }])

        // A message of another room is not this room's to pin.
        const other = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "other" } })
        const elsewhere = yield* ana.api.messages.post({ path: { room: other.id }, payload: { text: "elsewhere" } })
        const foreign = yield* raw("POST", `/v1/rooms/${room.id}/pins`, {
          token: ana.token,
          body: { messageId: elsewhere.id }
        })
        expect(foreign.status).toBe(404)

        // Cat joins: a member may unpin a note, but a pinned message only whoever pinned it, or an admin.
        yield* cat.api.rooms.join({ path: { room: room.id } })
        const refused = yield* raw("DELETE", `/v1/rooms/${room.id}/pins/${pin.id}`, { token: cat.token })
        expect([refused.status, refused.json]).toMatchObject([403, { _tag: "Forbidden" }])
        yield* ana.api.pins.delete({ path: { room: room.id, pin: pin.id } })
        expect(yield* ben.api.pins.list({ path: { room: room.id } })).toEqual([])
        const repinned = yield* ana.api.pins.create({ path: { room: room.id }, payload: { messageId: message.id } })
        yield* ana.api.messages.delete({ path: { room: room.id, message: message.id } })
        const retracted = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "oops" } })
        yield* ana.api.messages.delete({ path: { room: room.id, message: retracted.id } })
        const deleted = yield* raw("POST", `/v1/rooms/${room.id}/pins`, {
          token: ana.token,
          body: { messageId: retracted.id }
        })
        expect([deleted.status, deleted.json]).toMatchObject([409, { _tag: "Conflict" }])
        const [tombstone] = yield* ben.api.pins.list({ path: { room: room.id } })
        expect([tombstone?.id, tombstone?.text]).toEqual([repinned.id, ""])
      }))

    it.effect("who may: room readers read, members pin, guests never change, outsiders see nothing", () =>
      Effect.gen(function*() {
        const { ana, ben, cat, org, room } = yield* setup
        const note = yield* ana.api.pins.create({ path: { room: room.id }, payload: { text: "team rules" } })
        const notePath = `/v1/rooms/${room.id}/pins/${note.id}`

        // Cat may read the public room's board, but must join it to pin or to edit a note.
        expect((yield* cat.api.pins.list({ path: { room: room.id } })).length).toBe(1)
        const notJoined = yield* raw("PATCH", notePath, { token: cat.token, body: { text: "x" } })
        expect(notJoined.status).toBe(403)
        const pinOutside = yield* raw("POST", `/v1/rooms/${room.id}/pins`, { token: cat.token, body: { text: "x" } })
        expect(pinOutside.status).toBe(403)

        // A private room Ben is not in does not exist for him.
        const secret = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "s", kind: "private" } })
        const secretNote = yield* ana.api.pins.create({ path: { room: secret.id }, payload: { text: "hidden" } })
        for (
          const [method, path, body] of [
            ["GET", `/v1/rooms/${secret.id}/pins`, undefined],
            ["POST", `/v1/rooms/${secret.id}/pins`, { text: "x" }],
            ["PATCH", `/v1/rooms/${secret.id}/pins/${secretNote.id}`, { text: "x" }],
            ["GET", `/v1/rooms/${secret.id}/pins/${secretNote.id}/versions`, undefined],
            ["DELETE", `/v1/rooms/${secret.id}/pins/${secretNote.id}`, undefined],
            // Its pin named under a room he can read is no pin of that room.
            ["PATCH", `/v1/rooms/${room.id}/pins/${secretNote.id}`, { text: "x" }],
            ["DELETE", `/v1/rooms/${room.id}/pins/${secretNote.id}`, undefined]
          ] as const
        ) {
          const res = yield* raw(method, path, { token: ben.token, ...(body === undefined ? {} : { body }) })
          expect(res.status, `${method} ${path}`).toBe(404)
        }

        // A guest in the private room reads its board and changes nothing.
        const gus = yield* person("Gus")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: gus.user.email, role: "guest" } })
        yield* ana.api.rooms.addMember({ path: { room: secret.id }, payload: { userId: gus.user.id } })
        expect((yield* gus.api.pins.list({ path: { room: secret.id } })).map((p) => p.text)).toEqual(["hidden"])
        for (
          const [method, path, body] of [
            ["POST", `/v1/rooms/${secret.id}/pins`, { text: "x" }],
            ["PATCH", `/v1/rooms/${secret.id}/pins/${secretNote.id}`, { text: "x" }],
            ["DELETE", `/v1/rooms/${secret.id}/pins/${secretNote.id}`, undefined]
          ] as const
        ) {
          const res = yield* raw(method, path, { token: gus.token, ...(body === undefined ? {} : { body }) })
          expect([res.status, res.json], `${method} ${path}`).toMatchObject([403, { _tag: "Forbidden" }])
        }

        // Another org's people: its rooms and pins are 404, and nothing of theirs changes.
        const eve = yield* person("Eve")
        const eveOrg = yield* eve.api.orgs.create({ payload: { name: "Elsewhere", slug: slug() } })
        const eveRoom = yield* eve.api.rooms.create({ path: { org: eveOrg.id }, payload: { name: "theirs" } })
        const evePin = yield* eve.api.pins.create({ path: { room: eveRoom.id }, payload: { text: "eve's" } })
        for (
          const [method, path, body] of [
            ["GET", `/v1/rooms/${eveRoom.id}/pins`, undefined],
            ["POST", `/v1/rooms/${eveRoom.id}/pins`, { text: "x" }],
            ["PATCH", `/v1/rooms/${eveRoom.id}/pins/${evePin.id}`, { text: "x" }],
            ["DELETE", `/v1/rooms/${eveRoom.id}/pins/${evePin.id}`, undefined],
            ["PATCH", `/v1/rooms/${room.id}/pins/${evePin.id}`, { text: "x" }],
            ["GET", `/v1/rooms/${room.id}/pins/${evePin.id}/versions`, undefined]
          ] as const
        ) {
          const res = yield* raw(method, path, { token: ana.token, ...(body === undefined ? {} : { body }) })
          expect(res.status, `${method} ${path}`).toBe(404)
        }
        expect((yield* eve.api.pins.list({ path: { room: eveRoom.id } })).map((p) => [p.text, p.version])).toEqual([
          ["eve's", 1]
        ])

        // Admins may change any pin; an unknown pin is 404.
        const bensNote = yield* ben.api.pins.create({ path: { room: room.id }, payload: { text: "ben's" } })
        const edited = yield* ana.api.pins.edit({ path: { room: room.id, pin: bensNote.id }, payload: { text: "ok" } })
        expect(edited.version).toBe(2)
        const unknown = yield* raw("DELETE", `/v1/rooms/${room.id}/pins/${crypto.randomUUID()}`, { token: ana.token })
        expect([unknown.status, unknown.json]).toMatchObject([404, { _tag: "NotFound" }])
      }))

    it.effect("malformed bodies and ids are 400, an archived room's board is read-only", () =>
      Effect.gen(function*() {
        const { ana, room } = yield* setup
        const note = yield* ana.api.pins.create({ path: { room: room.id }, payload: { text: "keep" } })
        const pins = `/v1/rooms/${room.id}/pins`
        for (
          const body of [
            {},
            { text: "" },
            { text: "   " },
            { text: 5 },
            { text: "x".repeat(MAX_PIN_LENGTH + 1) },
            { messageId: "not-a-uuid" },
            { text: "both", messageId: crypto.randomUUID() },
            "{not json",
            []
          ]
        ) {
          const res = yield* raw("POST", pins, { token: ana.token, body })
          expect([res.status, res.json], JSON.stringify(body).slice(0, 60)).toMatchObject([400, {
            _tag: "MalformedRequest"
          }])
        }
        for (const body of [{}, { text: "" }, { text: "ok", version: 0 }, { text: "x".repeat(MAX_PIN_LENGTH + 1) }]) {
          const res = yield* raw("PATCH", `${pins}/${note.id}`, { token: ana.token, body })
          expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(400)
        }
        expect((yield* raw("GET", `${pins}/nope/versions`, { token: ana.token })).status).toBe(400)
        expect((yield* raw("DELETE", `${pins}/nope`, { token: ana.token })).status).toBe(400)
        const longest = yield* ana.api.pins.create({
          path: { room: room.id },
          payload: { text: "y".repeat(MAX_PIN_LENGTH) }
        })
        expect(longest.text.length).toBe(MAX_PIN_LENGTH)

        yield* ana.api.rooms.archive({ path: { room: room.id } })
        for (
          const [method, path, body] of [
            ["POST", pins, { text: "late" }],
            ["PATCH", `${pins}/${note.id}`, { text: "late" }],
            ["DELETE", `${pins}/${note.id}`, undefined]
          ] as const
        ) {
          const res = yield* raw(method, path, { token: ana.token, ...(body === undefined ? {} : { body }) })
          expect([res.status, res.json], `${method} ${path}`).toMatchObject([409, { _tag: "Conflict" }])
        }
        expect((yield* ana.api.pins.list({ path: { room: room.id } })).map((p) => p.text)).toEqual([
          "keep",
          "y".repeat(MAX_PIN_LENGTH)
        ])
      }))

    it.effect("deleting a room deletes its pins and their versions", () =>
      Effect.gen(function*() {
        const { ana, org } = yield* setup
        const doomed = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "doomed" } })
        const note = yield* ana.api.pins.create({ path: { room: doomed.id }, payload: { text: "v1" } })
        yield* ana.api.pins.edit({ path: { room: doomed.id, pin: note.id }, payload: { text: "v2" } })
        const count = Effect.flatMap(Database.AdminSql, (sql) =>
          sql<{ pins: number; versions: number }>`
            SELECT (SELECT count(*)::int FROM pins WHERE id = ${note.id}) AS pins,
              (SELECT count(*)::int FROM pin_versions WHERE pin_id = ${note.id}) AS versions`)
        expect(yield* count).toEqual([{ pins: 1, versions: 2 }])
        yield* ana.api.rooms.delete({ path: { room: doomed.id } })
        expect(yield* count).toEqual([{ pins: 0, versions: 0 }])
      }))
  })
})

describe("teammates on the pinboard", () => {
  layer(TestServerWithModel(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a teammate pins a note and updates it by the id its context shows", () =>
      Effect.gen(function*() {
        const ana = yield* person("Ana")
        const org = yield* ana.api.orgs.create({ payload: { name: "Acme", slug: slug() } })
        const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "general" } })
        const rhea = yield* ana.api.teammates.hire({
          path: { org: org.id },
          payload: { template: "researcher", handle: "rhea" }
        })
        yield* ana.api.teammates.addToRoom({ path: { room: room.id }, payload: { teammateId: rhea.id } })
        const { position } = yield* ana.api.rooms.list({ path: { org: org.id } })
        const events = yield* watchPins(ana.token, position, 2)
        yield* ana.api.messages.post({
          path: { room: room.id },
          payload: { text: `@rhea [[tool:pin_note:{"text":"launch on Friday"}]]` }
        })
        const pinned = yield* eventually(Effect.map(
          ana.api.pins.list({ path: { room: room.id } }),
          (pins) => Option.fromNullable(pins[0])
        ))
        expect(pinned).toMatchObject({
          kind: "note",
          text: "launch on Friday",
          authorKind: "teammate",
          authorId: rhea.id,
          authorName: rhea.name
        })
        yield* ana.api.messages.post({
          path: { room: room.id },
          payload: { text: `@rhea [[tool:update_pin:{"pinId":"${pinned.id}","text":"launch on Monday"}]]` }
        })
        const seen = yield* Fiber.join(events)
        expect(seen.map((d) => d.event.type)).toEqual(["pin.created", "pin.updated"])
        const versions = yield* ana.api.pins.versions({ path: { room: room.id, pin: pinned.id } })
        expect(versions.map((v) => [v.text, v.editorKind, v.editorId])).toEqual([
          ["launch on Friday", "teammate", rhea.id],
          ["launch on Monday", "teammate", rhea.id]
        ])
        // The second turn was shown the pin with its id.
        const fake = yield* FakeOpenAI.FakeOpenAI
        const prompts = fake.requests().map((r) => JSON.stringify(r["messages"]))
        expect(prompts.some((p) => p.includes(`note ${pinned.id}, by ${rhea.name}] launch on Friday`))).toBe(true)
      }))
  })
})
