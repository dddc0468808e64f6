import { describe, expect, layer } from "@effect/vitest"
import type { Delivered } from "@troupe/domain/Event"
import * as Database from "@troupe/store/Database"
import { LogWaker } from "@troupe/store/EventLog"
import { MessageRepo } from "@troupe/store/MessageRepo"
import { withOrg } from "@troupe/store/OrgScope"
import { RoomRepo } from "@troupe/store/RoomRepo"
import * as Store from "@troupe/store/Store"
import { Effect, Fiber, Layer, Option } from "effect"
import {
  anaAndBen,
  baseUrl,
  durable,
  eventually,
  messageTexts,
  person,
  raw,
  readEvents,
  slug,
  TestServer,
  watch
} from "./Harness.js"

const setup = Effect.gen(function*() {
  const { ana, ben, org, room } = yield* anaAndBen
  const listing = yield* ben.api.rooms.list({ path: { org: org.id } })
  return { ana, ben, org, room, position: listing.position, url: yield* baseUrl }
})

describe("event stream", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 180_000 })((it) => {
    it.effect("reconnecting with Last-Event-ID yields exactly the missed events, in order, without duplicates", () =>
      Effect.gen(function*() {
        const { ana, ben, position, room, url } = yield* setup
        const post = (text: string) => ana.api.messages.post({ path: { room: room.id }, payload: { text } })
        for (const t of ["a1", "a2", "a3"]) yield* post(t)
        const first = yield* readEvents({
          baseUrl: url,
          token: ben.token,
          lastEventId: position,
          count: 2,
          keep: durable
        })
        expect(messageTexts(first)).toEqual(["a1", "a2"])
        for (const t of ["b1", "b2", "b3", "b4"]) yield* post(t)
        const resumed = yield* readEvents({
          baseUrl: url,
          token: ben.token,
          lastEventId: first[first.length - 1]!.id,
          count: 5,
          keep: durable
        })
        expect(messageTexts(resumed)).toEqual(["a3", "b1", "b2", "b3", "b4"])
        const ids = [...first, ...resumed].map((d) => Number(d.id))
        expect(ids).toEqual([...ids].sort((x, y) => x - y))
        expect(new Set(ids).size).toBe(ids.length)
      }))

    it.effect("a stream carries a keep-alive comment every heartbeat (1 second here), between events as well", () =>
      Effect.gen(function*() {
        const { ana, ben, room, url } = yield* setup
        const response = yield* Effect.promise(() =>
          fetch(`${url}/v1/events`, { headers: { authorization: `Bearer ${ben.token}` } })
        )
        const body = response.body
        if (body === null) return expect.fail("the stream has no body")
        const reader = body.getReader()
        const decoder = new TextDecoder()
        let text = ""
        const until = (done: (text: string) => boolean) =>
          Effect.promise(async () => {
            while (!done(text)) {
              const chunk = await reader.read()
              if (chunk.done) return
              text += decoder.decode(chunk.value, { stream: true })
            }
          })
        const count = (needle: string) => text.split(needle).length - 1
        yield* until((t) => t.includes(": ready "))
        yield* until(() => count(": keep-alive") >= 1)
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "between beats" } })
        yield* until((t) => t.includes("between beats"))
        const beatsBefore = count(": keep-alive")
        yield* until(() => count(": keep-alive") >= beatsBefore + 1)
        yield* Effect.promise(() => reader.cancel())
        const message = text.indexOf("between beats")
        expect(text.lastIndexOf(": keep-alive")).toBeGreaterThan(message)
        expect(text.indexOf(": keep-alive")).toBeLessThan(message)
        expect(response.headers.get("content-type")).toContain("text/event-stream")
      }))

    it.effect("a live stream receives events in order while they are written concurrently", () =>
      Effect.gen(function*() {
        const { ana, ben, position, room, url } = yield* setup
        const reader = yield* readEvents({
          baseUrl: url,
          token: ben.token,
          lastEventId: position,
          count: 40,
          keep: (d) => d.event.type === "message.created",
          timeout: "20 seconds"
        }).pipe(Effect.fork)
        yield* Effect.all(
          Array.from(
            { length: 40 },
            (_, i) => ana.api.messages.post({ path: { room: room.id }, payload: { text: `c${i}` } })
          ),
          { concurrency: 8 }
        )
        const got = yield* Fiber.join(reader)
        expect(got).toHaveLength(40)
        expect(new Set(messageTexts(got)).size).toBe(40)
        const seqs = got.map((d) => d.event.type === "message.created" ? d.event.message.seq : -1)
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y))
      }))

    it.effect("long-poll returns the same events with the same ids as the stream", () =>
      Effect.gen(function*() {
        const { ana, ben, position, room, url } = yield* setup
        for (const t of ["p1", "p2", "p3"]) {
          yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: t } })
        }
        const streamed = yield* readEvents({
          baseUrl: url,
          token: ben.token,
          lastEventId: position,
          count: 3,
          keep: durable
        })
        const polled: Array<Delivered> = []
        let cursor = position
        for (let i = 0; i < 5 && polled.length < 3; i++) {
          const batch = yield* ben.api.events.poll({ urlParams: { after: cursor, timeoutMs: 2000 } })
          polled.push(...batch.events.filter(durable))
          cursor = batch.cursor
        }
        expect(polled.map((d) => [d.id, d.event.type])).toEqual(streamed.map((d) => [d.id, d.event.type]))
        // Whether the poll is already waiting when p4 is posted or starts after it, it answers p4.
        const waiting = yield* ben.api.events.poll({ urlParams: { after: cursor, timeoutMs: 3000 } }).pipe(Effect.fork)
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "p4" } })
        const woke = yield* Fiber.join(waiting)
        expect(messageTexts(woke.events)).toEqual(["p4"])
        const empty = yield* ben.api.events.poll({ urlParams: { after: woke.cursor, timeoutMs: 0 } })
        expect(empty.events.filter(durable)).toEqual([])
      }))

    it.effect("long-poll pages a backlog: at most limit events each, in order, none missed or repeated", () =>
      Effect.gen(function*() {
        const { ana, ben, position, room } = yield* setup
        const texts = Array.from({ length: 12 }, (_, i) => `page ${i}`)
        for (const text of texts) yield* ana.api.messages.post({ path: { room: room.id }, payload: { text } })
        const pages: Array<ReadonlyArray<Delivered>> = []
        let cursor = position
        while (pages.flat().filter(durable).length < texts.length) {
          const batch = yield* ben.api.events.poll({ urlParams: { after: cursor, timeoutMs: 0, limit: 5 } })
          expect(batch.events.length).toBeLessThanOrEqual(5)
          expect(batch.events.length).toBeGreaterThan(0)
          pages.push(batch.events)
          cursor = batch.cursor
        }
        expect(messageTexts(pages.flat())).toEqual(texts)
        expect(pages.length).toBeGreaterThanOrEqual(3)
        // A limit outside 1–1,000 is refused.
        for (const limit of ["0", "1001", "ten"]) {
          const refused = yield* raw("GET", `/v1/events/poll?after=${cursor}&timeoutMs=0&limit=${limit}`, {
            token: ben.token
          })
          expect([refused.status, refused.text]).toEqual([400, expect.stringContaining("limit")])
        }
      }))

    it.effect("people only receive events of rooms they may see", () =>
      Effect.gen(function*() {
        const { ana, ben, org, position, url } = yield* setup
        const secret = yield* ana.api.rooms.create({
          path: { org: org.id },
          payload: { name: "board", kind: "private" }
        })
        yield* ana.api.messages.post({ path: { room: secret.id }, payload: { text: "private words" } })
        const open = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "open" } })
        yield* ben.api.rooms.join({ path: { room: open.id } })
        yield* ana.api.messages.post({ path: { room: open.id }, payload: { text: "public words" } })
        const got = yield* readEvents({
          baseUrl: url,
          token: ben.token,
          lastEventId: position,
          count: 5,
          keep: durable,
          timeout: "3 seconds"
        })
        expect(messageTexts(got)).toEqual(["public words"])
        expect(got.some((d) => JSON.stringify(d).includes(secret.id))).toBe(false)
        expect(got.map((d) => d.event.type)).toEqual([
          "room.created",
          "member.joined",
          "member.joined",
          "message.created"
        ])
        yield* ana.api.rooms.addMember({ path: { room: secret.id }, payload: { userId: ben.user.id } })
        yield* ana.api.messages.post({ path: { room: secret.id }, payload: { text: "now you may" } })
        const later = yield* readEvents({
          baseUrl: url,
          token: ben.token,
          lastEventId: got[got.length - 1]!.id,
          count: 2,
          keep: durable
        })
        expect(later.map((d) => d.event.type)).toEqual(["member.joined", "message.created"])
        expect(messageTexts(later)).toEqual(["now you may"])
      }))

    it.effect("a live stream follows its reader's access: added to a private room, the next words arrive; removed, no more", () =>
      Effect.gen(function*() {
        const { ana, ben, org, url } = yield* setup
        const ops = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "ops", kind: "private" } })
        const stream = yield* watch({ baseUrl: url, token: ben.token, count: 4, keep: durable })
        yield* ana.api.messages.post({ path: { room: ops.id }, payload: { text: "before ben" } })
        yield* ana.api.rooms.addMember({ path: { room: ops.id }, payload: { userId: ben.user.id } })
        // Written straight after the join, before the node can have re-read Ben's access.
        for (const text of ["welcome", "ben, meet ops"]) {
          yield* ana.api.messages.post({ path: { room: ops.id }, payload: { text } })
        }
        yield* ana.api.rooms.removeMember({ path: { room: ops.id, member: ben.user.id } })
        yield* ana.api.messages.post({ path: { room: ops.id }, payload: { text: "after ben" } })
        const got = yield* Fiber.join(stream)
        expect(got.map((d) => d.event.type)).toEqual([
          "member.joined",
          "message.created",
          "message.created",
          "member.left"
        ])
        expect(messageTexts(got)).toEqual(["welcome", "ben, meet ops"])
      }))

    it.effect("a join and the room's next message committed together both reach the new member's open stream", () =>
      Effect.gen(function*() {
        const { ana, ben, org, url } = yield* setup
        const ops = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: "ops2", kind: "private" } })
        const stream = yield* watch({ baseUrl: url, token: ben.token, count: 2, keep: durable })
        // One commit: the node reads both events in one batch, before it can re-read Ben's access.
        yield* Effect.gen(function*() {
          const rooms = yield* RoomRepo
          const messages = yield* MessageRepo
          const info = yield* rooms.info(org.id, ops.id)
          yield* withOrg(org.id)(Effect.zipRight(
            rooms.addMember(org.id, ops.id, ben.user.id),
            messages.post(info, { kind: "user", id: ana.user.id, name: "Ana" }, { text: "in the same commit" })
          ))
        }).pipe(Effect.provide(Store.layer.pipe(Layer.provide(LogWaker.none))))
        const got = yield* Fiber.join(stream)
        expect(got.map((d) => d.event.type)).toEqual(["member.joined", "message.created"])
        expect(messageTexts(got)).toEqual(["in the same commit"])
      }))

    it.effect("a long-poll that times out moves its cursor past what the reader may not see", () =>
      Effect.gen(function*() {
        const { ana, ben, position, room, url } = yield* setup
        const cy = yield* person("Cy")
        const elsewhere = yield* cy.api.orgs.create({ payload: { name: "Elsewhere", slug: slug() } })
        const cyRoom = yield* cy.api.rooms.create({ path: { org: elsewhere.id }, payload: { name: "cy" } })
        const { cursor } = yield* ben.api.events.poll({ urlParams: { after: position, timeoutMs: 0 } })
        const cySees = yield* watch({
          baseUrl: url,
          token: cy.token,
          count: 1,
          keep: (d) => d.event.type === "message.created"
        })
        const waiting = yield* ben.api.events.poll({ urlParams: { after: cursor, timeoutMs: 3000 } }).pipe(Effect.fork)
        yield* cy.api.messages.post({ path: { room: cyRoom.id }, payload: { text: "not for ben" } })
        const [written] = yield* Fiber.join(cySees)
        const batch = yield* Fiber.join(waiting)
        expect(batch.events).toEqual([])
        expect(Number(batch.cursor)).toBeGreaterThanOrEqual(Number(written!.id))
        // From that cursor, the next poll gets what Ben may see, and only that.
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "for ben" } })
        const next = yield* ben.api.events.poll({ urlParams: { after: batch.cursor, timeoutMs: 5000 } })
        expect(messageTexts(next.events)).toEqual(["for ben"])
      }))

    it.effect("a cursor the server cannot honour gets a reset event, then live events", () =>
      Effect.gen(function*() {
        const sql = yield* Database.AdminSql
        const { ana, ben, position, room, url } = yield* setup
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "old" } })
        const ahead = yield* readEvents({ baseUrl: url, token: ben.token, lastEventId: "999999999", count: 1 })
        expect(ahead.map((d) => d.event.type)).toEqual(["reset"])
        const garbage = yield* readEvents({ baseUrl: url, token: ben.token, lastEventId: "not-an-id", count: 1 })
        expect(garbage.map((d) => d.event.type)).toEqual(["reset"])
        yield* sql`DELETE FROM events WHERE position <= ${Number(position) + 1}`
        yield* sql`UPDATE event_log_state SET retained_from = GREATEST(retained_from, ${Number(position) + 2})`
        const tooOld = yield* readEvents({ baseUrl: url, token: ben.token, lastEventId: position, count: 1 })
        expect(tooOld[0]!.event.type).toBe("reset")
        const fiber = yield* watch({ baseUrl: url, token: ben.token, lastEventId: position, count: 2, keep: durable })
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "fresh" } })
        const resumed = yield* Fiber.join(fiber)
        expect(resumed[0]!.event.type).toBe("reset")
        expect(messageTexts(resumed)).toEqual(["fresh"])
      }))

    it.effect("the presence list shows who has a stream open now", () =>
      Effect.gen(function*() {
        const { ana, ben, org, room, url } = yield* setup
        const outsider = yield* person("Olga")
        const online = Effect.map(ana.api.orgs.presence({ path: { org: org.id } }), (p) => [...p.online])
        expect(yield* online).not.toContain(ben.user.id)
        const open = yield* Effect.scoped(Effect.gen(function*() {
          // Ben's stream stays open until his own typing comes back on it.
          const stream = yield* watch({
            baseUrl: url,
            token: ben.token,
            count: 1,
            keep: (d) => d.event.type === "typing"
          })
          const during = yield* online
          yield* ben.api.rooms.typing({ path: { room: room.id }, payload: {} })
          yield* Fiber.join(stream)
          return during
        }))
        expect(open).toContain(ben.user.id)
        expect(open).not.toContain(outsider.user.id)
        // Closed, he is offline again.
        yield* eventually(Effect.map(online, (ids) => ids.includes(ben.user.id) ? Option.none() : Option.some(ids)))
        expect((yield* raw("GET", `/v1/orgs/${org.id}/presence`, { token: outsider.token })).status).toBe(404)
      }))

    it.effect("a guest hears a person come online who shares a room with them", () =>
      Effect.gen(function*() {
        const { ana, org, room, url } = yield* setup
        const gus = yield* person("Gus")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: gus.user.email, role: "guest" } })
        yield* ana.api.rooms.addMember({ path: { room: room.id }, payload: { userId: gus.user.id } })
        const cy = yield* person("Cy")
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: cy.user.email } })
        yield* ana.api.rooms.addMember({ path: { room: room.id }, payload: { userId: cy.user.id } })
        const heard = yield* watch({
          baseUrl: url,
          token: gus.token,
          count: 1,
          keep: (d) => d.event.type === "presence.changed" && d.event.userId === cy.user.id,
          timeout: "10 seconds"
        })
        // Cy's first stream brings him online.
        const cys = yield* watch({ baseUrl: url, token: cy.token, count: 1, keep: (d) => d.event.type === "typing" })
        const [online] = yield* Fiber.join(heard)
        expect(online?.event).toMatchObject({ type: "presence.changed", userId: cy.user.id, status: "online" })
        yield* cy.api.rooms.typing({ path: { room: room.id }, payload: {} })
        yield* Fiber.join(cys)
      }))

    it.effect("typing and presence reach the room's members and carry resumable ids", () =>
      Effect.gen(function*() {
        const { ana, ben, room, url } = yield* setup
        const bens = yield* watch({
          baseUrl: url,
          token: ben.token,
          count: 2,
          keep: (d) =>
            d.event.type === "typing" || (d.event.type === "presence.changed" && d.event.userId === ana.user.id),
          timeout: "10 seconds"
        })
        // Ana's first stream brings her online; it stays open until her own typing comes back on it.
        const anas = yield* watch({ baseUrl: url, token: ana.token, count: 1, keep: (d) => d.event.type === "typing" })
        yield* ana.api.rooms.typing({ path: { room: room.id }, payload: {} })
        const got = yield* Fiber.join(bens)
        yield* Fiber.join(anas)
        expect(got.map((d) => d.event.type).sort()).toEqual(["presence.changed", "typing"])
        for (const d of got) expect(d.id).toMatch(/^\d+~\d+$/)
        const typing = got.find((d) => d.event.type === "typing")!
        // Resuming from an ephemeral id continues after its position: no reset, and the next message arrives.
        const resumed = yield* watch({
          baseUrl: url,
          token: ben.token,
          lastEventId: typing.id,
          count: 1,
          keep: durable
        })
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "after typing" } })
        expect((yield* Fiber.join(resumed)).map((d) => d.event.type)).toEqual(["message.created"])
      }))

    it.effect("a malformed row in the log is skipped and logged; the nodes' tailers and the streams go on", () =>
      Effect.gen(function*() {
        const sql = yield* Database.AdminSql
        const { ana, ben, position, room, url } = yield* setup
        const fiber = yield* watch({ baseUrl: url, token: ben.token, lastEventId: position, count: 1, keep: durable })
        // A row no event decodes from, written where the next event would go.
        yield* sql.withTransaction(Effect.gen(function*() {
          const [state] = yield* sql<
            { position: string }
          >`UPDATE event_log_state SET position = position + 1 RETURNING position`
          yield* sql`INSERT INTO events (position, org_id, org_wide, type, payload)
            VALUES (${state!.position}, ${room.orgId}, true, 'message.created', ${
            JSON.stringify({ type: "message.created", message: 42 })
          }::jsonb)`
        }))
        yield* ana.api.messages.post({ path: { room: room.id }, payload: { text: "after the bad row" } })
        expect(messageTexts(yield* Fiber.join(fiber))).toEqual(["after the bad row"])
        const resumed = yield* readEvents({
          baseUrl: url,
          token: ben.token,
          lastEventId: position,
          count: 1,
          keep: durable
        })
        expect(messageTexts(resumed)).toEqual(["after the bad row"])
      }))
  })
})
