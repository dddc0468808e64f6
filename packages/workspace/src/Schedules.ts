/**
 * Schedules: a goal given to a teammate of a room on every tick of a cron
 * expression. The ticks themselves are fired by the scheduler
 * (`@troupe/teammates/Scheduler`) on the nodes that host entities.
 */
import type { Caller } from "@troupe/domain/Caller"
import { Conflict, NotFound } from "@troupe/domain/Errors"
import type { RoomId, ScheduleId } from "@troupe/domain/Ids"
import type { CreateScheduleRequest, UpdateScheduleRequest } from "@troupe/domain/Schedule"
import { ScheduleRepo } from "@troupe/store/ScheduleRepo"
import { Clock, Effect } from "effect"
import { Access, requireMakerOrAdmin } from "./Access.js"
import { Limits } from "./Limits.js"
import { Tasks } from "./Tasks.js"
import { orUnavailable } from "./Unavailable.js"

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

/** The schedule use cases. */
export class Schedules extends Effect.Service<Schedules>()("@troupe/workspace/Schedules", {
  effect: Effect.gen(function*() {
    const schedules = yield* ScheduleRepo
    const tasks = yield* Tasks
    const access = yield* Access
    const limits = yield* Limits

    /** Room members (not guests) schedule a goal for a teammate of the room. */
    const create = Effect.fn("Schedules.create")(
      function*(caller: Caller, roomId: RoomId, input: CreateScheduleRequest) {
        const a = yield* access.contributor(caller, roomId, "schedule tasks")
        if (a.room.archived) return yield* new Conflict({ message: "the room is archived; no new schedules" })
        yield* limits.write(caller, a.orgId)
        yield* tasks.assignable(a.orgId, roomId, input.teammateId)
        return yield* orUnavailable(schedules.create(a.room, { id: a.user.id, name: a.user.name }, {
          teammateId: input.teammateId,
          goal: input.goal.trim(),
          cron: input.cron,
          timeZone: input.timeZone ?? "UTC"
        }, yield* now))
      }
    )

    const list = Effect.fn("Schedules.list")(function*(caller: Caller, roomId: RoomId) {
      const a = yield* access.room(caller, roomId)
      return yield* orUnavailable(schedules.list(a.orgId, roomId))
    })

    const find = Effect.fn("Schedules.find")(function*(caller: Caller, roomId: RoomId, id: ScheduleId) {
      const a = yield* access.room(caller, roomId)
      const schedule = yield* orUnavailable(schedules.get(a.orgId, id))
      if (schedule.roomId !== roomId) return yield* NotFound.of("schedule", id)
      return { access: a, schedule }
    })

    /** Whoever made the schedule, or an admin, changes or deletes it. */
    const owned = Effect.fn("Schedules.owned")(function*(caller: Caller, roomId: RoomId, id: ScheduleId) {
      const found = yield* find(caller, roomId, id)
      yield* requireMakerOrAdmin(
        found.access,
        found.schedule.createdById,
        "only whoever made the schedule, or an admin, may change it"
      )
      yield* limits.write(caller, found.access.orgId)
      return found.access
    })

    const update = Effect.fn("Schedules.update")(
      function*(caller: Caller, roomId: RoomId, id: ScheduleId, change: UpdateScheduleRequest) {
        const a = yield* owned(caller, roomId, id)
        return yield* orUnavailable(schedules.update(a.orgId, id, change, yield* now))
      }
    )

    const remove = Effect.fn("Schedules.remove")(function*(caller: Caller, roomId: RoomId, id: ScheduleId) {
      const a = yield* owned(caller, roomId, id)
      yield* orUnavailable(schedules.remove(a.orgId, id))
    })

    return {
      create,
      list,
      get: (caller: Caller, roomId: RoomId, id: ScheduleId) => Effect.map(find(caller, roomId, id), (f) => f.schedule),
      update,
      remove
    } as const
  }),
  dependencies: [Access.Default, Limits.Default, Tasks.Default]
}) {}
