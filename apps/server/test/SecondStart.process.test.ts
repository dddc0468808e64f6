/**
 * `npm start` twice: the second server says in one line what is in its way
 * (the data folder, or the port) and exits, instead of dying with a stack
 * trace after a while.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { freePort, startNode } from "./Processes.js"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** Starts the server on the embedded database in `dataDir`, with its output collected. */
const server = (dataDir: string, port: number) => {
  let output = ""
  const child = spawn(process.execPath, ["--import", "tsx", main], {
    env: {
      PATH: process.env["PATH"] ?? "",
      HOME: process.env["HOME"] ?? "/tmp",
      TROUPE_DATA_DIR: dataDir,
      PORT: String(port)
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  child.stdout.on("data", (d: Buffer) => output += d.toString())
  child.stderr.on("data", (d: Buffer) => output += d.toString())
  return { child, output: () => output }
}

/** Waits for a process to exit; its exit code. */
const exited = (child: ChildProcess) =>
  Effect.async<number | null>((resume) => {
    if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
    child.once("exit", (code) => resume(Effect.succeed(code)))
  })

describe("starting a second server", () => {
  it.live(
    "in the same data folder, or on a taken port: one line says what to do, and it exits",
    () =>
      Effect.gen(function*() {
        const dir = yield* Effect.acquireRelease(
          Effect.promise(async () => {
            const dir = await Fs.mkdtemp(Path.join(process.cwd(), ".troupe-test-"))
            await Fs.chmod(dir, 0o755)
            return dir
          }),
          (dir) => Effect.promise(() => Fs.rm(dir, { recursive: true, force: true }))
        )
        const first = yield* startNode(null, { TROUPE_DATA_DIR: Path.join(dir, "one") }, "first")
        const port = Number(new URL(first.url).port)

        const sameFolder = server(Path.join(dir, "one"), yield* freePort)
        expect(yield* exited(sameFolder.child)).toBe(1)
        expect(sameFolder.output()).toContain("Troupe could not start: the data folder")
        expect(sameFolder.output()).toContain("is in use by another running Troupe")
        expect(sameFolder.output()).not.toMatch(/\n\s+at /)

        const samePort = server(Path.join(dir, "two"), port)
        expect(yield* exited(samePort.child)).toBe(1)
        expect(samePort.output()).toContain("Troupe could not start: the HTTP port is already in use")
        expect(samePort.output()).not.toMatch(/\n\s+at /)

        // The first server is unharmed.
        const still = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => r.status))
        expect(still).toBe(200)
      }).pipe(Effect.scoped),
    180_000
  )
})
