/**
 * Data rights in the store: an org's (or one person's) records as JSON
 * lines, read in one snapshot under the org's row-level security, and the
 * erasure of a person's data from an org in one transaction.
 */
import { SqlClient, type Statement } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import { ERASED_PERSON_ID, ERASED_PERSON_NAME, ErasureReport, type ExportRecordType } from "@troupe/domain/DataRights"
import { NotFound } from "@troupe/domain/Errors"
import { Audience, PinDeleted, ScheduleDeleted } from "@troupe/domain/Event"
import { type OrgId, PinId, RoomId, ScheduleId, type UserId } from "@troupe/domain/Ids"
import type { Role } from "@troupe/domain/Org"
import { Cause, Chunk, Effect, Exit, Option, Queue, Schema, Stream, Take } from "effect"
import type { RowError } from "./DatabaseError.js"
import { EventLog } from "./EventLog.js"
import { FileRepo } from "./FileRepo.js"
import * as Rows from "./internal/Rows.js"
import { MessageRepo } from "./MessageRepo.js"
import { OrgRepo } from "./OrgRepo.js"
import { orgScope } from "./OrgScope.js"
import { TaskRepo } from "./TaskRepo.js"

const Record = Schema.Struct({ record: Schema.Unknown })
const decodeRecord = Schema.decodeUnknown(Record)
const Counted = Schema.Struct({ n: Schema.Number })
const RoomThing = Schema.Struct({ id: Schema.UUID, roomId: RoomId })

/** Lines of the export kept in memory at once, between the database and the client. */
const BUFFERED_CHUNKS = 8

