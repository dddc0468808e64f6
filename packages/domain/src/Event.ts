/**
 * The realtime event stream. Every change a user may see is one of these
 * events; the names in `type` are the public contract.
 */
import { Schema } from "effect"
import { ChannelAccountId, ChannelKind } from "./Channel.js"
import { FileInfo } from "./File.js"
import { MessageId, OrgId, PinId, RoomId, ScheduleId, TeammateId, UserId } from "./Ids.js"
import { Message } from "./Message.js"
import { Member } from "./Org.js"
import { Pin } from "./Pin.js"
import { NotifyLevel, RoomInfo, RoomMember } from "./Room.js"
import { Schedule } from "./Schedule.js"
import { Task } from "./Task.js"
import { Run, Teammate } from "./Teammate.js"
import { UserProfile } from "./User.js"

/** A new message or thread reply. */
export class MessageCreated extends Schema.Class<MessageCreated>("MessageCreated")({
  type: Schema.tag("message.created"),
  message: Message
}) {}

/** A message's text changed. */
export class MessageUpdated extends Schema.Class<MessageUpdated>("MessageUpdated")({
  type: Schema.tag("message.updated"),
  message: Message
}) {}

/** A message was deleted; `message` is the tombstone. */
export class MessageDeleted extends Schema.Class<MessageDeleted>("MessageDeleted")({
  type: Schema.tag("message.deleted"),
  message: Message
}) {}

/** Reactions on a message changed; carries the new aggregate. */
export class ReactionChanged extends Schema.Class<ReactionChanged>("ReactionChanged")({
  type: Schema.tag("reaction.changed"),
  roomId: RoomId,
  messageId: MessageId,
  userId: UserId,
  emoji: Schema.String,
  added: Schema.Boolean,
  counts: Schema.Array(Schema.Struct({ emoji: Schema.String, count: Schema.Number }))
}) {}

/** A room was created (or a direct room opened). */
export class RoomCreated extends Schema.Class<RoomCreated>("RoomCreated")({
  type: Schema.tag("room.created"),
  room: RoomInfo
}) {}

/** A room's name or topic changed. */
export class RoomUpdated extends Schema.Class<RoomUpdated>("RoomUpdated")({
  type: Schema.tag("room.updated"),
  room: RoomInfo
}) {}

/** A room was archived. */
export class RoomArchived extends Schema.Class<RoomArchived>("RoomArchived")({
  type: Schema.tag("room.archived"),
  room: RoomInfo
}) {}

/** A room was deleted, with its messages; nothing of it can be read any more. */
export class RoomDeleted extends Schema.Class<RoomDeleted>("RoomDeleted")({
  type: Schema.tag("room.deleted"),
  roomId: RoomId
}) {}

/** The reader changed their own settings for a room (sent to them only, for their other apps and tabs). */
export class RoomSettingsChanged extends Schema.Class<RoomSettingsChanged>("RoomSettingsChanged")({
  type: Schema.tag("room.settings"),
  roomId: RoomId,
  muted: Schema.Boolean,
  notify: Schema.optionalWith(NotifyLevel, { default: () => "mentions", exact: true })
}) {}

/** A member joined a room. */
export class MemberJoined extends Schema.Class<MemberJoined>("MemberJoined")({
  type: Schema.tag("member.joined"),
  roomId: RoomId,
  member: RoomMember
}) {}

/** A member left (or was removed from) a room. */
export class MemberLeft extends Schema.Class<MemberLeft>("MemberLeft")({
  type: Schema.tag("member.left"),
  roomId: RoomId,
  memberId: Schema.UUID
}) {}

/** A person joined the org (or an API key's bot was created). */
export class OrgMemberJoined extends Schema.Class<OrgMemberJoined>("OrgMemberJoined")({
  type: Schema.tag("org.member.joined"),
  member: Member
}) {}

/** The org was renamed. */
export class OrgUpdated extends Schema.Class<OrgUpdated>("OrgUpdated")({
  type: Schema.tag("org.updated"),
  orgId: OrgId,
  name: Schema.String
}) {}

/**
 * An owner deleted the org. Sent to everyone who was a member, as the last
 * event of the org on their streams; everything of the org is gone.
 */
export class OrgDeleted extends Schema.Class<OrgDeleted>("OrgDeleted")({
  type: Schema.tag("org.deleted"),
  orgId: OrgId,
  name: Schema.String
}) {}

/** A person's role in the org changed. */
export class OrgMemberUpdated extends Schema.Class<OrgMemberUpdated>("OrgMemberUpdated")({
  type: Schema.tag("org.member.updated"),
  member: Member
}) {}

/**
 * A person left the org or was removed from it. The person receives this
 * event too, as the last one of the org on their streams.
 */
export class OrgMemberLeft extends Schema.Class<OrgMemberLeft>("OrgMemberLeft")({
  type: Schema.tag("org.member.left"),
  userId: UserId,
  /** `left` when the person removed themself, `removed` when an admin did. */
  reason: Schema.Literal("left", "removed")
}) {}

