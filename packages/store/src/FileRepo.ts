/**
 * Files and the blobs that hold their bytes. Each org's uploads share one
 * blob per distinct content; the org's storage is the sum of its blobs.
 *
 * Every change to an org's blobs (adding one, removing the last file of one)
 * takes the org's file lock first and touches the store while holding it, so
 * an upload and the removal of the same content never interleave: the bytes
 * a committed file names are always in the store.
 */
import { SqlClient } from "@effect/sql"
import { Forbidden, NotFound, PayloadTooLarge } from "@troupe/domain/Errors"
import { Audience, FileCreated, FileDeleted, FileUpdated } from "@troupe/domain/Event"
import { FileHit, FileInfo, type TextStatus } from "@troupe/domain/File"
import { FileId, OrgId, type RoomId } from "@troupe/domain/Ids"
import type { RoomInfo } from "@troupe/domain/Room"
import { Effect, Option, Schema } from "effect"
import { blobKey, BlobStore, type Staged } from "./BlobStore.js"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import { type Author, searchQuery } from "./MessageRepo.js"
import { orgScope } from "./OrgScope.js"

/** A `files` row: the record as clients see it, with Postgres's own types for the size and the time. */
const FileRow = Schema.Struct({ ...FileInfo.fields, size: Schema.NumberFromString, createdAt: Schema.DateFromSelf })
const toFile = (row: typeof FileRow.Type) => new FileInfo(row, true)
const Used = Schema.Struct({ used: Schema.NumberFromString })

/** What an upload says about itself; the bytes come staged. */
export interface NewFile {
  readonly name: string
  readonly declaredType: string
  readonly contentType: string
}

/** Options for listing a room's files, newest first. */
export interface FileListOptions {
  readonly limit: number
  /** Only files uploaded before this one. */
  readonly before?: FileId | undefined
}

const roomAudience = (roomId: RoomId) => new Audience({ roomId, orgWide: false, userIds: [] }, true)

