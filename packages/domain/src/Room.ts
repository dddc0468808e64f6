/**
 * Rooms: public and private rooms, and direct-message rooms.
 */
import { Schema } from "effect"
import { OrgId, RoomId, UserId } from "./Ids.js"
import { MemberKind, Role } from "./Org.js"

/** Room kinds. A `direct` room has a fixed participant set. */
export const RoomKind = Schema.Literal("public", "private", "direct")
/** Room kinds. A `direct` room has a fixed participant set. */
export type RoomKind = typeof RoomKind.Type

/** How a room routes messages that mention no one: to nobody, or to the best-matching teammate. */
export const RoutingMode = Schema.Literal("off", "mentions", "auto")
/** How a room routes messages that mention no one. */
export type RoutingMode = typeof RoutingMode.Type

/** A room as everyone sees it. */
export class RoomInfo extends Schema.Class<RoomInfo>("RoomInfo")({
  id: RoomId,
  orgId: OrgId,
  kind: RoomKind,
  name: Schema.String,
  topic: Schema.String,
  archived: Schema.Boolean,
  /** Teammate routing for messages that mention no one (default `mentions`: only explicit mentions). */
  routing: RoutingMode,
  createdBy: UserId,
  createdAt: Schema.Date
}) {}

/**
 * What of a room a person is notified of (a browser or desktop
 * notification when they are not looking): every message (`all`, the
 * default in direct rooms), messages that mention them (`mentions`, the
 * default elsewhere), or nothing (`none`).
 */
export const NotifyLevel = Schema.Literal("all", "mentions", "none")
export type NotifyLevel = typeof NotifyLevel.Type

/** A room with the caller's own read state. */
export class Room extends RoomInfo.extend<Room>("Room")({
  /** Whether the caller is a member. */
  joined: Schema.Boolean,
  /** Unread top-level messages by others since the caller's room read marker. */
  unreadCount: Schema.Number,
  /** Unread top-level messages that mention the caller. */
  mentionCount: Schema.Number,
  /** Unread thread replies, summed over the room's threads. */
  threadUnreadCount: Schema.Number,
  /** Unread thread replies that mention the caller. */
  threadMentionCount: Schema.Number,
  /** The caller muted the room: unread messages are counted, not signalled (mentions still are). */
  muted: Schema.Boolean,
  /** What of the room the caller is notified of (see `NotifyLevel`). */
  notify: Schema.optionalWith(NotifyLevel, { default: () => "mentions", exact: true })
}) {}

/** A person's own settings for a room they are in. */
export class RoomSettings extends Schema.Class<RoomSettings>("RoomSettings")({
  muted: Schema.Boolean,
  notify: Schema.optionalWith(NotifyLevel, { default: () => "mentions", exact: true })
}) {}

/** Changes a person's own settings for a room; what is left out stays. */
export class UpdateRoomSettingsRequest extends Schema.Class<UpdateRoomSettingsRequest>("UpdateRoomSettingsRequest")({
  muted: Schema.optional(Schema.Boolean),
  notify: Schema.optional(NotifyLevel)
}) {}

/** Create a room. */
export class CreateRoomRequest extends Schema.Class<CreateRoomRequest>("CreateRoomRequest")({
  name: Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(80)),
  /** Default `public`. */
  kind: Schema.optional(Schema.Literal("public", "private")),
  /** Default empty. */
  topic: Schema.optional(Schema.String.pipe(Schema.maxLength(500)))
}) {}

/** Rename a room or change its topic. */
export class UpdateRoomRequest extends Schema.Class<UpdateRoomRequest>("UpdateRoomRequest")({
  name: Schema.optional(Schema.Trim.pipe(Schema.minLength(1), Schema.maxLength(80))),
  topic: Schema.optional(Schema.String.pipe(Schema.maxLength(500))),
  routing: Schema.optional(RoutingMode)
}) {}

/** Open (or find) the direct room for a participant set. The caller is always included. */
export class OpenDmRequest extends Schema.Class<OpenDmRequest>("OpenDmRequest")({
  participants: Schema.Array(UserId).pipe(Schema.minItems(1), Schema.maxItems(8))
}) {}

/** A member of a room. */
export class RoomMember extends Schema.Class<RoomMember>("RoomMember")({
  kind: MemberKind,
  id: Schema.UUID,
  name: Schema.String,
  handle: Schema.String,
  joinedAt: Schema.Date,
  /** A person's role in the org (null for teammates, and where a producer did not look it up). */
  orgRole: Schema.optionalWith(Schema.NullOr(Role), { default: () => null })
}) {}

/** Add a member to a room. */
export class AddRoomMemberRequest extends Schema.Class<AddRoomMemberRequest>("AddRoomMemberRequest")({
  userId: UserId
}) {}

/** Per-thread read state, as the thread view shows it. */
export class ThreadSummary extends Schema.Class<ThreadSummary>("ThreadSummary")({
  rootId: Schema.UUID,
  replyCount: Schema.Number,
  lastReplyAt: Schema.NullOr(Schema.Date),
  unreadCount: Schema.Number,
  mentionCount: Schema.Number
}) {}