/**
 * A person changed their name or handle. Logged once for each org they
 * belong to, for its members (as org-wide events are) and for the person.
 */
export class UserUpdated extends Schema.Class<UserUpdated>("UserUpdated")({
  type: Schema.tag("user.updated"),
  user: UserProfile
}) {}

/**
 * The credential a stream was opened with ended: the session logged out or
 * expired, or the API key was revoked (by an admin, or because its creator
 * left the org). It is the stream's last event; reconnecting needs a new
 * credential. Only streams opened with that credential receive it.
 */
export class AccessRevoked extends Schema.Class<AccessRevoked>("AccessRevoked")({
  type: Schema.tag("access.revoked"),
  credential: Schema.Literal("session", "api_key"),
  /** The session's or the API key's id. */
  credentialId: Schema.UUID,
  reason: Schema.String
}) {}

/**
 * A message mentioned a teammate that is not in the room, so the teammate
 * did not see it. Sent to the message's author only.
 */
export class MentionUnanswered extends Schema.Class<MentionUnanswered>("MentionUnanswered")({
  type: Schema.tag("mention.unanswered"),
  roomId: RoomId,
  messageId: MessageId,
  teammateId: TeammateId,
  handle: Schema.String,
  reason: Schema.String
}) {}

/** A person came online or went offline. Droppable under pressure. */
export class PresenceChanged extends Schema.Class<PresenceChanged>("PresenceChanged")({
  type: Schema.tag("presence.changed"),
  userId: UserId,
  status: Schema.Literal("online", "offline")
}) {}

/** Someone is typing in a room or thread. Droppable under pressure. */
export class Typing extends Schema.Class<Typing>("Typing")({
  type: Schema.tag("typing"),
  roomId: RoomId,
  threadId: Schema.NullOr(MessageId),
  userId: UserId
}) {}

/**
 * Streamed text of a teammate reply in progress. `offset` is the length of
 * the text before this delta, so a client can tell whether it missed one;
 * the final text always arrives as `message.created`. Not replayed.
 */
export class MessageDelta extends Schema.Class<MessageDelta>("MessageDelta")({
  type: Schema.tag("message.delta"),
  roomId: RoomId,
  threadId: Schema.NullOr(MessageId),
  runId: Schema.UUID,
  teammateId: TeammateId,
  offset: Schema.Number,
  text: Schema.String,
  /** True when the model call restarted: drop the partial text so far. */
  restart: Schema.Boolean
}) {}

/** A teammate was hired, changed, dismissed, or its busy state changed. */
export class TeammateUpdated extends Schema.Class<TeammateUpdated>("TeammateUpdated")({
  type: Schema.tag("teammate.updated"),
  teammate: Teammate,
  busy: Schema.Boolean,
  queueDepth: Schema.Number
}) {}

/** A teammate turn started. */
export class RunStarted extends Schema.Class<RunStarted>("RunStarted")({
  type: Schema.tag("run.started"),
  run: Run
}) {}

/** A turn recorded a step (a model call or a tool call). */
export class RunStepped extends Schema.Class<RunStepped>("RunStepped")({
  type: Schema.tag("run.step"),
  runId: Schema.UUID,
  teammateId: TeammateId,
  roomId: RoomId,
  kind: Schema.Literal("model", "tool"),
  name: Schema.String,
  index: Schema.Number
}) {}

/** A turn completed. */
export class RunCompleted extends Schema.Class<RunCompleted>("RunCompleted")({
  type: Schema.tag("run.completed"),
  run: Run
}) {}

/** A turn failed (or was interrupted or refused). */
export class RunFailed extends Schema.Class<RunFailed>("RunFailed")({
  type: Schema.tag("run.failed"),
  run: Run
}) {}

/** The router decided which teammate (if any) answers a message that mentioned no one. */
export class RoutingDecided extends Schema.Class<RoutingDecided>("RoutingDecided")({
  type: Schema.tag("routing.decided"),
  roomId: RoomId,
  messageId: MessageId,
  teammateId: Schema.NullOr(TeammateId),
  reason: Schema.String
}) {}

/** An org or teammate reached its token limit; turns are refused. */
export class UsageLimitReached extends Schema.Class<UsageLimitReached>("UsageLimitReached")({
  type: Schema.tag("usage.limit_reached"),
  teammateId: Schema.NullOr(TeammateId),
  scope: Schema.Literal("org", "teammate"),
  limit: Schema.Number,
  used: Schema.Number
}) {}

/** A note or a message was pinned in a room. */
export class PinCreated extends Schema.Class<PinCreated>("PinCreated")({
  type: Schema.tag("pin.created"),
  pin: Pin
}) {}

/** A note on a room's pinboard was edited (a new version). */
export class PinUpdated extends Schema.Class<PinUpdated>("PinUpdated")({
  type: Schema.tag("pin.updated"),
  pin: Pin
}) {}