/** Export and erasure. */
export class DataRightsRepo extends Effect.Service<DataRightsRepo>()("@troupe/store/DataRightsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg, withOrgSnapshot } = orgScope(sql)
    const log = yield* EventLog
    const orgs = yield* OrgRepo
    const messages = yield* MessageRepo
    const files = yield* FileRepo
    const taskRepo = yield* TaskRepo

    /**
     * A record of the export: `{"type": type, key: column, ...}`, built by
     * Postgres. Keys and columns are this module's constants, never input.
     */
    const record = (type: ExportRecordType, fields: ReadonlyArray<readonly [key: string, column: string]>) =>
      sql.literal(
        `json_build_object('type', '${type}', ${
          fields.map(([key, column]) => `'${key}', ${column}`).join(", ")
        }) AS record`
      )

    /**
     * The queries of an export, in order. `user` narrows each to what the
     * person authored or what is about them; null exports the whole org.
     */
    const queries = (orgId: OrgId, user: UserId | null) => {
      const all = user === null
      const when = (filter: Statement.Fragment) => (all ? sql`true` : filter)
      const theirMessages = sql`SELECT id FROM messages WHERE org_id = ${orgId} AND author_kind = 'user'
        AND author_id = ${user}`
      const theirRuns = sql`SELECT r.id FROM runs r JOIN teammate_triggers t ON t.id = ANY(r.trigger_ids)
        WHERE t.message_id IN (${theirMessages})`
      return [
        all
          ? sql`SELECT ${
            record("org", [
              ["id", "o.id"],
              ["name", "o.name"],
              ["slug", "o.slug"],
              ["createdAt", "o.created_at"],
              ["allowedEmailDomains", "o.allowed_email_domains"],
              ["allowedModels", "o.allowed_models"],
              ["monthlyTokenBudget", "o.monthly_token_budget"]
            ])
          } FROM orgs o WHERE o.id = ${orgId}`
          : sql`SELECT ${
            record("person", [
              ["id", "u.id"],
              ["kind", "u.kind"],
              ["name", "u.name"],
              ["handle", "u.handle"],
              ["email", "troupe_member_email(u.id)"],
              ["createdAt", "u.created_at"]
            ])
          } FROM users u WHERE u.id = ${user}`,
        sql`SELECT ${
          record("member", [
            ["userId", "m.user_id"],
            ["kind", "u.kind"],
            ["name", "u.name"],
            ["handle", "u.handle"],
            ["role", "m.role"],
            ["joinedAt", "m.joined_at"]
          ])
        } FROM org_members m JOIN users u ON u.id = m.user_id
          WHERE m.org_id = ${orgId} AND ${when(sql`m.user_id = ${user}`)} ORDER BY m.joined_at, m.user_id`,
        sql`SELECT ${
          record("room", [
            ["id", "r.id"],
            ["kind", "r.kind"],
            ["name", "r.name"],
            ["topic", "r.topic"],
            ["routing", "r.routing"],
            ["createdBy", "r.created_by"],
            ["createdAt", "r.created_at"],
            ["archivedAt", "r.archived_at"]
          ])
        } FROM rooms r WHERE r.org_id = ${orgId} AND ${
          when(sql`(r.created_by = ${user} OR EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = r.id
            AND rm.member_kind = 'user' AND rm.member_id = ${user}))`)
        } ORDER BY r.created_at, r.id`,
        sql`SELECT ${
          record("membership", [
            ["roomId", "rm.room_id"],
            ["memberKind", "rm.member_kind"],
            ["memberId", "rm.member_id"],
            ["joinedAt", "rm.joined_at"],
            ["muted", "rm.muted"]
          ])
        } FROM room_members rm WHERE rm.org_id = ${orgId} AND ${
          when(sql`rm.member_kind = 'user' AND rm.member_id = ${user}`)
        } ORDER BY rm.room_id, rm.joined_at`,
        sql`SELECT ${
          record("message", [
            ["id", "m.id"],
            ["roomId", "m.room_id"],
            ["seq", "m.seq"],
            ["threadId", "m.thread_id"],
            ["authorKind", "m.author_kind"],
            ["authorId", "m.author_id"],
            ["authorName", "m.author_name"],
            ["text", "m.text"],
            ["attachments", "m.attachments"],
            ["replyCount", "m.reply_count"],
            ["createdAt", "m.created_at"],
            ["editedAt", "m.edited_at"],
            ["deletedAt", "m.deleted_at"]
          ])
        } FROM messages m WHERE m.org_id = ${orgId} AND ${
          when(sql`m.author_kind = 'user' AND m.author_id = ${user}`)
        } ORDER BY m.room_id, m.seq`,
        sql`SELECT ${
          record("message_edit", [["messageId", "e.message_id"], ["text", "e.text"], [
            "replacedAt",
            "e.replaced_at"
          ]])
        } FROM message_edits e WHERE e.org_id = ${orgId} AND ${when(sql`e.message_id IN (${theirMessages})`)}
          ORDER BY e.message_id, e.replaced_at`,
        sql`SELECT ${
          record("mention", [
            ["messageId", "mm.message_id"],
            ["roomId", "mm.room_id"],
            ["memberKind", "mm.member_kind"],
            ["memberId", "mm.member_id"],
            ["handle", "mm.handle"]
          ])
        } FROM message_mentions mm WHERE mm.org_id = ${orgId} AND ${
          when(sql`mm.member_kind = 'user' AND mm.member_id = ${user}`)
        } ORDER BY mm.room_id, mm.seq`,
        sql`SELECT ${
          record("reaction", [
            ["messageId", "x.message_id"],
            ["userId", "x.user_id"],
            ["emoji", "x.emoji"],
            ["createdAt", "x.created_at"]
          ])
        } FROM reactions x WHERE x.org_id = ${orgId} AND ${when(sql`x.user_id = ${user}`)}
          ORDER BY x.created_at, x.message_id`,
        sql`SELECT ${
          record("read_state", [
            ["userId", "rm.user_id"],
            ["roomId", "rm.room_id"],
            ["threadKey", "rm.thread_key"],
            ["lastReadSeq", "rm.last_read_seq"]
          ])
        } FROM read_markers rm WHERE rm.org_id = ${orgId} AND ${when(sql`rm.user_id = ${user}`)}
          ORDER BY rm.user_id, rm.room_id`,
        sql`SELECT ${
          record("file", [
            ["id", "f.id"],
            ["roomId", "f.room_id"],
            ["name", "f.name"],
            ["contentType", "f.content_type"],
            ["declaredType", "f.declared_type"],
            ["size", "f.size"],
            ["sha256", "f.sha256"],
            ["uploaderKind", "f.uploader_kind"],
            ["uploaderId", "f.uploader_id"],
            ["uploaderName", "f.uploader_name"],
            ["messageId", "f.message_id"],
            ["textStatus", "f.text_status"],
            ["createdAt", "f.created_at"]
          ])
        } FROM files f WHERE f.org_id = ${orgId} AND ${
          when(sql`f.uploader_kind = 'user' AND f.uploader_id = ${user}`)
        } ORDER BY f.created_at, f.id`,
        sql`SELECT ${
          record("pin", [
            ["id", "p.id"],
            ["roomId", "p.room_id"],
            ["kind", "p.kind"],
            ["text", "p.text"],
            ["messageId", "p.message_id"],
            ["authorKind", "p.author_kind"],
            ["authorId", "p.author_id"],
            ["authorName", "p.author_name"],
            ["version", "p.version"],
            ["createdAt", "p.created_at"],
            ["updatedAt", "p.updated_at"]
          ])
        } FROM pins p WHERE p.org_id = ${orgId} AND ${when(sql`p.author_kind = 'user' AND p.author_id = ${user}`)}
          ORDER BY p.created_at, p.id`,
        sql`SELECT ${
          record("pin_version", [
            ["pinId", "v.pin_id"],
            ["version", "v.version"],
            ["text", "v.text"],
            ["editorKind", "v.editor_kind"],
            ["editorId", "v.editor_id"],
            ["editorName", "v.editor_name"],
            ["editedAt", "v.edited_at"]
          ])
        } FROM pin_versions v WHERE v.org_id = ${orgId} AND ${
          when(sql`v.editor_kind = 'user' AND v.editor_id = ${user}`)
        } ORDER BY v.pin_id, v.version`,
        sql`SELECT ${
          record("teammate", [
            ["id", "t.id"],
            ["handle", "t.handle"],
            ["name", "t.name"],
            ["role", "t.role"],
            ["personality", "t.personality"],
            ["instructions", "t.instructions"],
            ["model", "t.model"],
            ["tools", "t.tools"],
            ["busyPolicy", "t.busy_policy"],
            ["template", "t.template"],
            ["monthlyTokenLimit", "t.monthly_token_limit"],
            ["createdBy", "t.created_by"],
            ["createdAt", "t.created_at"],
            ["dismissedAt", "t.dismissed_at"]
          ])
        } FROM teammates t WHERE t.org_id = ${orgId} AND ${when(sql`t.created_by = ${user}`)}
          ORDER BY t.created_at, t.id`,
        // Core blocks are the teammate's own notes, with no author: they belong to the org's export only.
        all
          ? sql`SELECT ${
            record("core_memory", [
              ["teammateId", "cm.teammate_id"],
              ["block", "cm.block"],
              ["text", "cm.text"],
              ["roomId", "cm.room_id"],
              ["updatedAt", "cm.updated_at"]
            ])
          } FROM core_memory cm WHERE cm.org_id = ${orgId} ORDER BY cm.teammate_id, cm.block`
          : null,
        sql`SELECT ${
          record("memory", [
            ["id", "me.id"],
            ["teammateId", "me.teammate_id"],
            ["text", "me.text"],
            ["sourceMessageId", "me.source_message_id"],
            ["roomId", "me.room_id"],
            ["createdAt", "me.created_at"]
          ])
        } FROM memories me WHERE me.org_id = ${orgId} AND ${when(sql`me.source_message_id IN (${theirMessages})`)}
          ORDER BY me.created_at, me.id`,
        sql`SELECT ${
          record("run", [
            ["id", "r.id"],
            ["teammateId", "r.teammate_id"],
            ["roomId", "r.room_id"],
            ["threadId", "r.thread_id"],
            ["status", "r.status"],
            ["model", "r.model"],
            ["inputTokens", "r.input_tokens"],
            ["outputTokens", "r.output_tokens"],
            ["costUsd", "r.cost_usd"],
            ["replyMessageId", "r.reply_message_id"],
            ["error", "r.error"],
            ["startedAt", "r.started_at"],
            ["finishedAt", "r.finished_at"]
          ])
        } FROM runs r WHERE r.org_id = ${orgId} AND ${when(sql`r.id IN (${theirRuns})`)}
          ORDER BY r.started_at, r.id`,
        // A run's steps hold its whole context, other people's words too: the org's export only.
        all
          ? sql`SELECT ${
            record("run_step", [
              ["runId", "s.run_id"],
              ["index", "s.idx"],
              ["kind", "s.kind"],
              ["name", "s.name"],
              ["input", "s.input"],
              ["output", "s.output"],
              ["createdAt", "s.created_at"]
            ])
          } FROM run_steps s WHERE s.org_id = ${orgId} ORDER BY s.run_id, s.idx`
          : null,
        sql`SELECT ${
          record("task", [
            ["id", "k.id"],
            ["roomId", "k.room_id"],
            ["threadId", "k.thread_id"],
            ["teammateId", "k.teammate_id"],
            ["goal", "k.goal"],
            ["createdByKind", "k.created_by_kind"],
            ["createdById", "k.created_by_id"],
            ["createdByName", "k.created_by_name"],
            ["status", "k.status"],
            ["steps", "k.steps"],
            ["inputTokens", "k.input_tokens"],
            ["outputTokens", "k.output_tokens"],
            ["resultMessageId", "k.result_message_id"],
            ["error", "k.error"],
            ["scheduleId", "k.schedule_id"],
            ["createdAt", "k.created_at"],
            ["finishedAt", "k.finished_at"]
          ])
        } FROM tasks k WHERE k.org_id = ${orgId} AND ${
          when(sql`k.created_by_kind = 'user' AND k.created_by_id = ${user}`)
        } ORDER BY k.created_at, k.id`,
        sql`SELECT ${
          record("schedule", [
            ["id", "s.id"],
            ["roomId", "s.room_id"],
            ["teammateId", "s.teammate_id"],
            ["goal", "s.goal"],
            ["cron", "s.cron"],
            ["timeZone", "s.time_zone"],
            ["paused", "s.paused"],
            ["createdById", "s.created_by_id"],
            ["createdByName", "s.created_by_name"],
            ["createdAt", "s.created_at"]
          ])
        } FROM schedules s WHERE s.org_id = ${orgId} AND ${when(sql`s.created_by_id = ${user}`)}
          ORDER BY s.created_at, s.id`,
        // Keys as listed to admins: never their secret's hash.
        sql`SELECT ${
          record("api_key", [
            ["id", "k.id"],
            ["name", "k.name"],
            ["role", "k.role"],
            ["prefix", "k.prefix"],
            ["botUserId", "k.user_id"],
            ["createdBy", "k.created_by"],
            ["createdAt", "k.created_at"],
            ["revokedAt", "k.revoked_at"]
          ])
        } FROM api_keys k WHERE k.org_id = ${orgId} AND ${when(sql`k.created_by = ${user}`)}
          ORDER BY k.created_at, k.id`,
        sql`SELECT ${
          record("invitation", [
            ["id", "i.id"],
            ["email", "i.email"],
            ["role", "i.role"],
            ["invitedBy", "i.invited_by"],
            ["createdAt", "i.created_at"],
            ["expiresAt", "i.expires_at"],
            ["acceptedBy", "i.accepted_by"],
            ["acceptedAt", "i.accepted_at"],
            ["revokedAt", "i.revoked_at"]
          ])
        } FROM invitations i WHERE i.org_id = ${orgId} AND ${when(sql`i.accepted_by = ${user}`)}
          ORDER BY i.created_at, i.id`
      ].filter((q) => q !== null)
    }

    /**
     * The org's records (or one person's) as JSON lines, each ending in a
     * newline: an `export` line first, an `end` line with the count last. The
     * rows are read with a database cursor in one repeatable-read transaction
     * bound to the org, so the lines agree with each other and hold no other
     * org's rows; at most a few hundred are in memory at once, however big the
     * org. A client that stops reading holds the transaction until it goes.
     */
    const exportLines = (orgId: OrgId, user: UserId | null): Stream.Stream<string, SqlError | RowError> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        const queue = yield* Effect.acquireRelease(
          Queue.bounded<Take.Take<string, SqlError | RowError>>(BUFFERED_CHUNKS),
          Queue.shutdown
        )
        const header = {
          type: "export",
          version: 1,
          orgId,
          userId: user,
          exportedAt: new Date().toISOString()
        }
        let count = 0
        const rows = Stream.concatAll(Chunk.fromIterable(
          queries(orgId, user).map((q) =>
            q.stream.pipe(
              Stream.mapEffect((row) => decodeRecord(row).pipe(Effect.mapError(Rows.rowError("export")))),
              Stream.map((r) => JSON.stringify(r.record))
            )
          )
        ))
        const produce = withOrgSnapshot(orgId)(
          Stream.runForEachChunk(rows, (chunk) => {
            count += chunk.length
            return Queue.offer(queue, Take.chunk(chunk))
          })
        )
        yield* Effect.forkScoped(Effect.gen(function*() {
          const exit = yield* Effect.exit(produce)
          if (Exit.isFailure(exit)) {
            if (!Cause.isInterruptedOnly(exit.cause)) yield* Queue.offer(queue, Take.failCause(exit.cause))
            return
          }
          yield* Queue.offer(queue, Take.of(JSON.stringify({ type: "end", records: count })))
          yield* Queue.offer(queue, Take.end)
        }))
        return Stream.concat(Stream.make(JSON.stringify(header)), Stream.flattenTake(Stream.fromQueue(queue)))
          .pipe(Stream.map((line) => `${line}\n`))
      }))

    /**
     * Whether the org holds anything of this person: they are a member, or
     * were one and left messages, reactions or files behind. A person the
     * org never knew is `NotFound`, as another org's people are.
     */
    const requireKnown = Effect.fn("DataRightsRepo.requireKnown")(function*(orgId: OrgId, userId: UserId) {
      const known = yield* withOrg(orgId)(sql`SELECT
          EXISTS (SELECT 1 FROM org_members WHERE org_id = ${orgId} AND user_id = ${userId})
          OR EXISTS (SELECT 1 FROM messages WHERE org_id = ${orgId} AND author_kind = 'user' AND author_id = ${userId})
          OR EXISTS (SELECT 1 FROM reactions WHERE org_id = ${orgId} AND user_id = ${userId})
          OR EXISTS (SELECT 1 FROM files WHERE org_id = ${orgId} AND uploader_kind = 'user' AND uploader_id = ${userId})
          AS known`.pipe(Rows.one("person", Schema.Struct({ known: Schema.Boolean }))))
      if (!known.known) return yield* NotFound.of("member", userId)
    })

    /**
     * Erases a person's data from the org, in one transaction: they leave
     * its rooms and the org (their keys and the keys they made revoked, as a
     * removal does, with its checks: only an owner erases an owner, and not
     * the last one); their messages become tombstones, their reactions, read
     * markers and uploads go; teammates forget what came from their messages;
     * the runs their messages started keep their token and cost totals (the
     * org's usage) but lose their steps; their pins and schedules go; the tasks
     * they gave lose their goal and giver (unfinished ones are cancelled);
     * the invitations they accepted go. Bytes no other file shares are left
     * for `FileRepo.sweep`, to run after the commit. The account stays: it
     * is the person's, and may belong to other orgs.
     */
    const erase = Effect.fn("DataRightsRepo.erase")(
      function*(orgId: OrgId, actorRole: Role, actorId: UserId, userId: UserId) {
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const rooms = yield* Rows.one("count", Counted)(sql`SELECT count(*)::int AS n FROM room_members
            WHERE org_id = ${orgId} AND member_kind = 'user' AND member_id = ${userId}`)
          yield* requireKnown(orgId, userId)
          // A member leaves first (with removal's checks); a former member left already.
          if (Option.isSome(yield* orgs.roleOf(orgId, userId))) {
            yield* orgs.removeMember(orgId, actorRole, actorId, userId)
          }
          const theirMessages = sql`SELECT id FROM messages WHERE org_id = ${orgId} AND author_kind = 'user'
            AND author_id = ${userId}`
          const memories = yield* sql`DELETE FROM memories WHERE org_id = ${orgId}
            AND source_message_id IN (${theirMessages}) RETURNING id`
          const runs = yield* Rows.all("run", Schema.Struct({ id: Schema.UUID }))(
            sql`SELECT r.id FROM runs r JOIN teammate_triggers t ON t.id = ANY(r.trigger_ids)
            WHERE r.org_id = ${orgId} AND t.message_id IN (${theirMessages}) GROUP BY r.id`
          )
          yield* sql`DELETE FROM run_steps WHERE run_id = ANY(${runs.map((r) => r.id)}::uuid[])`
          const pins = yield* Rows.all("pin", RoomThing)(sql`DELETE FROM pins WHERE org_id = ${orgId}
            AND author_kind = 'user' AND author_id = ${userId} RETURNING id, room_id`)
          yield* sql`UPDATE pin_versions SET editor_id = ${ERASED_PERSON_ID}, editor_name = ${ERASED_PERSON_NAME}
            WHERE org_id = ${orgId} AND editor_kind = 'user' AND editor_id = ${userId}`
          const schedules = yield* Rows.all("schedule", RoomThing)(sql`DELETE FROM schedules WHERE org_id = ${orgId}
            AND created_by_id = ${userId} RETURNING id, room_id`)
          const tasks = yield* taskRepo.eraseGiver(orgId, userId)
          yield* sql`DELETE FROM invitations WHERE org_id = ${orgId} AND accepted_by = ${userId}`
          const removedFiles = yield* files.removeUploadsOf(orgId, userId)
          const erased = yield* messages.eraseAuthor(orgId, userId)
          yield* log.append(orgId, [
            ...pins.map((p) => ({
              audience: new Audience({ roomId: p.roomId, orgWide: false, userIds: [] }),
              event: new PinDeleted({ roomId: p.roomId, pinId: PinId.make(p.id) })
            })),
            ...schedules.map((s) => ({
              audience: new Audience({ roomId: s.roomId, orgWide: false, userIds: [] }),
              event: new ScheduleDeleted({ roomId: s.roomId, scheduleId: ScheduleId.make(s.id) })
            }))
          ])
          return new ErasureReport({
            userId,
            messages: erased.messages,
            reactions: erased.reactions,
            files: removedFiles,
            memories: memories.length,
            runs: runs.length,
            pins: pins.length,
            tasks,
            schedules: schedules.length,
            rooms: rooms.n
          })
        }))
      }
    )

    return { requireKnown, exportLines, erase } as const
  }),
  dependencies: [EventLog.Default, OrgRepo.Default, MessageRepo.Default, FileRepo.Default, TaskRepo.Default]
}) {}
