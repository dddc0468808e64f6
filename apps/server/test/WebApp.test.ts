/**
 * The server serves the built browser app next to the API: files with the
 * right caching, the app for a browser's own routes, and the API's JSON 404
 * everywhere else.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { raw, TestServer } from "./Harness.js"

const html = "<!doctype html><title>Troupe</title><script src=\"/assets/app-1234.js\"></script>"

/** A build folder like Vite's. */
const build = () => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "troupe-web-"))
  Fs.mkdirSync(Path.join(dir, "assets"))
  Fs.writeFileSync(Path.join(dir, "index.html"), html)
  Fs.writeFileSync(Path.join(dir, "assets", "app-1234.js"), "console.log('app')")
  return dir
}

const browser = { accept: "text/html,application/xhtml+xml" }

describe("the web app", () => {
  it.layer(TestServer({ WEB_DIST: build() }))("built", (it) => {
    it.effect("serves index.html at / for revalidation, with an ETag and a 304 when unchanged", () =>
      Effect.gen(function*() {
        const page = yield* raw("GET", "/", { headers: browser })
        expect(page.status).toBe(200)
        expect(page.text).toBe(html)
        expect(page.headers.get("content-type")).toContain("text/html")
        expect(page.headers.get("cache-control")).toBe("no-cache")
        expect(page.headers.get("content-security-policy")).toContain("default-src 'self'")
        const etag = page.headers.get("etag") ?? ""
        expect(etag).not.toBe("")
        const again = yield* raw("GET", "/", { headers: { ...browser, "if-none-match": etag } })
        expect(again.status).toBe(304)
        expect(again.text).toBe("")
      }))

    it.effect("serves hashed assets as immutable for a year", () =>
      Effect.gen(function*() {
        const script = yield* raw("GET", "/assets/app-1234.js")
        expect(script.status).toBe(200)
        expect(script.text).toBe("console.log('app')")
        expect(script.headers.get("content-type")).toContain("text/javascript")
        expect(script.headers.get("cache-control")).toBe("public, max-age=31536000, immutable")
      }))

    it.effect("answers a browser's navigation to one of the app's routes with the app", () =>
      Effect.gen(function*() {
        const page = yield* raw("GET", "/rooms/0b6f3f9e-3d6a-4d8e-9a53-3c1f0e2b7a11", { headers: browser })
        expect(page.status).toBe(200)
        expect(page.text).toBe(html)
      }))

    it.effect("keeps the API's JSON 404 for unknown API paths, missing files and non-browser clients", () =>
      Effect.gen(function*() {
        for (
          const [path, headers] of [
            ["/v1/nothing-here", browser],
            ["/assets/app-9999.js", browser],
            ["/favicon.png", browser],
            ["/rooms/anything", {}]
          ] as const
        ) {
          const response = yield* raw("GET", path, { headers })
          expect(response.status, path).toBe(404)
          expect(response.json, path).toMatchObject({ _tag: "NotFound" })
        }
        const api = yield* raw("GET", "/health/live", { headers: browser })
        expect(api.json).toEqual({ status: "ok" })
      }))
  })

  it.layer(TestServer({ WEB_DIST: Fs.mkdtempSync(Path.join(Os.tmpdir(), "troupe-no-web-")) }).pipe(Layer.orDie))(
    "not built",
    (it) => {
      it.effect("says how to build it when a browser asks, and leaves the API alone", () =>
        Effect.gen(function*() {
          const page = yield* raw("GET", "/", { headers: browser })
          expect(page.status).toBe(503)
          expect(page.text).toContain("npm run build:web")
          const api = yield* raw("GET", "/v1/nothing-here", { headers: browser })
          expect(api.status).toBe(404)
        }))
    }
  )
})
