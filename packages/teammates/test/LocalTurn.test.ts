/**
 * A kind's turn with no store (`troupe run agent`): the server's model loop,
 * with memory kept in the process, the kind's own tools run, and the tools
 * that need a server answering that they are unavailable.
 */
import { describe, expect, it } from "@effect/vitest"
import { type CompletionRequest, LanguageModel, type ModelChunk } from "@troupe/llm/LanguageModel"
import * as LocalModel from "@troupe/llm/LocalModel"
import { Duration, Effect, Layer, Schema, Stream } from "effect"
import * as Catalog from "../src/Catalog.js"
import { defineTeammate, tool } from "../src/Kind.js"
import * as LocalTurn from "../src/LocalTurn.js"

const settings = {
  maxModelCalls: 5,
  modelAttempts: 1,
  firstChunkTimeout: Duration.seconds(5),
  idleTimeout: Duration.seconds(5)
}

/** Records what a turn streams and calls. */
const recorder = () => {
  const deltas: Array<string> = []
  const tools: Array<{ name: string; output: string }> = []
  return {
    deltas,
    tools,
    hooks: {
      delta: (text: string) => Effect.sync(() => void deltas.push(text)),
      tool: (call: { readonly name: string }, output: string) =>
        Effect.sync(() => void tools.push({ name: call.name, output }))
    }
  }
}

/** A model that asks for the given tool calls first, then answers with the tool results it was given. */
const scripted = (calls: ReadonlyArray<{ name: string; arguments: string }>) =>
  Layer.succeed(
    LanguageModel,
    LanguageModel.of({
      name: "scripted",
      stream: (request: CompletionRequest) => {
        const results = request.messages.flatMap((m) => (m.role === "tool" ? [m.content] : []))
        const chunks: Array<ModelChunk> = results.length === 0
          ? calls.map((c, i) => ({ _tag: "ToolCall", call: { id: `call_${i}`, ...c } }))
          : [{ _tag: "Delta", text: "got " }, { _tag: "Delta", text: results.join(" | ") }]
        return Stream.fromIterable([...chunks, { _tag: "Usage", inputTokens: 10, outputTokens: 2 }])
      }
    })
  )

describe("LocalTurn", () => {
  it.effect("runs a catalog kind with the local model, its memory kept in the process", () =>
    Effect.gen(function*() {
      const researcher = Catalog.templates.find((k) => k.template === "researcher")
      if (researcher === undefined) return expect.fail("no researcher in the catalog")
      const state = LocalTurn.emptyState()
      const seen = recorder()
      const result = yield* LocalTurn.run({
        kind: researcher,
        message: "remember that we ship on Friday",
        person: "Ana",
        model: "local",
        settings,
        state,
        hooks: seen.hooks
      }).pipe(Effect.provide(Layer.succeed(LanguageModel, LocalModel.make({ chunkDelay: 0 }))))
      expect(state.memories).toEqual(["we ship on Friday"])
      expect(seen.tools).toEqual([{ name: "remember", output: "remembered: we ship on Friday" }])
      expect(result.text).toBe("[local model] Noted: we ship on Friday.")
      expect(seen.deltas.join("")).toBe(result.text)
      expect(result.inputTokens).toBeGreaterThan(0)
    }))

  it.effect("runs a kind's own tools, and tells the model which tools need a server", () =>
    Effect.gen(function*() {
      const greeter = defineTeammate({
        template: "greeter",
        name: "Gus",
        handle: "gus",
        role: "Greeter",
        instructions: "Welcome people.",
        tools: ["search_messages"],
        extraTools: [
          tool({
            name: "wave",
            description: "Wave at someone.",
            parameters: Schema.Struct({ person: Schema.String }),
            handler: ({ person }) => Effect.succeed({ waved: person })
          })
        ]
      })
      const seen = recorder()
      const result = yield* LocalTurn.run({
        kind: greeter,
        message: "hello",
        person: "Ana",
        model: "scripted",
        settings,
        state: LocalTurn.emptyState(),
        hooks: seen.hooks
      }).pipe(Effect.provide(scripted([
        { name: "wave", arguments: JSON.stringify({ person: "Ana" }) },
        { name: "search_messages", arguments: JSON.stringify({ query: "launch" }) },
        { name: "wave", arguments: "{}" }
      ])))
      expect(seen.tools.map((t) => t.output)).toEqual([
        "{\"waved\":\"Ana\"}",
        "search_messages is unavailable in a local run: it needs a Troupe server",
        expect.stringMatching(/^invalid arguments: .*person/s)
      ])
      expect(result.text).toMatch(/^got \{"waved":"Ana"\} \| search_messages is unavailable/)
      expect(result).toMatchObject({ inputTokens: 20, outputTokens: 4 })
    }))
})
