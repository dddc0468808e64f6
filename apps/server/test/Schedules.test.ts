/**
 * Schedules through the public API: every tick of a cron expression gives
 * the teammate its goal as a task, one task per tick; pausing stops the
 * ticks; a tick missed while no node ran fires once, and the ones after it
 * are skipped; bad expressions, time zones and callers get typed errors.
 */
import { describe, expect, layer } from "@effect/vitest"
import type { Delivered } from "@troupe/domain/Event"
import type { Schedule } from "@troupe/domain/Schedule"
import type { Task } from "@troupe/domain/Task"
import * as Database from "@troupe/store/Database"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { anaBenAndTeammate, baseUrl, firstFound, person, raw, readEvents, TestServerWithModel } from "./Harness.js"

const setup = anaBenAndTeammate

/** The first `count` finished tasks `schedule` made, as `token`'s stream tells. */
const scheduledTasks = (token: string, scheduleId: string, count: number) =>
  Effect.gen(function*() {
    const events = yield* readEvents({
      baseUrl: yield* baseUrl,
      token,
      lastEventId: "0",
      count,
      keep: (d: Delivered) =>
        d.event.type === "task.updated" && d.event.task.scheduleId === scheduleId &&
        d.event.task.status === "succeeded",
      timeout: "60 seconds"
    })
    return events.flatMap((d): Array<Task> => d.event.type === "task.updated" ? [d.event.task] : [])
  })

/** The first `schedule.updated` for `id` that `until` accepts. */
const scheduleWhen = (token: string, id: string, until: (s: Schedule) => boolean) =>
  firstFound(token, (d) =>
    d.event.type === "schedule.updated" && d.event.schedule.id === id && until(d.event.schedule)
      ? d.event.schedule
      : undefined)

describe("schedules", () => {
  layer(TestServerWithModel({ SCHEDULE_POLL: "200 millis" }), { excludeTestServices: true, timeout: 180_000 })(
    (it) => {
      it.effect("every tick gives the teammate the goal as one task; pausing stops the ticks", () =>
        Effect.gen(function*() {
          const { ana, ben, room, teammate } = yield* setup
          const schedule = yield* ana.api.schedules.create({
            path: { room: room.id },
            payload: { teammateId: teammate.id, goal: "Post the stand-up prompt", cron: "* * * * * *" }
          })
          expect(schedule).toMatchObject({ timeZone: "UTC", paused: false, lastRunAt: null })
          expect(schedule.upcoming).toHaveLength(3)
          expect(schedule.upcoming.map((d) => d.getTime() - schedule.upcoming[0]!.getTime())).toEqual([0, 1000, 2000])

          const tasks = yield* scheduledTasks(ben.token, schedule.id, 2)
          expect(tasks.map((t) => t.goal)).toEqual(["Post the stand-up prompt", "Post the stand-up prompt"])
          const ticks = tasks.map((t) => t.scheduledFor?.getTime() ?? 0)
          expect(new Set(ticks).size).toBe(2)
          expect(ticks.every((t) => t % 1000 === 0)).toBe(true)

          const paused = yield* ana.api.schedules.update({
            path: { room: room.id, schedule: schedule.id },
            payload: { paused: true }
          })
          expect(paused).toMatchObject({ paused: true, nextRunAt: null, upcoming: [] })
          expect(yield* ben.api.schedules.list({ path: { room: room.id } })).toEqual([paused])

          // Ben did not make it: he may not change it; Ana deletes it, and the tasks it made stay.
          const refused = yield* raw("PATCH", `/v1/rooms/${room.id}/schedules/${schedule.id}`, {
            token: ben.token,
            body: { paused: false }
          })
          expect(refused.status).toBe(403)
          yield* ana.api.schedules.delete({ path: { room: room.id, schedule: schedule.id } })
          expect(yield* ana.api.schedules.list({ path: { room: room.id } })).toEqual([])
          const kept = yield* ana.api.tasks.list({ path: { room: room.id }, urlParams: {} })
          expect(kept.length).toBeGreaterThanOrEqual(2)
        }))

      it.effect("ticks missed while no node ran fire once, then the schedule goes on from now", () =>
        Effect.gen(function*() {
          const { ana, room, teammate } = yield* setup
          const schedule = yield* ana.api.schedules.create({
            path: { room: room.id },
            payload: { teammateId: teammate.id, goal: "Hourly digest", cron: "0 * * * *", timeZone: "Europe/Berlin" }
          })
          // As if every node had been down for three hours and a half.
          const sql = yield* Database.AdminSql
          yield* sql`UPDATE schedules SET next_run_at = now() - interval '3 hours 30 minutes' WHERE id = ${schedule.id}`
          const ticked = yield* scheduleWhen(ana.token, schedule.id, (s) => s.lastRunAt !== null)
          expect(ticked.nextRunAt!.getTime()).toBeGreaterThan(Date.now())
          expect(ticked.nextRunAt!.getTime() - Date.now()).toBeLessThanOrEqual(3600_000)
          const [task] = yield* scheduledTasks(ana.token, schedule.id, 1)
          expect(task?.scheduledFor).toEqual(ticked.lastRunAt)
          const all = yield* ana.api.tasks.list({ path: { room: room.id }, urlParams: {} })
          expect(all.filter((t) => t.scheduleId === schedule.id)).toHaveLength(1)
        }))

      it.effect("bad expressions, time zones and callers are refused, and nothing is stored", () =>
        Effect.gen(function*() {
          const { ana, ben, org, room, teammate } = yield* setup
          const attempt = (body: Record<string, unknown>, token = ana.token) =>
            raw("POST", `/v1/rooms/${room.id}/schedules`, {
              token,
              body: { teammateId: teammate.id, goal: "g", ...body }
            })
          const badCron = yield* attempt({ cron: "every day" })
          expect([badCron.status, badCron.text]).toEqual([422, expect.stringContaining("invalid cron expression")])
          const shortcut = yield* attempt({ cron: "@daily" })
          expect([shortcut.status, shortcut.text]).toEqual([422, expect.stringContaining("@daily")])
          const zone = yield* attempt({ cron: "0 9 * * *", timeZone: "Mars/Olympus" })
          expect([zone.status, zone.text]).toEqual([422, expect.stringContaining("Mars/Olympus")])
          expect((yield* attempt({ cron: 5 })).status).toBe(400)
          expect((yield* attempt({ cron: "0 9 * * *", goal: "" })).status).toBe(400)
          const other = yield* ana.api.teammates.hire({
            path: { org: org.id },
            payload: { template: "researcher", handle: `o${randomUUID().slice(0, 6)}` }
          })
          const absent = yield* raw("POST", `/v1/rooms/${room.id}/schedules`, {
            token: ana.token,
            body: { teammateId: other.id, goal: "g", cron: "0 9 * * *" }
          })
          expect(absent.status).toBe(422)
          const unknown = yield* raw("PATCH", `/v1/rooms/${room.id}/schedules/${randomUUID()}`, {
            token: ana.token,
            body: { paused: true }
          })
          expect(unknown.status).toBe(404)
          const guest = yield* person("Gus")
          yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: guest.user.email, role: "guest" } })
          yield* ana.api.rooms.addMember({ path: { room: room.id }, payload: { userId: guest.user.id } })
          expect((yield* attempt({ cron: "0 9 * * *" }, guest.token)).status).toBe(403)
          const eve = yield* person("Eve")
          expect((yield* raw("GET", `/v1/rooms/${room.id}/schedules`, { token: eve.token })).status).toBe(404)
          expect(yield* ben.api.schedules.list({ path: { room: room.id } })).toEqual([])
        }))
    }
  )
})
