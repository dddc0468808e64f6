/**
 * Messages, thread replies, edits, reactions and mentions.
 */
import { Schema } from "effect"
import { Attachment, MAX_ATTACHMENTS } from "./File.js"
import { FileId, MessageId, OrgId, RoomId } from "./Ids.js"
import { MemberKind } from "./Org.js"

/** Longest message text, in characters. */
export const MAX_MESSAGE_LENGTH = 16_000

/** A member mentioned in a message. */
export class Mention extends Schema.Class<Mention>("Mention")({
  kind: MemberKind,
  id: Schema.UUID,
  handle: Schema.String
}) {}

/** Aggregated reactions for one emoji. */
export class ReactionCount extends Schema.Class<ReactionCount>("ReactionCount")({
  emoji: Schema.String,
  count: Schema.Number,
  /** Whether the caller is among the reactors. */
  me: Schema.Boolean
}) {}

/** A message as clients see it. Deleted messages are tombstones with empty text. */
export class Message extends Schema.Class<Message>("Message")({
  id: MessageId,
  orgId: OrgId,
  roomId: RoomId,
  /** Position in the room; strictly increasing, usable as a cursor. */
  seq: Schema.Number,
  threadId: Schema.NullOr(MessageId),
  authorKind: MemberKind,
  authorId: Schema.UUID,
  authorName: Schema.String,
  text: Schema.String,
  mentions: Schema.Array(Mention),
  reactions: Schema.Array(ReactionCount),
  /** Files attached when the message was posted (a deleted file drops out). */
  attachments: Schema.optionalWith(Schema.Array(Attachment), { default: () => [] }),
  replyCount: Schema.Number,
  lastReplyAt: Schema.NullOr(Schema.Date),
  clientMessageId: Schema.NullOr(Schema.String),
  createdAt: Schema.Date,
  editedAt: Schema.NullOr(Schema.Date),
  deletedAt: Schema.NullOr(Schema.Date)
}) {}

/** Post a message, or a thread reply when `threadId` is set. The text may be empty only when files are attached. */
export class PostMessageRequest extends Schema.Class<PostMessageRequest>("PostMessageRequest")(
  Schema.Struct({
    text: Schema.String.pipe(Schema.maxLength(MAX_MESSAGE_LENGTH)),
    threadId: Schema.optional(MessageId),
    clientMessageId: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128))),
    /** Files the author uploaded to the room and has not attached yet, to attach to this message. */
    attachments: Schema.optional(Schema.Array(FileId).pipe(Schema.maxItems(MAX_ATTACHMENTS)))
  }).pipe(
    Schema.filter((r) =>
      r.text.trim().length > 0 || (r.attachments ?? []).length > 0 ||
      { path: ["text"], message: "text must not be empty (unless files are attached)" }
    )
  )
) {}

/** Edit a message's text. */
export class EditMessageRequest extends Schema.Class<EditMessageRequest>("EditMessageRequest")({
  text: Schema.String.pipe(
    Schema.filter((s) => s.trim().length > 0, { message: () => "text must not be empty" }),
    Schema.maxLength(MAX_MESSAGE_LENGTH)
  )
}) {}

/** One earlier version of an edited message. */
export class MessageEdit extends Schema.Class<MessageEdit>("MessageEdit")({
  text: Schema.String,
  replacedAt: Schema.Date
}) {}

/** A page of messages with cursors to either side. */
export class MessagePage extends Schema.Class<MessagePage>("MessagePage")({
  messages: Schema.Array(Message),
  /** Pass as `before` to read older messages; null at the start of history. */
  prevCursor: Schema.NullOr(Schema.String),
  /** Pass as `after` to read newer messages; null when this page reaches the newest. */
  nextCursor: Schema.NullOr(Schema.String)
}) {}

/** An emoji reaction: a short name or a single emoji. */
export const Emoji = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(64),
  Schema.pattern(/^[^\s]+$/),
  Schema.annotations({ description: "an emoji or a short name without spaces" })
)

/** Mark a room, or a thread, read up to a message. */
export class MarkReadRequest extends Schema.Class<MarkReadRequest>("MarkReadRequest")({
  messageId: MessageId,
  threadId: Schema.optional(MessageId)
}) {}

/** A search hit. */
export class SearchHit extends Schema.Class<SearchHit>("SearchHit")({
  message: Message,
  /** The text with matches wrapped in `<<` and `>>`. */
  snippet: Schema.String,
  rank: Schema.Number
}) {}

const mentionPattern = /(?:^|[^\w@.])@([a-z0-9][a-z0-9._-]{1,31})/gi

/**
 * The distinct handles mentioned in a text, lower-cased, in order of first use.
 * A trailing `.` is not part of a handle ("thanks @ana." mentions `ana`).
 */
export const parseMentionHandles = (text: string): ReadonlyArray<string> => {
  const seen = new Set<string>()
  for (const match of text.matchAll(mentionPattern)) {
    const handle = (match[1] ?? "").toLowerCase().replace(/[.]+$/, "")
    if (handle.length >= 2) seen.add(handle)
  }
  return [...seen]
}
