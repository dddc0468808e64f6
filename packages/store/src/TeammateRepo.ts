/**
 * Teammates, their room memberships and memory (core blocks and long-term
 * entries with full-text recall). Pins are `PinRepo`'s.
 */
import { SqlClient, type Statement } from "@effect/sql"
import { Conflict, NotFound } from "@troupe/domain/Errors"
import { Audience, MemberJoined, RoomCreated, TeammateUpdated } from "@troupe/domain/Event"
import { MessageId, OrgId, RoomId, TeammateId, UserId } from "@troupe/domain/Ids"
import { RoomKind, RoomMember } from "@troupe/domain/Room"
import { BusyPolicy, type CoreBlock, MemoryEntry, MemoryView, Teammate, ToolName } from "@troupe/domain/Teammate"
import { Effect, Option, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import { orgScope } from "./OrgScope.js"
import { RoomRow, toRoomInfo } from "./RoomRepo.js"

/** A `teammates` row, as `columns` selects it. */
const TeammateRow = Schema.Struct({
  ...Schema.Struct(Teammate.fields).omit("monthlyTokenLimit", "createdAt", "dismissed").fields,
  monthlyTokenLimit: Schema.NullOr(Schema.NumberFromString),
  createdAt: Schema.DateFromSelf,
  dismissedAt: Schema.NullOr(Schema.DateFromSelf)
})

const toTeammate = ({ dismissedAt, ...row }: typeof TeammateRow.Type): Teammate =>
  new Teammate({ ...row, dismissed: dismissedAt !== null })

const teammateRows = Rows.all("teammate", TeammateRow)
const teammateRow = Rows.one("teammate", TeammateRow)
const maybeTeammate = Rows.first("teammate", TeammateRow)

const MemoryRow = Schema.Struct({
  id: Schema.UUID,
  text: Schema.String,
  sourceMessageId: Schema.NullOr(MessageId),
  roomId: Schema.NullOr(RoomId),
  createdAt: Schema.DateFromSelf
})
const memoryRows = Rows.all("memory", MemoryRow)

/** How many of the newest matching memories recall ranks. */
export const RECALL_CANDIDATES = 200
const CoreRow = Schema.Struct({ block: Schema.String, text: Schema.String })
const IdRow = Schema.Struct({ id: Schema.UUID })
const idRow = Rows.one("id", IdRow)
const maybeId = Rows.first("id", IdRow)
const RoomGate = Schema.Struct({ archived: Schema.Boolean, kind: RoomKind })
const Joined = Schema.Struct({ joinedAt: Schema.DateFromSelf })
const Work = Schema.Struct({ busy: Schema.Boolean, queueDepth: Schema.Number })

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

const decodeTeammateId = Schema.decodeSync(TeammateId)

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
      sql`SELECT ${columns} FROM teammates WHERE id = ${id}`.pipe(
        maybeTeammate,
        Effect.flatMap((found) =>
          Option.isNone(found) ? Effect.fail(NotFound.of("teammate", id)) : Effect.succeed(toTeammate(found.value))
        )
      )

    const announce = (orgId: OrgId, teammate: Teammate, busy = false, queueDepth = 0) =>
      log.append(orgId, [{ audience: orgWide, event: new TeammateUpdated({ teammate, busy, queueDepth }) }])

    /**
     * A teammate's work as its triggers show it (busy while one runs, and
     * how many wait), for announcing a change made while it works.
     */
    const workOf = (id: TeammateId) =>
      Rows.one("teammate work", Work)(sql`
        SELECT coalesce(bool_or(status = 'running'), false) AS busy,
          (count(*) FILTER (WHERE status = 'pending'))::int AS queue_depth
        FROM teammate_triggers WHERE teammate_id = ${id} AND status IN ('pending', 'running')`)

    const create = Effect.fn("TeammateRepo.create")(function*(orgId: OrgId, createdBy: string, f: TeammateFields) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const clash = yield* sql`SELECT 1 FROM org_members m JOIN users u ON u.id = m.user_id
          WHERE m.org_id = ${orgId} AND u.handle = ${f.handle}`
        if (clash.length > 0) return yield* new Conflict({ message: `@${f.handle} is already a person in this org` })
        const inserted = yield* sql`
          INSERT INTO teammates (org_id, handle, name, role, personality, instructions, model, tools, busy_policy,
            template, monthly_token_limit, created_by)
          VALUES (${orgId}, ${f.handle}, ${f.name}, ${f.role}, ${f.personality}, ${f.instructions}, ${f.model},
            ${[...f.tools]}::text[], ${f.busyPolicy}, ${f.template}, ${f.monthlyTokenLimit}, ${createdBy})
          ON CONFLICT (org_id, handle) DO NOTHING
          RETURNING ${columns}`.pipe(maybeTeammate)
        if (Option.isNone(inserted)) {
          return yield* new Conflict({ message: `a teammate is already called @${f.handle}` })
        }
        const teammate = toTeammate(inserted.value)
        yield* announce(orgId, teammate)
        return teammate
      }))
    })

    const get = Effect.fn("TeammateRepo.get")(function*(orgId: OrgId, id: TeammateId) {
      return yield* withOrg(orgId)(load(id))
    })

    const list = Effect.fn("TeammateRepo.list")(function*(orgId: OrgId) {
      const rows = yield* withOrg(orgId)(
        sql`SELECT ${columns} FROM teammates WHERE org_id = ${orgId} ORDER BY created_at, handle`.pipe(teammateRows)
      )
      return rows.map(toTeammate)
    })

    const update = Effect.fn("TeammateRepo.update")(
      function*(orgId: OrgId, id: TeammateId, patch: Partial<Omit<TeammateFields, "handle" | "template">>) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const current = yield* load(id)
          if (current.dismissed) return yield* new Conflict({ message: "the teammate was dismissed" })
          const row = yield* sql`
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
            WHERE id = ${id} RETURNING ${columns}`.pipe(teammateRow)
          const teammate = toTeammate(row)
          const work = yield* workOf(id)
          yield* announce(orgId, teammate, work.busy, work.queueDepth)
          return teammate
        }))
      }
    )

    /** Dismisses a teammate: it stops answering; its messages and runs stay readable. */
    const dismiss = Effect.fn("TeammateRepo.dismiss")(function*(orgId: OrgId, id: TeammateId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        yield* load(id)
        const row = yield* sql`
          UPDATE teammates SET dismissed_at = COALESCE(dismissed_at, now()) WHERE id = ${id} RETURNING ${columns}`.pipe(
          teammateRow
        )
        yield* sql`UPDATE teammate_triggers SET status = 'refused', updated_at = now()
          WHERE teammate_id = ${id} AND status = 'pending'`
        const teammate = toTeammate(row)
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
        const gate = yield* sql`
          SELECT archived_at IS NOT NULL AS archived, kind FROM rooms WHERE id = ${roomId} FOR UPDATE`.pipe(
          Rows.first("room", RoomGate)
        )
        if (Option.isNone(gate)) return yield* NotFound.of("room", roomId)
        if (gate.value.archived) return yield* new Conflict({ message: "the room is archived" })
        const joined = yield* sql`
          INSERT INTO room_members (org_id, room_id, member_kind, member_id) VALUES (${orgId}, ${roomId}, 'teammate', ${id})
          ON CONFLICT DO NOTHING RETURNING joined_at`.pipe(Rows.first("room member", Joined))
        if (Option.isNone(joined)) return false
        const member = new RoomMember({
          kind: "teammate",
          id,
          name: teammate.name,
          handle: teammate.handle,
          joinedAt: joined.value.joinedAt
        })
        yield* log.append(orgId, [{
          audience: new Audience({ roomId, orgWide: gate.value.kind === "public", userIds: [] }),
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
          const existing = sql`SELECT id FROM rooms WHERE org_id = ${orgId} AND dm_key = ${key}`
          const found = yield* maybeId(existing)
          if (Option.isSome(found)) return { roomId: found.value.id, created: false }
          const inserted = yield* sql`
          INSERT INTO rooms (org_id, kind, name, dm_key, created_by)
          VALUES (${orgId}, 'direct', ${`${user.name}, ${teammate.name}`}, ${key}, ${user.id})
          ON CONFLICT (org_id, dm_key) DO NOTHING RETURNING id`.pipe(maybeId)
          if (Option.isNone(inserted)) return { roomId: (yield* idRow(existing)).id, created: false }
          const roomId = inserted.value.id
          yield* sql`INSERT INTO room_members (org_id, room_id, member_kind, member_id) VALUES
          (${orgId}, ${roomId}, 'user', ${user.id}), (${orgId}, ${roomId}, 'teammate', ${id})`
          const room = toRoomInfo(
            yield* sql`
          SELECT id, org_id, kind, name, topic, (archived_at IS NOT NULL) AS archived, routing, created_by, created_at
          FROM rooms WHERE id = ${roomId}`.pipe(Rows.one("room", RoomRow))
          )
          yield* log.append(orgId, [{
            audience: new Audience({ roomId: room.id, orgWide: false, userIds: [UserId.make(user.id)] }),
            event: new RoomCreated({ room })
          }])
          return { roomId, created: true }
        }))
      }
    )

    /** Active teammates in a room. */
    const inRoom = Effect.fn("TeammateRepo.inRoom")(function*(orgId: OrgId, roomId: RoomId) {
      const rows = yield* withOrg(orgId)(sql`
        SELECT ${columns} FROM teammates t
        WHERE t.dismissed_at IS NULL AND EXISTS (SELECT 1 FROM room_members rm
          WHERE rm.room_id = ${roomId} AND rm.member_kind = 'teammate' AND rm.member_id = t.id)
        ORDER BY t.created_at`.pipe(teammateRows))
      return rows.map(toTeammate)
    })

    /** A teammate's core memory blocks (those from rooms in `rooms`, a condition), by block name. */
    const coreBlocks = (id: TeammateId, rooms: Statement.Fragment) =>
      Effect.map(
        sql`SELECT block, text FROM core_memory WHERE teammate_id = ${id} AND ${rooms}`.pipe(
          Rows.all("core memory", CoreRow)
        ),
        (rows): Record<string, string> => Object.fromEntries(rows.map((c) => [c.block, c.text]))
      )

    /** A teammate's core memory blocks, all of them: what its turns are told. */
    const core = Effect.fn("TeammateRepo.core")(function*(orgId: OrgId, id: TeammateId) {
      return yield* withOrg(orgId)(coreBlocks(id, sql`true`))
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
          const core = yield* coreBlocks(id, rooms)
          const entries = yield* sql`
            SELECT id, text, source_message_id, room_id, created_at FROM memories WHERE teammate_id = ${id} AND ${rooms}
            ORDER BY created_at DESC LIMIT ${limit}`.pipe(memoryRows)
          return new MemoryView({
            core,
            entries: entries.map((e) => new MemoryEntry(e))
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
        const row = yield* withOrg(orgId)(sql`
          INSERT INTO memories (org_id, teammate_id, text, source_message_id, room_id)
          VALUES (${orgId}, ${id}, ${text}, ${sourceMessageId}, ${source?.roomId ?? null})
          RETURNING id, text, source_message_id, room_id, created_at`.pipe(Rows.one("memory", MemoryRow)))
        return new MemoryEntry(row)
      }
    )

    /**
     * Long-term memories matching `query` (full-text, best first), ranked
     * among the `RECALL_CANDIDATES` newest matches (`troupe_recall_candidates`:
     * matched through the text index, which the org's row policy would
     * otherwise keep the planner from using).
     */
    const recall = Effect.fn("TeammateRepo.recall")(
      function*(orgId: OrgId, id: TeammateId, query: string, limit: number) {
        const rows = yield* withOrg(orgId)(
          sql`
        SELECT m.id, m.text, m.source_message_id, m.room_id, m.created_at
        FROM troupe_recall_candidates(${id}, websearch_to_tsquery('english', ${query}), ${RECALL_CANDIDATES}) c
        JOIN memories m ON m.id = c.id
        ORDER BY c.rank DESC, m.created_at DESC LIMIT ${limit}`.pipe(memoryRows)
        )
        return rows.map((e) => new MemoryEntry(e))
      }
    )

    const forget = Effect.fn("TeammateRepo.forget")(function*(orgId: OrgId, id: TeammateId, memoryId: string) {
      const rows = yield* withOrg(orgId)(
        sql`DELETE FROM memories WHERE teammate_id = ${id} AND id = ${memoryId} RETURNING id`
      )
      if (rows.length === 0) return yield* NotFound.of("memory", memoryId)
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
      core,
      putCore,
      remember,
      recall,
      forget,
      decodeId: decodeTeammateId
    } as const
  }),
  dependencies: [EventLog.Default]
}) {}
