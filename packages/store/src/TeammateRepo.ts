/**
 * Teammates, their room memberships, memory (core blocks and long-term
 * entries with full-text recall) and pins.
 */
import { SqlClient } from "@effect/sql"
import { Conflict, NotFound } from "@troupe/domain/Errors"
import { Audience, MemberJoined, PinCreated, RoomCreated, TeammateUpdated } from "@troupe/domain/Event"
import { MessageId, type OrgId, type RoomId, TeammateId, UserId } from "@troupe/domain/Ids"
import { RoomMember } from "@troupe/domain/Room"
import {
  type BusyPolicy,
  type CoreBlock,
  MemoryEntry,
  MemoryView,
  Teammate,
  type ToolName
} from "@troupe/domain/Teammate"
import { Effect, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import { orgScope } from "./OrgScope.js"
import { toRoomInfo } from "./RoomRepo.js"

interface TeammateRow {
  readonly id: string
  readonly orgId: string
  readonly handle: string
  readonly name: string
  readonly role: string
  readonly personality: string
  readonly instructions: string
  readonly model: string
  readonly tools: ReadonlyArray<ToolName>
  readonly busyPolicy: BusyPolicy
  readonly template: string | null
  readonly monthlyTokenLimit: string | null
  readonly createdAt: Date
  readonly dismissedAt: Date | null
}

/** Everything that defines a teammate. */
export interface TeammateFields {
  readonly handle: string
  readonly name: string
  readonly role: string
  readonly personality: string
  readonly instructions: string
  readonly model: string
  readonly tools: ReadonlyArray<ToolName>
  readonly busyPolicy: BusyPolicy
  readonly template: string | null
  readonly monthlyTokenLimit: number | null
}

const decode = Schema.decodeUnknownSync(Teammate)
const decodeTeammateId = Schema.decodeSync(TeammateId)
const decodeMessageId = Schema.decodeSync(MessageId)

const toTeammate = (row: TeammateRow): Teammate =>
  decode({
    id: row.id,
    orgId: row.orgId,
    handle: row.handle,
    name: row.name,
    role: row.role,
    personality: row.personality,
    instructions: row.instructions,
    model: row.model,
    tools: row.tools,
    busyPolicy: row.busyPolicy,
    template: row.template,
    monthlyTokenLimit: row.monthlyTokenLimit === null ? null : Number(row.monthlyTokenLimit),
    createdAt: row.createdAt.toISOString(),
    dismissed: row.dismissedAt !== null
  })

const orgWide = new Audience({ roomId: null, orgWide: true, userIds: [] })

/** Teammates and their memory. */
export class TeammateRepo extends Effect.Service<TeammateRepo>()("@troupe/store/TeammateRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog
    const columns = sql`id, org_id, handle, name, role, personality, instructions, model, tools, busy_policy, template,
      monthly_token_limit, created_at, dismissed_at`

    const load = (id: string) =>
      Effect.flatMap(
        sql<TeammateRow>`SELECT ${columns} FROM teammates WHERE id = ${id}`,
        (rows) => rows.length === 0 ? Effect.fail(NotFound.of("teammate", id)) : Effect.succeed(toTeammate(rows[0]!))
      )

    const announce = (orgId: OrgId, teammate: Teammate, busy = false, queueDepth = 0) =>
      log.append(orgId, [{ audience: orgWide, event: new TeammateUpdated({ teammate, busy, queueDepth }) }])

    const create = Effect.fn("TeammateRepo.create")(function*(orgId: OrgId, createdBy: string, f: TeammateFields) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const clash = yield* sql`SELECT 1 FROM org_members m JOIN users u ON u.id = m.user_id
          WHERE m.org_id = ${orgId} AND u.handle = ${f.handle}`
        if (clash.length > 0) return yield* new Conflict({ message: `@${f.handle} is already a person in this org` })
        const rows = yield* sql<TeammateRow>`
          INSERT INTO teammates (org_id, handle, name, role, personality, instructions, model, tools, busy_policy,
            template, monthly_token_limit, created_by)
          VALUES (${orgId}, ${f.handle}, ${f.name}, ${f.role}, ${f.personality}, ${f.instructions}, ${f.model},
            ${[...f.tools]}::text[], ${f.busyPolicy}, ${f.template}, ${f.monthlyTokenLimit}, ${createdBy})
          ON CONFLICT (org_id, handle) DO NOTHING
          RETURNING ${columns}`
        if (rows.length === 0) return yield* new Conflict({ message: `a teammate is already called @${f.handle}` })
        const teammate = toTeammate(rows[0]!)
        yield* announce(orgId, teammate)
        return teammate
      }))
    })

    const get = Effect.fn("TeammateRepo.get")(function*(orgId: OrgId, id: TeammateId) {
      return yield* withOrg(orgId)(load(id))
    })

    const list = Effect.fn("TeammateRepo.list")(function*(orgId: OrgId) {
      const rows = yield* withOrg(orgId)(
        sql<TeammateRow>`SELECT ${columns} FROM teammates WHERE org_id = ${orgId} ORDER BY created_at, handle`
      )
      return rows.map(toTeammate)
    })

    const update = Effect.fn("TeammateRepo.update")(
      function*(orgId: OrgId, id: TeammateId, patch: Partial<Omit<TeammateFields, "handle" | "template">>) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const current = yield* load(id)
          if (current.dismissed) return yield* new Conflict({ message: "the teammate was dismissed" })
          const rows = yield* sql<TeammateRow>`
            UPDATE teammates SET
              name = ${patch.name ?? current.name}, role = ${patch.role ?? current.role},
              personality = ${patch.personality ?? current.personality},
              instructions = ${patch.instructions ?? current.instructions}, model = ${patch.model ?? current.model},
              tools = ${[...(patch.tools ?? current.tools)]}::text[], busy_policy = ${
            patch.busyPolicy ?? current.busyPolicy
          },
              monthly_token_limit = ${
            patch.monthlyTokenLimit === undefined ? current.monthlyTokenLimit : patch.monthlyTokenLimit
          },
              updated_at = now()
            WHERE id = ${id} RETURNING ${columns}`
          const teammate = toTeammate(rows[0]!)
          yield* announce(orgId, teammate)
          return teammate
        }))
      }
    )

    /** Dismisses a teammate: it stops answering; its messages and runs stay readable. */
    const dismiss = Effect.fn("TeammateRepo.dismiss")(function*(orgId: OrgId, id: TeammateId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        yield* load(id)
        const rows = yield* sql<TeammateRow>`
          UPDATE teammates SET dismissed_at = COALESCE(dismissed_at, now()) WHERE id = ${id} RETURNING ${columns}`
        yield* sql`UPDATE teammate_triggers SET status = 'refused', updated_at = now()
          WHERE teammate_id = ${id} AND status = 'pending'`
        const teammate = toTeammate(rows[0]!)
        yield* announce(orgId, teammate)
        return teammate
      }))
    })

    /** Publishes a teammate's busy state and queue depth; returns the event's log position. */
    const busy = Effect.fn("TeammateRepo.busy")(
      function*(orgId: OrgId, id: TeammateId, isBusy: boolean, queueDepth: number) {
        const positions = yield* withOrg(orgId)(Effect.flatMap(load(id), (t) => announce(orgId, t, isBusy, queueDepth)))
        return positions[positions.length - 1] ?? 0
      }
    )

    const addToRoom = Effect.fn("TeammateRepo.addToRoom")(function*(orgId: OrgId, roomId: RoomId, id: TeammateId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const teammate = yield* load(id)
        if (teammate.dismissed) return yield* new Conflict({ message: "the teammate was dismissed" })
        const rooms = yield* sql<{ archived: boolean; kind: string }>`
          SELECT archived_at IS NOT NULL AS archived, kind FROM rooms WHERE id = ${roomId} FOR UPDATE`
        if (rooms.length === 0) return yield* NotFound.of("room", roomId)
        if (rooms[0]!.archived) return yield* new Conflict({ message: "the room is archived" })
        const joined = yield* sql<{ joinedAt: Date }>`
          INSERT INTO room_members (org_id, room_id, member_kind, member_id) VALUES (${orgId}, ${roomId}, 'teammate', ${id})
          ON CONFLICT DO NOTHING RETURNING joined_at`
        if (joined.length === 0) return false
        const member = new RoomMember({
          kind: "teammate",
          id,
          name: teammate.name,
          handle: teammate.handle,
          joinedAt: joined[0]!.joinedAt
        })
        yield* log.append(orgId, [{
          audience: new Audience({ roomId, orgWide: rooms[0]!.kind === "public", userIds: [] }),
          event: new MemberJoined({ roomId, member })
        }])
        return true
      }))
    })

    /** Opens (or finds) the direct room between a person and a teammate. */
    const openDm = Effect.fn("TeammateRepo.openDm")(
      function*(orgId: OrgId, user: { id: string; name: string }, id: TeammateId) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const teammate = yield* load(id)
          if (teammate.dismissed) return yield* new Conflict({ message: "the teammate was dismissed" })
          const key = `${user.id},t:${id}`
          const existing = yield* sql<{ id: string }>`SELECT id FROM rooms WHERE org_id = ${orgId} AND dm_key = ${key}`
          if (existing.length > 0) return { roomId: existing[0]!.id, created: false }
          const rows = yield* sql<{ id: string }>`
          INSERT INTO rooms (org_id, kind, name, dm_key, created_by)
          VALUES (${orgId}, 'direct', ${`${user.name}, ${teammate.name}`}, ${key}, ${user.id})
          ON CONFLICT (org_id, dm_key) DO NOTHING RETURNING id`
          if (rows.length === 0) {
            const again = yield* sql<{ id: string }>`SELECT id FROM rooms WHERE org_id = ${orgId} AND dm_key = ${key}`
            return { roomId: again[0]!.id, created: false }
          }
          const roomId = rows[0]!.id
          yield* sql`INSERT INTO room_members (org_id, room_id, member_kind, member_id) VALUES
          (${orgId}, ${roomId}, 'user', ${user.id}), (${orgId}, ${roomId}, 'teammate', ${id})`
          const room = yield* sql<Parameters<typeof toRoomInfo>[0]>`
          SELECT id, org_id, kind, name, topic, (archived_at IS NOT NULL) AS archived, routing, created_by, created_at
          FROM rooms WHERE id = ${roomId}`
          yield* log.append(orgId, [{
            audience: new Audience({
              roomId: toRoomInfo(room[0]!).id,
              orgWide: false,
              userIds: [UserId.make(user.id)]
            }),
            event: new RoomCreated({ room: toRoomInfo(room[0]!) })
          }])
          return { roomId, created: true }
        }))
      }
    )

    /** Active teammates in a room. */
    const inRoom = Effect.fn("TeammateRepo.inRoom")(function*(orgId: OrgId, roomId: RoomId) {
      const rows = yield* withOrg(orgId)(sql<TeammateRow>`
        SELECT ${columns} FROM teammates t
        WHERE t.dismissed_at IS NULL AND EXISTS (SELECT 1 FROM room_members rm
          WHERE rm.room_id = ${roomId} AND rm.member_kind = 'teammate' AND rm.member_id = t.id)
        ORDER BY t.created_at`)
      return rows.map(toTeammate)
    })

    /**
     * The teammate's core blocks and latest memories. With `readable`, only
     * what came from those rooms (or from no room: entries people added by
     * hand) is shown; the teammate itself reads everything.
     */
    const memory = Effect.fn("TeammateRepo.memory")(
      function*(orgId: OrgId, id: TeammateId, limit: number, readable: ReadonlyArray<RoomId> | null = null) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          yield* load(id)
          const rooms = readable === null
            ? sql`true`
            : sql`(room_id IS NULL OR room_id = ANY(${[...readable]}::uuid[]))`
          const core = yield* sql<{ block: string; text: string }>`
            SELECT block, text FROM core_memory WHERE teammate_id = ${id} AND ${rooms}`
          const entries = yield* sql<{ id: string; text: string; sourceMessageId: string | null; createdAt: Date }>`
            SELECT id, text, source_message_id, created_at FROM memories WHERE teammate_id = ${id} AND ${rooms}
            ORDER BY created_at DESC LIMIT ${limit}`
          return new MemoryView({
            core: Object.fromEntries(core.map((c) => [c.block, c.text])),
            entries: entries.map((e) =>
              new MemoryEntry({
                ...e,
                sourceMessageId: e.sourceMessageId === null ? null : decodeMessageId(e.sourceMessageId)
              })
            )
          })
        }))
      }
    )

    /** Replaces a core block; `roomId` is the room the teammate wrote it from (null when a person set it). */
    const putCore = Effect.fn("TeammateRepo.putCore")(
      function*(orgId: OrgId, id: TeammateId, block: CoreBlock, text: string, roomId: RoomId | null) {
        yield* withOrg(orgId)(Effect.zipRight(
          load(id),
          sql`INSERT INTO core_memory (org_id, teammate_id, block, text, room_id) VALUES (${orgId}, ${id}, ${block}, ${text}, ${roomId})
            ON CONFLICT (teammate_id, block) DO UPDATE SET text = EXCLUDED.text, room_id = EXCLUDED.room_id, updated_at = now()`
        ))
      }
    )

    /** Stores a memory; `source` is the message (and its room) it came from, null when a person added it. */
    const remember = Effect.fn("TeammateRepo.remember")(
      function*(orgId: OrgId, id: TeammateId, text: string, source: { messageId: string; roomId: RoomId } | null) {
        const sourceMessageId = source?.messageId ?? null
        const rows = yield* withOrg(orgId)(sql<{ id: string; createdAt: Date }>`
          INSERT INTO memories (org_id, teammate_id, text, source_message_id, room_id)
          VALUES (${orgId}, ${id}, ${text}, ${sourceMessageId}, ${source?.roomId ?? null}) RETURNING id, created_at`)
        return new MemoryEntry({
          id: rows[0]!.id,
          text,
          sourceMessageId: sourceMessageId === null ? null : decodeMessageId(sourceMessageId),
          createdAt: rows[0]!.createdAt
        })
      }
    )

    /** Long-term memories matching `query` (full-text, best first). */
    const recall = Effect.fn("TeammateRepo.recall")(
      function*(orgId: OrgId, id: TeammateId, query: string, limit: number) {
        const rows = yield* withOrg(orgId)(
          sql<{ id: string; text: string; sourceMessageId: string | null; createdAt: Date }>`
        SELECT m.id, m.text, m.source_message_id, m.created_at
        FROM memories m, websearch_to_tsquery('english', ${query}) q
        WHERE m.teammate_id = ${id} AND m.search @@ q
        ORDER BY ts_rank(m.search, q) DESC, m.created_at DESC LIMIT ${limit}`
        )
        return rows.map((e) =>
          new MemoryEntry({
            ...e,
            sourceMessageId: e.sourceMessageId === null ? null : decodeMessageId(e.sourceMessageId)
          })
        )
      }
    )

    const forget = Effect.fn("TeammateRepo.forget")(function*(orgId: OrgId, id: TeammateId, memoryId: string) {
      const rows = yield* withOrg(orgId)(
        sql`DELETE FROM memories WHERE teammate_id = ${id} AND id = ${memoryId} RETURNING id`
      )
      if (rows.length === 0) return yield* NotFound.of("memory", memoryId)
    })

    const pin = Effect.fn("TeammateRepo.pin")(
      function*(orgId: OrgId, roomId: RoomId, text: string, author: { kind: "user" | "teammate"; id: string }) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const rows = yield* sql<{ id: string }>`INSERT INTO pins (org_id, room_id, text, author_kind, author_id)
            VALUES (${orgId}, ${roomId}, ${text}, ${author.kind}, ${author.id}) RETURNING id`
          yield* log.append(orgId, [{
            audience: new Audience({ roomId, orgWide: false, userIds: [] }),
            event: new PinCreated({ roomId, pinId: rows[0]!.id, text })
          }])
          return rows[0]!.id
        }))
      }
    )

    const pins = Effect.fn("TeammateRepo.pins")(function*(orgId: OrgId, roomId: RoomId) {
      return yield* withOrg(orgId)(
        sql<
          { id: string; text: string }
        >`SELECT id, text FROM pins WHERE room_id = ${roomId} ORDER BY created_at LIMIT 20`
      )
    })

    return {
      create,
      get,
      list,
      update,
      dismiss,
      busy,
      addToRoom,
      openDm,
      inRoom,
      memory,
      putCore,
      remember,
      recall,
      forget,
      pin,
      pins,
      decodeId: decodeTeammateId
    } as const
  }),
  dependencies: [EventLog.Default]
}) {}
