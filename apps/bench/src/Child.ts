/**
 * A benchmark helper process (`Load.ts`, `Model.ts`) forked over IPC, with a
 * typed request/reply call into it. The child exits when the channel closes
 * (the scope closing, or this process dying); it is killed if it lingers.
 */
import { stopGracefully } from "@troupe/server/testing/NodeProcess"
import { Data, Effect, type Scope } from "effect"
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { Reply } from "./Protocol.js"

/** A benchmark step that failed. */
export class BenchError extends Data.TaggedError("BenchError")<{ readonly message: string }> {}

/** A forked helper process: `call` sends a command and waits for its result. */
export interface Child<Command extends { readonly type: string }, Results extends Record<Command["type"], unknown>> {
  readonly call: <C extends Command>(command: C) => Effect.Effect<Results[C["type"]], BenchError>
  readonly pid: number | undefined
}

/**
 * Forks `script` (a path relative to this folder) and returns `call`, which
 * sends a command and waits for its result.
 */
export const forkChild = <Command extends { readonly type: string }, Results extends Record<Command["type"], unknown>>(
  script: string
): Effect.Effect<Child<Command, Results>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        fork(fileURLToPath(new URL(script, import.meta.url)), [], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
      ),
      (child) => stopGracefully(child, (c) => c.connected ? c.disconnect() : c.kill("SIGTERM"))
    )
    const pending = new Map<number, (reply: Reply) => void>()
    child.on("message", (reply: Reply) => {
      pending.get(reply.id)?.(reply)
      pending.delete(reply.id)
    })
    child.on("exit", (code) => {
      for (const [id, resume] of pending) resume({ id, ok: false, error: `${script} exited with ${code}` })
      pending.clear()
    })
    let nextId = 0
    const call = <C extends Command>(command: C) =>
      Effect.async<Results[C["type"]], BenchError>((resume) => {
        const id = nextId++
        pending.set(id, (reply) =>
          resume(
            reply.ok
              // The child answers a command with that command's result: the IPC channel cannot carry the type.
              // eslint-disable-next-line @typescript-eslint/consistent-type-assertions
              ? Effect.succeed(reply.result as Results[C["type"]])
              : Effect.fail(new BenchError({ message: reply.error }))
          ))
        child.send({ id, command })
      })
    return { call, pid: child.pid }
  })
