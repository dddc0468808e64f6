/**
 * Data rights through the API: an admin's export of the org or of one person
 * (streamed JSON lines, nothing of another org), and the erasure of a
 * person, after which nothing of theirs is readable through any endpoint
 * while everyone else's data stays as it was.
 */
import { describe, expect, layer } from "@effect/vitest"
import { ERASED_PERSON_ID, ERASED_PERSON_NAME } from "@troupe/domain/DataRights"
import { FileInfo } from "@troupe/domain/File"
import { UserId } from "@troupe/domain/Ids"
import * as Database from "@troupe/store/Database"
import { Effect, Fiber, Schema } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { anaAndBen, baseUrl, fileForm, person, raw, slug, TestServer, watch } from "./Harness.js"

/** The lines of an export, parsed. */
const linesOf = (text: string) =>
  text.trimEnd().split("\n").map((line) =>
    Schema.decodeUnknownSync(Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown })))(line)
  )

const ofType = (lines: ReadonlyArray<Record<string, unknown>>, type: string) => lines.filter((l) => l["type"] === type)

const upload = (token: string, roomId: string, bytes: Uint8Array, name: string) =>
  Effect.map(raw("POST", `/v1/rooms/${roomId}/files`, { token, body: fileForm(bytes, { name }) }), (r) => {
    expect(r.status, r.text).toBe(201)
    return Schema.decodeUnknownSync(FileInfo)(r.json)
  })

/**
 * Ana owns the org; Ben and Cat are members of its room. Ben talks, replies
 * in Ana's thread, reacts, reads, uploads (one file of his own content, one
 * whose content Cat uploaded too), pins a note, and a teammate remembers
 * something from one of his messages. Eve has an org of her own.
 */
const world = Effect.gen(function*() {
  const { ana, ben, org, room } = yield* anaAndBen
  const cat = yield* person("Cat")
  yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: cat.user.email } })
  yield* cat.api.rooms.join({ path: { room: room.id } })
  const eve = yield* person("Eve")
  const eveOrg = yield* eve.api.orgs.create({ payload: { name: "Elsewhere", slug: slug() } })
  const eveRoom = yield* eve.api.rooms.create({ path: { org: eveOrg.id }, payload: { name: "theirs" } })
  yield* eve.api.messages.post({ path: { room: eveRoom.id }, payload: { text: "eve keeps quokka notes" } })
  const teammate = yield* ana.api.teammates.hire({
    path: { org: org.id },
    payload: { template: "researcher", handle: `t${randomBytes(3).toString("hex")}` }
  })
  const own = yield* upload(ben.token, room.id, new TextEncoder().encode(`ben only ${randomUUID()}`), "ben.txt")
  const shared = new TextEncoder().encode(`shared ${randomUUID()}`)
  const bensShared = yield* upload(ben.token, room.id, shared, "shared.txt")
  const catsShared = yield* upload(cat.token, room.id, shared, "copy.txt")
  const bensRoot = yield* ben.api.messages.post({
    path: { room: room.id },
    payload: { text: "ben's zebra plan", attachments: [own.id], clientMessageId: "ben-1" }
  })
  const anasRoot = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "ana asks a question" } })
  const bensReply = yield* ben.api.messages.post({
    path: { room: room.id },
    payload: { text: "ben answers with zebra facts", threadId: anasRoot.id }
  })
  const catsReply = yield* cat.api.messages.post({
    path: { room: room.id },
    payload: { text: "cat agrees", threadId: anasRoot.id }
  })
  yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "ana replies", threadId: bensRoot.id } })
  yield* ben.api.messages.edit({
    path: { room: room.id, message: bensRoot.id },
    payload: { text: "ben's zebra plan v2" }
  })
  yield* ben.api.messages.react({ path: { room: room.id, message: anasRoot.id, emoji: "tada" } })
  yield* cat.api.messages.react({ path: { room: room.id, message: anasRoot.id, emoji: "tada" } })
  yield* ana.api.messages.react({ path: { room: room.id, message: bensRoot.id, emoji: "eyes" } })
  yield* ben.api.messages.markRead({ path: { room: room.id }, payload: { messageId: anasRoot.id } })
  yield* ben.api.pins.create({ path: { room: room.id }, payload: { text: "ben's pinned zebra note" } })
  const anasPin = yield* ana.api.pins.create({ path: { room: room.id }, payload: { text: "ana's note" } })
  yield* ana.api.teammates.remember({ path: { org: org.id, teammate: teammate.id }, payload: { text: "a fact" } })
  // What a teammate learns from a message is recorded with it (its tools do this in a turn).
  const admin = yield* Database.AdminSql
  yield* admin`INSERT INTO memories (org_id, teammate_id, text, source_message_id, room_id)
    VALUES (${org.id}, ${teammate.id}, ${"ben likes zebras"}, ${bensRoot.id}, ${room.id})`
  return {
    ana,
    ben,
    cat,
    eve,
    org,
    eveOrg,
    room,
    teammate,
    own,
    bensShared,
    catsShared,
    bensRoot,
    anasRoot,
    bensReply,
    catsReply,
    anasPin
  }
})