/** Files, blobs and their bytes. */
export class FileRepo extends Effect.Service<FileRepo>()("@troupe/store/FileRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog
    const store = yield* BlobStore

    const columns = sql`f.id, f.org_id, f.room_id, f.name, f.declared_type, f.content_type, f.size, f.sha256,
      f.uploader_kind, f.uploader_id, f.uploader_name, f.message_id, f.text_status, f.created_at`

    /** Serialises changes to one org's blobs (and with them its storage total). */
    const lockOrgFiles = (orgId: OrgId) => sql`SELECT pg_advisory_xact_lock(hashtextextended(${`files/${orgId}`}, 0))`

    /** What the org's files take: each distinct content once, not counting contents on their way out. */
    const usedBytes = (orgId: OrgId) =>
      sql`SELECT COALESCE(sum(b.size), 0)::text AS used FROM blobs b WHERE b.org_id = ${orgId}
        AND EXISTS (SELECT 1 FROM files f WHERE f.org_id = b.org_id AND f.sha256 = b.sha256)`.pipe(
        Rows.one("usage", Used)
      )

    /**
     * Records an upload into a room's library, storing its bytes unless the
     * org already has them. New content must fit in `quotaBytes`.
     */
    const create = Effect.fn("FileRepo.create")(function*(
      room: RoomInfo,
      uploader: Author,
      file: NewFile,
      staged: Staged,
      quotaBytes: number
    ) {
      const orgId = room.orgId
      return yield* withOrg(orgId)(Effect.gen(function*() {
        yield* lockOrgFiles(orgId)
        // Content a file of the org already has is free; anything else (an orphan's too) must fit.
        const known = yield* sql`SELECT 1 FROM files WHERE org_id = ${orgId} AND sha256 = ${staged.sha256} LIMIT 1`
        if (known.length === 0) {
          const { used } = yield* usedBytes(orgId)
          if (used + staged.size > quotaBytes) {
            return yield* new PayloadTooLarge({
              message: `the org's file storage is full: ${used} of ${quotaBytes} bytes are used, ` +
                `and this file needs ${staged.size}; delete files to make room`,
              limitBytes: quotaBytes
            })
          }
          yield* sql`INSERT INTO blobs (org_id, sha256, size) VALUES (${orgId}, ${staged.sha256}, ${staged.size})
            ON CONFLICT (org_id, sha256) DO NOTHING`
        }
        // Checked even for a known blob: bytes lost outside Troupe are put back by the next upload of them.
        const key = blobKey(orgId, staged.sha256)
        if (!(yield* store.has(key))) yield* store.put(key, staged)
        const row = yield* sql`
          INSERT INTO files AS f (org_id, room_id, sha256, size, name, declared_type, content_type,
            uploader_kind, uploader_id, uploader_name)
          VALUES (${orgId}, ${room.id}, ${staged.sha256}, ${staged.size}, ${file.name}, ${file.declaredType},
            ${file.contentType}, ${uploader.kind}, ${uploader.id}, ${uploader.name})
          RETURNING ${columns}`.pipe(Rows.one("file", FileRow))
        const created = toFile(row)
        yield* log.append(orgId, [{ audience: roomAudience(room.id), event: new FileCreated({ file: created }) }])
        return created
      }))
    })

    const find = (fileId: FileId, lock: boolean) =>
      sql`SELECT ${columns} FROM files f WHERE f.id = ${fileId} ${lock ? sql`FOR UPDATE` : sql``}`.pipe(
        Rows.first("file", FileRow),
        Effect.map(Option.map(toFile))
      )

    /** A file of a room; another room's file is `NotFound`. */
    const get = Effect.fn("FileRepo.get")(function*(orgId: OrgId, roomId: RoomId, fileId: FileId) {
      const found = yield* withOrg(orgId)(find(fileId, false))
      if (Option.isNone(found) || found.value.roomId !== roomId) return yield* NotFound.of("file", fileId)
      return found.value
    })

    /** A room's files, newest first. */
    const list = Effect.fn("FileRepo.list")(function*(orgId: OrgId, roomId: RoomId, options: FileListOptions) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const before = options.before === undefined
          ? sql`true`
          : sql`(f.created_at, f.id) < (SELECT created_at, id FROM files WHERE id = ${options.before})`
        const rows = yield* sql`SELECT ${columns} FROM files f WHERE f.room_id = ${roomId} AND ${before}
          ORDER BY f.created_at DESC, f.id DESC LIMIT ${options.limit}`.pipe(Rows.all("file", FileRow))
        return rows.map(toFile)
      }))
    })

    /** Removes a blob's row and bytes when no file refers to it; the org's file lock must be held. */
    const collect = (orgId: OrgId, sha256: string) =>
      Effect.gen(function*() {
        const used = yield* sql`SELECT 1 FROM files WHERE org_id = ${orgId} AND sha256 = ${sha256} LIMIT 1`
        if (used.length > 0) return
        yield* sql`DELETE FROM blobs WHERE org_id = ${orgId} AND sha256 = ${sha256}`
        yield* store.remove(blobKey(orgId, sha256))
      })

    /** Takes a deleted file off the message it was attached to. */
    const detach = (file: FileInfo) =>
      file.messageId === null ? Effect.void : sql`UPDATE messages SET attachments = COALESCE(
          (SELECT jsonb_agg(a) FROM jsonb_array_elements(attachments) a WHERE a->>'id' <> ${file.id}), '[]'::jsonb)
        WHERE id = ${file.messageId}`.pipe(Effect.asVoid)

    /**
     * Deletes every file a person uploaded to the org (their erasure), with
     * `file.deleted` for each. The bytes no other file shares are left to
     * `sweep`, which the caller runs once this transaction has committed: a
     * rolled-back erasure must not have removed bytes its files still name.
     */
    const removeUploadsOf = Effect.fn("FileRepo.removeUploadsOf")(function*(orgId: OrgId, uploaderId: string) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        yield* lockOrgFiles(orgId)
        const removed = yield* sql`DELETE FROM files f WHERE f.org_id = ${orgId} AND f.uploader_kind = 'user'
          AND f.uploader_id = ${uploaderId} RETURNING ${columns}`.pipe(Rows.all("file", FileRow))
        const gone = removed.map(toFile)
        yield* Effect.forEach(gone, detach, { discard: true })
        yield* log.append(
          orgId,
          gone.map((file) => ({ audience: roomAudience(file.roomId), event: new FileDeleted({ file }) }))
        )
        return gone.length
      }))
    })

    /**
     * Deletes a file (its uploader, or an admin): messages stop listing it,
     * and its bytes go when no other upload in the org shares them.
     */
    const remove = Effect.fn("FileRepo.remove")(
      function*(room: RoomInfo, fileId: FileId, actorId: string, isAdmin: boolean) {
        const orgId = room.orgId
        return yield* withOrg(orgId)(Effect.gen(function*() {
          yield* lockOrgFiles(orgId)
          const found = yield* find(fileId, true)
          if (Option.isNone(found) || found.value.roomId !== room.id) return yield* NotFound.of("file", fileId)
          const file = found.value
          if (file.uploaderId !== actorId && !isAdmin) {
            return yield* new Forbidden({ message: "only the person who uploaded a file, or an admin, may delete it" })
          }
          yield* sql`DELETE FROM files WHERE id = ${fileId}`
          yield* detach(file)
          yield* collect(orgId, file.sha256)
          yield* log.append(orgId, [{ audience: roomAudience(room.id), event: new FileDeleted({ file }) }])
          return file
        }))
      }
    )

    /**
     * Removes the blobs of an org that no file refers to any more (their
     * room was deleted, say), with their bytes. Returns how many went.
     */
    const sweep = Effect.fn("FileRepo.sweep")(function*(orgId: OrgId) {
      return yield* withOrg(orgId)(Effect.zipRight(lockOrgFiles(orgId), collectOrphans(orgId)))
    })

    /** Removes the org's blobs no file refers to, with their bytes (the org's file lock held); returns how many. */
    const collectOrphans = (orgId: OrgId) =>
      Effect.gen(function*() {
        const orphans = yield* sql`SELECT b.sha256 FROM blobs b WHERE b.org_id = ${orgId}
          AND NOT EXISTS (SELECT 1 FROM files f WHERE f.org_id = b.org_id AND f.sha256 = b.sha256)`.pipe(
          Rows.all("blob", Schema.Struct({ sha256: Schema.String }))
        )
        yield* Effect.forEach(orphans, (o) => collect(orgId, o.sha256), { discard: true })
        return orphans.length
      })

    /**
     * Removes every file of an org with its bytes: the first step of purging
     * a deleted org (its rows go with the org). Returns how many contents went.
     */
    const removeAll = Effect.fn("FileRepo.removeAll")(function*(orgId: OrgId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        yield* lockOrgFiles(orgId)
        yield* sql`DELETE FROM files WHERE org_id = ${orgId}`
        return yield* collectOrphans(orgId)
      }))
    })

    /** Orgs of any org holding blobs no file refers to: the retention sweep's work list. */
    const orphanOrgs = Effect.fn("FileRepo.orphanOrgs")(function*(limit: number) {
      return yield* sql`SELECT org_id FROM troupe_orgs_with_orphan_blobs(${limit})`.pipe(
        Rows.all("org", Schema.Struct({ orgId: OrgId })),
        Effect.map((rows) => rows.map((r) => r.orgId))
      )
    })

    /** Bytes the org's files take, each distinct content once. */
    const usage = Effect.fn("FileRepo.usage")(function*(orgId: OrgId) {
      return (yield* withOrg(orgId)(usedBytes(orgId))).used
    })

    /** The stored bytes of a file. */
    const content = (file: FileInfo) => store.read(blobKey(file.orgId, file.sha256))

    /** Files of any org whose text is still to be read, oldest first (after a restart, say). */
    const pendingTexts = Effect.fn("FileRepo.pendingTexts")(function*(limit: number) {
      return yield* sql`SELECT org_id, id FROM troupe_pending_file_texts(${limit})`.pipe(
        Rows.all("pending file", Schema.Struct({ orgId: OrgId, id: FileId }))
      )
    })

    /**
     * Reads a pending file's text with `read`, holding the file's row so no
     * other node reads it at the same time (a file another node holds is
     * skipped). Content the org already read for another upload is copied,
     * not read again. Announces the outcome as `file.updated`.
     */
    const readText = <E, R>(
      orgId: OrgId,
      fileId: FileId,
      read: (file: FileInfo) => Effect.Effect<{ readonly status: TextStatus; readonly text: string | null }, E, R>
    ) =>
      withOrg(orgId)(Effect.gen(function*() {
        const found = yield* sql`SELECT ${columns} FROM files f WHERE f.id = ${fileId} AND f.text_status = 'pending'
          FOR UPDATE SKIP LOCKED`.pipe(Rows.first("file", FileRow))
        if (Option.isNone(found)) return Option.none<FileInfo>()
        const file = toFile(found.value)
        const known = yield* sql`SELECT text_status, text FROM files
          WHERE org_id = ${orgId} AND sha256 = ${file.sha256} AND text_status <> 'pending' LIMIT 1`.pipe(
          Rows.first("file text", Schema.Struct({ textStatus: Schema.String, text: Schema.NullOr(Schema.String) }))
        )
        const outcome = Option.isSome(known) && known.value.textStatus !== "failed"
          ? { status: known.value.textStatus === "ready" ? "ready" as const : "none" as const, text: known.value.text }
          : yield* read(file)
        const updated = toFile(
          yield* sql`UPDATE files AS f SET text_status = ${outcome.status}, text = ${outcome.text}
            WHERE f.id = ${fileId} RETURNING ${columns}`.pipe(Rows.one("file", FileRow))
        )
        yield* log.append(orgId, [{
          audience: roomAudience(updated.roomId),
          event: new FileUpdated({ file: updated })
        }])
        return Option.some(updated)
      }))

    /** Files of the given rooms whose name or text matches, best first. */
    const search = Effect.fn("FileRepo.search")(function*(
      orgId: OrgId,
      roomIds: ReadonlyArray<string>,
      query: { readonly text: string; readonly limit: number; readonly offset: number }
    ) {
      if (roomIds.length === 0) return []
      const tsquery = searchQuery(sql, query.text)
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const rows = yield* sql`
          SELECT ${columns}, ts_rank(f.search, q.q) AS rank,
            ts_headline('english', coalesce(f.text, f.name), q.q, 'StartSel=<<, StopSel=>>, MaxFragments=2') AS snippet
          FROM files f, (SELECT ${tsquery} AS q) q
          WHERE f.room_id = ANY(${[...roomIds]}::uuid[]) AND f.search @@ q.q
          ORDER BY rank DESC, f.created_at DESC, f.id
          LIMIT ${query.limit} OFFSET ${query.offset}`.pipe(
          Rows.all("file", Schema.Struct({ ...FileRow.fields, snippet: Schema.String, rank: Schema.Number }))
        )
        return rows.map(({ rank, snippet, ...file }) => new FileHit({ file: toFile(file), snippet, rank }))
      }))
    })

    /** The text read from a file of a room (null while pending, or when it has none). */
    const text = Effect.fn("FileRepo.text")(function*(orgId: OrgId, roomId: RoomId, fileId: FileId) {
      const found = yield* withOrg(orgId)(
        sql`SELECT ${columns}, f.text FROM files f WHERE f.id = ${fileId} AND f.room_id = ${roomId}`.pipe(
          Rows.first("file", Schema.Struct({ ...FileRow.fields, text: Schema.NullOr(Schema.String) }))
        )
      )
      if (Option.isNone(found)) return yield* NotFound.of("file", fileId)
      const { text, ...file } = found.value
      return { file: toFile(file), text }
    })

    /** A room's files by name, newest first (for a teammate that names a file instead of giving its id). */
    const named = Effect.fn("FileRepo.named")(function*(orgId: OrgId, roomId: RoomId, name: string) {
      return yield* withOrg(orgId)(
        sql`SELECT ${columns} FROM files f WHERE f.room_id = ${roomId} AND lower(f.name) = lower(${name})
          ORDER BY f.created_at DESC LIMIT 1`.pipe(Rows.first("file", FileRow), Effect.map(Option.map(toFile)))
      )
    })

    return {
      create,
      get,
      list,
      remove,
      removeUploadsOf,
      sweep,
      removeAll,
      orphanOrgs,
      usage,
      content,
      pendingTexts,
      readText,
      search,
      text,
      named
    } as const
  }),
  dependencies: [EventLog.Default]
}) {}
