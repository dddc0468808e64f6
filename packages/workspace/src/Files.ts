/**
 * Files: uploads into a room's library (attached to a message when it is
 * posted), downloads with the room's access rules, listing and deletion.
 * An upload is read once, straight to a staging file, hashed on the way and
 * cut off at the size limit; only then does it touch the database.
 */
import { Multipart } from "@effect/platform"
import type { Caller } from "@troupe/domain/Caller"
import { Conflict, MalformedRequest, PayloadTooLarge, Unavailable } from "@troupe/domain/Errors"
import { FileUsage, isTextType, MAX_FILE_NAME_LENGTH } from "@troupe/domain/File"
import type { FileId, OrgId, RoomId } from "@troupe/domain/Ids"
import { roleAtLeast } from "@troupe/domain/Org"
import type { RoomInfo } from "@troupe/domain/Room"
import { BlobStore, type BlobStoreError, type BlobStoreShape, type Staged } from "@troupe/store/BlobStore"
import { type FileListOptions, FileRepo } from "@troupe/store/FileRepo"
import type { Author } from "@troupe/store/MessageRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Config, Effect, Option, Stream } from "effect"
import { fileTypeFromBuffer } from "file-type"
import { Access } from "./Access.js"
import { FileTexts } from "./FileTexts.js"
import { Limits } from "./Limits.js"
import { orUnavailable } from "./Unavailable.js"

/** File limits, from configuration. */
export const FilesConfig = Config.all({
  /** Largest file accepted, in bytes (`FILE_MAX_BYTES`, default 25 MiB). */
  maxFileBytes: Config.integer("FILE_MAX_BYTES").pipe(
    Config.validate({ message: "FILE_MAX_BYTES must be at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(25 * 1024 * 1024)
  ),
  /** Bytes an org's files may take in all, each distinct content once (`FILE_ORG_QUOTA_BYTES`, default 10 GiB). */
  orgQuotaBytes: Config.number("FILE_ORG_QUOTA_BYTES").pipe(Config.withDefault(10 * 1024 * 1024 * 1024))
})

/** Room for the multipart envelope (boundaries, part headers) around the file itself. */
const ENVELOPE_BYTES = 64 * 1024

/** A name safe to store and to offer back as a download name: no folders, no control characters. */
export const cleanFileName = (raw: string): string => {
  // eslint-disable-next-line no-control-regex
  const base = (raw.split(/[/\\]/).pop() ?? "").replace(/[\u0000-\u001f\u007f]/g, "").trim()
  if (base === "" || base === "." || base === "..") return "file"
  if (base.length <= MAX_FILE_NAME_LENGTH) return base
  const dot = base.lastIndexOf(".")
  const ext = dot > 0 && base.length - dot <= 16 ? base.slice(dot) : ""
  return base.slice(0, MAX_FILE_NAME_LENGTH - ext.length) + ext
}

/** The declared type without parameters, lower-cased; `application/octet-stream` when absent or not a type. */
const bareType = (declared: string) => {
  const type = (declared.split(";")[0] ?? "").trim().toLowerCase()
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : "application/octet-stream"
}

/** Whether `head` reads as UTF-8 text (a character cut at the end is allowed) with no NUL. */
const looksLikeText = (head: Uint8Array) => {
  if (head.includes(0)) return false
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head, { stream: true })
    return true
  } catch {
    return false
  }
}

/**
 * The type to serve a file as: what its bytes are recognised as; for text
 * (which has no signature) the declared text type, or `text/plain`; otherwise
 * `application/octet-stream`, whatever was declared.
 */
export const recogniseType = (head: Uint8Array, declared: string) =>
  Effect.promise(() => fileTypeFromBuffer(head).catch(() => undefined)).pipe(
    Effect.map((found) => {
      if (found !== undefined) return found.mime
      if (!looksLikeText(head)) return "application/octet-stream"
      const type = bareType(declared)
      return isTextType(type) ? type : "text/plain"
    })
  )

