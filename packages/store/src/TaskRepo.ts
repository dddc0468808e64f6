/**
 * Background tasks: their record, plan and progress. Every change is one
 * transaction that also appends `task.updated` (the whole task) for the
 * room. Writes made by the workflow's steps are idempotent, since a step
 * interrupted by a crash runs again on another node: a step's progress is
 * set by its index, and final states are only entered once.
 */
import { SqlClient } from "@effect/sql"
import { ERASED_PERSON_ID, ERASED_PERSON_NAME } from "@troupe/domain/DataRights"
import { Conflict, NotFound } from "@troupe/domain/Errors"
import { Audience, TaskCreated, TaskUpdated } from "@troupe/domain/Event"
import { type MessageId, OrgId, type RoomId, type ScheduleId, TaskId, type TeammateId } from "@troupe/domain/Ids"
import { isFinal, Task, type TaskStatus, TaskStep } from "@troupe/domain/Task"
import { Effect, Option, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import type { Author } from "./MessageRepo.js"
import { orgScope } from "./OrgScope.js"

/** A `tasks` row: the task with Postgres's own types for times and counters. */
const TaskRow = Schema.Struct({
  ...Task.fields,
  inputTokens: Schema.NumberFromString,
  outputTokens: Schema.NumberFromString,
  scheduledFor: Schema.NullOr(Schema.DateFromSelf),
  createdAt: Schema.DateFromSelf,
  startedAt: Schema.NullOr(Schema.DateFromSelf),
  finishedAt: Schema.NullOr(Schema.DateFromSelf)
})
const toTask = (row: typeof TaskRow.Type) => new Task(row, true)

/** What a new task is. */
export interface NewTask {
  readonly teammateId: TeammateId
  readonly goal: string
  readonly threadId: MessageId | null
  /** Its id, when the caller must be able to create it again without a second task (a replayed tool call). */
  readonly id?: TaskId | undefined
  /** The schedule and tick it is made for, if any (one task per tick). */
  readonly schedule?: { readonly id: ScheduleId; readonly tick: Date } | undefined
}

/** Background tasks. */
export class TaskRepo extends Effect.Service<TaskRepo>()("@troupe/store/TaskRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog

    const columns = sql`t.id, t.org_id, t.room_id, t.thread_id, t.teammate_id, t.goal, t.created_by_kind,
      t.created_by_id, t.created_by_name, t.status, t.cancel_requested, t.steps, t.input_tokens, t.output_tokens,
      t.result_message_id, t.error, t.schedule_id, t.scheduled_for, t.created_at, t.started_at, t.finished_at`

    const announce = (orgId: OrgId, task: Task, created = false) =>
      log.append(orgId, [{
        audience: new Audience({ roomId: task.roomId, orgWide: false, userIds: [] }, true),
        event: created ? new TaskCreated({ task }) : new TaskUpdated({ task })
      }])

    /** Runs `change` on the task's row (locked) in the org's scope, then announces the task as it is after. */
    const changing = <E, R>(
      orgId: OrgId,
      taskId: TaskId,
      change: (task: Task) => Effect.Effect<boolean, E, R>
    ) =>
      withOrg(orgId)(Effect.gen(function*() {
        const found = yield* sql`SELECT ${columns} FROM tasks t WHERE t.id = ${taskId} FOR UPDATE`.pipe(
          Rows.first("task", TaskRow)
        )
        if (Option.isNone(found)) return yield* NotFound.of("task", taskId)
        const before = toTask(found.value)
        if (!(yield* change(before))) return before
        // The task's run carries its tokens as they are used, so budgets count them before the task ends.
        yield* sql`UPDATE runs r SET input_tokens = t.input_tokens, output_tokens = t.output_tokens
          FROM tasks t WHERE t.id = ${taskId} AND r.id = t.id`
        const after = toTask(
          yield* sql`SELECT ${columns} FROM tasks t WHERE t.id = ${taskId}`.pipe(Rows.one("task", TaskRow))
        )
        yield* announce(orgId, after)
        return after
      }))

    /** Records a new task, queued. */
    const create = Effect.fn("TaskRepo.create")(function*(
      room: { readonly orgId: OrgId; readonly id: RoomId },
      by: Author,
      task: NewTask
    ) {
      return yield* withOrg(room.orgId)(Effect.gen(function*() {
        if (task.threadId !== null) {
          const root = yield* sql`SELECT 1 FROM messages
            WHERE id = ${task.threadId} AND room_id = ${room.id} AND thread_id IS NULL AND deleted_at IS NULL`
          if (root.length === 0) return yield* NotFound.of("thread", task.threadId)
        }
        const inserted = yield* sql`
          INSERT INTO tasks AS t (id, org_id, room_id, thread_id, teammate_id, goal, created_by_kind, created_by_id,
            created_by_name, schedule_id, scheduled_for)
          VALUES (COALESCE(${task.id ?? null}::uuid, gen_random_uuid()), ${room.orgId}, ${room.id}, ${task.threadId},
            ${task.teammateId}, ${task.goal}, ${by.kind}, ${by.id}, ${by.name}, ${task.schedule?.id ?? null},
            ${task.schedule?.tick ?? null})
          ON CONFLICT (id) DO NOTHING
          RETURNING ${columns}`.pipe(Rows.first("task", TaskRow))
        // Created before (the same id again): the task as it is, announced already.
        if (Option.isNone(inserted)) {
          if (task.id === undefined) return yield* Effect.dieMessage("a new task's random id was taken")
          return yield* get(room.orgId, task.id)
        }
        const created = toTask(inserted.value)
        yield* announce(room.orgId, created, true)
        return created
      }))
    })

    const get = Effect.fn("TaskRepo.get")(function*(orgId: OrgId, taskId: TaskId) {
      const found = yield* withOrg(orgId)(
        sql`SELECT ${columns} FROM tasks t WHERE t.id = ${taskId}`.pipe(Rows.first("task", TaskRow))
      )
      if (Option.isNone(found)) return yield* NotFound.of("task", taskId)
      return toTask(found.value)
    })

    /** A room's tasks, newest first. */
    const list = Effect.fn("TaskRepo.list")(function*(orgId: OrgId, roomId: RoomId, limit: number) {
      return yield* withOrg(orgId)(
        sql`SELECT ${columns} FROM tasks t WHERE t.room_id = ${roomId} ORDER BY t.created_at DESC, t.id DESC
          LIMIT ${limit}`.pipe(Rows.all("task", TaskRow), Effect.map((rows) => rows.map(toTask)))
      )
    })

    /**
     * Takes a person out of the tasks they gave (their erasure): the goal
     * and the giver go (the giver becomes a deleted person), unfinished
     * tasks are asked to stop, and each task's run loses its steps, which
     * held the goal. Announces each task; returns how many there were.
     */
    const eraseGiver = Effect.fn("TaskRepo.eraseGiver")(function*(orgId: OrgId, userId: string) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const rows = yield* sql`UPDATE tasks AS t SET goal = '', created_by_id = ${ERASED_PERSON_ID},
            created_by_name = ${ERASED_PERSON_NAME},
            cancel_requested = t.cancel_requested OR t.status IN ('queued', 'running')
          WHERE t.org_id = ${orgId} AND t.created_by_kind = 'user' AND t.created_by_id = ${userId}
          RETURNING ${columns}`.pipe(Rows.all("task", TaskRow))
        const tasks = rows.map(toTask)
        yield* sql`DELETE FROM run_steps WHERE run_id = ANY(${tasks.map((t) => t.id)}::uuid[])`
        yield* log.append(
          orgId,
          tasks.map((task) => ({
            audience: new Audience({ roomId: task.roomId, orgWide: false, userIds: [] }, true),
            event: new TaskUpdated({ task })
          }))
        )
        return tasks.length
      }))
    })

    /** Asks a task to stop before its next step; a finished task cannot be cancelled. */
    const requestCancel = Effect.fn("TaskRepo.requestCancel")(function*(orgId: OrgId, taskId: TaskId) {
      return yield* changing(orgId, taskId, (task) =>
        Effect.gen(function*() {
          if (isFinal(task.status)) return yield* new Conflict({ message: `the task already ${task.status}` })
          if (task.cancelRequested) return false
          yield* sql`UPDATE tasks SET cancel_requested = true WHERE id = ${taskId}`
          return true
        }))
    })

    /** Moves a queued task to running (not a finished one: a replayed start changes nothing). */
    const begin = Effect.fn("TaskRepo.begin")(function*(orgId: OrgId, taskId: TaskId) {
      return yield* changing(orgId, taskId, (task) =>
        task.status !== "queued"
          ? Effect.succeed(false)
          : Effect.as(sql`UPDATE tasks SET status = 'running', started_at = now() WHERE id = ${taskId}`, true))
    })

    /** Records the plan: its steps, all pending (once; a replayed plan keeps the first). */
    const plan = Effect.fn("TaskRepo.plan")(function*(orgId: OrgId, taskId: TaskId, titles: ReadonlyArray<string>) {
      const steps = titles.map((title) => new TaskStep({ title, status: "pending", output: null }))
      return yield* changing(orgId, taskId, (task) =>
        task.steps.length > 0 || isFinal(task.status)
          ? Effect.succeed(false)
          : Effect.as(sql`UPDATE tasks SET steps = ${JSON.stringify(steps)}::jsonb WHERE id = ${taskId}`, true))
    })

    /** Sets step `index`'s progress (and its output once done), adding the tokens it used. */
    const progress = Effect.fn("TaskRepo.progress")(function*(
      orgId: OrgId,
      taskId: TaskId,
      index: number,
      update: {
        readonly status: "running" | "done"
        readonly output: string | null
        readonly inputTokens: number
        readonly outputTokens: number
      }
    ) {
      return yield* changing(orgId, taskId, (task) => {
        const step = task.steps[index]
        if (step === undefined || isFinal(task.status) || step.status === "done") return Effect.succeed(false)
        const next = new TaskStep({ title: step.title, status: update.status, output: update.output })
        return Effect.as(
          sql`UPDATE tasks SET steps = jsonb_set(steps, ${`{${index}}`}::text[], ${JSON.stringify(next)}::jsonb),
            input_tokens = input_tokens + ${update.inputTokens}, output_tokens = output_tokens + ${update.outputTokens}
            WHERE id = ${taskId}`,
          true
        )
      })
    })

    /** Adds tokens used outside a step (planning, the result). */
    const addTokens = Effect.fn("TaskRepo.addTokens")(
      function*(orgId: OrgId, taskId: TaskId, inputTokens: number, outputTokens: number) {
        yield* withOrg(orgId)(sql`UPDATE tasks SET input_tokens = input_tokens + ${inputTokens},
          output_tokens = output_tokens + ${outputTokens} WHERE id = ${taskId} AND status IN ('queued', 'running')`)
      }
    )

    /** Ends a task (once: a task already final stays as it was). */
    const finish = Effect.fn("TaskRepo.finish")(function*(
      orgId: OrgId,
      taskId: TaskId,
      outcome: {
        readonly status: Extract<TaskStatus, "succeeded" | "failed" | "cancelled">
        readonly resultMessageId: string | null
        readonly error: string | null
      }
    ) {
      return yield* changing(orgId, taskId, (task) =>
        isFinal(task.status)
          ? Effect.succeed(false)
          : Effect.as(
            sql`UPDATE tasks SET status = ${outcome.status}, result_message_id = ${outcome.resultMessageId},
              error = ${outcome.error}, finished_at = now() WHERE id = ${taskId}`,
            true
          ))
    })

    /** Tasks of any org stored before `before` and still queued: their workflow may never have started. */
    const unstarted = Effect.fn("TaskRepo.unstarted")(function*(before: Date, limit: number) {
      return yield* sql`SELECT org_id, id FROM troupe_unstarted_tasks(${before}, ${limit})`.pipe(
        Rows.all("unstarted task", Schema.Struct({ orgId: OrgId, id: TaskId }))
      )
    })

    return {
      create,
      get,
      list,
      requestCancel,
      eraseGiver,
      begin,
      plan,
      progress,
      addTokens,
      finish,
      unstarted
    } as const
  }),
  dependencies: [EventLog.Default]
}) {}