describe("data rights", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("an admin exports the org, or one person, as JSON lines holding nothing of another org", () =>
      Effect.gen(function*() {
        const w = yield* world
        const response = yield* raw("GET", `/v1/orgs/${w.org.id}/export`, { token: w.ana.token })
        expect(response.status, response.text).toBe(200)
        expect(response.headers.get("content-type")).toContain("application/x-ndjson")
        const lines = linesOf(response.text)
        expect(lines[0]).toMatchObject({ type: "export", version: 1, orgId: w.org.id, userId: null })
        expect(lines.at(-1)).toEqual({ type: "end", records: lines.length - 2 })
        expect(ofType(lines, "org")).toEqual([expect.objectContaining({ id: w.org.id, name: "Acme" })])
        expect(ofType(lines, "member").map((m) => m["userId"]).sort()).toEqual(
          [w.ana.user.id, w.ben.user.id, w.cat.user.id].sort()
        )
        expect(ofType(lines, "message").map((m) => m["text"])).toEqual(
          expect.arrayContaining(["ben's zebra plan v2", "ana asks a question", "cat agrees"])
        )
        expect(ofType(lines, "message_edit")).toEqual([
          expect.objectContaining({ messageId: w.bensRoot.id, text: "ben's zebra plan" })
        ])
        expect(ofType(lines, "file").map((f) => f["id"]).sort()).toEqual(
          [w.own.id, w.bensShared.id, w.catsShared.id].sort()
        )
        expect(ofType(lines, "memory").map((m) => m["text"]).sort()).toEqual(["a fact", "ben likes zebras"])
        expect(ofType(lines, "teammate").map((t) => t["id"])).toEqual([w.teammate.id])
        // Nothing of Eve's org, and no secrets.
        expect(response.text).not.toContain("quokka")
        expect(response.text).not.toContain(w.eveOrg.id)
        expect(response.text).not.toContain("secret")

        const ben = linesOf(
          yield* w.ana.api.dataRights.export({ path: { org: w.org.id }, urlParams: { user: w.ben.user.id } })
        )
        expect(ben[0]).toMatchObject({ type: "export", userId: w.ben.user.id })
        expect(ofType(ben, "person")).toEqual([
          expect.objectContaining({ id: w.ben.user.id, name: "Ben", email: w.ben.user.email })
        ])
        expect(ofType(ben, "member").map((m) => m["userId"])).toEqual([w.ben.user.id])
        expect(ofType(ben, "message").map((m) => m["text"]).sort()).toEqual(
          ["ben answers with zebra facts", "ben's zebra plan v2"]
        )
        expect(ofType(ben, "reaction")).toEqual([
          expect.objectContaining({ messageId: w.anasRoot.id, userId: w.ben.user.id, emoji: "tada" })
        ])
        expect(ofType(ben, "read_state")).toHaveLength(1)
        expect(ofType(ben, "file").map((f) => f["id"]).sort()).toEqual([w.own.id, w.bensShared.id].sort())
        expect(ofType(ben, "pin").map((p) => p["text"])).toEqual(["ben's pinned zebra note"])
        expect(ofType(ben, "memory").map((m) => m["text"])).toEqual(["ben likes zebras"])
        expect(ofType(ben, "membership").map((m) => m["roomId"])).toContain(w.room.id)
        // Other people's words are not his.
        expect(JSON.stringify(ben)).not.toContain("ana asks a question")
        expect(JSON.stringify(ben)).not.toContain("cat agrees")
        expect(ben.at(-1)).toEqual({ type: "end", records: ben.length - 2 })
      }))

    it.effect("an export of many rows comes whole, batch after batch of the database cursor", () =>
      Effect.gen(function*() {
        const w = yield* world
        const admin = yield* Database.AdminSql
        yield* admin`INSERT INTO messages (org_id, room_id, seq, author_kind, author_id, author_name, text)
          SELECT ${w.org.id}, ${w.room.id}, 1000 + i, 'user', ${w.cat.user.id}, 'Cat', 'bulk ' || i
          FROM generate_series(1, 2500) AS i`
        const lines = linesOf(yield* w.ana.api.dataRights.export({ path: { org: w.org.id }, urlParams: {} }))
        const bulk = ofType(lines, "message").filter((m) => String(m["text"]).startsWith("bulk "))
        expect(bulk).toHaveLength(2500)
        expect(new Set(bulk.map((m) => m["id"])).size).toBe(2500)
        expect(lines.at(-1)).toEqual({ type: "end", records: lines.length - 2 })
      }))

    it.effect("export and erasure refuse non-admins, other orgs' people, unknown people and bad ids", () =>
      Effect.gen(function*() {
        const w = yield* world
        const exportPath = `/v1/orgs/${w.org.id}/export`
        const erasePath = (user: string) => `/v1/orgs/${w.org.id}/members/${user}/erase`
        expect((yield* raw("GET", exportPath)).status).toBe(401)
        expect((yield* raw("GET", exportPath, { token: w.ben.token })).status).toBe(403)
        expect((yield* raw("GET", exportPath, { token: w.eve.token })).status).toBe(404)
        const unknown = yield* raw("GET", `${exportPath}?user=${randomUUID()}`, { token: w.ana.token })
        expect(unknown.status).toBe(404)
        expect(unknown.json).toMatchObject({ _tag: "NotFound" })
        // Eve is a person, but not one this org knows.
        expect((yield* raw("GET", `${exportPath}?user=${w.eve.user.id}`, { token: w.ana.token })).status).toBe(404)
        const malformed = yield* raw("GET", `${exportPath}?user=not-an-id`, { token: w.ana.token })
        expect(malformed.status).toBe(400)
        expect(malformed.json).toMatchObject({ _tag: "MalformedRequest" })

        expect((yield* raw("POST", erasePath(w.ben.user.id))).status).toBe(401)
        const byMember = yield* raw("POST", erasePath(w.ben.user.id), { token: w.cat.token })
        expect(byMember.status).toBe(403)
        expect((yield* raw("POST", erasePath(w.ben.user.id), { token: w.eve.token })).status).toBe(404)
        expect((yield* raw("POST", erasePath(randomUUID()), { token: w.ana.token })).status).toBe(404)
        expect((yield* raw("POST", erasePath(w.eve.user.id), { token: w.ana.token })).status).toBe(404)
        expect((yield* raw("POST", erasePath("nope"), { token: w.ana.token })).status).toBe(400)
        const self = yield* raw("POST", erasePath(w.ana.user.id), { token: w.ana.token })
        expect(self.status).toBe(403)
        expect(self.json).toMatchObject({ message: expect.stringContaining("own data") })
        // An admin cannot erase an owner (the last one least of all).
        yield* w.ana.api.orgs.changeRole({ path: { org: w.org.id, user: w.cat.user.id }, payload: { role: "admin" } })
        const owner = yield* raw("POST", erasePath(w.ana.user.id), { token: w.cat.token })
        expect(owner.status).toBe(403)
        // Nothing was erased by any of these.
        const page = yield* w.ana.api.messages.list({ path: { room: w.room.id }, urlParams: {} })
        expect(page.messages.map((m) => m.text)).toContain("ben's zebra plan v2")
      }))

    it.effect("after erasure nothing of the person is readable, everyone else's data stays, clients hear it", () =>
      Effect.gen(function*() {
        const w = yield* world
        yield* w.ana.api.teammates.addToRoom({ path: { room: w.room.id }, payload: { teammateId: w.teammate.id } })
        const task = yield* w.ben.api.tasks.create({
          path: { room: w.room.id },
          payload: { teammateId: w.teammate.id, goal: "find ben's zebra sources" }
        })
        const { position } = yield* w.cat.api.rooms.list({ path: { org: w.org.id } })
        const url = yield* baseUrl
        const erasureEvents = [
          "member.left",
          "org.member.left",
          "pin.deleted",
          "file.deleted",
          "message.deleted",
          "message.updated",
          "reaction.changed"
        ]
        const heard = yield* watch({
          baseUrl: url,
          token: w.cat.token,
          lastEventId: position,
          count: 10,
          keep: (d) => erasureEvents.includes(d.event.type)
        })
        const report = yield* w.ana.api.dataRights.erase({ path: { org: w.org.id, user: w.ben.user.id } })
        expect(report).toMatchObject({
          userId: w.ben.user.id,
          messages: 2,
          reactions: 1,
          files: 2,
          memories: 1,
          pins: 1,
          tasks: 1,
          // The room and the org's #general.
          rooms: 2
        })
        // Cat, in both of Ben's rooms, hears every change: her client updates without a reload.
        const events = yield* Fiber.join(heard)
        expect(events.map((d) => d.event.type).sort()).toEqual([
          "file.deleted",
          "file.deleted",
          "member.left",
          "member.left",
          "message.deleted",
          "message.deleted",
          "message.updated",
          "org.member.left",
          "pin.deleted",
          "reaction.changed"
        ])
        for (const d of events) {
          if (d.event.type === "message.deleted") {
            expect(d.event.message).toMatchObject({ text: "", authorName: ERASED_PERSON_NAME, attachments: [] })
          }
          if (d.event.type === "message.updated") {
            expect(d.event.message).toMatchObject({ id: w.anasRoot.id, replyCount: 1 })
          }
          if (d.event.type === "reaction.changed") {
            expect(d.event).toMatchObject({
              messageId: w.anasRoot.id,
              added: false,
              counts: [{ emoji: "tada", count: 1 }]
            })
          }
        }

        // Messages: tombstones in place, authored by a deleted person; everyone else's intact.
        const page = yield* w.cat.api.messages.list({ path: { room: w.room.id }, urlParams: {} })
        const tomb = page.messages.find((m) => m.id === w.bensRoot.id)
        expect(tomb).toMatchObject({
          text: "",
          authorId: ERASED_PERSON_ID,
          authorName: ERASED_PERSON_NAME,
          attachments: []
        })
        expect(tomb?.deletedAt).not.toBeNull()
        expect(tomb?.reactions).toEqual([expect.objectContaining({ emoji: "eyes", count: 1 })])
        const anas = page.messages.find((m) => m.id === w.anasRoot.id)
        expect(anas).toMatchObject({ text: "ana asks a question", replyCount: 1 })
        expect(anas?.reactions).toEqual([expect.objectContaining({ emoji: "tada", count: 1, me: true })])
        const thread = yield* w.cat.api.messages.list({
          path: { room: w.room.id },
          urlParams: { threadId: w.anasRoot.id }
        })
        expect(thread.messages.map((m) => [m.text, m.authorName])).toEqual([
          ["", ERASED_PERSON_NAME],
          ["cat agrees", "Cat"]
        ])
        const bensThread = yield* w.cat.api.messages.list({
          path: { room: w.room.id },
          urlParams: { threadId: w.bensRoot.id }
        })
        expect(bensThread.messages.map((m) => m.text)).toEqual(["ana replies"])
        const history = yield* w.ana.api.messages.edits({ path: { room: w.room.id, message: w.bensRoot.id } })
        expect(history).toEqual([])
        const searched = yield* w.ana.api.orgs.search({ path: { org: w.org.id }, urlParams: { q: "zebra" } })
        expect(searched).toEqual([])
        const byAuthor = yield* w.ana.api.orgs.search({
          path: { org: w.org.id },
          urlParams: { q: "ana", author: w.ben.user.id }
        })
        expect(byAuthor).toEqual([])

        // Files: his are gone (bytes too, unless someone else's file has them).
        const files = yield* w.cat.api.files.list({ path: { room: w.room.id }, urlParams: {} })
        expect(files.map((f) => f.id)).toEqual([w.catsShared.id])
        expect((yield* raw("GET", `/v1/rooms/${w.room.id}/files/${w.own.id}/content`, { token: w.ana.token })).status)
          .toBe(404)
        const copy = yield* raw("GET", `/v1/rooms/${w.room.id}/files/${w.catsShared.id}/content`, {
          token: w.cat.token
        })
        expect(copy.status).toBe(200)
        const admin = yield* Database.AdminSql
        const blobs = yield* admin<{ sha256: string }>`SELECT sha256 FROM blobs WHERE org_id = ${w.org.id}`
        expect(blobs.map((b) => b.sha256)).toEqual([w.catsShared.sha256])
        const fileHits = yield* w.ana.api.files.search({ path: { org: w.org.id }, urlParams: { q: "ben" } })
        expect(fileHits).toEqual([])

        // The task he gave keeps its place and its work, without his goal or his name.
        const given = yield* w.cat.api.tasks.get({ path: { room: w.room.id, task: task.id } })
        expect(given).toMatchObject({ goal: "", createdById: ERASED_PERSON_ID, createdByName: ERASED_PERSON_NAME })

        // Pins, memory and members.
        const pins = yield* w.cat.api.pins.list({ path: { room: w.room.id } })
        expect(pins.map((p) => p.id)).toEqual([w.anasPin.id])
        const memory = yield* w.ana.api.teammates.memory({ path: { org: w.org.id, teammate: w.teammate.id } })
        expect(memory.entries.map((e) => e.text)).toEqual(["a fact"])
        const members = yield* w.ana.api.orgs.members({ path: { org: w.org.id } })
        expect(members.map((m) => m.id)).not.toContain(w.ben.user.id)
        const roomMembers = yield* w.ana.api.rooms.members({ path: { room: w.room.id } })
        expect(roomMembers.map((m) => m.id)).not.toContain(w.ben.user.id)

        // The export holds nothing of him; his own export is 404: the org knows him no more.
        const exported = yield* w.ana.api.dataRights.export({ path: { org: w.org.id }, urlParams: {} })
        expect(exported).not.toContain(w.ben.user.id)
        // His own words are gone (a teammate's replies are its own, even when they quote the task he gave).
        for (const his of ["zebra plan", "zebra facts", "likes zebras", "pinned zebra note", "ben only", "ben.txt"]) {
          expect(exported).not.toContain(his)
        }
        expect(exported).toContain("cat agrees")
        const his = yield* raw("GET", `/v1/orgs/${w.org.id}/export?user=${w.ben.user.id}`, { token: w.ana.token })
        expect(his.status).toBe(404)

        // His account stays, without the org; the org's rooms are closed to him.
        const me = yield* w.ben.api.auth.me()
        expect(me.id).toBe(UserId.make(w.ben.user.id))
        expect((yield* w.ben.api.orgs.list()).map((o) => o.id)).not.toContain(w.org.id)
        expect((yield* raw("GET", `/v1/rooms/${w.room.id}/messages`, { token: w.ben.token })).status).toBe(404)
        // Erasing him again: the org no longer knows him.
        const again = yield* raw("POST", `/v1/orgs/${w.org.id}/members/${w.ben.user.id}/erase`, { token: w.ana.token })
        expect(again.status).toBe(404)
      }))

    it.effect("a former member's data is erased too, and a person's other orgs keep theirs", () =>
      Effect.gen(function*() {
        const w = yield* world
        // Ben is in Eve's org as well, and leaves Ana's before asking to be erased.
        yield* w.eve.api.orgs.addMember({ path: { org: w.eveOrg.id }, payload: { email: w.ben.user.email } })
        const [eveRoom] = (yield* w.ben.api.rooms.list({ path: { org: w.eveOrg.id } })).rooms
        const kept = yield* w.ben.api.messages.post({
          path: { room: eveRoom?.id ?? w.room.id },
          payload: { text: "ben in another org" }
        })
        yield* w.ben.api.orgs.removeMember({ path: { org: w.org.id, user: w.ben.user.id } })
        const report = yield* w.ana.api.dataRights.erase({ path: { org: w.org.id, user: w.ben.user.id } })
        expect(report).toMatchObject({ messages: 2, rooms: 0 })
        const elsewhere = yield* w.ben.api.messages.list({ path: { room: kept.roomId }, urlParams: {} })
        expect(elsewhere.messages.map((m) => m.text)).toContain("ben in another org")
      }))
  })
})
