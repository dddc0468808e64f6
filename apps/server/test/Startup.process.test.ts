/**
 * A real server process starting: every connection made from the moment the
 * port opens is answered (503 while the application is not attached yet,
 * then the real answer); none is left hanging.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Database from "@troupe/store/Database"
import { Effect, Redacted } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { stopGracefully } from "../src/testing/NodeProcess.js"
import { testConfig } from "./Harness.js"
import { freePort } from "./Processes.js"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

type Outcome = { readonly kind: "refused" } | { readonly kind: "answered"; readonly status: number } | {
  readonly kind: "hung"
}

/** One request: refused at connect, answered with a status, or no answer within 10 s (a hang). */
const attempt = (url: string) =>
  Effect.promise(async (): Promise<Outcome> => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
      await res.text()
      return { kind: "answered", status: res.status }
    } catch (e) {
      const code = e instanceof Error && typeof e.cause === "object" && e.cause !== null
        ? Reflect.get(e.cause, "code")
        : undefined
      if (code === "ECONNREFUSED") return { kind: "refused" }
      if (e instanceof Error && e.name === "TimeoutError") return { kind: "hung" }
      return { kind: "refused" }
    }
  })

describe("a server process starting up", () => {
  it.live("answers every request made while it starts; none hangs", () =>
    Effect.gen(function*() {
      const database = yield* Database.makeTestDatabase
      const port = yield* freePort
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, ["--import", "tsx", main], {
            env: {
              PATH: process.env["PATH"] ?? "",
              HOME: process.env["HOME"] ?? "/tmp",
              DATABASE_URL: Redacted.value(database),
              PORT: String(port),
              HOST: "127.0.0.1"
            },
            stdio: "ignore"
          })
        ),
        (child) => stopGracefully(child)
      )
      const outcomes: Array<Outcome> = []
      const url = `http://127.0.0.1:${port}/health/ready`
      while (child.exitCode === null) {
        const burst = yield* Effect.all(Array.from({ length: 4 }, () => attempt(url)), { concurrency: "unbounded" })
        outcomes.push(...burst)
        if (burst.some((o) => o.kind === "answered" && o.status === 200)) break
        if (outcomes.length > 20_000) break
      }
      expect(outcomes.filter((o) => o.kind === "hung")).toEqual([])
      const answered = outcomes.flatMap((o) => o.kind === "answered" ? [o.status] : [])
      expect(answered).toContain(200)
      expect(answered.filter((s) => s !== 200 && s !== 503)).toEqual([])
    }).pipe(Effect.scoped, Effect.provide(testConfig())), 180_000)
})
