/**
 * Background tasks: a goal given to a teammate, worked on in steps outside
 * any one turn, with visible progress, a status and, at the end, one result
 * message in the room or thread the task came from.
 */
import { Schema } from "effect"
import { MessageId, OrgId, RoomId, ScheduleId, TaskId, TeammateId } from "./Ids.js"
import { MemberKind } from "./Org.js"

/** Longest goal, in characters. */
export const MAX_GOAL_LENGTH = 4000

/** Where a task stands. `succeeded`, `failed` and `cancelled` are final. */
export const TaskStatus = Schema.Literal("queued", "running", "succeeded", "failed", "cancelled")
/** Where a task stands. */
export type TaskStatus = typeof TaskStatus.Type

/** Whether a status is final. */
export const isFinal = (status: TaskStatus) => status === "succeeded" || status === "failed" || status === "cancelled"

/** One step of a task's plan. */
export class TaskStep extends Schema.Class<TaskStep>("TaskStep")({
  title: Schema.String,
  status: Schema.Literal("pending", "running", "done"),
  /** What the step produced, once done. */
  output: Schema.NullOr(Schema.String)
}) {}

/** A task as clients see it. */
export class Task extends Schema.Class<Task>("Task")({
  id: TaskId,
  orgId: OrgId,
  roomId: RoomId,
  /** The thread the result goes to (null: the room itself). */
  threadId: Schema.NullOr(MessageId),
  teammateId: TeammateId,
  goal: Schema.String,
  createdByKind: MemberKind,
  createdById: Schema.UUID,
  createdByName: Schema.String,
  status: TaskStatus,
  /** A cancel was asked for; the task stops before its next step. */
  cancelRequested: Schema.Boolean,
  /** The plan, once made, with each step's progress. */
  steps: Schema.Array(TaskStep),
  inputTokens: Schema.Number,
  outputTokens: Schema.Number,
  /** The message the result was posted as, once succeeded. */
  resultMessageId: Schema.NullOr(MessageId),
  error: Schema.NullOr(Schema.String),
  /** The schedule that made it, and the tick it was made for (null: given by someone). */
  scheduleId: Schema.NullOr(ScheduleId),
  scheduledFor: Schema.NullOr(Schema.Date),
  createdAt: Schema.Date,
  startedAt: Schema.NullOr(Schema.Date),
  finishedAt: Schema.NullOr(Schema.Date)
}) {}

/** Give a teammate of the room a goal to work on in the background. */
export class CreateTaskRequest extends Schema.Class<CreateTaskRequest>("CreateTaskRequest")({
  teammateId: TeammateId,
  goal: Schema.String.pipe(
    Schema.filter((s) => s.trim().length > 0, { message: () => "goal must not be empty" }),
    Schema.maxLength(MAX_GOAL_LENGTH)
  ),
  /** Post the result into this thread (a top-level message of the room). */
  threadId: Schema.optional(MessageId)
}) {}
