/**
 * Rooms and room membership, with each reader's unread and mention counts.
 */
import { SqlClient } from "@effect/sql"
import type { Fragment } from "@effect/sql/Statement"
import { Conflict, Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import {
  Audience,
  MemberJoined,
  MemberLeft,
  RoomArchived,
  RoomCreated,
  RoomDeleted,
  RoomSettingsChanged,
  RoomUpdated
} from "@troupe/domain/Event"
import { OrgId, RoomId, UserId } from "@troupe/domain/Ids"
import { MemberKind, Role } from "@troupe/domain/Org"
import {
  NotifyLevel,
  Room,
  RoomInfo,
  RoomKind,
  RoomMember,
  RoomSettings,
  RoutingMode,
  ThreadSummary
} from "@troupe/domain/Room"
import type { User } from "@troupe/domain/User"
import { Effect, Option, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import { orgScope } from "./OrgScope.js"

/** The read marker key for a room itself (thread markers use the root's id). */
export const ROOM_MARKER = "00000000-0000-0000-0000-000000000000"

/** A `rooms` row, as `roomColumns` selects it. */
export const RoomRow = Schema.Struct({
  id: RoomId,
  orgId: OrgId,
  kind: RoomKind,
  name: Schema.String,
  topic: Schema.String,
  archived: Schema.Boolean,
  routing: RoutingMode,
  createdBy: UserId,
  createdAt: Schema.DateFromSelf
})

/** A room with a reader's membership and counts. */
const CountedRoomRow = Schema.Struct({
  ...RoomRow.fields,
  joined: Schema.Boolean,
  unreadCount: Schema.Number,
  mentionCount: Schema.Number,
  threadUnreadCount: Schema.Number,
  threadMentionCount: Schema.Number,
  muted: Schema.Boolean,
  notify: NotifyLevel
})

/** A member's own settings for a room. */
const SettingsRow = Schema.Struct({ muted: Schema.Boolean, notify: NotifyLevel })

/** The caller's role and membership, and the room's columns (null when the room does not exist). */
const AccessRow = Schema.Struct({ role: Schema.NullOr(Role), joined: Schema.Boolean, id: Schema.NullOr(RoomId) })

const MemberRow = Schema.Struct({
  kind: MemberKind,
  id: Schema.UUID,
  name: Schema.String,
  handle: Schema.String,
  joinedAt: Schema.DateFromSelf,
  orgRole: Schema.NullOr(Role)
})
const PersonRow = Schema.Struct({ userId: UserId, name: Schema.String, handle: Schema.String })
const Joined = Schema.Struct({ joinedAt: Schema.DateFromSelf })
const KindRow = Schema.Struct({ memberKind: MemberKind })
const ThreadRow = Schema.Struct({
  rootId: Schema.UUID,
  replyCount: Schema.Number,
  lastReplyAt: Schema.NullOr(Schema.DateFromSelf),
  unreadCount: Schema.Number,
  mentionCount: Schema.Number
})
const Position = Schema.Struct({ position: Schema.NumberFromString })

/** A member's notification level (`rm`, of room `r`), their own or the room kind's default. */
const NOTIFY_LEVEL = "COALESCE(rm.notify, CASE WHEN r.kind = 'direct' THEN 'all' ELSE 'mentions' END)"

const roomRow = Rows.one("room", RoomRow)
const maybeRoom = Rows.first("room", RoomRow)

/** Maps a `rooms` row to its public record. */
export const toRoomInfo = (row: typeof RoomRow.Type) => new RoomInfo(row, true)

/** What a caller may do with a room. */
export interface RoomAccess {
  readonly room: RoomInfo
  readonly isMember: boolean
}

const audienceOf = (room: { id: RoomId; kind: RoomKind }, extra: ReadonlyArray<UserId> = []) =>
  new Audience({ roomId: room.id, orgWide: room.kind === "public", userIds: [...extra] }, true)

/** Rooms, DMs and room membership. */
export class RoomRepo extends Effect.Service<RoomRepo>()("@troupe/store/RoomRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const notifyLevel = sql.literal(NOTIFY_LEVEL)
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
      Rows.all("room", CountedRoomRow)(sql`
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
            AS thread_mention_count,
          COALESCE(rm.muted, false) AS muted, ${notifyLevel} AS notify
        FROM rooms r
        LEFT JOIN room_members rm ON rm.room_id = r.id AND rm.member_kind = 'user' AND rm.member_id = ${userId}
        LEFT JOIN read_markers rk ON rk.user_id = ${userId} AND rk.room_id = r.id AND rk.thread_key = ${ROOM_MARKER}
        WHERE ${where}
        ORDER BY r.created_at, r.id`)

    const positionNow = Rows.one("log position", Position)(sql`SELECT position FROM event_log_state`)

    /** Rooms the reader belongs to, plus joinable public rooms (not for guests), with the log position they reflect. */
    const list = Effect.fn("RoomRepo.list")(function*(orgId: OrgId, userId: UserId, guest: boolean) {
      return yield* withOrgSnapshot(orgId)(Effect.gen(function*() {
        const rows = yield* countedRooms(
          userId,
          guest
            ? sql`rm.member_id IS NOT NULL`
            : sql`(rm.member_id IS NOT NULL OR (r.kind = 'public' AND r.archived_at IS NULL))`
        )
        const { position } = yield* positionNow
        return { rooms: rows.map((r) => new Room(r)), position }
      }))
    })

    const access = Effect.fn("RoomRepo.access")(
      function*(orgId: OrgId, roomId: RoomId, userId: UserId, guest: boolean) {
        const found = yield* withOrg(orgId)(
          Rows.first("room", Schema.Struct({ ...RoomRow.fields, joined: Schema.Boolean }))(sql`
            SELECT ${roomColumns}, EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = r.id
              AND rm.member_kind = 'user' AND rm.member_id = ${userId}) AS joined
            FROM rooms r WHERE r.id = ${roomId}`)
        )
        if (Option.isNone(found)) return yield* NotFound.of("room", roomId)
        const { joined, ...room } = found.value
        if (!joined && (room.kind !== "public" || guest)) return yield* NotFound.of("room", roomId)
        return { room: toRoomInfo(room), isMember: joined } satisfies RoomAccess
      }
    )

    /**
     * The caller's role in the org, the room (null when the org has no such
     * room) and whether they joined it: one statement through
     * `troupe_room_access`, which needs no transaction (migration 0008).
     */
    const accessFor = Effect.fn("RoomRepo.accessFor")(function*(orgId: OrgId, roomId: RoomId, userId: UserId) {
      const rows = yield* sql`SELECT * FROM troupe_room_access(${orgId}, ${roomId}, ${userId})`
      const row = yield* Rows.one("room access", AccessRow)(Effect.succeed(rows))
      const room = row.id === null ? null : toRoomInfo(yield* roomRow(Effect.succeed(rows)))
      return { role: row.role, room, joined: row.joined }
    })

    const get = Effect.fn("RoomRepo.get")(function*(orgId: OrgId, roomId: RoomId, userId: UserId, guest: boolean) {
      yield* access(orgId, roomId, userId, guest)
      const [row] = yield* withOrg(orgId)(countedRooms(userId, sql`r.id = ${roomId}`))
      if (row === undefined) return yield* NotFound.of("room", roomId)
      return new Room(row)
    })

    /** Adds a member; none when they already were one. */
    const insertMember = (orgId: OrgId, roomId: RoomId, kind: MemberKind, memberId: string) =>
      Rows.first("room member", Joined)(sql`INSERT INTO room_members (org_id, room_id, member_kind, member_id)
        VALUES (${orgId}, ${roomId}, ${kind}, ${memberId}) ON CONFLICT DO NOTHING RETURNING joined_at`)

    const create = Effect.fn("RoomRepo.create")(
      function*(orgId: OrgId, creator: User, input: { name: string; kind: "public" | "private"; topic: string }) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const room = toRoomInfo(
            yield* roomRow(sql`
            INSERT INTO rooms (org_id, kind, name, topic, created_by)
            VALUES (${orgId}, ${input.kind}, ${input.name}, ${input.topic}, ${creator.id})
            RETURNING id, org_id, kind, name, topic, false AS archived, routing, created_by, created_at`)
          )
          const joined = yield* insertMember(orgId, room.id, "user", creator.id)
          const member = new RoomMember({
            kind: "user",
            id: creator.id,
            name: creator.name,
            handle: creator.handle,
            joinedAt: Option.match(joined, { onNone: () => room.createdAt, onSome: (j) => j.joinedAt })
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
          const people = yield* Rows.all("member", PersonRow)(sql`
            SELECT m.user_id, u.name, u.handle FROM org_members m JOIN users u ON u.id = m.user_id
            WHERE m.org_id = ${orgId} AND m.user_id = ANY(${ids}::uuid[]) ORDER BY u.name`)
          const known = new Set<string>(people.map((p) => p.userId))
          const unknown = ids.find((id) => !known.has(id))
          if (unknown !== undefined) return yield* NotFound.of("member", unknown)
          const key = ids.join(",")
          const byKey = sql`SELECT ${roomColumns} FROM rooms r WHERE r.org_id = ${orgId} AND r.dm_key = ${key}`
          const existing = yield* maybeRoom(byKey)
          if (Option.isSome(existing)) return { room: toRoomInfo(existing.value), created: false }
          const inserted = yield* maybeRoom(sql`
            INSERT INTO rooms (org_id, kind, name, dm_key, created_by)
            VALUES (${orgId}, 'direct', ${people.map((p) => p.name).join(", ")}, ${key}, ${creator.id})
            ON CONFLICT (org_id, dm_key) DO NOTHING
            RETURNING id, org_id, kind, name, topic, false AS archived, routing, created_by, created_at`)
          // Opened at the same moment by someone else: theirs is the room.
          if (Option.isNone(inserted)) return { room: toRoomInfo(yield* roomRow(byKey)), created: false }
          const room = toRoomInfo(inserted.value)
          for (const p of people) yield* insertMember(orgId, room.id, "user", p.userId)
          yield* log.append(orgId, [{ audience: audienceOf(room, ids), event: new RoomCreated({ room }) }])
          return { room, created: true }
        }))
      }
    )

    const lockRoom = (roomId: RoomId) =>
      Effect.flatMap(
        maybeRoom(sql`SELECT ${roomColumns} FROM rooms r WHERE r.id = ${roomId} FOR UPDATE`),
        Option.match({
          onNone: () => Effect.fail(NotFound.of("room", roomId)),
          onSome: (row) => Effect.succeed(toRoomInfo(row))
        })
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
          const room = toRoomInfo(
            yield* roomRow(sql`
            UPDATE rooms r SET name = ${patch.name ?? current.name}, topic = ${patch.topic ?? current.topic},
              routing = ${patch.routing ?? current.routing}
            WHERE r.id = ${roomId} RETURNING ${roomColumns}`)
          )
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
        const room = toRoomInfo(
          yield* roomRow(sql`UPDATE rooms r SET archived_at = now() WHERE r.id = ${roomId} RETURNING ${roomColumns}`)
        )
        yield* log.append(orgId, [{ audience: audienceOf(room), event: new RoomArchived({ room }) }])
        return room
      }))
    })

    /** Takes an archived room back into use (a `room.updated`). */
    const unarchive = Effect.fn("RoomRepo.unarchive")(function*(orgId: OrgId, roomId: RoomId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const current = yield* lockRoom(roomId)
        if (!current.archived) return current
        const room = toRoomInfo(
          yield* roomRow(sql`UPDATE rooms r SET archived_at = NULL WHERE r.id = ${roomId} RETURNING ${roomColumns}`)
        )
        yield* log.append(orgId, [{ audience: audienceOf(room), event: new RoomUpdated({ room }) }])
        return room
      }))
    })

    /**
     * Deletes a room: its messages, members, pins (with their versions) and triggers go with it
     * (foreign keys), and so does what teammates remember from it.
     */
    const remove = Effect.fn("RoomRepo.remove")(function*(orgId: OrgId, roomId: RoomId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const room = yield* lockRoom(roomId)
        if (room.kind === "direct") return yield* new InvalidInput({ message: "direct rooms cannot be deleted" })
        const people = yield* Rows.all("room member", Schema.Struct({ memberId: UserId }))(sql`
          SELECT member_id FROM room_members WHERE room_id = ${roomId} AND member_kind = 'user'`)
        yield* sql`DELETE FROM memories WHERE org_id = ${orgId} AND room_id = ${roomId}`
        yield* sql`DELETE FROM core_memory WHERE org_id = ${orgId} AND room_id = ${roomId}`
        yield* sql`DELETE FROM rooms WHERE id = ${roomId}`
        yield* log.append(orgId, [{
          audience: audienceOf(room, people.map((p) => p.memberId)),
          event: new RoomDeleted({ roomId })
        }])
      }))
    })

    /** A member's own settings for the room (what `patch` leaves out stays); the change goes to them only. */
    const setSettings = Effect.fn("RoomRepo.setSettings")(
      function*(
        orgId: OrgId,
        roomId: RoomId,
        userId: UserId,
        patch: { readonly muted?: boolean | undefined; readonly notify?: NotifyLevel | undefined }
      ) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const updated = yield* Rows.first("room settings", SettingsRow)(sql`
            UPDATE room_members rm SET muted = coalesce(${patch.muted ?? null}::boolean, rm.muted),
              notify = coalesce(${patch.notify ?? null}::text, rm.notify)
            FROM rooms r
            WHERE r.id = rm.room_id AND rm.room_id = ${roomId} AND rm.member_kind = 'user' AND rm.member_id = ${userId}
            RETURNING rm.muted, ${notifyLevel} AS notify`)
          if (Option.isNone(updated)) return yield* new Conflict({ message: "join the room first" })
          const { muted, notify } = updated.value
          yield* log.append(orgId, [{
            audience: new Audience({ roomId: null, orgWide: false, userIds: [userId] }),
            event: new RoomSettingsChanged({ roomId, muted, notify })
          }])
          return new RoomSettings({ muted, notify })
        }))
      }
    )

    /** Adds a person to a room (join or invite). Returns false when already a member. */
    const addMember = Effect.fn("RoomRepo.addMember")(function*(orgId: OrgId, roomId: RoomId, userId: UserId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const room = yield* lockRoom(roomId)
        if (room.archived) return yield* new Conflict({ message: "the room is archived" })
        if (room.kind === "direct") {
          return yield* new Forbidden({ message: "direct rooms have a fixed set of participants" })
        }
        const person = yield* Rows.first(
          "member",
          Schema.Struct({ name: Schema.String, handle: Schema.String, orgRole: Role })
        )(sql`
          SELECT u.name, u.handle, m.role AS org_role FROM org_members m JOIN users u ON u.id = m.user_id
          WHERE m.org_id = ${orgId} AND m.user_id = ${userId}`)
        if (Option.isNone(person)) return yield* NotFound.of("member", userId)
        const joined = yield* insertMember(orgId, roomId, "user", userId)
        if (Option.isNone(joined)) return false
        const member = new RoomMember({ kind: "user", id: userId, ...person.value, joinedAt: joined.value.joinedAt })
        yield* log.append(orgId, [{
          audience: audienceOf(room, [userId]),
          event: new MemberJoined({ roomId, member })
        }])
        return true
      }))
    })

    /** Whether a person or a teammate is in the room. */
    const memberKind = Effect.fn("RoomRepo.memberKind")(function*(orgId: OrgId, roomId: RoomId, memberId: string) {
      const row = yield* withOrg(orgId)(
        Rows.first("room member", KindRow)(sql`
        SELECT member_kind FROM room_members WHERE room_id = ${roomId} AND member_id = ${memberId}`)
      )
      return Option.map(row, (r) => r.memberKind)
    })

    /** Removes a person or a teammate from a room. */
    const removeMember = Effect.fn("RoomRepo.removeMember")(function*(orgId: OrgId, roomId: RoomId, memberId: string) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const room = yield* lockRoom(roomId)
        if (room.kind === "direct") {
          return yield* new Forbidden({ message: "direct rooms have a fixed set of participants" })
        }
        const removed = yield* Rows.first("room member", KindRow)(sql`DELETE FROM room_members WHERE room_id = ${roomId}
          AND member_id = ${memberId} RETURNING member_kind`)
        if (Option.isNone(removed)) return yield* NotFound.of("room member", memberId)
        const person = removed.value.memberKind === "user" ? [UserId.make(memberId)] : []
        yield* log.append(orgId, [{ audience: audienceOf(room, person), event: new MemberLeft({ roomId, memberId }) }])
      }))
    })

    const members = Effect.fn("RoomRepo.members")(function*(orgId: OrgId, roomId: RoomId) {
      const rows = yield* withOrg(orgId)(
        Rows.all("room member", MemberRow)(sql`
        SELECT rm.member_kind AS kind, rm.member_id AS id, COALESCE(u.name, t.name) AS name,
          COALESCE(u.handle, t.handle) AS handle, rm.joined_at, om.role AS org_role
        FROM room_members rm
        LEFT JOIN users u ON rm.member_kind = 'user' AND u.id = rm.member_id
        LEFT JOIN org_members om ON rm.member_kind = 'user' AND om.org_id = ${orgId} AND om.user_id = rm.member_id
        LEFT JOIN teammates t ON rm.member_kind = 'teammate' AND t.id = rm.member_id
        WHERE rm.room_id = ${roomId} ORDER BY rm.joined_at, 4`)
      )
      return rows.map((r) => new RoomMember(r))
    })

    /** Rooms a person belongs to, across orgs (for event filtering). */
    const roomIdsOf = Effect.fn("RoomRepo.roomIdsOf")(function*(userId: string) {
      const rows = yield* Rows.all("room", Schema.Struct({ roomId: RoomId }))(
        sql`SELECT * FROM troupe_room_ids_of(${userId})`
      )
      return rows.map((r) => r.roomId)
    })

    /**
     * The rooms of an org a person may read: those they joined, and (unless
     * they are a guest) every public room. The same rule as room access.
     */
    const readableRoomIds = Effect.fn("RoomRepo.readableRoomIds")(
      function*(orgId: OrgId, userId: UserId, guest: boolean) {
        const rows = yield* withOrg(orgId)(
          Rows.all("room", Schema.Struct({ id: RoomId }))(sql`
        SELECT r.id FROM rooms r
        WHERE (${!guest} AND r.kind = 'public')
          OR EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = r.id AND rm.member_kind = 'user' AND rm.member_id = ${userId})`)
        )
        return rows.map((r) => r.id)
      }
    )

    /** Per-thread read state; the counts sum to the room's thread counts. */
    const threads = Effect.fn("RoomRepo.threads")(function*(orgId: OrgId, roomId: RoomId, userId: UserId) {
      const rows = yield* withOrg(orgId)(
        Rows.all("thread", ThreadRow)(sql`
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
      )
      return rows.map((r) => new ThreadSummary(r))
    })

    /** The org a room belongs to (a system lookup; access is checked by the caller). */
    const orgOf = Effect.fn("RoomRepo.orgOf")(function*(roomId: RoomId) {
      const row = yield* Rows.first("room", Schema.Struct({ orgId: OrgId }))(
        sql`SELECT * FROM troupe_room_org(${roomId})`
      )
      if (Option.isNone(row)) return yield* NotFound.of("room", roomId)
      return row.value.orgId
    })

    /** A room's public record, without access checks (for the teammate runtime). */
    const info = Effect.fn("RoomRepo.info")(function*(orgId: OrgId, roomId: RoomId) {
      const row = yield* withOrg(orgId)(maybeRoom(sql`SELECT ${roomColumns} FROM rooms r WHERE r.id = ${roomId}`))
      if (Option.isNone(row)) return yield* NotFound.of("room", roomId)
      return toRoomInfo(row.value)
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
      unarchive,
      remove,
      setSettings,
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
