/**
 * What the browser tests share: the app built as `npm start` builds it,
 * Debian's Chromium through playwright-core, signing up, and the composer.
 */
import { freePort, startNode } from "@troupe/server/testing/NodeProcess"
import * as Database from "@troupe/store/Database"
import { Effect, type Scope } from "effect"
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, chromium, type Page } from "playwright-core"

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium"
const webRoot = fileURLToPath(new URL("..", import.meta.url))
export const screenshots = process.env["SCREENSHOTS_DIR"]

/** The app built as `npm start` would (only when its sources changed). */
export const buildApp = Effect.sync(() => {
  execFileSync(process.execPath, ["--import", "tsx", Path.join(webRoot, "build.ts"), "--if-stale"], {
    stdio: "inherit"
  })
})

export const launch: Effect.Effect<Browser, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    if (!Fs.existsSync(CHROMIUM)) {
      throw new Error(`these tests need Chromium at ${CHROMIUM} (apt-get install -y chromium, as .ci/run does)`)
    }
    // Playwright gives the browser a fresh profile of its own, headless.
    return chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
  }),
  (browser) => Effect.promise(() => browser.close())
)

export const email = (name: string) => `${name}.${randomBytes(4).toString("hex")}@example.com`
export const PASSWORD = "correct horse battery"

export const signUp = async (page: Page, url: string, name: string, address: string) => {
  await page.goto(url)
  await page.getByRole("tab", { name: "Sign up" }).click()
  await page.getByLabel("Name").fill(name)
  await page.getByLabel("Email").fill(address)
  await page.getByLabel("Password").fill(PASSWORD)
  await page.getByRole("button", { name: "Create account" }).click()
}

export const composer = (page: Page) => page.locator(".timeline .composer textarea")

export const say = async (page: Page, text: string) => {
  await composer(page).fill(text)
  await composer(page).press("Enter")
}

/** Waits until the timeline shows `text` as a stored message (not a pending send, not a reply in progress). */
export const shows = (page: Page, text: string) =>
  page.locator(".timeline article.message:not(.pending):not(.streaming) .text", { hasText: text }).first().waitFor()

/**
 * The app built, a server process of its own (named `name`) over a fresh
 * database, and Chromium with one page where Ana signed up and made the
 * workspace "Acme": the page shows its #general.
 */
export const anaInAcme = (name: string) =>
  Effect.gen(function*() {
    yield* buildApp
    const database = yield* Database.makeTestDatabase
    const port = yield* freePort
    const node = yield* startNode(database, { PORT: String(port) }, name)
    const browser = yield* launch
    const context = yield* Effect.promise(() => browser.newContext({ viewport: { width: 1200, height: 800 } }))
    const page = yield* Effect.promise(() => context.newPage())
    yield* Effect.promise(async () => {
      await signUp(page, node.url, "Ana", email("ana"))
      await page.getByLabel("Workspace name").fill("Acme")
      await page.getByRole("button", { name: "Create workspace" }).click()
      await page.getByRole("heading", { name: "# general" }).waitFor()
    })
    return { node, browser, context, page }
  })
