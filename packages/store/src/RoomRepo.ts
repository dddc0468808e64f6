/**
 * Rooms and room membership, with each reader's unread and mention counts.
 */
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import { Conflict, Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import { Audience, MemberJoined, MemberLeft, RoomArchived, RoomCreated, RoomUpdated } from "@troupe/domain/Event"
import { OrgId, RoomId, UserId } from "@troupe/domain/Ids"
import type { MemberKind, Role } from "@troupe/domain/Org"
import { Room, RoomInfo, RoomKind, RoomMember, type RoutingMode, ThreadSummary } from "@troupe/domain/Room"
import type { User } from "@troupe/domain/User"
import { Effect, Option, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import { orgScope } from "./OrgScope.js"

/** The read marker key for a room itself (thread markers use the root's id). */
export const ROOM_MARKER = "00000000-0000-0000-0000-000000000000"

interface RoomRow {
  readonly id: string
  readonly orgId: string
  readonly kind: RoomKind
  readonly name: string
  readonly topic: string
  readonly archived: boolean
  readonly routing: RoutingMode
  readonly createdBy: string
  readonly createdAt: Date
}

interface CountedRoomRow extends RoomRow {
  readonly joined: boolean
  readonly unreadCount: number
  readonly mentionCount: number
  readonly threadUnreadCount: number
  readonly threadMentionCount: number
}

const decodeRoomId = Schema.decodeSync(RoomId)
const decodeOrgId = Schema.decodeSync(OrgId)
const decodeUserId = Schema.decodeSync(UserId)

const infoFields = (row: RoomRow) => ({
  id: decodeRoomId(row.id),
  orgId: decodeOrgId(row.orgId),
  kind: row.kind,
  name: row.name,
  topic: row.topic,
  archived: row.archived,
  routing: row.routing,
  createdBy: decodeUserId(row.createdBy),
  createdAt: row.createdAt
})

/** Maps a `rooms` row to its public record. */
export const toRoomInfo = (row: RoomRow) => new RoomInfo(infoFields(row))

const toRoom = (row: CountedRoomRow) =>
  new Room({
    ...infoFields(row),
    joined: row.joined,
    unreadCount: row.unreadCount,
    mentionCount: row.mentionCount,
    threadUnreadCount: row.threadUnreadCount,
    threadMentionCount: row.threadMentionCount
  })

/** What a caller may do with a room. */
export interface RoomAccess {
  readonly room: RoomInfo
  readonly isMember: boolean
}

const audienceOf = (room: { id: RoomId; kind: RoomKind }, extra: ReadonlyArray<UserId> = []) =>
  new Audience({ roomId: room.id, orgWide: room.kind === "public", userIds: [...extra] })

/** Rooms, DMs and room membership. */
export class RoomRepo extends Effect.Service<RoomRepo>()("@troupe/store/RoomRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg, withOrgSnapshot } = orgScope(sql)
    const log = yield* EventLog

    const roomColumns = sql`r.id, r.org_id, r.kind, r.name, r.topic, (r.archived_at IS NOT NULL) AS archived,
      r.routing, r.created_by, r.created_at`

    /**
     * Counts for a reader. Unread = messages by others, not deleted, after the
     * reader's marker (the room marker for top-level messages, each thread's
     * own marker for replies). Counts are zero in rooms the reader has not joined.
     */
    const countedRooms = (userId: string, where: Fragment) =>
      sql<CountedRoomRow>`
        SELECT ${roomColumns}, (rm.member_id IS NOT NULL) AS joined,
          CASE WHEN rm.member_id IS NULL THEN 0 ELSE (
            SELECT count(*) FROM messages m
            WHERE m.room_id = r.id AND m.thread_id IS NULL AND m.deleted_at IS NULL
              AND m.author_id <> ${userId} AND m.seq > COALESCE(rk.last_read_seq, 0)) END::int AS unread_count,
          CASE WHEN rm.member_id IS NULL THEN 0 ELSE (
            SELECT count(*) FROM message_mentions mm JOIN messages m ON m.id = mm.message_id
            WHERE mm.room_id = r.id AND mm.member_id = ${userId} AND mm.thread_id IS NULL
              AND m.deleted_at IS NULL AND m.author_id <> ${userId} AND mm.seq > COALESCE(rk.last_read_seq, 0)) END::int
            AS mention_count,
          CASE WHEN rm.member_id IS NULL THEN 0 ELSE (
            SELECT count(*) FROM messages m
            LEFT JOIN read_markers tk ON tk.user_id = ${userId} AND tk.room_id = r.id AND tk.thread_key = m.thread_id
            WHERE m.room_id = r.id AND m.thread_id IS NOT NULL AND m.deleted_at IS NULL
              AND m.author_id <> ${userId} AND m.seq > COALESCE(tk.last_read_seq, 0)) END::int AS thread_unread_count,
          CASE WHEN rm.member_id IS NULL THEN 0 ELSE (
            SELECT count(*) FROM message_mentions mm JOIN messages m ON m.id = mm.message_id
            LEFT JOIN read_markers tk ON tk.user_id = ${userId} AND tk.room_id = r.id AND tk.thread_key = mm.thread_id
            WHERE mm.room_id = r.id AND mm.member_id = ${userId} AND mm.thread_id IS NOT NULL
              AND m.deleted_at IS NULL AND m.author_id <> ${userId} AND mm.seq > COALESCE(tk.last_read_seq, 0)) END::int
            AS thread_mention_count
        FROM rooms r
        LEFT JOIN room_members rm ON rm.room_id = r.id AND rm.member_kind = 'user' AND rm.member_id = ${userId}
        LEFT JOIN read_markers rk ON rk.user_id = ${userId} AND rk.room_id = r.id AND rk.thread_key = ${ROOM_MARKER}
        WHERE ${where}
        ORDER BY r.created_at, r.id`

    const positionNow = sql<{ position: string }>`SELECT position FROM event_log_state`

    /** Rooms the reader belongs to, plus joinable public rooms (not for guests), with the log position they reflect. */
    const list = Effect.fn("RoomRepo.list")(function*(orgId: OrgId, userId: UserId, guest: boolean) {
      return yield* withOrgSnapshot(orgId)(Effect.gen(function*() {
        const rows = yield* countedRooms(
          userId,
          guest
            ? sql`rm.member_id IS NOT NULL`
            : sql`(rm.member_id IS NOT NULL OR (r.kind = 'public' AND r.archived_at IS NULL))`
        )
        const position = yield* positionNow
        return { rooms: rows.map(toRoom), position: Number(position[0]!.position) }
      }))
    })

    const access = Effect.fn("RoomRepo.access")(
      function*(orgId: OrgId, roomId: RoomId, userId: UserId, guest: boolean) {
        const rows = yield* withOrg(orgId)(sql<RoomRow & { joined: boolean }>`
        SELECT ${roomColumns}, EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = r.id
          AND rm.member_kind = 'user' AND rm.member_id = ${userId}) AS joined
        FROM rooms r WHERE r.id = ${roomId}`)
        const row = rows[0]
        if (!row || (!row.joined && (row.kind !== "public" || guest))) return yield* NotFound.of("room", roomId)
        return { room: toRoomInfo(row), isMember: row.joined } satisfies RoomAccess
      }
    )

    /**
     * In one statement: the caller's role in the org (null when not a member),
     * the room (null when unknown) and whether the caller joined it.
     */
    const accessFor = Effect.fn("RoomRepo.accessFor")(function*(orgId: OrgId, roomId: RoomId, userId: UserId) {
      const rows = yield* withOrg(orgId)(sql<{ role: Role | null } & Partial<RoomRow> & { joined: boolean | null }>`
        SELECT m.role, r.id, r.org_id, r.kind, r.name, r.topic, (r.archived_at IS NOT NULL) AS archived, r.routing,
          r.created_by, r.created_at,
          EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = r.id AND rm.member_kind = 'user'
            AND rm.member_id = ${userId}) AS joined
        FROM (SELECT 1) one
        LEFT JOIN org_members m ON m.org_id = ${orgId} AND m.user_id = ${userId}
        LEFT JOIN rooms r ON r.id = ${roomId}`)
      const row = rows[0]!
      return {
        role: row.role,
        room: row.id === undefined || row.id === null ? null : toRoomInfo(row as RoomRow),
        joined: row.joined === true
      }
    })

    const get = Effect.fn("RoomRepo.get")(function*(orgId: OrgId, roomId: RoomId, userId: UserId, guest: boolean) {
      yield* access(orgId, roomId, userId, guest)
      const rows = yield* withOrg(orgId)(countedRooms(userId, sql`r.id = ${roomId}`))
      return toRoom(rows[0]!)
    })

    const insertMember = (orgId: OrgId, roomId: RoomId, kind: MemberKind, memberId: string) =>
      sql<{ joinedAt: Date }>`INSERT INTO room_members (org_id, room_id, member_kind, member_id)
        VALUES (${orgId}, ${roomId}, ${kind}, ${memberId}) ON CONFLICT DO NOTHING RETURNING joined_at`

    const create = Effect.fn("RoomRepo.create")(
      function*(orgId: OrgId, creator: User, input: { name: string; kind: "public" | "private"; topic: string }) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const rows = yield* sql<RoomRow>`
            INSERT INTO rooms (org_id, kind, name, topic, created_by)
            VALUES (${orgId}, ${input.kind}, ${input.name}, ${input.topic}, ${creator.id})
            RETURNING id, org_id, kind, name, topic, false AS archived, routing, created_by, created_at`
          const room = toRoomInfo(rows[0]!)
          const joined = yield* insertMember(orgId, room.id, "user", creator.id)
          const member = new RoomMember({
            kind: "user",
            id: creator.id,
            name: creator.name,
            handle: creator.handle,
            joinedAt: joined[0]!.joinedAt
          })
          yield* log.append(orgId, [
            { audience: audienceOf(room, [creator.id]), event: new RoomCreated({ room }) },
            { audience: audienceOf(room), event: new MemberJoined({ roomId: room.id, member }) }
          ])
          return room
        }))
      }
    )

    const openDm = Effect.fn("RoomRepo.openDm")(
      function*(orgId: OrgId, creator: User, participants: ReadonlyArray<UserId>) {
        const ids = [...new Set([creator.id, ...participants])].sort()
        if (ids.length < 2) {
          return yield* new InvalidInput({ message: "a direct room needs at least one other participant" })
        }
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const people = yield* sql<{ userId: string; name: string; handle: string }>`
          SELECT m.user_id, u.name, u.handle FROM org_members m JOIN users u ON u.id = m.user_id
          WHERE m.org_id = ${orgId} AND m.user_id = ANY(${ids}::uuid[]) ORDER BY u.name`
          if (people.length !== ids.length) {
            const known = new Set(people.map((p) => p.userId))
            return yield* NotFound.of("member", ids.find((id) => !known.has(id))!)
          }
          const key = ids.join(",")
          const existing = yield* sql<
            RoomRow
          >`SELECT ${roomColumns} FROM rooms r WHERE r.org_id = ${orgId} AND r.dm_key = ${key}`
          if (existing.length > 0) return { room: toRoomInfo(existing[0]!), created: false }
          const rows = yield* sql<RoomRow>`
          INSERT INTO rooms (org_id, kind, name, dm_key, created_by)
          VALUES (${orgId}, 'direct', ${people.map((p) => p.name).join(", ")}, ${key}, ${creator.id})
          ON CONFLICT (org_id, dm_key) DO NOTHING
          RETURNING id, org_id, kind, name, topic, false AS archived, routing, created_by, created_at`
          if (rows.length === 0) {
            const again = yield* sql<
              RoomRow
            >`SELECT ${roomColumns} FROM rooms r WHERE r.org_id = ${orgId} AND r.dm_key = ${key}`
            return { room: toRoomInfo(again[0]!), created: false }
          }
          const room = toRoomInfo(rows[0]!)
          for (const p of people) yield* insertMember(orgId, room.id, "user", p.userId)
          yield* log.append(orgId, [{ audience: audienceOf(room, ids), event: new RoomCreated({ room }) }])
          return { room, created: true }
        }))
      }
    )

    const lockRoom = (roomId: RoomId) =>
      Effect.flatMap(
        sql<RoomRow>`SELECT ${roomColumns} FROM rooms r WHERE r.id = ${roomId} FOR UPDATE`,
        (rows) => rows.length === 0 ? Effect.fail(NotFound.of("room", roomId)) : Effect.succeed(toRoomInfo(rows[0]!))
      )

    const update = Effect.fn("RoomRepo.update")(
      function*(
        orgId: OrgId,
        roomId: RoomId,
        patch: { name?: string | undefined; topic?: string | undefined; routing?: RoutingMode | undefined }
      ) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const current = yield* lockRoom(roomId)
          if (current.archived) return yield* new Conflict({ message: "the room is archived" })
          if (current.kind === "direct" && patch.name !== undefined) {
            return yield* new InvalidInput({ message: "direct rooms cannot be renamed" })
          }
          const rows = yield* sql<RoomRow>`
            UPDATE rooms r SET name = ${patch.name ?? current.name}, topic = ${patch.topic ?? current.topic},
              routing = ${patch.routing ?? current.routing}
            WHERE r.id = ${roomId} RETURNING ${roomColumns}`
          const room = toRoomInfo(rows[0]!)
          yield* log.append(orgId, [{ audience: audienceOf(room), event: new RoomUpdated({ room }) }])
          return room
        }))
      }
    )

    const archive = Effect.fn("RoomRepo.archive")(function*(orgId: OrgId, roomId: RoomId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const current = yield* lockRoom(roomId)
        if (current.archived) return current
        if (current.kind === "direct") return yield* new InvalidInput({ message: "direct rooms cannot be archived" })
        const rows = yield* sql<RoomRow>`
          UPDATE rooms r SET archived_at = now() WHERE r.id = ${roomId} RETURNING ${roomColumns}`
        const room = toRoomInfo(rows[0]!)
        yield* log.append(orgId, [{ audience: audienceOf(room), event: new RoomArchived({ room }) }])
        return room
      }))
    })

    /** Adds a person to a room (join or invite). Returns false when already a member. */
    const addMember = Effect.fn("RoomRepo.addMember")(function*(orgId: OrgId, roomId: RoomId, userId: UserId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const room = yield* lockRoom(roomId)
        if (room.archived) return yield* new Conflict({ message: "the room is archived" })
        if (room.kind === "direct") {
          return yield* new Forbidden({ message: "direct rooms have a fixed set of participants" })
        }
        const people = yield* sql<{ name: string; handle: string; orgRole: Role }>`
          SELECT u.name, u.handle, m.role AS org_role FROM org_members m JOIN users u ON u.id = m.user_id
          WHERE m.org_id = ${orgId} AND m.user_id = ${userId}`
        if (people.length === 0) return yield* NotFound.of("member", userId)
        const joined = yield* insertMember(orgId, roomId, "user", userId)
        if (joined.length === 0) return false
        const member = new RoomMember({ kind: "user", id: userId, ...people[0]!, joinedAt: joined[0]!.joinedAt })
        yield* log.append(orgId, [{
          audience: audienceOf(room, [userId]),
          event: new MemberJoined({ roomId, member })
        }])
        return true
      }))
    })

    /** Whether a person or a teammate is in the room. */
    const memberKind = Effect.fn("RoomRepo.memberKind")(function*(orgId: OrgId, roomId: RoomId, memberId: string) {
      const rows = yield* withOrg(orgId)(sql<{ memberKind: MemberKind }>`
        SELECT member_kind FROM room_members WHERE room_id = ${roomId} AND member_id = ${memberId}`)
      return Option.fromNullable(rows[0]?.memberKind)
    })

    /** Removes a person or a teammate from a room. */
    const removeMember = Effect.fn("RoomRepo.removeMember")(function*(orgId: OrgId, roomId: RoomId, memberId: string) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const room = yield* lockRoom(roomId)
        if (room.kind === "direct") {
          return yield* new Forbidden({ message: "direct rooms have a fixed set of participants" })
        }
        const rows = yield* sql<{ memberKind: MemberKind }>`DELETE FROM room_members WHERE room_id = ${roomId}
          AND member_id = ${memberId} RETURNING member_kind`
        const removed = rows[0]
        if (removed === undefined) return yield* NotFound.of("room member", memberId)
        const person = removed.memberKind === "user" ? [decodeUserId(memberId)] : []
        yield* log.append(orgId, [{ audience: audienceOf(room, person), event: new MemberLeft({ roomId, memberId }) }])
      }))
    })

    const members = Effect.fn("RoomRepo.members")(function*(orgId: OrgId, roomId: RoomId) {
      const rows = yield* withOrg(orgId)(sql<{
        memberKind: MemberKind
        memberId: string
        name: string
        handle: string
        joinedAt: Date
        orgRole: Role | null
      }>`
        SELECT rm.member_kind, rm.member_id, COALESCE(u.name, t.name) AS name, COALESCE(u.handle, t.handle) AS handle,
          rm.joined_at, om.role AS org_role
        FROM room_members rm
        LEFT JOIN users u ON rm.member_kind = 'user' AND u.id = rm.member_id
        LEFT JOIN org_members om ON rm.member_kind = 'user' AND om.org_id = ${orgId} AND om.user_id = rm.member_id
        LEFT JOIN teammates t ON rm.member_kind = 'teammate' AND t.id = rm.member_id
        WHERE rm.room_id = ${roomId} ORDER BY rm.joined_at, 4`)
      return rows.map((r) =>
        new RoomMember({
          kind: r.memberKind,
          id: r.memberId,
          name: r.name,
          handle: r.handle,
          joinedAt: r.joinedAt,
          orgRole: r.orgRole
        })
      )
    })

    /** Rooms a person belongs to, across orgs (for event filtering). */
    const roomIdsOf = Effect.fn("RoomRepo.roomIdsOf")(function*(userId: string) {
      const rows = yield* sql<{ roomId: string }>`SELECT * FROM troupe_room_ids_of(${userId})`
      return rows.map((r) => r.roomId)
    })

    /**
     * The rooms of an org a person may read: those they joined, and (unless
     * they are a guest) every public room. The same rule as room access.
     */
    const readableRoomIds = Effect.fn("RoomRepo.readableRoomIds")(
      function*(orgId: OrgId, userId: UserId, guest: boolean) {
        const rows = yield* withOrg(orgId)(sql<{ id: string }>`
        SELECT r.id FROM rooms r
        WHERE (${!guest} AND r.kind = 'public')
          OR EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = r.id AND rm.member_kind = 'user' AND rm.member_id = ${userId})`)
        return rows.map((r) => decodeRoomId(r.id))
      }
    )

    /** Per-thread read state; the counts sum to the room's thread counts. */
    const threads = Effect.fn("RoomRepo.threads")(function*(orgId: OrgId, roomId: RoomId, userId: UserId) {
      const rows = yield* withOrg(orgId)(sql<{
        rootId: string
        replyCount: number
        lastReplyAt: Date | null
        unreadCount: number
        mentionCount: number
      }>`
        SELECT root.id AS root_id, root.reply_count, root.last_reply_at,
          (SELECT count(*) FROM messages m
            WHERE m.thread_id = root.id AND m.deleted_at IS NULL AND m.author_id <> ${userId}
              AND m.seq > COALESCE(tk.last_read_seq, 0))::int AS unread_count,
          (SELECT count(*) FROM message_mentions mm JOIN messages m ON m.id = mm.message_id
            WHERE mm.thread_id = root.id AND mm.member_id = ${userId} AND m.deleted_at IS NULL
              AND m.author_id <> ${userId} AND mm.seq > COALESCE(tk.last_read_seq, 0))::int AS mention_count
        FROM messages root
        LEFT JOIN read_markers tk ON tk.user_id = ${userId} AND tk.room_id = ${roomId} AND tk.thread_key = root.id
        WHERE root.room_id = ${roomId} AND root.thread_id IS NULL
          AND EXISTS (SELECT 1 FROM messages r WHERE r.thread_id = root.id)
        ORDER BY root.seq`)
      return rows.map((r) => new ThreadSummary(r))
    })

    /** The org a room belongs to (a system lookup; access is checked by the caller). */
    const orgOf = Effect.fn("RoomRepo.orgOf")(function*(roomId: RoomId) {
      const rows = yield* sql<{ orgId: string }>`SELECT * FROM troupe_room_org(${roomId})`
      if (rows.length === 0) return yield* NotFound.of("room", roomId)
      return decodeOrgId(rows[0]!.orgId)
    })

    /** A room's public record, without access checks (for the teammate runtime). */
    const info = Effect.fn("RoomRepo.info")(function*(orgId: OrgId, roomId: RoomId) {
      const rows = yield* withOrg(orgId)(sql<RoomRow>`SELECT ${roomColumns} FROM rooms r WHERE r.id = ${roomId}`)
      if (rows.length === 0) return yield* NotFound.of("room", roomId)
      return toRoomInfo(rows[0]!)
    })

    return {
      orgOf,
      info,
      list,
      access,
      accessFor,
      get,
      create,
      openDm,
      update,
      archive,
      addMember,
      removeMember,
      members,
      memberKind,
      roomIdsOf,
      readableRoomIds,
      threads
    } as const
  }),
  dependencies: [EventLog.Default]
}) {}
