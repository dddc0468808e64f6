import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import type { OrgId } from "@troupe/domain/Ids"
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { AccountRepo } from "../src/AccountRepo.js"
import * as Database from "../src/Database.js"
import { LogWaker } from "../src/EventLog.js"
import { MessageRepo } from "../src/MessageRepo.js"
import { OrgRepo } from "../src/OrgRepo.js"
import { withOrg } from "../src/OrgScope.js"
import { RoomRepo } from "../src/RoomRepo.js"

const Repos = Layer.mergeAll(AccountRepo.Default, OrgRepo.Default, RoomRepo.Default, MessageRepo.Default).pipe(
  Layer.provide(LogWaker.none),
  Layer.provideMerge(Database.layerTest)
)

const tables = ["org_members", "rooms", "room_members", "messages", "message_mentions", "events", "orgs"] as const

/** Two orgs, each with a room and a message. */
const seed = Effect.gen(function*() {
  const accounts = yield* AccountRepo
  const orgs = yield* OrgRepo
  const rooms = yield* RoomRepo
  const messages = yield* MessageRepo
  const tag = randomBytes(3).toString("hex")
  const make = (name: string) =>
    Effect.gen(function*() {
      const { user } = yield* accounts.signup({ email: `${name}-${tag}@example.com`, password: "long enough pw", name })
      const org = yield* orgs.create(user, { name, slug: `${name}-${tag}` })
      const room = yield* rooms.create(org.id, user, { name: "general", kind: "public", topic: "" })
      yield* messages.post(room, { kind: "user", id: user.id, name }, { text: `secret of @${user.handle}` })
      return { org, room, user }
    })
  return { a: yield* make("alpha"), b: yield* make("beta") }
})

