/**
 * Data rights: exporting what Troupe holds about an org or a person, and
 * erasing a person's data from an org.
 */
import { Schema } from "effect"
import { UserId } from "./Ids.js"

/**
 * The author a message takes when its author's data is erased: not a real
 * account, so the tombstone names no one.
 */
export const ERASED_PERSON_ID = "00000000-0000-0000-0000-000000000000"

/** The name shown for an erased author (messages, task givers, note editors). */
export const ERASED_PERSON_NAME = "Deleted person"

/** The `type` of each line of an export, in the order the lines come. */
export const ExportRecordType = Schema.Literal(
  "export",
  "org",
  "person",
  "member",
  "room",
  "membership",
  "message",
  "message_edit",
  "mention",
  "reaction",
  "read_state",
  "file",
  "pin",
  "pin_version",
  "teammate",
  "core_memory",
  "memory",
  "run",
  "run_step",
  "task",
  "schedule",
  "api_key",
  "invitation",
  "end"
)
/** The `type` of each line of an export. */
export type ExportRecordType = typeof ExportRecordType.Type

/** Query of an export: the whole org, or one person. */
export const ExportParams = Schema.Struct({
  /** Only what this person authored and what is about them. */
  user: Schema.optional(UserId)
})

/** What an erasure removed or anonymised, by kind. */
export class ErasureReport extends Schema.Class<ErasureReport>("ErasureReport")({
  userId: UserId,
  /** Their messages, now tombstones (text and attachments gone, the author a deleted person). */
  messages: Schema.Number,
  /** Their reactions, removed. */
  reactions: Schema.Number,
  /** Files they uploaded, removed (the bytes with the last file that used them). */
  files: Schema.Number,
  /** Teammates' memories that came from their messages, removed. */
  memories: Schema.Number,
  /** Runs their messages started: steps (prompts, tool calls) removed, token and cost totals kept. */
  runs: Schema.Number,
  /** Pins they made, removed. */
  pins: Schema.Number,
  /** Tasks they gave: goal removed, giver anonymised, unfinished ones cancelled. */
  tasks: Schema.Number,
  /** Schedules they made, removed. */
  schedules: Schema.Number,
  /** Rooms they were in, left. */
  rooms: Schema.Number
}) {}
