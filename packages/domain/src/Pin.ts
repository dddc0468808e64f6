/**
 * A room's pinboard: notes and pinned messages, with the history of a
 * note's edits.
 */
import { Schema } from "effect"
import { MessageId, OrgId, PinId, RoomId } from "./Ids.js"
import { MemberKind, type Role, roleAtLeast } from "./Org.js"

/** Longest note text, in characters. */
export const MAX_PIN_LENGTH = 4000

/** How many pins a room's listing (and a teammate's context) shows at most. */
export const MAX_PINS_LISTED = 200

/** A note written on the pinboard, or a message pinned to it. */
export const PinKind = Schema.Literal("note", "message")
/** A note written on the pinboard, or a message pinned to it. */
export type PinKind = typeof PinKind.Type

/**
 * A pin as clients see it. A message pin's `text` is the message's current
 * text (empty once the message is deleted); a note's is its latest version.
 */
export class Pin extends Schema.Class<Pin>("Pin")({
  id: PinId,
  orgId: OrgId,
  roomId: RoomId,
  kind: PinKind,
  text: Schema.String,
  /** The pinned message (same room); null for a note. */
  messageId: Schema.NullOr(MessageId),
  /** Who pinned it: a person or a teammate. */
  authorKind: MemberKind,
  authorId: Schema.UUID,
  authorName: Schema.String,
  /** 1 when created; each edit of a note adds one. */
  version: Schema.Number,
  createdAt: Schema.Date,
  updatedAt: Schema.Date
}) {}

/** One version of a pin's text, and who wrote it. */
export class PinVersion extends Schema.Class<PinVersion>("PinVersion")({
  version: Schema.Number,
  text: Schema.String,
  editorKind: MemberKind,
  editorId: Schema.UUID,
  editorName: Schema.String,
  editedAt: Schema.Date
}) {}

/** A note's text: not blank, at most `MAX_PIN_LENGTH` characters. */
export const PinText = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0, { message: () => "text must not be empty" }),
  Schema.maxLength(MAX_PIN_LENGTH)
)

/** Pin a note (`text`) or a message of the room (`messageId`): exactly one of them. */
export const CreatePinRequest = Schema.Struct({
  text: Schema.optional(PinText),
  messageId: Schema.optional(MessageId)
}).pipe(
  Schema.filter((r) => (r.text === undefined) !== (r.messageId === undefined), {
    message: () => "give either text (a note) or messageId (a message to pin), not both"
  }),
  Schema.annotations({ identifier: "CreatePinRequest" })
)
/** Pin a note (`text`) or a message of the room (`messageId`): exactly one of them. */
export type CreatePinRequest = typeof CreatePinRequest.Type

/** Edit a note's text. */
export class UpdatePinRequest extends Schema.Class<UpdatePinRequest>("UpdatePinRequest")({
  text: PinText,
  /** The version being edited: when given and the note has moved on, the edit is refused (409). */
  version: Schema.optional(Schema.Int.pipe(Schema.positive()))
}) {}

/**
 * Whether someone may edit or remove `pin` (docs/access.md): never a guest;
 * otherwise whoever pinned it, an admin, or (for a note) a member of the room.
 */
export const mayChangePin = (
  who: { readonly userId: string; readonly role: Role; readonly isMember: boolean },
  pin: Pin
): boolean =>
  who.role !== "guest" &&
  (pin.authorId === who.userId || roleAtLeast(who.role, "admin") || (pin.kind === "note" && who.isMember))
