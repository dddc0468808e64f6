/**
 * Teammates in a real browser against a real server process (the local
 * model): a custom teammate made through the form, its answer to a mention,
 * its page with the run and its steps, an edit another tab follows, and its
 * memory, and the month's usage. Every wait is for something on the page, never for time.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { anaInAcme, say, screenshots, shows } from "./BrowserHarness.js"

describe("teammates in the web app", () => {
  it.live(
    "a custom teammate answers, shows its run and steps, takes an edit and keeps and forgets memories",
    () =>
      Effect.gen(function*() {
        const { context, node, page } = yield* anaInAcme("web-teammates")
        yield* Effect.promise(async () => {
          // A custom teammate: the form names what the contract refuses, next to the field.
          await page.getByRole("button", { name: "+ Hire a teammate" }).click()
          const dialog = page.getByRole("dialog", { name: "Hire a teammate" })
          await dialog.getByRole("tab", { name: "Custom" }).click()
          const form = dialog.getByRole("form", { name: "New teammate" })
          await form.getByLabel("Name").fill("Quill")
          await form.getByLabel("Handle").fill("Q")
          await form.getByLabel("Role").fill("Note taker")
          await form.getByLabel("Instructions").fill("Take notes.")
          await form.getByRole("button", { name: "Create teammate" }).click()
          expect(await form.getByRole("alert").textContent()).toMatch(/2–32 characters/)
          await form.getByLabel("Handle").fill("quill")
          await form.getByLabel("Personality").fill("Brief.")
          await form.getByLabel("When busy").selectOption("merge")
          await form.getByRole("button", { name: "Create teammate" }).click()
          // Its page opens; it joined #general, where it answers a mention (and remembers with its tool).
          await page.getByRole("region", { name: "Teammate @quill" }).waitFor()
          await page.getByRole("button", { name: "# general" }).click()
          await say(page, "@quill remember that the launch is on Friday")
          await shows(page, "[local model] Noted: the launch is on Friday.")

          // Its page: the run with its steps and tokens.
          await page.getByRole("list", { name: "Teammates" }).getByRole("button", { name: "@quill" }).click()
          const panel = page.getByRole("region", { name: "Teammate @quill" })
          await panel.getByRole("tab", { name: "Runs" }).click()
          const run = panel.getByRole("list", { name: "Runs" }).getByRole("listitem").first()
          await run.getByText("completed").waitFor()
          expect(await run.getByLabel("tokens").textContent()).toMatch(/^[1-9]\d* in \/ [1-9]\d* out$/)
          await run.getByRole("button", { expanded: false }).click()
          const steps = run.getByRole("list", { name: "Steps" })
          await steps.getByText("Tool call").waitFor()
          expect(await steps.getByRole("listitem").allTextContents()).toEqual([
            expect.stringMatching(/^Model call local · [1-9]\d* in \/ [1-9]\d* out.*asked for remember/),
            expect.stringMatching(/^Tool call remember.*remembered: the launch is on Friday/),
            expect.stringMatching(/^Model call local · [1-9]\d* in \/ [1-9]\d* out/)
          ])
          if (screenshots !== undefined) await page.screenshot({ path: Path.join(screenshots, "teammate-runs.png") })

          // An edit of its instructions; another tab with its page open follows it.
          const other = await context.newPage()
          await other.goto(node.url)
          await other.getByRole("list", { name: "Teammates" }).getByRole("button", { name: "@quill" }).click()
          const otherInstructions = other.getByRole("region", { name: "Teammate @quill" }).getByLabel("Instructions")
          expect(await otherInstructions.inputValue()).toBe("Take notes.")
          await panel.getByRole("tab", { name: "Settings" }).click()
          await panel.getByLabel("Instructions").fill("Take short notes, with dates.")
          await panel.getByRole("button", { name: "Save settings" }).click()
          await panel.getByRole("status").getByText("Saved.").waitFor()
          await other.waitForFunction(
            () =>
              document.querySelector<HTMLTextAreaElement>("textarea[name=instructions]")?.value ===
                "Take short notes, with dates."
          )
          await other.close()

          // Its memory: what the tool remembered, from the message in #general; one added by hand, then forgotten.
          await panel.getByRole("tab", { name: "Memory" }).click()
          const memories = panel.getByRole("list", { name: "Memories" })
          const friday = memories.getByRole("listitem").filter({ hasText: "the launch is on Friday" })
          await friday.getByRole("button", { name: "from a message in #general" }).waitFor()
          await panel.getByLabel("A new memory").fill("Ana prefers tea")
          await panel.getByRole("button", { name: "Remember", exact: true }).click()
          await memories.getByText("Ana prefers tea").waitFor()
          if (screenshots !== undefined) await page.screenshot({ path: Path.join(screenshots, "teammate-memory.png") })
          await memories.getByRole("button", { name: "Forget “Ana prefers tea”" }).click()
          await memories.getByText("Ana prefers tea").waitFor({ state: "detached" })
          await friday.waitFor()

          // At 360 px the usage is behind the menu: this month's run and tokens of @quill.
          await page.setViewportSize({ width: 360, height: 740 })
          await panel.getByRole("button", { name: "Close" }).click()
          await page.getByRole("button", { name: "Rooms" }).click()
          await page.getByRole("button", { name: "Usage and models" }).click()
          const row = page.getByRole("table", { name: "Usage per teammate" }).getByRole("row", { name: /@quill/ })
          await row.waitFor()
          expect(await row.getByRole("cell").allTextContents()).toEqual([
            "1",
            expect.stringMatching(/^[1-9]/),
            expect.stringMatching(/^[1-9]/),
            "$0.00"
          ])
          if (screenshots !== undefined) await page.screenshot({ path: Path.join(screenshots, "usage-narrow.png") })
        })
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)),
    180_000
  )
})
