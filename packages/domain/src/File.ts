/**
 * Files: uploads into a room's library, some attached to a message. The bytes
 * are content addressed within an org (sha256), so the same bytes uploaded
 * twice are stored once.
 */
import { Schema } from "effect"
import { FileId, MessageId, OrgId, RoomId } from "./Ids.js"
import { MemberKind } from "./Org.js"

/** Longest file name kept, in characters (longer names are cut, keeping the extension). */
export const MAX_FILE_NAME_LENGTH = 255

/** The most files one message may carry. */
export const MAX_ATTACHMENTS = 10

/**
 * Where reading a file's text stands: `pending` until a node has read it,
 * then `ready` (it has text: searchable, and teammates can read it), `none`
 * (a type without text, or no text in it) or `failed` (unreadable, or too
 * slow or large to read).
 */
export const TextStatus = Schema.Literal("pending", "ready", "none", "failed")
/** Where reading a file's text stands. */
export type TextStatus = typeof TextStatus.Type

/** Types whose content is text as it stands: `text/*`, JSON, XML and YAML. */
export const isTextType = (type: string) =>
  type.startsWith("text/") || ["application/json", "application/xml", "application/yaml"].includes(type)

/** An uploaded file as clients see it. */
export class FileInfo extends Schema.Class<FileInfo>("FileInfo")({
  id: FileId,
  orgId: OrgId,
  roomId: RoomId,
  name: Schema.String,
  /** The type the uploader declared. */
  declaredType: Schema.String,
  /** The type the content was recognised as, served on download (`application/octet-stream` when unknown). */
  contentType: Schema.String,
  size: Schema.Number,
  /** Hex SHA-256 of the content; also the download's ETag. */
  sha256: Schema.String,
  uploaderKind: MemberKind,
  uploaderId: Schema.UUID,
  uploaderName: Schema.String,
  /** The message the file is attached to, if any. */
  messageId: Schema.NullOr(MessageId),
  /** Whether its text was read (plain text, Markdown, PDF, DOCX). */
  textStatus: Schema.optionalWith(TextStatus, { default: () => "pending" }),
  createdAt: Schema.Date
}) {}

/** A file found by a search of names and contents. */
export class FileHit extends Schema.Class<FileHit>("FileHit")({
  file: FileInfo,
  /** Where it matched, with matches wrapped in `<<` and `>>`. */
  snippet: Schema.String,
  rank: Schema.Number
}) {}

/** What a message carries of a file attached to it. */
export class Attachment extends Schema.Class<Attachment>("Attachment")({
  id: FileId,
  name: Schema.String,
  contentType: Schema.String,
  size: Schema.Number
}) {}

/** An org's file storage: what its files take (each distinct content once) and its limits. */
export class FileUsage extends Schema.Class<FileUsage>("FileUsage")({
  usedBytes: Schema.Number,
  quotaBytes: Schema.Number,
  maxFileBytes: Schema.Number
}) {}
