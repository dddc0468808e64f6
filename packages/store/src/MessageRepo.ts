/**
 * Messages: posting (idempotent by client message id), pages in both
 * directions, threads, edits with history, tombstone deletes, reactions,
 * mentions, read markers and full-text search.
 */
import { SqlClient } from "@effect/sql"
import { ERASED_PERSON_ID, ERASED_PERSON_NAME } from "@troupe/domain/DataRights"
import { Conflict, Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import { Audience, MessageCreated, MessageDeleted, MessageUpdated, ReactionChanged } from "@troupe/domain/Event"
import { Attachment } from "@troupe/domain/File"
import { type FileId, MessageId, OrgId, RoomId, type TeammateId, UserId } from "@troupe/domain/Ids"
import {
  MAX_MESSAGE_LENGTH,
  Mention,
  Message,
  MessageEdit,
  MessagePage,
  parseMentionHandles,
  ReactionCount,
  SearchHit
} from "@troupe/domain/Message"
import { MemberKind } from "@troupe/domain/Org"
import type { RoomInfo } from "@troupe/domain/Room"
import { Effect, Option, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import { orgScope } from "./OrgScope.js"
import { ROOM_MARKER } from "./RoomRepo.js"

/** Who writes a message. */
export interface Author {
  readonly kind: MemberKind
  readonly id: string
  readonly name: string
}

/** A search: the words, optional filters, and the page. */
export interface SearchQuery {
  readonly text: string
  readonly roomId?: RoomId | undefined
  readonly authorId?: string | undefined
  readonly after?: Date | undefined
  readonly before?: Date | undefined
  readonly limit: number
  readonly offset: number
}

/**
 * Plain words (no quotes, `or`, or `-word`) as a tsquery whose last word is
 * a prefix, so a query matches while its last word is still being typed
 * ("deplo" finds "deploy"); null for queries in the web-search syntax, which
 * are read as such.
 */
export const prefixWords = (text: string): string | null => {
  if (/["]|(^|\s)-\S|\sor\s/i.test(text)) return null
  const words = text.match(/[\p{L}\p{N}]+/gu)
  if (words === null) return null
  return words.map((w, i) => (i === words.length - 1 ? `${w}:*` : w)).join(" & ")
}

/** A search's words as a tsquery: plain words with the last as a prefix, or else the web-search syntax. */
export const searchQuery = (sql: SqlClient.SqlClient, text: string) => {
  const words = prefixWords(text)
  return words === null ? sql`websearch_to_tsquery('english', ${text})` : sql`to_tsquery('english', ${words})`
}

/** A `messages` row with its mentions and the viewer's reactions, as `columns` selects it. */
const MessageRow = Schema.Struct({
  id: MessageId,
  orgId: OrgId,
  roomId: RoomId,
  seq: Schema.NumberFromString,
  threadId: Schema.NullOr(MessageId),
  authorKind: MemberKind,
  authorId: Schema.UUID,
  authorName: Schema.String,
  text: Schema.String,
  clientMessageId: Schema.NullOr(Schema.String),
  replyCount: Schema.Number,
  lastReplyAt: Schema.NullOr(Schema.DateFromSelf),
  createdAt: Schema.DateFromSelf,
  editedAt: Schema.NullOr(Schema.DateFromSelf),
  deletedAt: Schema.NullOr(Schema.DateFromSelf),
  mentions: Schema.Array(Mention),
  reactions: Schema.Array(ReactionCount),
  attachments: Schema.Array(Attachment)
})
const messageRows = Rows.all("message", MessageRow)
const maybeMessage = Rows.first("message", MessageRow)
const SearchRow = Schema.Struct({ ...MessageRow.fields, snippet: Schema.String, rank: Schema.Number })
const MentionRow = Schema.Struct({ kind: MemberKind, id: Schema.UUID, handle: Schema.String })
const Prior = Schema.Struct({ id: MessageId, fresh: Schema.Boolean })
const ThreadRoot = Schema.Struct({ roomId: RoomId, threadId: Schema.NullOr(MessageId), deleted: Schema.Boolean })
const Inserted = Schema.Struct({ id: MessageId, createdAt: Schema.DateFromSelf, seq: Schema.NumberFromString })
const Locked = Schema.Struct({
  roomId: RoomId,
  authorId: Schema.UUID,
  text: Schema.String,
  threadId: Schema.NullOr(MessageId),
  seq: Schema.NumberFromString,
  deleted: Schema.Boolean
})
const EditRow = Schema.Struct({ text: Schema.String, replacedAt: Schema.DateFromSelf })
const Target = Schema.Struct({ seq: Schema.NumberFromString, threadId: Schema.NullOr(MessageId), id: MessageId })

const toMessage = (row: typeof MessageRow.Type) => new Message(row, true)
const Erased = Schema.Struct({ id: MessageId, threadId: Schema.NullOr(MessageId), deleted: Schema.Boolean })
const Unreacted = Schema.Struct({ messageId: MessageId, roomId: RoomId, emoji: Schema.String })

/** How long a client message id de-duplicates posts. */
export const CLIENT_ID_WINDOW_HOURS = 24

/** Options for reading a page. */
export interface PageOptions {
  readonly before?: number | undefined
  readonly after?: number | undefined
  readonly limit: number
  readonly threadId?: MessageId | undefined
}

const roomAudience = (room: RoomInfo) => new Audience({ roomId: room.id, orgWide: false, userIds: [] }, true)

/** Messages and everything attached to them. */
export class MessageRepo extends Effect.Service<MessageRepo>()("@troupe/store/MessageRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog

    const columns = (viewer: string) =>
      sql`m.id, m.org_id, m.room_id, m.seq, m.thread_id, m.author_kind, m.author_id, m.author_name,
        m.text, m.client_message_id, m.reply_count, m.last_reply_at, m.created_at, m.edited_at, m.deleted_at,
        m.attachments,
        COALESCE((SELECT json_agg(json_build_object('kind', mm.member_kind, 'id', mm.member_id, 'handle', mm.handle)
          ORDER BY mm.handle COLLATE "C") FROM message_mentions mm WHERE mm.message_id = m.id), '[]'::json) AS mentions,
        COALESCE((SELECT json_agg(json_build_object('emoji', x.emoji, 'count', x.count, 'me', x.me) ORDER BY x.first)
          FROM (SELECT emoji, count(*)::int AS count, bool_or(user_id = ${viewer}::uuid) AS me, min(created_at) AS first
                FROM reactions WHERE message_id = m.id GROUP BY emoji) x), '[]'::json) AS reactions`

    const select = (viewer: string) => sql`SELECT ${columns(viewer)} FROM messages m`

    const nobody = "00000000-0000-0000-0000-000000000000"

    const load = (id: string, viewer = nobody) =>
      sql`${select(viewer)} WHERE m.id = ${id}`.pipe(
        maybeMessage,
        Effect.flatMap((found) =>
          Option.isNone(found) ? Effect.fail(NotFound.of("message", id)) : Effect.succeed(toMessage(found.value))
        )
      )

    const resolveMentions = (orgId: OrgId, text: string) => {
      const handles = parseMentionHandles(text)
      if (handles.length === 0) return Effect.succeed<ReadonlyArray<typeof MentionRow.Type>>([])
      return sql`
        SELECT 'user' AS kind, u.id, u.handle FROM org_members m JOIN users u ON u.id = m.user_id
        WHERE m.org_id = ${orgId} AND u.handle = ANY(${[...handles]}::text[])
        UNION ALL
        SELECT 'teammate' AS kind, t.id, t.handle FROM teammates t
        WHERE t.org_id = ${orgId} AND t.dismissed_at IS NULL AND t.handle = ANY(${[...handles]}::text[])`.pipe(
        Rows.all("mention", MentionRow)
      )
    }

    /** Records the members `text` mentions; returns them ordered by handle. */
    const writeMentions = (
      orgId: OrgId,
      message: { id: string; roomId: string; threadId: string | null; seq: number },
      text: string
    ) =>
      Effect.gen(function*() {
        const mentions = [...(yield* resolveMentions(orgId, text))].sort((a, b) =>
          a.handle < b.handle ? -1 : a.handle > b.handle ? 1 : 0
        )
        if (mentions.length === 0) return mentions
        yield* sql`INSERT INTO message_mentions ${
          sql.insert(mentions.map((m) => ({
            orgId,
            messageId: message.id,
            roomId: message.roomId,
            threadId: message.threadId,
            seq: message.seq,
            memberKind: m.kind,
            memberId: m.id,
            handle: m.handle
          })))
        } ON CONFLICT DO NOTHING`
        return mentions
      })

    /**
     * The files a new message attaches: each must be one its author uploaded
     * to the room and has not attached yet. Locked until the post commits.
     */
    const claimAttachments = (room: RoomInfo, author: Author, ids: ReadonlyArray<FileId>) =>
      Effect.gen(function*() {
        if (ids.length === 0) return []
        const unique = [...new Set(ids)]
        const rows = yield* sql`SELECT id, name, content_type, size::float8 AS size FROM files
          WHERE id = ANY(${unique}::uuid[]) AND room_id = ${room.id} AND uploader_id = ${author.id}
            AND message_id IS NULL
          FOR UPDATE`.pipe(Rows.all("file", Attachment))
        const byId = new Map(rows.map((r) => [r.id, r]))
        const missing = unique.find((id) => !byId.has(id))
        if (missing !== undefined) {
          return yield* new InvalidInput({
            message: `attachment ${missing} is not a file you uploaded to this room, or it is already attached`
          })
        }
        return unique.flatMap((id) => byId.get(id) ?? [])
      })

    /**
     * Posts a message. A repeated `clientMessageId` from the same author
     * within 24 hours returns the original (`created: false`).
     */
    const post = Effect.fn("MessageRepo.post")(function*(
      room: RoomInfo,
      author: Author,
      input: {
        text: string
        threadId?: MessageId | undefined
        clientMessageId?: string | undefined
        attachments?: ReadonlyArray<FileId> | undefined
      }
    ) {
      const orgId = room.orgId
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const cmid = input.clientMessageId ?? null
        if (cmid !== null) {
          yield* sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${orgId}/${author.id}/${cmid}`}, 0))`
          const prior = yield* sql`
            SELECT id, created_at > now() - ${`${CLIENT_ID_WINDOW_HOURS} hours`}::interval AS fresh FROM messages
            WHERE org_id = ${orgId} AND author_id = ${author.id} AND client_message_id = ${cmid} FOR UPDATE`.pipe(
            Rows.first("message", Prior)
          )
          if (Option.isSome(prior)) {
            if (prior.value.fresh) return { message: yield* load(prior.value.id, author.id), created: false }
            yield* sql`UPDATE messages SET client_message_id = NULL WHERE id = ${prior.value.id}`
          }
        }
        const threadId = input.threadId ?? null
        if (threadId !== null) {
          // A reply locks its thread's root first, then (below) the room: every post takes its locks in that order.
          const root = yield* sql`
            SELECT room_id, thread_id, deleted_at IS NOT NULL AS deleted FROM messages WHERE id = ${threadId} FOR UPDATE`
            .pipe(Rows.first("thread root", ThreadRoot))
          if (Option.isNone(root) || root.value.roomId !== room.id) return yield* NotFound.of("thread", threadId)
          if (root.value.threadId !== null) {
            return yield* new InvalidInput({
              message: "threadId must be a top-level message; replies cannot have threads"
            })
          }
          if (root.value.deleted) return yield* new Conflict({ message: "the thread's first message was deleted" })
        }
        const attachments = yield* claimAttachments(room, author, input.attachments ?? [])
        // The room's next position (which locks the room, serialising its posts) and the row, in one statement.
        const row = yield* sql`
          WITH room AS (
            UPDATE rooms SET last_seq = last_seq + 1 WHERE id = ${room.id} AND archived_at IS NULL RETURNING last_seq)
          INSERT INTO messages (org_id, room_id, seq, thread_id, author_kind, author_id, author_name, text,
            client_message_id, attachments)
          SELECT ${orgId}, ${room.id}, room.last_seq, ${threadId}::uuid, ${author.kind}, ${author.id}, ${author.name},
            ${input.text}, ${cmid}, ${JSON.stringify(attachments)}::jsonb
          FROM room
          RETURNING id, created_at, seq`.pipe(Rows.first("message", Inserted))
        if (Option.isNone(row)) return yield* new Conflict({ message: "the room is archived; no new messages" })
        const inserted = row.value
        const seq = inserted.seq
        const id = inserted.id
        const mentions = yield* writeMentions(orgId, { id, roomId: room.id, threadId, seq }, input.text)
        if (attachments.length > 0) {
          yield* sql`UPDATE files SET message_id = ${id} WHERE id = ANY(${attachments.map((a) => a.id)}::uuid[])`
        }
        const events = []
        if (threadId !== null) {
          yield* sql`UPDATE messages SET reply_count = reply_count + 1, last_reply_at = now() WHERE id = ${threadId}`
          events.push({ audience: roomAudience(room), event: new MessageUpdated({ message: yield* load(threadId) }) })
        }
        const message = new Message({
          id,
          orgId,
          roomId: room.id,
          seq,
          threadId,
          authorKind: author.kind,
          authorId: author.id,
          authorName: author.name,
          text: input.text,
          mentions: mentions.map((m) => new Mention(m, true)),
          reactions: [],
          attachments,
          replyCount: 0,
          lastReplyAt: null,
          clientMessageId: cmid,
          createdAt: inserted.createdAt,
          editedAt: null,
          deletedAt: null
        }, true)
        events.unshift({ audience: roomAudience(room), event: new MessageCreated({ message }, true) })
        yield* log.append(orgId, events)
        return { message, created: true }
      }))
    })

    const get = Effect.fn("MessageRepo.get")(function*(orgId: OrgId, id: MessageId, viewer: UserId | TeammateId) {
      return yield* withOrg(orgId)(load(id, viewer))
    })

    /** A page of a room (or thread); `viewer` is whose reactions read as `me`. */
    const page = Effect.fn("MessageRepo.page")(function*(
      room: RoomInfo,
      viewer: UserId | TeammateId,
      options: PageOptions
    ) {
      const limit = Math.max(1, Math.min(200, options.limit))
      return yield* withOrg(room.orgId)(Effect.gen(function*() {
        if (options.threadId !== undefined) {
          const root =
            yield* sql`SELECT 1 FROM messages WHERE id = ${options.threadId} AND room_id = ${room.id} AND thread_id IS NULL`
          if (root.length === 0) return yield* NotFound.of("thread", options.threadId)
        }
        const scope = options.threadId !== undefined
          ? sql`m.room_id = ${room.id} AND m.thread_id = ${options.threadId}`
          : sql`m.room_id = ${room.id} AND m.thread_id IS NULL`
        const forward = options.after !== undefined && options.before === undefined
        const bound = options.after !== undefined && options.before !== undefined
          ? sql`m.seq > ${options.after} AND m.seq < ${options.before}`
          : options.after !== undefined
          ? sql`m.seq > ${options.after}`
          : options.before !== undefined
          ? sql`m.seq < ${options.before}`
          : sql`true`
        const rows = yield* sql`${select(viewer)} WHERE ${scope} AND ${bound}
          ORDER BY m.seq ${forward ? sql`ASC` : sql`DESC`} LIMIT ${limit + 1}`.pipe(messageRows)
        const more = rows.length > limit
        const taken = rows.slice(0, limit).map(toMessage)
        const messages = forward ? taken : taken.reverse()
        const first = messages[0]
        const last = messages[messages.length - 1]
        const olderExists = forward
          ? first !== undefined &&
            (yield* sql`SELECT 1 FROM messages m WHERE ${scope} AND m.seq < ${first.seq} LIMIT 1`).length > 0
          : more
        // The latest page has nothing newer as of its read (what commits later arrives as events).
        const latest = options.before === undefined && options.after === undefined
        const newerExists = forward
          ? more
          : !latest && last !== undefined &&
            (yield* sql`SELECT 1 FROM messages m WHERE ${scope} AND m.seq > ${last.seq} LIMIT 1`).length > 0
        return new MessagePage({
          messages,
          prevCursor: olderExists && first ? String(first.seq) : null,
          nextCursor: newerExists && last ? String(last.seq) : null
        })
      }))
    })

    const lockOwn = (id: MessageId) =>
      sql`
          SELECT room_id, author_id, text, thread_id, seq, deleted_at IS NOT NULL AS deleted FROM messages
          WHERE id = ${id} FOR UPDATE`.pipe(
        Rows.first("message", Locked),
        Effect.flatMap((found) =>
          Option.isNone(found) ? Effect.fail(NotFound.of("message", id)) : Effect.succeed(found.value)
        )
      )

    const edit = Effect.fn("MessageRepo.edit")(function*(room: RoomInfo, id: MessageId, actorId: string, text: string) {
      return yield* withOrg(room.orgId)(Effect.gen(function*() {
        const current = yield* lockOwn(id)
        if (current.roomId !== room.id) return yield* NotFound.of("message", id)
        if (current.authorId !== actorId) return yield* new Forbidden({ message: "only the author can edit a message" })
        if (current.deleted) return yield* new Conflict({ message: "a deleted message cannot be edited" })
        if (current.text === text) return yield* load(id, actorId)
        yield* sql`INSERT INTO message_edits (org_id, message_id, text) VALUES (${room.orgId}, ${id}, ${current.text})`
        yield* sql`UPDATE messages SET text = ${text}, edited_at = now() WHERE id = ${id}`
        yield* sql`DELETE FROM message_mentions WHERE message_id = ${id}`
        yield* writeMentions(
          room.orgId,
          { id, roomId: room.id, threadId: current.threadId, seq: current.seq },
          text
        )
        const message = yield* load(id, actorId)
        yield* log.append(room.orgId, [{ audience: roomAudience(room), event: new MessageUpdated({ message }) }])
        return message
      }))
    })

    /**
     * Completes a message after it was posted: attaches files its author has
     * uploaded to the room and not attached yet, and adds `notes` as lines
     * below its text (cut at the longest text). Not an edit: the text's
     * history and mentions stay as they were. A deleted message takes nothing.
     */
    const attach = Effect.fn("MessageRepo.attach")(function*(
      room: RoomInfo,
      author: Author,
      id: MessageId,
      files: ReadonlyArray<FileId>,
      notes: ReadonlyArray<string>
    ) {
      return yield* withOrg(room.orgId)(Effect.gen(function*() {
        const current = yield* lockOwn(id)
        if (current.roomId !== room.id) return yield* NotFound.of("message", id)
        if (current.deleted || (files.length === 0 && notes.length === 0)) return yield* load(id)
        const claimed = yield* claimAttachments(room, author, files)
        const text = [current.text, ...notes].filter((line) => line !== "").join("\n").slice(0, MAX_MESSAGE_LENGTH)
        yield* sql`UPDATE messages SET text = ${text}, attachments = attachments || ${JSON.stringify(claimed)}::jsonb
          WHERE id = ${id}`
        if (claimed.length > 0) {
          yield* sql`UPDATE files SET message_id = ${id} WHERE id = ANY(${claimed.map((a) => a.id)}::uuid[])`
        }
        const message = yield* load(id)
        yield* log.append(room.orgId, [{ audience: roomAudience(room), event: new MessageUpdated({ message }) }])
        return message
      }))
    })

    const history = Effect.fn("MessageRepo.history")(function*(room: RoomInfo, id: MessageId) {
      return yield* withOrg(room.orgId)(Effect.gen(function*() {
        const exists = yield* sql`SELECT 1 FROM messages WHERE id = ${id} AND room_id = ${room.id}`
        if (exists.length === 0) return yield* NotFound.of("message", id)
        const rows = yield* sql`
          SELECT text, replaced_at FROM message_edits WHERE message_id = ${id} ORDER BY replaced_at, ctid`.pipe(
          Rows.all("message edit", EditRow)
        )
        return rows.map((r) => new MessageEdit(r))
      }))
    })

    /** Deletes a message, leaving a tombstone. Authors may delete their own; `moderator` may delete any. */
    const remove = Effect.fn("MessageRepo.remove")(
      function*(room: RoomInfo, id: MessageId, actorId: string, moderator: boolean) {
        return yield* withOrg(room.orgId)(Effect.gen(function*() {
          const current = yield* lockOwn(id)
          if (current.roomId !== room.id) return yield* NotFound.of("message", id)
          if (current.authorId !== actorId && !moderator) {
            return yield* new Forbidden({ message: "only the author or an admin can delete a message" })
          }
          if (current.deleted) return yield* load(id, actorId)
          yield* sql`UPDATE messages SET text = '', deleted_at = now() WHERE id = ${id}`
          yield* sql`DELETE FROM message_edits WHERE message_id = ${id}`
          const events = []
          if (current.threadId !== null) {
            yield* sql`UPDATE messages SET reply_count = GREATEST(reply_count - 1, 0) WHERE id = ${current.threadId}`
            events.push({
              audience: roomAudience(room),
              event: new MessageUpdated({ message: yield* load(current.threadId) })
            })
          }
          const message = yield* load(id, actorId)
          events.unshift({ audience: roomAudience(room), event: new MessageDeleted({ message }) })
          yield* log.append(room.orgId, events)
          return message
        }))
      }
    )

    const react = Effect.fn("MessageRepo.react")(
      function*(room: RoomInfo, id: MessageId, userId: UserId, emoji: string, add: boolean) {
        return yield* withOrg(room.orgId)(Effect.gen(function*() {
          const current = yield* lockOwn(id)
          if (current.roomId !== room.id) return yield* NotFound.of("message", id)
          if (current.deleted && add) return yield* new Conflict({ message: "cannot react to a deleted message" })
          const changed = add
            ? yield* sql`INSERT INTO reactions (org_id, message_id, user_id, emoji) VALUES (${room.orgId}, ${id}, ${userId}, ${emoji})
                ON CONFLICT DO NOTHING RETURNING 1`
            : yield* sql`DELETE FROM reactions WHERE message_id = ${id} AND user_id = ${userId} AND emoji = ${emoji} RETURNING 1`
          const message = yield* load(id, userId)
          if (changed.length > 0) {
            yield* log.append(room.orgId, [{
              audience: roomAudience(room),
              event: new ReactionChanged({
                roomId: room.id,
                messageId: id,
                userId,
                emoji,
                added: add,
                counts: message.reactions.map((r) => ({ emoji: r.emoji, count: r.count }))
              })
            }])
          }
          return message
        }))
      }
    )

    /** Moves the reader's room (or thread) marker forward to a message. Markers never move back. */
    const markRead = Effect.fn("MessageRepo.markRead")(
      function*(room: RoomInfo, userId: UserId, messageId: MessageId, threadId: MessageId | undefined) {
        return yield* withOrg(room.orgId)(Effect.gen(function*() {
          const found = yield* sql`
            SELECT seq, thread_id, id FROM messages WHERE id = ${messageId} AND room_id = ${room.id}`.pipe(
            Rows.first("message", Target)
          )
          if (Option.isNone(found)) return yield* NotFound.of("message", messageId)
          const target = found.value
          if (threadId === undefined && target.threadId !== null) {
            return yield* new InvalidInput({
              message: "that message is a thread reply; pass its threadId to mark the thread"
            })
          }
          if (threadId !== undefined && target.threadId !== threadId && target.id !== threadId) {
            return yield* new InvalidInput({ message: "that message is not in the given thread" })
          }
          const key = threadId ?? ROOM_MARKER
          yield* sql`INSERT INTO read_markers (org_id, user_id, room_id, thread_key, last_read_seq)
            VALUES (${room.orgId}, ${userId}, ${room.id}, ${key}, ${target.seq})
            ON CONFLICT (user_id, room_id, thread_key)
            DO UPDATE SET last_read_seq = GREATEST(read_markers.last_read_seq, EXCLUDED.last_read_seq)`
        }))
      }
    )

    /**
     * Full-text search over messages in `roomIds` (the rooms the caller may
     * read). `viewer` is the member (person or teammate) whose reactions read as `me`.
     */
    const search = Effect.fn("MessageRepo.search")(
      function*(
        orgId: OrgId,
        viewer: UserId | TeammateId,
        roomIds: ReadonlyArray<string>,
        query: SearchQuery
      ) {
        if (roomIds.length === 0) return []
        const tsquery = searchQuery(sql, query.text)
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const rows = yield* sql`
            SELECT ${columns(viewer)}, ts_rank(m.search, q.q) AS rank,
              ts_headline('english', m.text, q.q, 'StartSel=<<, StopSel=>>, MaxFragments=2') AS snippet
            FROM messages m, (SELECT ${tsquery} AS q) q
            WHERE m.room_id = ANY(${[...roomIds]}::uuid[]) AND m.deleted_at IS NULL AND m.search @@ q.q
              ${query.roomId === undefined ? sql`` : sql`AND m.room_id = ${query.roomId}`}
              ${query.authorId === undefined ? sql`` : sql`AND m.author_id = ${query.authorId}`}
              ${query.after === undefined ? sql`` : sql`AND m.created_at >= ${query.after}`}
              ${query.before === undefined ? sql`` : sql`AND m.created_at < ${query.before}`}
            ORDER BY rank DESC, m.created_at DESC, m.id
            LIMIT ${query.limit} OFFSET ${query.offset}`.pipe(Rows.all("message", SearchRow))
          return rows.map(({ rank, snippet, ...message }) =>
            new SearchHit({ message: toMessage(message), snippet, rank })
          )
        }))
      }
    )

    /**
     * Erases a person's part in the org's conversations: their messages
     * become tombstones (text, edits and attachments gone, the author a
     * deleted person; the rows stay so threads and positions hold), their
     * reactions, read markers and mentions go. Open clients hear
     * `message.deleted`, `message.updated` (thread roots whose reply count
     * fell) and `reaction.changed`. Returns how many messages and reactions.
     */
    const eraseAuthor = Effect.fn("MessageRepo.eraseAuthor")(function*(orgId: OrgId, userId: UserId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const mine = yield* sql`
          SELECT id, thread_id, deleted_at IS NOT NULL AS deleted FROM messages
          WHERE org_id = ${orgId} AND author_kind = 'user' AND author_id = ${userId}
          ORDER BY room_id, seq FOR UPDATE`.pipe(Rows.all("message", Erased))
        const ids = mine.map((m) => m.id)
        const unreacted = yield* sql`
          DELETE FROM reactions r USING messages m
          WHERE r.org_id = ${orgId} AND r.user_id = ${userId} AND m.id = r.message_id
          RETURNING r.message_id, m.room_id, r.emoji`.pipe(Rows.all("reaction", Unreacted))
        yield* sql`DELETE FROM read_markers WHERE org_id = ${orgId} AND user_id = ${userId}`
        yield* sql`DELETE FROM message_mentions WHERE org_id = ${orgId}
          AND (message_id = ANY(${ids}::uuid[]) OR (member_kind = 'user' AND member_id = ${userId}))`
        yield* sql`DELETE FROM message_edits WHERE message_id = ANY(${ids}::uuid[])`
        yield* sql`UPDATE messages SET text = '', attachments = '[]'::jsonb, deleted_at = COALESCE(deleted_at, now()),
            author_id = ${ERASED_PERSON_ID}, author_name = ${ERASED_PERSON_NAME}, client_message_id = NULL
          WHERE id = ANY(${ids}::uuid[])`
        // Replies that were live leave their thread's count, as a delete does.
        const fell = new Map<MessageId, number>()
        for (const m of mine) {
          if (!m.deleted && m.threadId !== null) fell.set(m.threadId, (fell.get(m.threadId) ?? 0) + 1)
        }
        for (const [root, n] of fell) {
          yield* sql`UPDATE messages SET reply_count = GREATEST(reply_count - ${n}, 0) WHERE id = ${root}`
        }
        const tombstones = yield* sql`${select(nobody)} WHERE m.id = ANY(${ids}::uuid[]) ORDER BY m.room_id, m.seq`
          .pipe(messageRows)
        const erased = new Set<string>(ids)
        const roots = yield* sql`${select(nobody)} WHERE m.id = ANY(${[...fell.keys()]}::uuid[])`.pipe(messageRows)
        const changed = new Map<string, typeof Unreacted.Type>()
        for (const r of unreacted) if (!erased.has(r.messageId)) changed.set(`${r.messageId}/${r.emoji}`, r)
        const reacted = [...new Set([...changed.values()].map((r) => r.messageId))]
        const counted = yield* sql`${select(nobody)} WHERE m.id = ANY(${reacted}::uuid[])`.pipe(messageRows)
        const counts = new Map(counted.map((m) => [m.id, m.reactions.map((r) => ({ emoji: r.emoji, count: r.count }))]))
        const inRoom = (roomId: RoomId) => new Audience({ roomId, orgWide: false, userIds: [] }, true)
        yield* log.append(orgId, [
          ...tombstones.map((m) => ({
            audience: inRoom(m.roomId),
            event: new MessageDeleted({ message: toMessage(m) })
          })),
          ...roots.filter((m) => !erased.has(m.id)).map((m) => ({
            audience: inRoom(m.roomId),
            event: new MessageUpdated({ message: toMessage(m) })
          })),
          ...[...changed.values()].map((r) => ({
            audience: inRoom(r.roomId),
            event: new ReactionChanged({
              roomId: r.roomId,
              messageId: r.messageId,
              userId,
              emoji: r.emoji,
              added: false,
              counts: counts.get(r.messageId) ?? []
            })
          }))
        ])
        return { messages: ids.length, reactions: unreacted.length }
      }))
    })

    return { post, get, page, edit, attach, history, remove, react, markRead, search, eraseAuthor } as const
  }),
  dependencies: [EventLog.Default]
}) {}
