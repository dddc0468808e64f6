/**
 * Schedules: a goal given to a teammate of a room on every tick of a cron
 * expression, read in an IANA time zone. The cron syntax is Effect's `Cron`:
 * five fields (minute hour day-of-month month day-of-week) or six (seconds
 * first); numbers, ranges (`1-5`), steps (`*\/15`), lists (`1,15`), and month
 * and weekday names (`jan`, `mon`); no `@daily`, `L`, `W` or `#`.
 *
 * Around daylight-saving changes a time that does not exist that day (02:30
 * when clocks jump from 02:00 to 03:00) runs an hour later, and a time that
 * happens twice (when clocks go back) runs once, the first time.
 */
import { Cron, Either, Schema } from "effect"
import { OrgId, RoomId, ScheduleId, TeammateId } from "./Ids.js"
import { MAX_GOAL_LENGTH } from "./Task.js"

/** How many upcoming run times a schedule shows. */
export const UPCOMING = 3

/** The cron expression read in the time zone, or why it cannot be. */
export const parseCron = (expression: string, timeZone: string): Either.Either<Cron.Cron, string> => {
  if (expression.trim().startsWith("@")) return Either.left("cron shortcuts such as @daily are not supported")
  return Either.mapLeft(
    Cron.parse(expression, timeZone),
    (e) => e.message.includes("time zone") ? `unknown time zone "${timeZone}"` : `invalid cron expression: ${e.message}`
  )
}

/** The next `count` run times strictly after `from`. */
export const upcoming = (cron: Cron.Cron, from: Date, count = UPCOMING): ReadonlyArray<Date> => {
  const out: Array<Date> = []
  // `Cron.next` starts at the next whole second, so a run at exactly `from` is not repeated.
  let at = from
  for (let i = 0; i < count; i++) {
    at = Cron.next(cron, at)
    out.push(at)
  }
  return out
}

/** A schedule as clients see it. */
export class Schedule extends Schema.Class<Schedule>("Schedule")({
  id: ScheduleId,
  orgId: OrgId,
  roomId: RoomId,
  teammateId: TeammateId,
  goal: Schema.String,
  cron: Schema.String,
  timeZone: Schema.String,
  paused: Schema.Boolean,
  /** The next tick's time (null while paused). */
  nextRunAt: Schema.NullOr(Schema.Date),
  /** The ticks after that, to show (empty while paused). */
  upcoming: Schema.Array(Schema.Date),
  lastRunAt: Schema.NullOr(Schema.Date),
  createdById: Schema.UUID,
  createdByName: Schema.String,
  createdAt: Schema.Date
}) {}

const Goal = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0, { message: () => "goal must not be empty" }),
  Schema.maxLength(MAX_GOAL_LENGTH)
)
const CronText = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))
const Zone = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64))

/** Give a teammate of the room a goal on every tick. */
export class CreateScheduleRequest extends Schema.Class<CreateScheduleRequest>("CreateScheduleRequest")({
  teammateId: TeammateId,
  goal: Goal,
  /** A cron expression (5 or 6 fields). */
  cron: CronText,
  /** An IANA time zone, e.g. `Europe/Berlin` (default `UTC`). */
  timeZone: Schema.optional(Zone)
}) {}

/** Change a schedule: pause or resume it, or change its goal or timing. */
export class UpdateScheduleRequest extends Schema.Class<UpdateScheduleRequest>("UpdateScheduleRequest")({
  paused: Schema.optional(Schema.Boolean),
  goal: Schema.optional(Goal),
  cron: Schema.optional(CronText),
  timeZone: Schema.optional(Zone)
}) {}