/** Whether the multipart parser stopped at one of its limits (some reach us as internal errors). */
const reachedLimit = (cause: unknown) =>
  typeof cause === "object" && cause !== null && "_tag" in cause && cause._tag === "ReachedLimit"

/** An upload over `maxBytes`. */
const tooLarge = (maxBytes: number) =>
  new PayloadTooLarge({ message: `the file is larger than the ${maxBytes}-byte limit`, limitBytes: maxBytes })

/** What a multipart failure means to the uploader. */
const unreadable = (e: Multipart.MultipartError, maxBytes: number) =>
  e.reason === "FileTooLarge" || e.reason === "BodyTooLarge" || reachedLimit(e.cause)
    ? tooLarge(maxBytes)
    : e.reason === "TooManyParts"
    ? new MalformedRequest({ message: "the upload has too many parts; send one part named file" })
    : e.reason === "FieldTooLarge"
    ? new MalformedRequest({ message: "a form field of the upload is too large" })
    : new MalformedRequest({ message: "the upload is not a readable multipart/form-data body" })

/**
 * Reads an upload (multipart/form-data) the one way uploads are read: its
 * part named `file` straight to staging, hashed on the way and cut off past
 * `maxBytes`, any other part drained, and little else allowed around it. A
 * declared length already over the limit is refused before reading. The
 * staged file lives as long as the scope.
 */
export const stageUpload = (
  store: BlobStoreShape,
  parts: Stream.Stream<Multipart.Part, Multipart.MultipartError>,
  maxBytes: number,
  contentLength: number | undefined
) =>
  Effect.gen(function*() {
    if (contentLength !== undefined && contentLength > maxBytes + ENVELOPE_BYTES) return yield* tooLarge(maxBytes)
    const staged = yield* parts.pipe(
      Stream.mapEffect((part) =>
        part._tag === "File" && part.key === "file"
          ? Effect.map(store.stage(part.content, maxBytes), (s) => Option.some({ part, staged: s }))
          : part._tag === "File"
          ? Effect.as(Stream.runDrain(part.content), Option.none())
          : Effect.succeed(Option.none())
      ),
      Stream.filterMap((found) => found),
      Stream.take(1),
      Stream.runHead,
      Multipart.withLimits({
        maxParts: Option.some(8),
        maxFieldSize: 16 * 1024,
        // The file's own limit is kept while staging it (the parser's would end the body as an internal error).
        maxFileSize: Option.none(),
        maxTotalSize: Option.some(maxBytes + ENVELOPE_BYTES)
      })
    )
    if (Option.isNone(staged)) {
      return yield* new MalformedRequest({ message: "the upload has no file: send a multipart part named file" })
    }
    return staged.value
  }).pipe(Effect.catchTags({
    MultipartError: (e) => Effect.fail(unreadable(e, maxBytes)),
    BlobTooLarge: () => Effect.fail(tooLarge(maxBytes))
  }))

/** The file storage failed: the request is retried later (503). */
export const storageDown = (e: BlobStoreError) =>
  Effect.zipRight(
    Effect.logWarning("file storage unavailable", e.message, e.cause),
    Effect.fail(new Unavailable({ message: "the file storage is unavailable; retry shortly" }))
  )

