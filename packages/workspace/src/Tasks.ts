/**
 * Background tasks: giving a teammate of a room a goal, following its
 * progress, and cancelling it. The work itself is the task workflow
 * (`@troupe/teammates/TaskWorkflow`), started here once the task is stored.
 */
import type { Caller } from "@troupe/domain/Caller"
import { Conflict, InvalidInput, NotFound } from "@troupe/domain/Errors"
import type { OrgId, RoomId, TaskId, TeammateId } from "@troupe/domain/Ids"
import type { CreateTaskRequest } from "@troupe/domain/Task"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { TaskRepo } from "@troupe/store/TaskRepo"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import { TaskWorkflow } from "@troupe/teammates/TaskWorkflow"
import { Effect } from "effect"
import { Access, requireMakerOrAdmin } from "./Access.js"
import { Limits } from "./Limits.js"
import { orUnavailable } from "./Unavailable.js"

/** The task use cases. */
export class Tasks extends Effect.Service<Tasks>()("@troupe/workspace/Tasks", {
  effect: Effect.gen(function*() {
    const tasks = yield* TaskRepo
    const rooms = yield* RoomRepo
    const teammates = yield* TeammateRepo
    const access = yield* Access
    const limits = yield* Limits

    /** Fails unless the teammate is in the room and not dismissed: the ones work can be given to. */
    const assignable = Effect.fn("Tasks.assignable")(function*(orgId: OrgId, roomId: RoomId, teammateId: TeammateId) {
      const members = yield* orUnavailable(rooms.members(orgId, roomId))
      if (!members.some((m) => m.kind === "teammate" && m.id === teammateId)) {
        return yield* new InvalidInput({ message: "the teammate is not in this room; add it to the room first" })
      }
      const teammate = yield* orUnavailable(teammates.get(orgId, teammateId))
      if (teammate.dismissed) return yield* new Conflict({ message: `${teammate.name} was dismissed` })
    })

    /**
     * Room members (not guests) give a teammate of the room a goal. The task
     * is stored, then its workflow started; it answers queued.
     */
    const create = Effect.fn("Tasks.create")(function*(caller: Caller, roomId: RoomId, input: CreateTaskRequest) {
      const a = yield* access.contributor(caller, roomId, "give teammates tasks")
      if (a.room.archived) return yield* new Conflict({ message: "the room is archived; no new tasks" })
      yield* limits.write(caller, a.orgId)
      yield* assignable(a.orgId, roomId, input.teammateId)
      const task = yield* orUnavailable(tasks.create(
        a.room,
        { kind: "user", id: a.user.id, name: a.user.name },
        { teammateId: input.teammateId, goal: input.goal.trim(), threadId: input.threadId ?? null }
      ))
      yield* TaskWorkflow.execute({ orgId: a.orgId, taskId: task.id }, { discard: true })
      return task
    })

    /** A room's tasks, newest first, for whoever may read the room. */
    const list = Effect.fn("Tasks.list")(function*(caller: Caller, roomId: RoomId, limit: number) {
      const a = yield* access.room(caller, roomId)
      return yield* orUnavailable(tasks.list(a.orgId, roomId, limit))
    })

    const get = Effect.fn("Tasks.get")(function*(caller: Caller, roomId: RoomId, taskId: TaskId) {
      const a = yield* access.room(caller, roomId)
      const task = yield* orUnavailable(tasks.get(a.orgId, taskId))
      if (task.roomId !== roomId) return yield* NotFound.of("task", taskId)
      return { access: a, task }
    })

    /** Whoever gave the task, or an admin, cancels it: it stops before its next step. */
    const cancel = Effect.fn("Tasks.cancel")(function*(caller: Caller, roomId: RoomId, taskId: TaskId) {
      const { access: a, task } = yield* get(caller, roomId, taskId)
      yield* requireMakerOrAdmin(a, task.createdById, "only whoever gave the task, or an admin, may cancel it")
      yield* limits.write(caller, a.orgId)
      return yield* orUnavailable(tasks.requestCancel(a.orgId, taskId))
    })

    return {
      create,
      list,
      get: (caller: Caller, roomId: RoomId, taskId: TaskId) => Effect.map(get(caller, roomId, taskId), (r) => r.task),
      cancel,
      assignable
    } as const
  }),
  dependencies: [Access.Default, Limits.Default]
}) {}
