/**
 * Signing in through an identity provider in a real browser: a real
 * `oidc-provider` (interactions finished by the provider itself, as the
 * chosen account), a real server process configured for it, and the app's
 * "Sign in with …" button, the provider's redirects, the callback and the
 * one-time code exchange. Every wait is for something on the page.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, it } from "@effect/vitest"
import { freePort, startNode } from "@troupe/server/testing/NodeProcess"
import * as OidcProvider from "@troupe/server/testing/OidcProvider"
import * as Database from "@troupe/store/Database"
import { Effect } from "effect"
import { buildApp, email, launch } from "./BrowserHarness.js"

describe("sign-in through an identity provider in the web app", () => {
  it.live(
    "the button signs a new person in; her domain brings a colleague in; an unverified address is refused",
    () =>
      Effect.gen(function*() {
        yield* buildApp
        const port = yield* freePort
        const provider = yield* OidcProvider.make(`http://127.0.0.1:${port}/v1/auth/oidc/callback`)
        const database = yield* Database.makeTestDatabase
        const node = yield* startNode(database, {
          PORT: String(port),
          OIDC_ISSUER: provider.url,
          OIDC_CLIENT_ID: provider.clientId,
          OIDC_CLIENT_SECRET: provider.clientSecret,
          OIDC_DISPLAY_NAME: "Test IdP"
        }, "web-oidc")
        const browser = yield* launch
        const page = yield* Effect.promise(() => browser.newPage())
        yield* Effect.promise(async () => {
          provider.signInAs = provider.add({ email: email("zoe"), name: "Zoe", verified: true })
          await page.goto(node.url)
          await page.getByRole("link", { name: "Sign in with Test IdP" }).click()
          // Back in the app, signed in: a new person is asked to make a first workspace.
          await page.getByRole("heading", { name: "Welcome, Zoe" }).waitFor()
          await page.waitForURL(`${node.url}/`)
          // Zoe makes a workspace and, as its owner, takes in everyone at her company's domain.
          await page.getByLabel("Workspace name").fill("Zoe Co")
          await page.getByRole("button", { name: "Create workspace" }).click()
          await page.getByRole("heading", { name: "# general" }).waitFor()
          await page.getByRole("button", { name: "People" }).click()
          const domains = page.getByRole("form", { name: "E-mail domains" })
          await domains.getByLabel("E-mail domains").fill("Zoe-Co.test, ")
          await domains.getByRole("button", { name: "Save" }).click()
          await domains.getByLabel("E-mail domains").and(page.locator("[value='zoe-co.test']")).waitFor()

          // Ida, at that domain, signs in through the provider and lands in the workspace's #general.
          const ida = await (await browser.newContext()).newPage()
          provider.signInAs = provider.add({
            email: email("ida").replace("@example.com", "@zoe-co.test"),
            name: "Ida",
            verified: true
          })
          await ida.goto(node.url)
          await ida.getByRole("link", { name: "Sign in with Test IdP" }).click()
          await ida.getByRole("heading", { name: "# general" }).waitFor()

          // Someone else, in a browser of their own (the provider remembers whoever signed in in one).
          const other = await (await browser.newContext()).newPage()
          provider.signInAs = provider.add({ email: email("eve"), name: "Eve", verified: false })
          await other.goto(node.url)
          await other.getByRole("link", { name: "Sign in with Test IdP" }).click()
          await other.getByRole("alert").filter({ hasText: "not verified" }).waitFor()
          await other.getByRole("button", { name: "Create account" }).waitFor()
        })
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)),
    180_000
  )
})