/** The file use cases. */
export class Files extends Effect.Service<Files>()("@troupe/workspace/Files", {
  effect: Effect.gen(function*() {
    const files = yield* FileRepo
    const store = yield* BlobStore
    const access = yield* Access
    const limits = yield* Limits
    const config = yield* FilesConfig
    const texts = yield* FileTexts
    const rooms = yield* RoomRepo

    /**
     * Uploads the form's `file` part into a room's library. Room members
     * upload (guests too, as they post); the room must not be archived.
     */
    const upload = Effect.fn("Files.upload")(function*(
      caller: Caller,
      roomId: RoomId,
      parts: Stream.Stream<Multipart.Part, Multipart.MultipartError>,
      contentLength: number | undefined
    ) {
      const a = yield* access.member(caller, roomId, "upload files to it")
      if (a.room.archived) return yield* new Conflict({ message: "the room is archived; no new files" })
      yield* limits.write(caller, a.orgId)
      const { part, staged: bytes } = yield* stageUpload(store, parts, config.maxFileBytes, contentLength)
      const contentType = yield* recogniseType(bytes.head, part.contentType)
      const file = yield* orUnavailable(files.create(
        a.room,
        { kind: "user", id: a.user.id, name: a.user.name },
        { name: cleanFileName(part.name), declaredType: bareType(part.contentType), contentType },
        bytes,
        config.orgQuotaBytes
      ))
      yield* texts.enqueue(file.orgId, file.id)
      return file
    }, (effect) => effect.pipe(Effect.catchTag("BlobStoreError", storageDown), Effect.scoped))

    /**
     * Stores bytes brought in from elsewhere (a chat platform's file, staged
     * by whoever fetched them, within `maxFileBytes`) in a room's library on
     * behalf of `uploader`, as an upload is stored: its name cleaned, its type
     * recognised, new content counted against the org's quota
     * (`PayloadTooLarge` past it), its text read. Not attached to a message yet.
     */
    const ingest = Effect.fn("Files.ingest")(function*(
      room: RoomInfo,
      uploader: Author,
      file: { readonly name: string; readonly declaredType: string },
      staged: Staged
    ) {
      const contentType = yield* recogniseType(staged.head, file.declaredType)
      const created = yield* orUnavailable(files.create(
        room,
        uploader,
        { name: cleanFileName(file.name), declaredType: bareType(file.declaredType), contentType },
        staged,
        config.orgQuotaBytes
      ))
      yield* texts.enqueue(created.orgId, created.id)
      return created
    })

    /** A room's files, newest first, for whoever may read the room. */
    const list = Effect.fn("Files.list")(function*(caller: Caller, roomId: RoomId, options: FileListOptions) {
      const a = yield* access.room(caller, roomId)
      return yield* orUnavailable(files.list(a.orgId, roomId, options))
    })

    const get = Effect.fn("Files.get")(function*(caller: Caller, roomId: RoomId, fileId: FileId) {
      const a = yield* access.room(caller, roomId)
      return yield* orUnavailable(files.get(a.orgId, roomId, fileId))
    })

    /** A file and its bytes, for whoever may read the room. */
    const download = Effect.fn("Files.download")(function*(caller: Caller, roomId: RoomId, fileId: FileId) {
      const file = yield* get(caller, roomId, fileId)
      return { file, content: Stream.catchAll(files.content(file), (e) => Stream.fromEffect(storageDown(e))) }
    })

    /** The uploader, or an admin, deletes a file. */
    const remove = Effect.fn("Files.remove")(function*(caller: Caller, roomId: RoomId, fileId: FileId) {
      const a = yield* access.room(caller, roomId)
      yield* limits.write(caller, a.orgId)
      return yield* orUnavailable(files.remove(a.room, fileId, a.user.id, roleAtLeast(a.role, "admin")))
    }, (effect) => Effect.catchTag(effect, "BlobStoreError", storageDown))

    /** What the org's files take, and the limits (members and up). */
    const usage = Effect.fn("Files.usage")(function*(caller: Caller, orgId: OrgId) {
      const a = yield* access.orgRole(caller, orgId, "member", "see the org's file storage")
      const used = yield* orUnavailable(files.usage(a.orgId))
      return new FileUsage({ usedBytes: used, quotaBytes: config.orgQuotaBytes, maxFileBytes: config.maxFileBytes })
    })

    /** Files whose name or text matches, in the rooms the caller can read. */
    const search = Effect.fn("Files.search")(
      function*(caller: Caller, orgId: OrgId, query: { text: string; limit: number; offset: number }) {
        const a = yield* access.org(caller, orgId)
        const readable = yield* orUnavailable(rooms.readableRoomIds(orgId, a.user.id, a.guest))
        return yield* orUnavailable(files.search(orgId, readable, query))
      }
    )

    return { upload, ingest, list, get, download, remove, usage, search, maxFileBytes: config.maxFileBytes } as const
  }),
  dependencies: [Access.Default, Limits.Default, FileTexts.Default]
}) {}
