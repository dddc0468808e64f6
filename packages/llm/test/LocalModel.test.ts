import { assert, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { type CompletionRequest, LanguageModel, type ModelChunk, type ToolSpec } from "../src/LanguageModel.js"
import * as LocalModel from "../src/LocalModel.js"

const remember: ToolSpec = {
  name: "remember",
  description: "Stores a fact for later",
  parameters: { type: "object", properties: { fact: { type: "string" } }, required: ["fact"] }
}

const ask = (text: string, tools: ReadonlyArray<ToolSpec> = []): CompletionRequest => ({
  model: "local",
  messages: [{ role: "system", content: "You are a helpful teammate." }, { role: "user", content: text }],
  tools
})

const collect = (request: CompletionRequest) =>
  Effect.flatMap(LanguageModel, (model) => Stream.runCollect(model.stream(request))).pipe(
    Effect.map(Chunk.toReadonlyArray),
    Effect.provide(LocalModel.layer)
  )

const textOf = (chunks: ReadonlyArray<ModelChunk>) =>
  chunks.flatMap((chunk) => (chunk._tag === "Delta" ? [chunk.text] : [])).join("")

// Live clock: the local model pauses between chunks.
it.live("replies deterministically, labelled, in several deltas, then usage", () =>
  Effect.gen(function*() {
    const request = ask("What   is the plan\nfor Friday?")
    const first = yield* collect(request)
    const second = yield* collect(request)
    assert.deepStrictEqual(first, second)

    const text = textOf(first)
    assert.strictEqual(text, "[local model] You said: What is the plan for Friday?")
    assert.isAtLeast(first.filter((chunk) => chunk._tag === "Delta").length, 3)
    assert.deepStrictEqual(first[first.length - 1], {
      _tag: "Usage",
      inputTokens: Math.ceil(("You are a helpful teammate." + "What   is the plan\nfor Friday?").length / 4),
      outputTokens: Math.ceil(text.length / 4)
    })
    const model = yield* Effect.provide(LanguageModel, LocalModel.layer)
    assert.strictEqual(model.name, "local")
  }))

it.live("streams: deltas arrive over time, not all at once", () =>
  Effect.gen(function*() {
    const model = LocalModel.make({ chunkDelay: "20 millis" })
    const times: Array<number> = []
    yield* Stream.runForEach(model.stream(ask("one two three four")), () => Effect.sync(() => times.push(Date.now())))
    assert.isAtLeast(times[times.length - 1]! - times[0]!, 40)
  }))

it.live("calls the remember tool, then acknowledges the tool result", () =>
  Effect.gen(function*() {
    const request = ask("Please REMEMBER that the deploy is on Friday", [remember])
    const chunks = yield* collect(request)
    assert.strictEqual(textOf(chunks), "")
    const calls = chunks.flatMap((chunk) => (chunk._tag === "ToolCall" ? [chunk.call] : []))
    assert.strictEqual(calls.length, 1)
    const call = calls[0]!
    assert.strictEqual(call.name, "remember")
    assert.deepStrictEqual(JSON.parse(call.arguments), { fact: "the deploy is on Friday" })
    assert.strictEqual(chunks[chunks.length - 1]?._tag, "Usage")
    assert.deepStrictEqual(yield* collect(request), chunks)

    const followUp: CompletionRequest = {
      ...request,
      messages: [
        ...request.messages,
        { role: "assistant", content: "", toolCalls: [call] },
        { role: "tool", toolCallId: call.id, content: "ok" }
      ]
    }
    const reply = yield* collect(followUp)
    assert.strictEqual(textOf(reply), "[local model] Noted: the deploy is on Friday.")
    assert.isAtLeast(reply.filter((chunk) => chunk._tag === "Delta").length, 3)
    assert.isFalse(reply.some((chunk) => chunk._tag === "ToolCall"))

    // A new user message starts over.
    const next = yield* collect({
      ...followUp,
      messages: [...followUp.messages, { role: "user", content: "remember the milk" }]
    })
    const again = next.find((chunk) => chunk._tag === "ToolCall")
    assert.strictEqual(again?._tag === "ToolCall" ? again.call.arguments : undefined, "{\"fact\":\"the milk\"}")
  }))

it.live("without the remember tool, or without the word, it just echoes", () =>
  Effect.gen(function*() {
    const noTool = yield* collect(ask("remember that the sky is blue"))
    assert.strictEqual(textOf(noTool), "[local model] You said: remember that the sky is blue")
    const noWord = yield* collect(ask("rememberance is not the word", [remember]))
    assert.strictEqual(textOf(noWord), "[local model] You said: rememberance is not the word")
  }))

it("factOf takes the text after the word, without a leading that", () => {
  assert.strictEqual(LocalModel.factOf("remember that  Ada likes tea "), "Ada likes tea")
  assert.strictEqual(LocalModel.factOf("Can you Remember: thatcher"), "thatcher")
  assert.strictEqual(LocalModel.factOf("remember that the demo is at 3."), "the demo is at 3")
  assert.isUndefined(LocalModel.factOf("please remember"))
  assert.isUndefined(LocalModel.factOf("nothing here"))
})