const countAs = (table: string, orgId: OrgId | null) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => {
    const count = sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql(table)}`.pipe(
      Effect.map((rows) => rows[0]!.n)
    )
    return orgId === null
      ? sql.withTransaction(Effect.zipRight(sql`SET LOCAL ROLE troupe_app`, count))
      : withOrg(orgId)(count)
  })

describe("org isolation in the database", () => {
  layer(Repos, { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("the app role sees nothing without an org, and only its own org with one", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const admin = yield* Database.AdminSql
        const { a, b } = yield* seed
        for (const table of tables) {
          const all = (yield* admin<{ n: number }>`SELECT count(*)::int AS n FROM ${admin(table)}`)[0]!.n
          expect(all, `${table} has rows for both orgs`).toBeGreaterThanOrEqual(2)
          expect(yield* countAs(table, null), `${table} without org context`).toBe(0)
          const inA = yield* countAs(table, a.org.id)
          const inB = yield* countAs(table, b.org.id)
          expect(inA, `${table} in org A`).toBeGreaterThan(0)
          expect(inB, `${table} in org B`).toBeGreaterThan(0)
          expect(inA + inB, `${table}: the two orgs partition the rows`).toBe(all)
        }
        const leaked = yield* withOrg(a.org.id)(
          sql<{ text: string }>`SELECT text FROM messages WHERE room_id = ${b.room.id}`
        )
        expect(leaked).toEqual([])
      }))

    it.effect("the app role cannot write rows into another org", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { a, b } = yield* seed
        const insert = withOrg(a.org.id)(
          sql`INSERT INTO rooms (org_id, kind, name, created_by) VALUES (${b.org.id}, 'public', 'intruder', ${a.user.id})`
        )
        const result = yield* Effect.either(insert)
        expect(result._tag).toBe("Left")
        const moved = yield* withOrg(a.org.id)(
          sql`UPDATE messages SET org_id = ${b.org.id} WHERE org_id = ${a.org.id}`
        ).pipe(Effect.either)
        expect(moved._tag).toBe("Left")
        const updatedOther = yield* withOrg(a.org.id)(
          sql`UPDATE messages SET text = 'defaced' WHERE room_id = ${b.room.id} RETURNING id`
        )
        expect(updatedOther).toEqual([])
        const admin = yield* Database.AdminSql
        const intact = yield* admin<{ text: string }>`SELECT text FROM messages WHERE room_id = ${b.room.id}`
        expect(intact.map((r) => r.text)).toEqual([expect.stringContaining("secret of")])
        const intruders = yield* admin`SELECT 1 FROM rooms WHERE name = 'intruder'`
        expect(intruders).toEqual([])
      }))

    it.effect("nested scopes: the same org joins one transaction; another org is isolated and the outer org comes back", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const { a, b } = yield* seed
        const txid = Effect.map(sql<{ id: string }>`SELECT txid_current()::text AS id`, (rows) => rows[0]!.id)
        const rooms = Effect.map(
          sql<{ name: string; orgId: string }>`SELECT name, org_id FROM rooms`,
          (rows) => rows.map((r) => r.orgId)
        )
        const [outer, inner] = yield* withOrg(a.org.id)(Effect.all([txid, withOrg(a.org.id)(txid)]))
        expect(inner).toBe(outer)
        const [one, two] = yield* Effect.all([withOrg(a.org.id)(txid), withOrg(a.org.id)(txid)])
        expect(one).not.toBe(two)
        const seen = yield* withOrg(a.org.id)(Effect.all({
          before: rooms,
          nested: withOrg(b.org.id)(rooms),
          after: rooms
        }))
        expect(new Set(seen.before)).toEqual(new Set([a.org.id]))
        expect(new Set(seen.nested)).toEqual(new Set([b.org.id]))
        expect(new Set(seen.after)).toEqual(new Set([a.org.id]))
      }))

    it.effect("the app's own login cannot step out: no role to reset to, no e-mails, no password hashes", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const admin = yield* Database.AdminSql
        const { a, b } = yield* seed
        const [who] = yield* sql<
          { session: string; current: string }
        >`SELECT session_user AS session, current_user AS current`
        expect(who).toEqual({ session: Database.APP_ROLE, current: Database.APP_ROLE })
        const [owner] = yield* admin<
          { owner: string }
        >`SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'messages'`
        expect(owner!.owner).not.toBe(Database.APP_ROLE)
        // Inside an org's transaction, resetting the role changes nothing: the session's user is the app role.
        const afterReset = yield* withOrg(a.org.id)(Effect.zipRight(
          sql`RESET ROLE`,
          sql<{ n: number }>`SELECT count(*)::int AS n FROM messages WHERE room_id = ${b.room.id}`
        ))
        expect(afterReset[0]!.n).toBe(0)
        for (const role of ["postgres", "pg_read_all_data"]) {
          const escalated = yield* withOrg(a.org.id)(sql`SELECT set_config('role', ${role}, true)`).pipe(Effect.either)
          expect(escalated._tag, role).toBe("Left")
        }
        for (
          const statement of [
            sql`SELECT email FROM users`,
            sql`SELECT password_hash FROM users`,
            sql`SELECT token_hash FROM sessions`,
            sql`SELECT * FROM users`,
            sql`SELECT token_hash FROM password_resets`,
            sql`UPDATE password_resets SET used_at = NULL`,
            sql`UPDATE users SET password_hash = 'x' WHERE id = ${a.user.id}`,
            sql`UPDATE users SET email = 'x@example.com' WHERE id = ${a.user.id}`,
            sql`UPDATE sessions SET revoked_at = NULL`,
            sql`SELECT troupe_set_password(${a.user.id}, 'x', NULL)`,
            sql`ALTER TABLE messages DISABLE ROW LEVEL SECURITY`,
            sql`SELECT * FROM events`.pipe(
              Effect.flatMap((rows) => rows.length === 0 ? Effect.fail("none") : Effect.succeed(rows))
            )
          ]
        ) {
          expect((yield* Effect.either(statement))._tag).toBe("Left")
        }
        // One person can be looked up by an e-mail already known, never listed.
        const found = yield* sql<{ id: string }>`SELECT id FROM troupe_find_user(${`alpha-`})`
        expect(found).toEqual([])
      }))
  })
})
