/**
 * The replay query narrows the log in SQL before the one visibility rule
 * (`@troupe/domain/Visibility`) decides: on generated orgs, rooms,
 * memberships and events, it must never leave out an event the rule would
 * show, and must leave out other orgs' events that do not name the reader.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Audience } from "@troupe/domain/Event"
import { OrgId, RoomId, UserId } from "@troupe/domain/Ids"
import type { Role } from "@troupe/domain/Org"
import { sees, type Viewer } from "@troupe/domain/Visibility"
import { Effect, FastCheck as fc, Layer } from "effect"
import { randomUUID } from "node:crypto"
import * as Database from "../src/Database.js"
import { EventLog, LogWaker } from "../src/EventLog.js"

const orgs = Array.from({ length: 3 }, () => randomUUID())
const users = Array.from({ length: 3 }, () => randomUUID())
const rooms = orgs.flatMap((org) => [0, 1].map(() => ({ org, id: randomUUID() })))

interface Generated {
  readonly orgId: string | null
  readonly roomId: string | null
  readonly orgWide: boolean
  readonly userIds: ReadonlyArray<string>
}

const event: fc.Arbitrary<Generated> = fc.oneof(
  fc.record({
    room: fc.constantFrom(...rooms),
    orgWide: fc.boolean(),
    userIds: fc.subarray(users, { maxLength: 2 })
  }).map(({ orgWide, room, userIds }) => ({ orgId: room.org, roomId: room.id, orgWide, userIds })),
  fc.record({ orgId: fc.constantFrom(...orgs), userIds: fc.subarray(users, { maxLength: 2 }), orgWide: fc.boolean() })
    .map(({ orgId, orgWide, userIds }) => ({ orgId, roomId: null, orgWide, userIds })),
  fc.record({ userIds: fc.subarray(users, { minLength: 1, maxLength: 1 }) })
    .map(({ userIds }) => ({ orgId: null, roomId: null, orgWide: false, userIds }))
)

const viewer: fc.Arbitrary<Viewer> = fc.record({
  user: fc.constantFrom(...users),
  memberships: fc.subarray(orgs).chain((inOrgs) =>
    fc.tuple(
      ...inOrgs.map((o) => fc.constantFrom<Role>("owner", "admin", "member", "guest").map((role) => [o, role] as const))
    )
  ),
  rooms: fc.subarray(rooms.map((r) => r.id))
}).map(({ memberships, rooms, user }) => ({
  userId: UserId.make(user),
  orgs: new Map(memberships),
  rooms: new Set(rooms)
}))

const audienceOf = (e: Generated) =>
  new Audience({
    roomId: e.roomId === null ? null : RoomId.make(e.roomId),
    orgWide: e.orgWide,
    userIds: e.userIds.map((u) => UserId.make(u))
  })

const Log = EventLog.Default.pipe(Layer.provide(LogWaker.none), Layer.provideMerge(Database.layerTest))

describe("replay against the visibility rule", () => {
  layer(Log, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("on generated worlds, the SQL keeps every event the rule shows, and no other org's event that does not name the reader", () =>
      Effect.gen(function*() {
        const log = yield* EventLog
        const admin = yield* Database.AdminSql
        const samples = fc.sample(fc.tuple(fc.array(event, { minLength: 1, maxLength: 40 }), viewer), {
          numRuns: 25,
          seed: 20261129
        })
        for (const [events, reader] of samples) {
          const from = (yield* log.head()).position
          yield* admin.withTransaction(Effect.gen(function*() {
            yield* admin`UPDATE event_log_state SET position = position + ${events.length}`
            for (const [i, e] of events.entries()) {
              yield* admin`INSERT INTO events (position, org_id, room_id, org_wide, user_ids, type, payload)
                VALUES (${from + i + 1}, ${e.orgId}, ${e.roomId}, ${e.orgWide}, ${e.userIds}::uuid[], 'reset',
                  ${JSON.stringify({ type: "reset", reason: "generated" })}::jsonb)`
            }
          }))
          const until = from + events.length
          const replayed = yield* log.replay(
            { userId: reader.userId, orgIds: [...reader.orgs.keys()] },
            from,
            until,
            1000
          )
          const kept = new Set(replayed.events.map((e) => e.position))
          const shown = events.flatMap((e, i) =>
            sees(reader, e.orgId === null ? null : OrgId.make(e.orgId), audienceOf(e)) ? [from + i + 1] : []
          )
          for (const position of shown) {
            expect(kept.has(position), `event ${position} is visible but was not replayed`).toBe(true)
          }
          const foreign = events.flatMap((e, i) =>
            (e.orgId === null || !reader.orgs.has(e.orgId)) && !e.userIds.includes(reader.userId) ? [from + i + 1] : []
          )
          for (const position of foreign) {
            expect(kept.has(position), `event ${position} of another org was replayed`).toBe(false)
          }
        }
      }))
  })
})
