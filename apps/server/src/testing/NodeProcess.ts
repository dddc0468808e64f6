/**
 * Real server processes on loopback, for the multi-process tests and the
 * cluster benchmark: each runs `src/main.ts` with its own HTTP port, sharing
 * the database and Redis it is given.
 */
import { Data, Effect, Redacted, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** A server process that exited early or did not become ready. */
export class NodeProcessError extends Data.TaggedError("NodeProcessError")<{ readonly message: string }> {}

const main = fileURLToPath(new URL("../main.ts", import.meta.url))

/** A free loopback port. */
export const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * Stops a child process: asks it to stop (SIGTERM by default), waits for its
 * exit and kills it after 5 s. A child that already exited, or was killed by
 * a signal, is left alone.
 */
export const stopGracefully = (child: ChildProcess, ask: (child: ChildProcess) => void = (c) => c.kill("SIGTERM")) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000)
    child.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    ask(child)
  })

/** A running node. */
export interface Node {
  readonly name: string
  readonly url: string
  /** The cluster port, for a runner. */
  readonly clusterPort: string | undefined
  readonly child: ChildProcess
  /** The last 20,000 characters it wrote. */
  readonly output: () => string
}

const OUTPUT_KEPT = 20_000

/**
 * Starts a node with `env` (plus the database URL, or none for the embedded
 * database, and a free HTTP port unless `env` sets `PORT`), waits until `/health/ready` answers (60 s
 * at most), and stops it when the scope closes.
 */
export const startNode = (
  database: Redacted.Redacted<string> | null,
  env: Record<string, string>,
  name = env["TROUPE_ROLE"] ?? "node"
): Effect.Effect<Node, NodeProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    // A given PORT is kept (a node restarted where its clients expect it); otherwise a free one.
    const port = env["PORT"] === undefined ? yield* freePort : Number(env["PORT"])
    const url = `http://127.0.0.1:${port}`
    let output = ""
    const keep = (d: Buffer) => {
      output += d.toString()
      if (output.length > 2 * OUTPUT_KEPT) output = output.slice(-OUTPUT_KEPT)
    }
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = spawn(process.execPath, ["--max-semi-space-size=64", "--import", "tsx", main], {
          env: {
            PATH: process.env["PATH"] ?? "",
            HOME: process.env["HOME"] ?? "/tmp",
            ...(database === null ? {} : {
              DATABASE_URL: Redacted.value(database),
              // Nodes over one database share one files folder, outside the working tree.
              FILE_STORAGE_DIR: Path.join(
                Os.tmpdir(),
                `troupe-files-${createHash("sha256").update(Redacted.value(database)).digest("hex").slice(0, 16)}`
              )
            }),
            PORT: String(port),
            HOST: "127.0.0.1",
            ...env
          },
          stdio: ["ignore", "pipe", "pipe"]
        })
        child.stdout?.on("data", keep)
        child.stderr?.on("data", keep)
        return child
      }),
      (child) => stopGracefully(child)
    )
    const tail = () => output.slice(-OUTPUT_KEPT)
    const deadline = Date.now() + 60_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        return yield* new NodeProcessError({ message: `${name} exited early:\n${tail()}` })
      }
      const ok = yield* Effect.promise(() =>
        fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false)
      )
      if (ok) return { name, url, clusterPort: env["CLUSTER_RUNNER_PORT"], child, output: tail } satisfies Node
      yield* Effect.sleep("200 millis")
    }
    return yield* new NodeProcessError({ message: `${name} not ready within 60 s:\n${tail()}` })
  })
