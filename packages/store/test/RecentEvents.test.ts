/**
 * A node serves its readers the events it wrote (or read) lately from
 * memory: what it serves must be exactly what Postgres holds, and it must
 * never skip what another node wrote in between or serve what was rolled back.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { AccountRepo } from "../src/AccountRepo.js"
import * as Database from "../src/Database.js"
import { EventLog, type LoggedEvent, LogWaker } from "../src/EventLog.js"
import { MessageRepo } from "../src/MessageRepo.js"
import { OrgRepo } from "../src/OrgRepo.js"
import { withOrg } from "../src/OrgScope.js"
import { RoomRepo } from "../src/RoomRepo.js"

const Node = Layer.mergeAll(MessageRepo.Default, EventLog.Default).pipe(Layer.provide(LogWaker.none))

const Repos = Layer.mergeAll(AccountRepo.Default, OrgRepo.Default, RoomRepo.Default, Node).pipe(
  Layer.provide(LogWaker.none),
  Layer.provideMerge(Database.layerTest)
)

/** A second node over the same database: its own log reader and memory. */
const otherNode = Effect.map(Layer.build(Node), (ctx) => ({
  log: Context.get(ctx, EventLog),
  messages: Context.get(ctx, MessageRepo)
}))

const seed = Effect.gen(function*() {
  const accounts = yield* AccountRepo
  const orgs = yield* OrgRepo
  const rooms = yield* RoomRepo
  const tag = randomBytes(3).toString("hex")
  const { user } = yield* accounts.signup({ email: `ana-${tag}@example.com`, password: "long enough pw", name: "Ana" })
  const org = yield* orgs.create(user, { name: "Recent", slug: `recent-${tag}` })
  const room = yield* rooms.create(org.id, user, { name: "general", kind: "public", topic: "" })
  return { org, room, author: { kind: "user" as const, id: user.id, name: user.name } }
})

const createdIds = (events: ReadonlyArray<LoggedEvent>) =>
  events.flatMap((e) => {
    const event = e.delivered.event
    return event.type === "message.created" ? [event.message.text] : []
  })

describe("a node's recent events", () => {
  layer(Repos, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.scoped("what a node wrote it reads back from memory exactly as Postgres holds it", () =>
      Effect.gen(function*() {
        const log = yield* EventLog
        const messages = yield* MessageRepo
        const { author, room } = yield* seed
        const from = (yield* log.head()).position
        const root = yield* messages.post(room, author, { text: "first, @nobody" })
        yield* messages.post(room, author, { text: "a reply", threadId: root.message.id, clientMessageId: "c-1" })
        const head = (yield* log.head()).position
        const fromMemory = yield* log.readAfter(from, 100, head)
        const other = yield* otherNode
        const fromPostgres = yield* other.log.readAfter(from, 100)
        expect(fromMemory.length).toBeGreaterThanOrEqual(3)
        expect(fromMemory.map((e) => e.position)).toEqual(fromPostgres.map((e) => e.position))
        expect(fromMemory).toEqual(fromPostgres)
        // Served from memory: gone from Postgres, this node still returns them up to the head it was told.
        const admin = yield* Database.AdminSql
        yield* admin`DELETE FROM events WHERE position > ${from}`
        expect(yield* log.readAfter(from, 100, head)).toEqual(fromMemory)
        expect(yield* log.readAfter(from, 100)).toEqual([])
      }))

    it.scoped("never past a gap: what another node wrote in between is read from Postgres", () =>
      Effect.gen(function*() {
        const log = yield* EventLog
        const messages = yield* MessageRepo
        const other = yield* otherNode
        const { author, room } = yield* seed
        const from = (yield* log.head()).position
        yield* messages.post(room, author, { text: "one, here" })
        yield* other.messages.post(room, author, { text: "two, elsewhere" })
        yield* messages.post(room, author, { text: "three, here" })
        const head = (yield* log.head()).position
        expect(createdIds(yield* log.readAfter(from, 100, head))).toEqual([
          "one, here",
          "two, elsewhere",
          "three, here"
        ])
        // Told only of its own first write, the node still does not stop short of what it does not hold.
        const afterOne = from + 1
        expect(createdIds(yield* log.readAfter(afterOne, 100, afterOne + 1))).toEqual(["two, elsewhere", "three, here"])
      }))

    it.scoped("what was rolled back is never served, and its positions go to the next write", () =>
      Effect.gen(function*() {
        const log = yield* EventLog
        const messages = yield* MessageRepo
        const { author, org, room } = yield* seed
        const from = (yield* log.head()).position
        const failed = yield* withOrg(org.id)(
          Effect.zipRight(messages.post(room, author, { text: "rolled back" }), Effect.fail("stop"))
        ).pipe(Effect.flip)
        expect(failed).toBe("stop")
        yield* messages.post(room, author, { text: "kept" })
        const head = (yield* log.head()).position
        const read = yield* log.readAfter(from, 100, head)
        expect(createdIds(read)).toEqual(["kept"])
        expect(read[0]?.position).toBe(from + 1)
      }))
  })
})