/** A pin was removed from a room's pinboard, with its history. */
export class PinDeleted extends Schema.Class<PinDeleted>("PinDeleted")({
  type: Schema.tag("pin.deleted"),
  roomId: RoomId,
  pinId: PinId
}) {}

/** A file was uploaded to a room's library. */
export class FileCreated extends Schema.Class<FileCreated>("FileCreated")({
  type: Schema.tag("file.created"),
  file: FileInfo
}) {}

/** A file's record changed: its text was read (`textStatus`). */
export class FileUpdated extends Schema.Class<FileUpdated>("FileUpdated")({
  type: Schema.tag("file.updated"),
  file: FileInfo
}) {}

/** A file was deleted; its content can no longer be downloaded, and messages no longer list it. */
export class FileDeleted extends Schema.Class<FileDeleted>("FileDeleted")({
  type: Schema.tag("file.deleted"),
  file: FileInfo
}) {}

/**
 * A message of the room (or its edit or deletion, `action`) will not reach a
 * platform channel bridged to the room: the platform refused it for good, or
 * every attempt failed. `reason` says why, as the platform or the network
 * gave it.
 */
export class MessageDeliveryFailed extends Schema.Class<MessageDeliveryFailed>("MessageDeliveryFailed")({
  type: Schema.tag("message.delivery_failed"),
  messageId: MessageId,
  roomId: RoomId,
  action: Schema.Literal("post", "update", "delete"),
  channel: Schema.Struct({
    accountId: ChannelAccountId,
    kind: ChannelKind,
    /** The account's name in the org. */
    name: Schema.String,
    /** The platform's channel or chat id. */
    externalChannel: Schema.String
  }),
  reason: Schema.String
}) {}

/** A task was given to a teammate (queued). `task` is the whole task. */
export class TaskCreated extends Schema.Class<TaskCreated>("TaskCreated")({
  type: Schema.tag("task.created"),
  task: Task
}) {}

/** A task moved on: its status, a step's progress, its tokens or its result. `task` is the whole task. */
export class TaskUpdated extends Schema.Class<TaskUpdated>("TaskUpdated")({
  type: Schema.tag("task.updated"),
  task: Task
}) {}

/** A schedule was created or changed, or ticked (its next run moved on). `schedule` is the whole schedule. */
export class ScheduleUpdated extends Schema.Class<ScheduleUpdated>("ScheduleUpdated")({
  type: Schema.tag("schedule.updated"),
  schedule: Schedule
}) {}

/** A schedule was deleted; the tasks it made stay. */
export class ScheduleDeleted extends Schema.Class<ScheduleDeleted>("ScheduleDeleted")({
  type: Schema.tag("schedule.deleted"),
  roomId: RoomId,
  scheduleId: ScheduleId
}) {}

/**
 * The server cannot honour the client's cursor (too old, or from another
 * history). The client must fetch a fresh snapshot and continue from its
 * position.
 */
export class Reset extends Schema.Class<Reset>("Reset")({
  type: Schema.tag("reset"),
  reason: Schema.String
}) {}

/** Every event a client may receive. */
export const Event = Schema.Union(
  MessageCreated,
  MessageUpdated,
  MessageDeleted,
  MessageDeliveryFailed,
  ReactionChanged,
  RoomCreated,
  RoomUpdated,
  RoomArchived,
  RoomDeleted,
  RoomSettingsChanged,
  MemberJoined,
  MemberLeft,
  OrgUpdated,
  OrgDeleted,
  OrgMemberJoined,
  OrgMemberUpdated,
  OrgMemberLeft,
  UserUpdated,
  AccessRevoked,
  MentionUnanswered,
  PresenceChanged,
  Typing,
  MessageDelta,
  TeammateUpdated,
  RunStarted,
  RunStepped,
  RunCompleted,
  RunFailed,
  RoutingDecided,
  UsageLimitReached,
  PinCreated,
  FileCreated,
  FileUpdated,
  FileDeleted,
  TaskCreated,
  TaskUpdated,
  ScheduleUpdated,
  ScheduleDeleted,
  PinUpdated,
  PinDeleted,
  Reset
)
/** Every event a client may receive. */
export type Event = typeof Event.Type

/** Events that may be dropped under pressure and are never replayed. */
export type EphemeralEvent = PresenceChanged | Typing | MessageDelta

/**
 * An event as delivered: its id (a position in the durable log, or for
 * ephemeral events the position they follow with a suffix), the org it
 * belongs to and when it happened.
 */
export class Delivered extends Schema.Class<Delivered>("Delivered")({
  id: Schema.String,
  orgId: Schema.NullOr(OrgId),
  at: Schema.Date,
  event: Event
}) {}

/**
 * Who may see a durable event: members of a room, every non-guest member of
 * the org, and any listed users.
 */
export class Audience extends Schema.Class<Audience>("Audience")({
  roomId: Schema.NullOr(RoomId),
  orgWide: Schema.Boolean,
  userIds: Schema.Array(UserId)
}) {}
