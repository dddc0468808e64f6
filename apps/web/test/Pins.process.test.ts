/**
 * The room pinboard in a real browser against a real server process: a
 * message pinned from its menu, a note pinned, edited and unpinned, and
 * another tab's board following each change. Every wait is for something on
 * the page, never for time.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { anaInAcme, say, screenshots, shows } from "./BrowserHarness.js"

describe("the pinboard in the web app", () => {
  it.live(
    "a message is pinned from its menu, a note is pinned, edited and unpinned, and another tab follows",
    () =>
      Effect.gen(function*() {
        const { context, page } = yield* anaInAcme("web-pins")
        yield* Effect.promise(async () => {
          await say(page, "the plan is to ship on Friday")
          await shows(page, "the plan is to ship on Friday")

          // A second tab of the same person, with the board open: it follows every change.
          const other = await context.newPage()
          await other.goto(page.url())
          await other.getByRole("heading", { name: "# general" }).waitFor()
          await other.getByRole("button", { name: "Pins" }).click()
          const otherBoard = other.getByRole("complementary", { name: "Pins" })
          await otherBoard.getByText("Nothing is pinned here yet.").waitFor()

          // Pin the message from its menu.
          await page.locator(".timeline article.message", { hasText: "ship on Friday" }).hover()
          await page.locator(".timeline article.message", { hasText: "ship on Friday" })
            .getByRole("button", { name: "Pin" }).click()
          await page.getByRole("button", { name: "Pins" }).click()
          const board = page.getByRole("complementary", { name: "Pins" })
          await board.getByRole("article", { name: "Pin" }).filter({ hasText: "pinned message" }).waitFor()
          await otherBoard.getByText("the plan is to ship on Friday").waitFor()

          // A note: pinned, edited, unpinned.
          await board.getByLabel("Pin a note").fill("standup moves to 10:00")
          await board.getByLabel("Pin a note").press("Enter")
          const note = board.getByRole("article", { name: "Pin" }).filter({ hasText: "standup moves to" })
          await note.waitFor()
          await otherBoard.getByText("standup moves to 10:00").waitFor()
          await note.hover()
          await note.getByRole("button", { name: "Edit" }).click()
          await note.getByLabel("Edit message").fill("standup moves to 10:30")
          await note.getByLabel("Edit message").press("Enter")
          await board.getByText("standup moves to 10:30").waitFor()
          await otherBoard.getByText("standup moves to 10:30").waitFor()
          if (screenshots !== undefined) await page.screenshot({ path: Path.join(screenshots, "pins.png") })
          page.once("dialog", (dialog) => void dialog.accept())
          await board.getByRole("article", { name: "Pin" }).filter({ hasText: "10:30" }).hover()
          await board.getByRole("article", { name: "Pin" }).filter({ hasText: "10:30" })
            .getByRole("button", { name: "Unpin" }).click()
          await otherBoard.getByText("standup moves to 10:30").waitFor({ state: "detached" })
          await board.getByText("the plan is to ship on Friday").waitFor()
        })
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)),
    180_000
  )
})
