/**
 * Branded identifiers. Every id in Troupe is a UUID with a brand, so a room id
 * can never be passed where a message id is expected.
 */
import { Schema } from "effect"

/** A person's account id. */
export const UserId = Schema.UUID.pipe(Schema.brand("UserId"))
/** A person's account id. */
export type UserId = typeof UserId.Type

/** An organization (tenant) id. */
export const OrgId = Schema.UUID.pipe(Schema.brand("OrgId"))
/** An organization (tenant) id. */
export type OrgId = typeof OrgId.Type

/** A room id (public, private or direct). */
export const RoomId = Schema.UUID.pipe(Schema.brand("RoomId"))
/** A room id (public, private or direct). */
export type RoomId = typeof RoomId.Type

/** A message id. */
export const MessageId = Schema.UUID.pipe(Schema.brand("MessageId"))
/** A message id. */
export type MessageId = typeof MessageId.Type

/** An API key id. */
export const ApiKeyId = Schema.UUID.pipe(Schema.brand("ApiKeyId"))
/** An API key id. */
export type ApiKeyId = typeof ApiKeyId.Type

/** An invitation id. */
export const InvitationId = Schema.UUID.pipe(Schema.brand("InvitationId"))
/** An invitation id. */
export type InvitationId = typeof InvitationId.Type

/** A teammate id (an AI member of an org). */
export const TeammateId = Schema.UUID.pipe(Schema.brand("TeammateId"))
/** A teammate id (an AI member of an org). */
export type TeammateId = typeof TeammateId.Type

/** An uploaded file's id. */
export const FileId = Schema.UUID.pipe(Schema.brand("FileId"))
/** An uploaded file's id. */
export type FileId = typeof FileId.Type

/** A pin id (a note or a pinned message on a room's pinboard). */
export const PinId = Schema.UUID.pipe(Schema.brand("PinId"))
/** A pin id (a note or a pinned message on a room's pinboard). */
export type PinId = typeof PinId.Type

/** A background task's id (also the id of the teammate's run that records it). */
export const TaskId = Schema.UUID.pipe(Schema.brand("TaskId"))
/** A background task's id (also the id of the teammate's run that records it). */
export type TaskId = typeof TaskId.Type

/** A schedule's id (a recurring task). */
export const ScheduleId = Schema.UUID.pipe(Schema.brand("ScheduleId"))
/** A schedule's id (a recurring task). */
export type ScheduleId = typeof ScheduleId.Type
