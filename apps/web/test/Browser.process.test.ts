/**
 * The web app in a real browser (Debian's Chromium through playwright-core)
 * against a real server process: two people chatting, a teammate streaming
 * its answer, unread counts, a reload, and a server restart mid-conversation;
 * then one of them renames himself and resets a forgotten password.
 * Every wait is for something on the page, never for time.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { freePort, startNode, stopGracefully } from "@troupe/server/testing/NodeProcess"
import * as Database from "@troupe/store/Database"
import { Effect, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Page } from "playwright-core"
import { buildApp, composer, email, launch, PASSWORD, say, screenshots, shows, signUp } from "./BrowserHarness.js"

/** The texts of the stored messages on screen (the main timeline), in order: not pending sends, not replies in progress. */
/** A 1×1 PNG. */
const PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

const texts = (page: Page) =>
  page.locator(".timeline article.message:not(.pending):not(.streaming) .text").allTextContents()

describe("the web app in a browser", () => {
  it.live(
    "people chat and a teammate answers as it streams; unread counts, a reload and a server restart lose nothing",
    () =>
      Effect.gen(function*() {
        yield* buildApp
        const database = yield* Database.makeTestDatabase
        const port = yield* freePort
        const env = { PORT: String(port), RATE_USER_WRITES_PER_MIN: "100000", RATE_ORG_WRITES_PER_MIN: "100000" }
        let node = yield* startNode(database, env, "web")
        const url = node.url
        const browser = yield* launch

        const ana = yield* Effect.promise(() => browser.newContext({ viewport: { width: 1200, height: 800 } }))
        const ben = yield* Effect.promise(() => browser.newContext({ viewport: { width: 360, height: 740 } }))
        const anaPage = yield* Effect.promise(() => ana.newPage())
        const benPage = yield* Effect.promise(() => ben.newPage())
        const anaEmail = email("ana")
        const benEmail = email("ben")

        let handle = ""
        yield* Effect.promise(async () => {
          // A wrong password is a clear message, not a crash.
          await anaPage.goto(url)
          await anaPage.getByRole("tab", { name: "Log in" }).click()
          await anaPage.getByLabel("Email").fill(anaEmail)
          await anaPage.getByLabel("Password").fill("not the password")
          await anaPage.getByRole("button", { name: "Log in" }).click()
          const refusal = await anaPage.getByRole("alert").textContent()
          expect(refusal).toMatch(/wrong e-?mail or password/i)

          // Ana signs up, makes a workspace and lands in #general.
          await signUp(anaPage, url, "Ana", anaEmail)
          await anaPage.getByLabel("Workspace name").fill("Acme")
          await anaPage.getByRole("button", { name: "Create workspace" }).click()
          await anaPage.getByRole("heading", { name: "# general" }).waitFor()

          // She hires a teammate from the catalog; it joins #general.
          await anaPage.getByRole("button", { name: "+ Hire a teammate" }).click()
          const dialog = anaPage.getByRole("dialog", { name: "Hire a teammate" })
          const first = dialog.getByRole("button", { name: /^Hire / }).first()
          const hireLabel = (await first.getAttribute("aria-label")) ?? ""
          await first.click()
          await dialog.waitFor({ state: "detached" })
          handle = (await anaPage.getByRole("list", { name: "Teammates" }).locator(".room-name").first()
            .textContent())?.replace("@", "") ?? ""
          expect(handle).not.toBe("")
          expect(hireLabel).toMatch(/^Hire /)

          // Every text the reply in progress shows, to see it grow token by token.
          await anaPage.evaluate(() => {
            const seen: Array<string> = []
            Reflect.set(window, "draftTexts", seen)
            new MutationObserver(() => {
              for (const el of document.querySelectorAll("[aria-label='Reply in progress'] .text")) {
                const text = el.textContent ?? ""
                if (seen.at(-1) !== text) seen.push(text)
              }
            }).observe(document.body, { subtree: true, childList: true, characterData: true })
          })
          // The @ autocomplete offers the teammate.
          await composer(anaPage).fill(`@${handle.slice(0, 2)}`)
          await anaPage.getByRole("option", { name: new RegExp(`@${handle}`) }).waitFor()
          await composer(anaPage).press("Tab")
          expect(await composer(anaPage).inputValue()).toBe(`@${handle} `)
          await composer(anaPage).pressSequentially("what is our plan for the launch?")
          await composer(anaPage).press("Enter")
          await shows(anaPage, "[local model]")
          const drafts: Array<string> = await anaPage.evaluate(() => Reflect.get(window, "draftTexts"))
          const reply = await anaPage.locator(".timeline article.message.teammate:not(.streaming) .text")
            .allTextContents()
          expect(reply).toHaveLength(1)
          // Partial texts were shown before the whole reply, each a beginning of it.
          const partial = drafts.filter((d) => d !== "" && d !== reply[0])
          expect(partial.length).toBeGreaterThan(0)
          for (const d of partial) expect(reply[0]?.startsWith(d.trim())).toBe(true)
          if (screenshots !== undefined) await anaPage.screenshot({ path: Path.join(screenshots, "room.png") })
        })

        // Ana invites Ben by e-mail from the People dialog and passes the link on.
        const link = yield* Effect.promise(async () => {
          await anaPage.getByRole("button", { name: "People" }).click()
          const people = anaPage.getByRole("dialog", { name: "People" })
          await people.getByLabel("Email to invite").fill(benEmail)
          await people.getByRole("button", { name: "Invite" }).click()
          const invitationLink = await people.getByLabel("Invitation link").inputValue()
          await people.getByRole("list", { name: "Pending invitations" }).getByText(benEmail).waitFor()
          await people.getByRole("button", { name: "Close" }).click()
          return invitationLink
        })
        expect(link.startsWith(`${url}/invite#`)).toBe(true)

        // Ben, who has no account, opens it, signs up with the invited address and joins.
        yield* Effect.promise(async () => {
          await benPage.goto(link)
          await benPage.getByRole("region", { name: "Invitation" }).getByText("Ana invited").waitFor()
          expect(await benPage.getByLabel("Email").inputValue()).toBe(benEmail)
          if (screenshots !== undefined) await benPage.screenshot({ path: Path.join(screenshots, "invite.png") })
          await benPage.getByLabel("Name").fill("Ben")
          await benPage.getByLabel("Password").fill(PASSWORD)
          await benPage.getByRole("button", { name: "Create account" }).click()
          await benPage.getByRole("button", { name: "Join Acme" }).click()
          // Joining the workspace joined its #general, which opens.
          await benPage.getByRole("heading", { name: "# general" }).waitFor()
          // The link's token is gone from the address.
          expect(new URL(benPage.url()).pathname).toMatch(/^\/rooms\//)
          expect(new URL(benPage.url()).hash).toBe("")
          // Ana's People now lists Ben, and the invitation is no longer pending.
          await anaPage.getByRole("button", { name: "People" }).click()
          const people = anaPage.getByRole("dialog", { name: "People" })
          await people.getByRole("list", { name: "Members" }).getByText("Ben", { exact: true }).waitFor()
          // Both have the app open: both show as online.
          await people.getByRole("list", { name: "Members" }).getByRole("img", { name: "online" }).nth(1).waitFor()
          expect(await people.getByRole("list", { name: "Pending invitations" }).count()).toBe(0)
          if (screenshots !== undefined) await anaPage.screenshot({ path: Path.join(screenshots, "people.png") })
          await people.getByRole("button", { name: "Close" }).click()
        })

        yield* Effect.promise(async () => {
          await composer(benPage).waitFor()
          // At 360 px the rooms are behind the menu button; picking one closes it.
          await benPage.getByRole("button", { name: "Rooms" }).click()
          await benPage.getByRole("button", { name: /# general/ }).click()
          await benPage.getByRole("button", { name: "Rooms", expanded: false }).waitFor()
          await say(benPage, "hi Ana, Ben here")
          await shows(anaPage, "hi Ana, Ben here")
          // Typing shows on the other side, and lapses by itself once the typing stops.
          await composer(benPage).fill("still thinking")
          await anaPage.getByText("Ben typing…").waitFor()
          await anaPage.getByText("Ben typing…").waitFor({ state: "detached" })
          await composer(benPage).fill("")

          // Ana goes to another room; Ben's next messages count as unread for her until she opens #general.
          await anaPage.getByRole("button", { name: "+ New room" }).click()
          await anaPage.getByLabel("Room name").fill("random")
          await anaPage.getByRole("button", { name: "Create" }).click()
          await anaPage.getByRole("heading", { name: "# random" }).waitFor()
          await say(benPage, "are you there?")
          await say(benPage, "ping")
          await shows(benPage, "ping")
          await anaPage.getByLabel("2 unread").waitFor()
          await anaPage.getByRole("button", { name: /# general/ }).click()
          await shows(anaPage, "ping")
          await anaPage.getByLabel("2 unread").waitFor({ state: "detached" })

          // A reload keeps the session and the conversation.
          await anaPage.reload()
          await shows(anaPage, "ping")
          expect(await texts(anaPage)).toEqual([
            expect.stringContaining(handle),
            expect.stringContaining("[local model]"),
            "hi Ana, Ben here",
            "are you there?",
            "ping"
          ])
        })

        // The server restarts mid-conversation; both pages reconnect and catch up, nothing lost or doubled.
        yield* stopGracefully(node.child)
        yield* Effect.promise(() => anaPage.getByRole("status").filter({ hasText: "Reconnecting" }).waitFor())
        node = yield* startNode(database, env, "web-again")
        yield* Effect.promise(async () => {
          await anaPage.getByRole("status").waitFor({ state: "detached" })
          await benPage.getByRole("status").waitFor({ state: "detached" })
          await say(benPage, "back after the restart")
          await shows(anaPage, "back after the restart")
          await say(anaPage, "welcome back")
          await shows(benPage, "welcome back")
          const after = await texts(anaPage)
          expect(after.slice(2)).toEqual([
            "hi Ana, Ben here",
            "are you there?",
            "ping",
            "back after the restart",
            "welcome back"
          ])
          expect(await texts(benPage)).toEqual(after)

          // A reaction, an edit, a delete and a thread reply, each seen by the other person.
          const message = (page: Page, text: string) =>
            page.locator(".timeline article.message", { hasText: text }).first()
          await message(anaPage, "hi Ana, Ben here").hover()
          await message(anaPage, "hi Ana, Ben here").getByRole("button", { name: "React 👍" }).click()
          await message(benPage, "hi Ana, Ben here").getByRole("button", { name: "👍 1" }).waitFor()

          await message(benPage, "ping").hover()
          await message(benPage, "ping").getByRole("button", { name: "Edit" }).click()
          await benPage.getByLabel("Edit message").fill("pong")
          await benPage.getByLabel("Edit message").press("Enter")
          await message(anaPage, "pong").getByText("(edited)").waitFor()

          benPage.once("dialog", (dialog) => void dialog.accept())
          await message(benPage, "are you there?").hover()
          await message(benPage, "are you there?").getByRole("button", { name: "Delete" }).click()
          await anaPage.getByText("This message was deleted.").waitFor()
          expect(await texts(anaPage)).not.toContain("are you there?")

          await message(anaPage, "hi Ana, Ben here").hover()
          await message(anaPage, "hi Ana, Ben here").getByRole("button", { name: "Reply" }).click()
          const thread = anaPage.getByRole("complementary", { name: "Thread" })
          await thread.getByLabel("Reply in thread").fill("a reply in the thread")
          await thread.getByLabel("Reply in thread").press("Enter")
          await thread.locator("article.message:not(.pending) .text", { hasText: "a reply in the thread" }).waitFor()
          await message(benPage, "hi Ana, Ben here").getByRole("button", { name: "1 reply" }).waitFor()
          // The reply stays in its thread: the main timeline does not show it.
          expect(await texts(benPage)).not.toContain("a reply in the thread")
          if (screenshots !== undefined) await benPage.screenshot({ path: Path.join(screenshots, "narrow.png") })

          // Ana attaches a text file and an image; Ben sees the picture and downloads the file, byte for byte.
          await thread.getByRole("button", { name: "Close thread" }).click()
          await anaPage.locator(".timeline .composer").getByLabel("Files to attach").setInputFiles([
            { name: "plan.txt", mimeType: "text/plain", buffer: Buffer.from("step one, step two\n") },
            { name: "pixel.png", mimeType: "image/png", buffer: Buffer.from(PIXEL_PNG, "base64") }
          ])
          const staged = anaPage.getByRole("list", { name: "Files to send" })
          await staged.getByText("plan.txt").waitFor()
          await staged.getByText("pixel.png").waitFor()
          await composer(anaPage).fill("the plan, and a picture")
          await composer(anaPage).press("Enter")
          const withFiles = message(benPage, "the plan, and a picture")
          await withFiles.getByRole("img", { name: "pixel.png" }).waitFor()
          const [download] = await Promise.all([
            benPage.waitForEvent("download"),
            withFiles.getByRole("button", { name: "Download plan.txt" }).click()
          ])
          expect(download.suggestedFilename()).toBe("plan.txt")
          const saved = await download.path()
          expect(Fs.readFileSync(saved, "utf8")).toBe("step one, step two\n")

          // Ana, the owner, archives #random, takes it back, then deletes it: it leaves both sidebars.
          await anaPage.getByRole("button", { name: /# random/ }).click()
          anaPage.once("dialog", (dialog) => void dialog.accept())
          await anaPage.getByRole("button", { name: "Archive" }).click()
          await anaPage.getByText("This room is archived.").waitFor()
          await anaPage.getByRole("button", { name: "Unarchive" }).click()
          await composer(anaPage).waitFor()
          await benPage.getByRole("button", { name: "Rooms" }).click()
          await benPage.getByRole("button", { name: /# random/ }).waitFor()
          anaPage.once("dialog", (dialog) => void dialog.accept())
          await anaPage.getByRole("button", { name: "Delete", exact: true }).click()
          await anaPage.getByRole("heading", { name: "Pick a room" }).waitFor()
          await anaPage.getByRole("button", { name: /# random/ }).waitFor({ state: "detached" })
          await benPage.getByRole("button", { name: /# random/ }).waitFor({ state: "detached" })
          await benPage.getByRole("button", { name: "Rooms", expanded: true }).click()

          // Search finds a message while its last word is still being typed, and opens its room.
          await anaPage.getByRole("searchbox", { name: "Search messages" }).fill("launc")
          await anaPage.getByRole("searchbox", { name: "Search messages" }).press("Enter")
          const match = anaPage.getByRole("list", { name: "Matches" }).getByRole("button")
            .filter({ hasText: "plan for the" }).first()
          await match.waitFor()
          expect(await match.locator("mark").first().textContent()).toMatch(/launch/i)
          await match.click()
          await anaPage.getByRole("heading", { name: "# general" }).waitFor()
          // Files are found by their text too.
          await anaPage.getByRole("searchbox", { name: "Search messages" }).fill("step two")
          await anaPage.getByRole("searchbox", { name: "Search messages" }).press("Enter")
          const fileHit = anaPage.getByRole("list", { name: "Files" }).getByRole("button").filter({
            hasText: "plan.txt"
          })
          await fileHit.waitFor()
          expect(await fileHit.locator("mark").allTextContents()).toContain("two")
          await fileHit.click()
          await anaPage.getByRole("heading", { name: "# general" }).waitFor()

          // Muting is Ana's own: the room says so once the server confirms it on her stream.
          await anaPage.getByRole("button", { name: "Mute", exact: true }).click()
          await anaPage.getByRole("button", { name: "Unmute" }).waitFor()
        })
        expect(node.url).toBe(url)

        // Ben renames himself in Settings (Ana's People list follows) and tries a wrong current password.
        yield* Effect.promise(async () => {
          await benPage.getByRole("button", { name: "Rooms" }).click()
          await benPage.getByRole("button", { name: "Settings" }).click()
          const settings = benPage.getByRole("dialog", { name: "Settings" })
          await settings.getByLabel("Name").fill("Benjamin")
          await settings.getByRole("button", { name: "Save the profile" }).click()
          await settings.getByText("Saved.").waitFor()
          await settings.getByLabel("Current password").fill("not the password")
          await settings.getByLabel("New password").fill("a brand new password")
          await settings.getByRole("button", { name: "Change the password" }).click()
          expect(await settings.getByRole("alert").textContent()).toMatch(/current password is wrong/)
          if (screenshots !== undefined) await benPage.screenshot({ path: Path.join(screenshots, "settings.png") })
          await settings.getByRole("button", { name: "Close" }).click()
          await anaPage.getByRole("button", { name: "People" }).click()
          await anaPage.getByRole("dialog", { name: "People" }).getByText("Benjamin", { exact: true }).waitFor()
          await anaPage.getByRole("dialog", { name: "People" }).getByRole("button", { name: "Close" }).click()
          // He logs out and forgot his password: the link goes to his address.
          await benPage.getByRole("button", { name: "Log out" }).click()
          await benPage.getByRole("tab", { name: "Log in" }).click()
          await benPage.getByRole("button", { name: "Forgot your password?" }).click()
          await benPage.getByLabel("Email").fill(benEmail)
          await benPage.getByRole("button", { name: "Send the link" }).click()
          await benPage.getByRole("status").getByText(/a link .* is on its way/).waitFor()
        })
        // Without SMTP_URL the server logs the link for the operator, who passes it on.
        const resetLink = yield* Effect.suspend(() => {
          const found = new RegExp(`${url}/reset#[\\w-]+`).exec(node.output())?.[0]
          return found === undefined ? Effect.fail("no link in the log yet") : Effect.succeed(found)
        }).pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 100 }))
        yield* Effect.promise(async () => {
          await benPage.goto(resetLink)
          await benPage.getByLabel("New password", { exact: true }).fill("a brand new password")
          if (screenshots !== undefined) await benPage.screenshot({ path: Path.join(screenshots, "reset.png") })
          await benPage.getByRole("button", { name: "Set the password" }).click()
          await benPage.getByRole("heading", { name: "# general" }).waitFor()
          expect(new URL(benPage.url()).pathname).not.toBe("/reset")
        })
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)),
    300_000
  )
})
