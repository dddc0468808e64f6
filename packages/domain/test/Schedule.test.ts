/**
 * When a schedule runs, read from the clock (a `TestClock` set to the
 * moments around daylight-saving changes): a time that does not exist that
 * day runs an hour later, a time that happens twice runs once, weekdays skip
 * the weekend, and what the syntax does not accept is refused with a reason.
 */
import { describe, expect, it } from "@effect/vitest"
import { parseCron, upcoming } from "@troupe/domain/Schedule"
import { Clock, Effect, Either, TestClock } from "effect"

const runsFrom = (at: string, expression: string, timeZone: string, count: number) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(new Date(at).getTime())
    const cron = parseCron(expression, timeZone)
    if (Either.isLeft(cron)) return yield* Effect.dieMessage(cron.left)
    const now = new Date(yield* Clock.currentTimeMillis)
    return upcoming(cron.right, now, count).map((d) => d.toISOString())
  })

describe("schedules", () => {
  it.effect("02:30 in Berlin runs at 03:30 on the night clocks jump from 02:00 to 03:00", () =>
    Effect.gen(function*() {
      expect(yield* runsFrom("2026-03-27T12:00:00Z", "30 2 * * *", "Europe/Berlin", 4)).toEqual([
        "2026-03-28T01:30:00.000Z", // 02:30 CET
        "2026-03-29T01:30:00.000Z", // 03:30 CEST: 02:30 does not exist that night
        "2026-03-30T00:30:00.000Z", // 02:30 CEST
        "2026-03-31T00:30:00.000Z"
      ])
    }))

  it.effect("02:30 in Berlin runs once on the night 02:00–03:00 happens twice", () =>
    Effect.gen(function*() {
      expect(yield* runsFrom("2026-10-23T12:00:00Z", "30 2 * * *", "Europe/Berlin", 3)).toEqual([
        "2026-10-24T00:30:00.000Z", // 02:30 CEST
        "2026-10-25T00:30:00.000Z", // the first 02:30 (CEST), not the second (CET)
        "2026-10-26T01:30:00.000Z" // 02:30 CET
      ])
    }))

  it.effect("every weekday at 09:00 Berlin: from a Friday afternoon, Monday comes next, in summer time", () =>
    Effect.gen(function*() {
      expect(yield* runsFrom("2026-03-27T12:00:00Z", "0 9 * * mon-fri", "Europe/Berlin", 2)).toEqual([
        "2026-03-30T07:00:00.000Z",
        "2026-03-31T07:00:00.000Z"
      ])
    }))

  it.effect("a run exactly now is not repeated; seconds are a sixth field", () =>
    Effect.gen(function*() {
      expect(yield* runsFrom("2026-01-01T00:00:00Z", "*/20 * * * * *", "UTC", 3)).toEqual([
        "2026-01-01T00:00:20.000Z",
        "2026-01-01T00:00:40.000Z",
        "2026-01-01T00:01:00.000Z"
      ])
    }))

  it("refuses what it cannot read, saying why", () => {
    expect(parseCron("every day", "UTC")).toEqual(Either.left(expect.stringContaining("invalid cron expression")))
    expect(parseCron("@daily", "UTC")).toEqual(Either.left(expect.stringContaining("@daily")))
    expect(parseCron("0 9 * * *", "Mars/Olympus")).toEqual(Either.left("unknown time zone \"Mars/Olympus\""))
    expect(parseCron("61 * * * *", "UTC")).toEqual(Either.left(expect.stringContaining("invalid cron expression")))
  })
})
