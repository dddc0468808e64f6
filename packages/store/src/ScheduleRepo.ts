/**
 * Schedules and their ticks. A tick is fired in one transaction that holds
 * the schedule's row: it creates the tick's task (unique per schedule and
 * tick) and moves `next_run_at` past now, so each tick makes one task
 * however many nodes find it due at the same moment.
 */
import { SqlClient } from "@effect/sql"
import { InvalidInput, NotFound } from "@troupe/domain/Errors"
import { Audience, ScheduleDeleted, ScheduleUpdated } from "@troupe/domain/Event"
import { OrgId, type RoomId, ScheduleId, type TeammateId } from "@troupe/domain/Ids"
import type { RoomInfo } from "@troupe/domain/Room"
import { parseCron, Schedule, UPCOMING, upcoming } from "@troupe/domain/Schedule"
import type { Task } from "@troupe/domain/Task"
import { Cron, Effect, Either, Option, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import { orgScope } from "./OrgScope.js"
import { TaskRepo } from "./TaskRepo.js"

const ScheduleRow = Schema.Struct({
  id: ScheduleId,
  orgId: OrgId,
  roomId: Schedule.fields.roomId,
  teammateId: Schedule.fields.teammateId,
  goal: Schema.String,
  cron: Schema.String,
  timeZone: Schema.String,
  paused: Schema.Boolean,
  nextRunAt: Schema.NullOr(Schema.DateFromSelf),
  lastRunAt: Schema.NullOr(Schema.DateFromSelf),
  createdById: Schema.UUID,
  createdByName: Schema.String,
  createdAt: Schema.DateFromSelf
})
type ScheduleRow = typeof ScheduleRow.Type

const toSchedule = (row: ScheduleRow) => {
  const cron = parseCron(row.cron, row.timeZone)
  const next = row.paused ? null : row.nextRunAt
  const later = next === null || Either.isLeft(cron) ? [] : upcoming(cron.right, next, UPCOMING - 1)
  return new Schedule({ ...row, nextRunAt: next, upcoming: next === null ? [] : [next, ...later] }, true)
}

/** The cron expression checked, or `InvalidInput` saying what is wrong with it. */
const checked = (cron: string, timeZone: string) =>
  Either.match(parseCron(cron, timeZone), {
    onLeft: (message) => Effect.fail(new InvalidInput({ message })),
    onRight: Effect.succeed
  })

/** What a new schedule is. */
export interface NewSchedule {
  readonly teammateId: TeammateId
  readonly goal: string
  readonly cron: string
  readonly timeZone: string
}

/** Schedules. */
export class ScheduleRepo extends Effect.Service<ScheduleRepo>()("@troupe/store/ScheduleRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog
    const tasks = yield* TaskRepo

    const columns = sql`s.id, s.org_id, s.room_id, s.teammate_id, s.goal, s.cron, s.time_zone, s.paused, s.next_run_at,
      s.last_run_at, s.created_by_id, s.created_by_name, s.created_at`

    const announce = (orgId: OrgId, schedule: Schedule) =>
      log.append(orgId, [{
        audience: new Audience({ roomId: schedule.roomId, orgWide: false, userIds: [] }, true),
        event: new ScheduleUpdated({ schedule })
      }])

    const find = (id: ScheduleId, lock: "FOR UPDATE" | "FOR UPDATE SKIP LOCKED" | null) =>
      sql`SELECT ${columns} FROM schedules s WHERE s.id = ${id} ${lock === null ? sql`` : sql.literal(lock)}`.pipe(
        Rows.first("schedule", ScheduleRow)
      )

    /** Records a schedule; its first tick is the cron's first time after `now`. */
    const create = Effect.fn("ScheduleRepo.create")(function*(
      room: RoomInfo,
      by: { readonly id: string; readonly name: string },
      input: NewSchedule,
      now: Date
    ) {
      const cron = yield* checked(input.cron, input.timeZone)
      return yield* withOrg(room.orgId)(Effect.gen(function*() {
        const row = yield* sql`
          INSERT INTO schedules AS s (org_id, room_id, teammate_id, goal, cron, time_zone, next_run_at, created_by_id,
            created_by_name)
          VALUES (${room.orgId}, ${room.id}, ${input.teammateId}, ${input.goal}, ${input.cron.trim()},
            ${input.timeZone}, ${Cron.next(cron, now)}, ${by.id}, ${by.name})
          RETURNING ${columns}`.pipe(Rows.one("schedule", ScheduleRow))
        const schedule = toSchedule(row)
        yield* announce(room.orgId, schedule)
        return schedule
      }))
    })

    const get = Effect.fn("ScheduleRepo.get")(function*(orgId: OrgId, id: ScheduleId) {
      const found = yield* withOrg(orgId)(find(id, null))
      if (Option.isNone(found)) return yield* NotFound.of("schedule", id)
      return toSchedule(found.value)
    })

    /** A room's schedules, oldest first. */
    const list = Effect.fn("ScheduleRepo.list")(function*(orgId: OrgId, roomId: RoomId) {
      return yield* withOrg(orgId)(
        sql`SELECT ${columns} FROM schedules s WHERE s.room_id = ${roomId} ORDER BY s.created_at, s.id LIMIT 200`.pipe(
          Rows.all("schedule", ScheduleRow),
          Effect.map((rows) => rows.map(toSchedule))
        )
      )
    })

    /**
     * Changes a schedule. A new cron expression or time zone, and resuming,
     * set the next tick from `now` (a paused schedule does not catch up).
     */
    const update = Effect.fn("ScheduleRepo.update")(function*(
      orgId: OrgId,
      id: ScheduleId,
      change: {
        readonly paused?: boolean | undefined
        readonly goal?: string | undefined
        readonly cron?: string | undefined
        readonly timeZone?: string | undefined
      },
      now: Date
    ) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const found = yield* find(id, "FOR UPDATE")
        if (Option.isNone(found)) return yield* NotFound.of("schedule", id)
        const before = found.value
        const cronText = change.cron?.trim() ?? before.cron
        const timeZone = change.timeZone ?? before.timeZone
        const paused = change.paused ?? before.paused
        const cron = yield* checked(cronText, timeZone)
        const retimed = cronText !== before.cron || timeZone !== before.timeZone || (before.paused && !paused)
        const next = paused ? null : retimed || before.nextRunAt === null ? Cron.next(cron, now) : before.nextRunAt
        const row = yield* sql`UPDATE schedules s SET goal = ${change.goal ?? before.goal}, cron = ${cronText},
            time_zone = ${timeZone}, paused = ${paused}, next_run_at = ${next}
          WHERE s.id = ${id} RETURNING ${columns}`.pipe(Rows.one("schedule", ScheduleRow))
        const schedule = toSchedule(row)
        yield* announce(orgId, schedule)
        return schedule
      }))
    })

    const remove = Effect.fn("ScheduleRepo.remove")(function*(orgId: OrgId, id: ScheduleId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const found = yield* find(id, "FOR UPDATE")
        if (Option.isNone(found)) return yield* NotFound.of("schedule", id)
        yield* sql`DELETE FROM schedules WHERE id = ${id}`
        yield* log.append(orgId, [{
          audience: new Audience({ roomId: found.value.roomId, orgWide: false, userIds: [] }, true),
          event: new ScheduleDeleted({ roomId: found.value.roomId, scheduleId: id })
        }])
        return toSchedule(found.value)
      }))
    })

    /** Schedules of any org due at `now`. */
    const due = Effect.fn("ScheduleRepo.due")(function*(now: Date, limit: number) {
      return yield* sql`SELECT org_id, id FROM troupe_due_schedules(${now}, ${limit})`.pipe(
        Rows.all("due schedule", Schema.Struct({ orgId: OrgId, id: ScheduleId }))
      )
    })

    /**
     * Fires a due schedule's tick: its task, and the next tick after `now`
     * (ticks missed meanwhile are skipped). None when another node holds the
     * schedule or it is no longer due.
     */
    const fire = Effect.fn("ScheduleRepo.fire")(function*(orgId: OrgId, id: ScheduleId, now: Date) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const found = yield* find(id, "FOR UPDATE SKIP LOCKED")
        if (Option.isNone(found)) return Option.none<Task>()
        const s = found.value
        if (s.paused || s.nextRunAt === null || s.nextRunAt.getTime() > now.getTime()) return Option.none<Task>()
        const tick = s.nextRunAt
        const cron = parseCron(s.cron, s.timeZone)
        const next = Either.isRight(cron) ? Cron.next(cron.right, now) : null
        const task = yield* tasks.create(
          { orgId, id: s.roomId },
          { kind: "user", id: s.createdById, name: s.createdByName },
          { teammateId: s.teammateId, goal: s.goal, threadId: null, schedule: { id, tick } }
        )
        const row = yield* sql`UPDATE schedules s SET last_run_at = ${tick}, next_run_at = ${next},
            paused = ${next === null} WHERE s.id = ${id} RETURNING ${columns}`.pipe(Rows.one("schedule", ScheduleRow))
        yield* announce(orgId, toSchedule(row))
        return Option.some(task)
      }))
    })

    return { create, get, list, update, remove, due, fire } as const
  }),
  dependencies: [EventLog.Default, TaskRepo.Default]
}) {}
