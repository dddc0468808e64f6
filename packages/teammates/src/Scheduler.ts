/**
 * Fires schedules' ticks, on every node that hosts entities: every
 * `SCHEDULE_POLL` it fires the ticks that are due (each in a transaction that
 * holds its schedule, so one node makes each tick's task) and starts their
 * workflows. It also starts the workflow of any task stored a minute ago or
 * more and still queued (a node stopped between storing it and starting
 * it); starting a task's workflow twice runs it once.
 */
import { ScheduleRepo } from "@troupe/store/ScheduleRepo"
import { TaskRepo } from "@troupe/store/TaskRepo"
import { Clock, Config, Duration, Effect, Layer, Option, Schedule } from "effect"
import { TaskWorkflow } from "./TaskWorkflow.js"

/** Scheduler settings, from configuration. */
export const SchedulerConfig = Config.all({
  /** How often due ticks are looked for (`SCHEDULE_POLL`, default 5 seconds): a tick fires within this of its time. */
  poll: Config.duration("SCHEDULE_POLL").pipe(Config.withDefault(Duration.seconds(5)))
})

/** Tasks older than this and still queued get their workflow started again. */
const UNSTARTED_AFTER = Duration.minutes(1)

const round = Effect.gen(function*() {
  const schedules = yield* ScheduleRepo
  const tasks = yield* TaskRepo
  const now = new Date(yield* Clock.currentTimeMillis)
  const due = yield* schedules.due(now, 100)
  yield* Effect.forEach(due, ({ id, orgId }) =>
    schedules.fire(orgId, id, now).pipe(
      Effect.flatMap(Option.match({
        onNone: () => Effect.void,
        onSome: (task) => TaskWorkflow.execute({ orgId, taskId: task.id }, { discard: true })
      })),
      Effect.catchAllCause((cause) =>
        Effect.logWarning("a schedule's tick did not fire; it will be tried again", cause)
      )
    ), { discard: true })
  const unstarted = yield* tasks.unstarted(new Date(now.getTime() - Duration.toMillis(UNSTARTED_AFTER)), 100)
  yield* Effect.forEach(
    unstarted,
    ({ id, orgId }) => TaskWorkflow.execute({ orgId, taskId: id }, { discard: true }),
    { discard: true }
  )
}).pipe(
  Effect.catchAllCause((cause) => Effect.logWarning("the scheduler's round failed; it runs again", cause)),
  Effect.withSpan("Scheduler.round")
)

/** The scheduler loop, for nodes that host entities. */
export const layer = Layer.scopedDiscard(Effect.gen(function*() {
  const config = yield* SchedulerConfig
  yield* Effect.forkScoped(Effect.repeat(round, Schedule.spaced(config.poll)))
}))
