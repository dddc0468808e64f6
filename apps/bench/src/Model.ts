/**
 * The fake OpenAI-compatible model (`@troupe/llm/testing/FakeOpenAI`) in a
 * process of its own, so the model's own work shares neither the server's nor
 * the load generator's event loop. Answers `ModelCommand`s over IPC.
 */
import * as FakeOpenAI from "@troupe/llm/testing/FakeOpenAI"
import { Effect, Exit, Scope } from "effect"
import type { ModelCommand, ModelResults, Reply, Request } from "./Protocol.js"

const scope = Effect.runSync(Scope.make())
const fake = Effect.runPromise(Scope.extend(FakeOpenAI.make, scope))

const run = async (command: ModelCommand): Promise<ModelResults[ModelCommand["type"]]> => {
  const server = await fake
  switch (command.type) {
    case "start":
      return { baseURL: server.baseURL }
    case "requests": {
      const all = server.requests()
      return { requests: all.slice(Math.max(0, all.length - command.last)), total: all.length }
    }
  }
}

process.on("message", (message: Request<ModelCommand>) => {
  run(message.command).then(
    (result): Reply => ({ id: message.id, ok: true, result }),
    (error: unknown): Reply => ({
      id: message.id,
      ok: false,
      error: error instanceof Error ? error.message : String(error)
    })
  ).then((reply) => process.send?.(reply))
})
process.on("disconnect", () => {
  Effect.runPromise(Scope.close(scope, Exit.void)).finally(() => process.exit(0))
})
