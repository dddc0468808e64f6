/**
 * Background work in a real browser against a real server process: a task
 * given to a teammate from the room's Tasks panel shows its steps and its
 * status as it goes, and its result lands in the room; a schedule shows its
 * next run times, makes a task on its tick, and pauses. Every wait is for
 * something on the page, never for time.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { anaInAcme, screenshots } from "./BrowserHarness.js"

describe("tasks and schedules in the web app", () => {
  it.live(
    "a task is given, shows its progress and posts its result; a schedule ticks and pauses",
    () =>
      Effect.gen(function*() {
        const { page } = yield* anaInAcme("web-tasks")
        yield* Effect.promise(async () => {
          await page.getByRole("button", { name: "+ Hire a teammate" }).click()
          const dialog = page.getByRole("dialog", { name: "Hire a teammate" })
          await dialog.getByRole("button", { name: /^Hire / }).first().click()
          await dialog.waitFor({ state: "detached" })

          await page.getByRole("button", { name: "Tasks" }).click()
          const panel = page.getByRole("complementary", { name: "Tasks" })
          await panel.getByText("No tasks in this room yet.").waitFor()
          const form = panel.getByRole("form", { name: "Give work" })
          await form.getByLabel("Goal").fill("Draft the agenda for Monday")
          await form.getByRole("button", { name: "Give task" }).click()

          const task = panel.getByRole("article", { name: "Task: Draft the agenda for Monday" })
          await task.getByLabel("Status").filter({ hasText: "succeeded" }).waitFor({ timeout: 60_000 })
          expect(await task.locator(".steps li").count()).toBeGreaterThan(0)
          await page.locator(".timeline article.message", { hasText: "Task done: Draft the agenda for Monday" })
            .waitFor()
          if (screenshots !== undefined) await page.screenshot({ path: Path.join(screenshots, "tasks.png") })

          // A schedule: every second, in UTC.
          await form.getByLabel("Goal").fill("Say hello")
          await form.getByLabel("Repeat on a schedule").check()
          await form.getByLabel("When (cron)").fill("* * * * * *")
          await form.getByLabel("Time zone").fill("UTC")
          await form.getByRole("button", { name: "Schedule" }).click()
          const schedule = panel.getByRole("article", { name: "Schedule: Say hello" })
          await schedule.getByText(/^Next:/).waitFor()
          await panel.getByRole("article", { name: "Task: Say hello" }).first().getByLabel("Status")
            .filter({ hasText: "succeeded" }).waitFor({ timeout: 60_000 })
          await schedule.getByRole("button", { name: "Pause" }).click()
          await schedule.getByRole("button", { name: "Resume" }).waitFor()
          await schedule.locator(".tag", { hasText: "paused" }).waitFor()
          const shown = (await schedule.textContent()) ?? ""
          expect(shown.includes("Next:"), shown).toBe(false)

          // A bad expression is refused with the reason.
          await form.getByLabel("Goal").fill("Never")
          await form.getByLabel("When (cron)").fill("every day")
          await form.getByRole("button", { name: "Schedule" }).click()
          await panel.getByRole("alert").filter({ hasText: "invalid cron expression" }).waitFor()
        })
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)),
    180_000
  )
})
