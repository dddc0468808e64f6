import { describe, expect, layer } from "@effect/vitest"
import type { Message, MessagePage } from "@troupe/domain/Message"
import { Effect, Fiber } from "effect"
import { anaAndBen, baseUrl, raw, readEvents, TestServer, watch } from "./Harness.js"

const setup = anaAndBen

describe("messages", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("a repeated clientMessageId returns the original message, never a duplicate", () =>
      Effect.gen(function*() {
        const { ana, ben, room } = yield* setup
        const payload = { text: "once", clientMessageId: "c-1" }
        const results = yield* Effect.all(
          Array.from({ length: 5 }, () => ana.api.messages.post({ path: { room: room.id }, payload })),
          { concurrency: "unbounded" }
        )
        expect(new Set(results.map((m) => m.id)).size).toBe(1)
        const other = yield* ben.api.messages.post({ path: { room: room.id }, payload })
        expect(other.id).not.toBe(results[0]!.id)
        const page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(page.messages.map((m) => m.text)).toEqual(["once", "once"])
      }))

    it.effect("pages move both ways with cursors and cover every message exactly once", () =>
      Effect.gen(function*() {
        const { ana, room } = yield* setup
        for (let i = 1; i <= 23; i++) {
          yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: `m${i}` } })
        }
        const seen: Array<string> = []
        let page = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: { limit: 5 } })
        expect(page.nextCursor).toBeNull()
        seen.unshift(...page.messages.map((m) => m.text))
        while (page.prevCursor !== null) {
          page = yield* ana.api.messages.list({
            path: { room: room.id },
            urlParams: { limit: 5, before: Number(page.prevCursor) }
          })
          seen.unshift(...page.messages.map((m) => m.text))
        }
        expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => `m${i + 1}`))
        const forward: Array<string> = []
        let cursor: string | null = "0"
        while (cursor !== null) {
          const p: MessagePage = yield* ana.api.messages.list({
            path: { room: room.id },
            urlParams: { limit: 7, after: Number(cursor) }
          })
          forward.push(...p.messages.map((m) => m.text))
          cursor = p.nextCursor
        }
        expect(forward).toEqual(seen)
      }))

    it.effect("thread replies are listed by thread, and roots carry reply count and last reply time", () =>
      Effect.gen(function*() {
        const { ana, ben, room } = yield* setup
        const root = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "root" } })
        const r1 = yield* ben.api.messages.post({ path: { room: room.id }, payload: { text: "r1", threadId: root.id } })
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "r2", threadId: root.id } })
        const top = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(top.messages.map((m) => m.text)).toEqual(["root"])
        expect(top.messages[0]!.replyCount).toBe(2)
        expect(top.messages[0]!.lastReplyAt).not.toBeNull()
        const thread = yield* ana.api.messages.list({ path: { room: room.id }, urlParams: { threadId: root.id } })
        expect(thread.messages.map((m) => m.text)).toEqual(["r1", "r2"])
        const nested = yield* ana.api.messages.post({
          path: { room: room.id },
          payload: { text: "x", threadId: r1.id }
        }).pipe(
          Effect.flip
        )
        expect(nested._tag).toBe("InvalidInput")
        yield* ben.api.messages.delete({ path: { room: room.id, message: r1.id } })
        const after = yield* ana.api.messages.get({ path: { room: room.id, message: root.id } })
        expect(after.replyCount).toBe(1)
      }))

    it.effect("edits keep history, only the author may edit, deletes leave a tombstone", () =>
      Effect.gen(function*() {
        const { ana, ben, room } = yield* setup
        const m = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "v1" } })
        yield* ana.api.messages.edit({ path: { room: room.id, message: m.id }, payload: { text: "v2" } })
        const v3 = yield* ana.api.messages.edit({ path: { room: room.id, message: m.id }, payload: { text: "v3" } })
        expect(v3.text).toBe("v3")
        expect(v3.editedAt).not.toBeNull()
        const edits = yield* ben.api.messages.edits({ path: { room: room.id, message: m.id } })
        expect(edits.map((e) => e.text)).toEqual(["v1", "v2"])
        const denied = yield* ben.api.messages.edit({
          path: { room: room.id, message: m.id },
          payload: { text: "hijack" }
        })
          .pipe(Effect.flip)
        expect(denied._tag).toBe("Forbidden")
        const deniedDelete = yield* ben.api.messages.delete({ path: { room: room.id, message: m.id } }).pipe(
          Effect.flip
        )
        expect(deniedDelete._tag).toBe("Forbidden")
        const gone = yield* ana.api.messages.delete({ path: { room: room.id, message: m.id } })
        expect(gone.deletedAt).not.toBeNull()
        expect(gone.text).toBe("")
        const page = yield* ben.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(page.messages.map((x) => [x.id, x.text, x.deletedAt !== null])).toEqual([[m.id, "", true]])
        const editDeleted = yield* ana.api.messages.edit({
          path: { room: room.id, message: m.id },
          payload: { text: "zombie" }
        })
          .pipe(Effect.flip)
        expect(editDeleted._tag).toBe("Conflict")
      }))

    it.effect("reactions aggregate per emoji and per user, and removing is idempotent", () =>
      Effect.gen(function*() {
        const { ana, ben, room } = yield* setup
        const m = yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "react to me" } })
        const path = (emoji: string) => ({ path: { room: room.id, message: m.id, emoji } })
        yield* ana.api.messages.react(path("👍"))
        yield* ana.api.messages.react(path("👍"))
        yield* ben.api.messages.react(path("👍"))
        const withTada = yield* ben.api.messages.react(path("tada"))
        expect(withTada.reactions.map((r) => [r.emoji, r.count, r.me])).toEqual([["👍", 2, true], ["tada", 1, true]])
        const asAna = yield* ana.api.messages.get({ path: { room: room.id, message: m.id } })
        expect(asAna.reactions.map((r) => [r.emoji, r.count, r.me])).toEqual([["👍", 2, true], ["tada", 1, false]])
        yield* ana.api.messages.unreact(path("👍"))
        const last = yield* ana.api.messages.unreact(path("👍"))
        expect(last.reactions.map((r) => [r.emoji, r.count])).toEqual([["👍", 1], ["tada", 1]])
      }))

    it.effect("@handles become structured mentions of org members; unknown handles are ignored", () =>
      Effect.gen(function*() {
        const { ana, ben, room } = yield* setup
        const m = yield* ana.api.messages.post({
          path: { room: room.id },
          payload: { text: `hey @${ben.user.handle}, and @nobody-here, mail me at x@y.com` }
        })
        expect(m.mentions.map((x) => [x.kind, x.id, x.handle])).toEqual([["user", ben.user.id, ben.user.handle]])
        const edited = yield* ana.api.messages.edit({
          path: { room: room.id, message: m.id },
          payload: { text: `thanks @${ana.user.handle}.` }
        })
        expect(edited.mentions.map((x) => x.id)).toEqual([ana.user.id])
      }))

    it.effect("search finds messages in rooms the caller can read, and nothing else", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* setup
        const secret = yield* ana.api.rooms.create({
          path: { org: org.id },
          payload: { name: "board", kind: "private" }
        })
        yield* ana.api.messages.post({
          path: { room: room.id },
          payload: { text: "the quarterly forecasting numbers" }
        })
        yield* ana.api.messages.post({ path: { room: secret.id }, payload: { text: "forecast of the layoffs" } })
        const benHits = yield* ben.api.orgs.search({ path: { org: org.id }, urlParams: { q: "forecast" } })
        expect(benHits.map((h) => h.message.roomId)).toEqual([room.id])
        expect(benHits[0]!.snippet).toContain("<<")
        const anaHits = yield* ana.api.orgs.search({ path: { org: org.id }, urlParams: { q: "forecast" } })
        expect(new Set(anaHits.map((h) => h.message.roomId))).toEqual(new Set([room.id, secret.id]))
      }))

    it.effect("search: prefixes while typing, filters by room, author and date, and pages without repeats", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* setup
        const ops = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "ops" } })
        yield* ben.api.rooms.join({ path: { room: ops.id } })
        const texts = Array.from({ length: 7 }, (_, i) => `deployment window ${i}`)
        for (const [i, text] of texts.entries()) {
          const by = i % 2 === 0 ? ana : ben
          yield* by.api.messages.post({ path: { room: i < 4 ? room.id : ops.id }, payload: { text } })
        }
        const search = (urlParams: Parameters<typeof ana.api.orgs.search>[0]["urlParams"]) =>
          Effect.map(ben.api.orgs.search({ path: { org: org.id }, urlParams }), (hits) => hits.map((h) => h.message))
        // The last word is a prefix: "deplo" finds "deployment"; "window deplo" too.
        expect((yield* search({ q: "deplo" })).length).toBe(7)
        expect((yield* search({ q: "window deplo" })).length).toBe(7)
        expect(yield* search({ q: "deploymentx" })).toEqual([])
        // Web-search syntax still works as such.
        expect(yield* search({ q: "deployment -window" })).toEqual([])
        // Filters.
        expect((yield* search({ q: "deployment", room: ops.id })).map((m) => m.text).sort()).toEqual(texts.slice(4))
        expect((yield* search({ q: "deployment", author: ben.user.id })).map((m) => m.authorId)).toEqual(
          [ben.user.id, ben.user.id, ben.user.id]
        )
        const all = yield* search({ q: "deployment" })
        const times = all.map((m) => m.createdAt.getTime()).sort((a, b) => a - b)
        const middle = new Date(times[3]!)
        expect((yield* search({ q: "deployment", after: middle })).length).toBe(4)
        expect((yield* search({ q: "deployment", before: middle })).length).toBe(3)
        // Pages: every hit once, in the same order as one big page.
        const pages: Array<Message> = []
        for (let offset = 0; offset < 7; offset += 3) {
          pages.push(...(yield* search({ q: "deployment", limit: 3, offset })))
        }
        expect(pages.map((m) => m.id)).toEqual(all.map((m) => m.id))
        expect(new Set(pages.map((m) => m.id)).size).toBe(7)
        // A room the caller cannot read is 404; bad filters are 400.
        const secret = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "s", kind: "private" } })
        const hidden = yield* raw("GET", `/v1/orgs/${org.id}/search?q=deployment&room=${secret.id}`, {
          token: ben.token
        })
        expect(hidden.status).toBe(404)
        for (const bad of ["room=nope", "author=1", "after=yesterday", "offset=-1", "offset=10001"]) {
          const res = yield* raw("GET", `/v1/orgs/${org.id}/search?q=deployment&${bad}`, { token: ben.token })
          expect([bad, res.status]).toEqual([bad, 400])
        }
      }))

    it.effect("a member mutes a room for themself: still counted, marked muted, told to their own streams only", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* setup
        const { position } = yield* ben.api.rooms.list({ path: { org: org.id } })
        const bens = yield* watch({
          baseUrl: yield* baseUrl,
          token: ben.token,
          lastEventId: position,
          count: 1,
          keep: (d) => d.event.type === "room.settings"
        })
        expect(yield* ben.api.rooms.settings({ path: { room: room.id }, payload: { muted: true } })).toMatchObject({
          muted: true
        })
        const [changed] = yield* Fiber.join(bens)
        expect(changed?.event).toMatchObject({ type: "room.settings", roomId: room.id, muted: true })
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "while muted" } })
        const listed = (yield* ben.api.rooms.list({ path: { org: org.id } })).rooms.find((r) => r.id === room.id)
        expect(listed).toMatchObject({ muted: true, unreadCount: 1 })
        // Ana's view of the room is her own.
        const anas = (yield* ana.api.rooms.list({ path: { org: org.id } })).rooms.find((r) => r.id === room.id)
        expect(anas?.muted).toBe(false)
        // Ana's stream, read up to the message posted after the change, never had it.
        const anaFirst = yield* readEvents({
          baseUrl: yield* baseUrl,
          token: ana.token,
          lastEventId: position,
          count: 1,
          keep: (d) => d.event.type === "room.settings" || d.event.type === "message.created"
        })
        expect(anaFirst.map((d) => d.event.type)).toEqual(["message.created"])
        yield* ben.api.rooms.settings({ path: { room: room.id }, payload: { muted: false } })
        expect((yield* ben.api.rooms.get({ path: { room: room.id } })).muted).toBe(false)
        // Only members have settings; bad bodies are 400.
        const other = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "other" } })
        const notIn = yield* raw("PUT", `/v1/rooms/${other.id}/settings`, { token: ben.token, body: { muted: true } })
        expect(notIn.status).toBe(409)
        const bad = yield* raw("PUT", `/v1/rooms/${room.id}/settings`, { token: ben.token, body: { muted: "yes" } })
        expect(bad.status).toBe(400)
      }))

    it.effect("what a member is notified of: mentions by default, every message in a direct room; set per room", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room } = yield* setup
        const dm = yield* ana.api.rooms.openDm({ path: { org: org.id }, payload: { participants: [ben.user.id] } })
        const levels = Effect.map(
          ben.api.rooms.list({ path: { org: org.id } }),
          (l) =>
            Object.fromEntries(l.rooms.filter((r) => r.id === room.id || r.id === dm.id).map((r) => [r.id, r.notify]))
        )
        expect(yield* levels).toEqual({ [room.id]: "mentions", [dm.id]: "all" })
        const { position } = yield* ben.api.rooms.list({ path: { org: org.id } })
        const told = yield* watch({
          baseUrl: yield* baseUrl,
          token: ben.token,
          lastEventId: position,
          count: 2,
          keep: (d) => d.event.type === "room.settings"
        })
        yield* ben.api.rooms.settings({ path: { room: room.id }, payload: { muted: true } })
        // Setting one leaves the other as it was.
        expect(yield* ben.api.rooms.settings({ path: { room: room.id }, payload: { notify: "all" } })).toEqual({
          muted: true,
          notify: "all"
        })
        expect((yield* Fiber.join(told)).map((d) => d.event)).toMatchObject([
          { type: "room.settings", roomId: room.id, muted: true, notify: "mentions" },
          { type: "room.settings", roomId: room.id, muted: true, notify: "all" }
        ])
        yield* ben.api.rooms.settings({ path: { room: dm.id }, payload: { notify: "none" } })
        expect(yield* levels).toEqual({ [room.id]: "all", [dm.id]: "none" })
        expect((yield* ben.api.rooms.get({ path: { room: room.id } })).notify).toBe("all")
        const bad = yield* raw("PUT", `/v1/rooms/${room.id}/settings`, { token: ben.token, body: { notify: "loud" } })
        expect(bad.status).toBe(400)
        expect(yield* levels).toEqual({ [room.id]: "all", [dm.id]: "none" })
      }))

    it.effect("direct rooms are found again for the same participant set", () =>
      Effect.gen(function*() {
        const { ana, ben, org } = yield* setup
        const first = yield* ana.api.rooms.openDm({ path: { org: org.id }, payload: { participants: [ben.user.id] } })
        const again = yield* ben.api.rooms.openDm({
          path: { org: org.id },
          payload: { participants: [ana.user.id, ben.user.id] }
        })
        expect(again.id).toBe(first.id)
        expect(first.kind).toBe("direct")
        const alone = yield* ana.api.rooms.openDm({ path: { org: org.id }, payload: { participants: [ana.user.id] } })
          .pipe(Effect.flip)
        expect(alone._tag).toBe("InvalidInput")
      }))

    it.effect("archived rooms refuse new messages and keep their history", () =>
      Effect.gen(function*() {
        const { ana, ben, room } = yield* setup
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "before" } })
        const denied = yield* ben.api.rooms.archive({ path: { room: room.id } }).pipe(Effect.flip)
        expect(denied._tag).toBe("Forbidden")
        const archived = yield* ana.api.rooms.archive({ path: { room: room.id } })
        expect(archived.archived).toBe(true)
        const refused = yield* ben.api.messages.post({ path: { room: room.id }, payload: { text: "after" } }).pipe(
          Effect.flip
        )
        expect(refused._tag).toBe("Conflict")
        const page = yield* ben.api.messages.list({ path: { room: room.id }, urlParams: {} })
        expect(page.messages.map((m) => m.text)).toEqual(["before"])
      }))
  })
})
