import { assert, it, layer } from "@effect/vitest"
import { Chunk, Effect, Either, Redacted, Ref, Stream } from "effect"
import OpenAI from "openai"
import {
  type CompletionRequest,
  LanguageModel,
  type ModelChunk,
  ModelError,
  streamWithRetry,
  type ToolSpec
} from "../src/LanguageModel.js"
import * as OpenAIModel from "../src/OpenAIModel.js"
import { FakeOpenAI, layerModel } from "../src/testing/FakeOpenAI.js"

const remember: ToolSpec = {
  name: "remember",
  description: "Stores a fact",
  parameters: { type: "object", properties: { fact: { type: "string" } }, required: ["fact"] }
}

const ask = (text: string, tools: ReadonlyArray<ToolSpec> = []): CompletionRequest => ({
  model: "gpt-test",
  messages: [{ role: "system", content: "You are a test." }, { role: "user", content: text }],
  tools
})

const textOf = (chunks: ReadonlyArray<ModelChunk>) =>
  chunks.flatMap((chunk) => (chunk._tag === "Delta" ? [chunk.text] : [])).join("")

/** Requests the fake received whose last user message contained `marker`. */
const requestsWith = (marker: string) =>
  Effect.map(FakeOpenAI, (fake) => fake.requests().filter((body) => JSON.stringify(body.messages).includes(marker)))

/** The typed failure of a stream; a success or a defect fails the test. */
const failureOf = <A>(stream: Stream.Stream<A, ModelError>) =>
  Effect.gen(function*() {
    const result = yield* Effect.either(Stream.runDrain(stream))
    if (Either.isRight(result)) return assert.fail("expected a failure")
    assert.instanceOf(result.left, ModelError)
    return result.left
  })

const fast = { baseDelay: "10 millis", firstChunkTimeout: "5 seconds", idleTimeout: "5 seconds" } as const

// Real time throughout: sockets, sleeps and timeouts.
layer(layerModel, { timeout: "30 seconds", excludeTestServices: true })("OpenAIModel", (it) => {
  it.effect("streams text as several deltas and ends with usage", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      assert.strictEqual(model.name, "openai")
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(model.stream(ask("hello there, streaming world"))))
      const deltas = chunks.filter((chunk) => chunk._tag === "Delta")
      assert.isAtLeast(deltas.length, 3)
      assert.strictEqual(textOf(chunks), "echo: hello there, streaming world")
      const last = chunks[chunks.length - 1]
      assert.strictEqual(last?._tag, "Usage")
      if (last?._tag === "Usage") {
        assert.isAbove(last.inputTokens, 0)
        assert.isAbove(last.outputTokens, 0)
      }
      const [sent] = yield* requestsWith("hello there, streaming world")
      assert.strictEqual(sent?.stream, true)
      assert.deepStrictEqual(sent?.stream_options, { include_usage: true })
      assert.isUndefined(sent?.tools)
    }))

  it.effect("reassembles a streamed tool call and completes the round trip", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      const args = JSON.stringify({ fact: "the deploy is on Friday, after the standup", tags: ["ops", "deploy"] })
      const request = ask(`please note [[tool:remember:${args}]]`, [remember])
      const chunks = Chunk.toReadonlyArray(yield* Stream.runCollect(model.stream(request)))
      const calls = chunks.flatMap((chunk) => (chunk._tag === "ToolCall" ? [chunk.call] : []))
      assert.strictEqual(calls.length, 1)
      const call = calls[0]!
      assert.strictEqual(call.name, "remember")
      assert.isTrue(call.id.length > 0)
      assert.deepStrictEqual(JSON.parse(call.arguments), JSON.parse(args))
      assert.strictEqual(textOf(chunks), "")
      assert.strictEqual(chunks[chunks.length - 1]?._tag, "Usage")

      const [sent] = yield* requestsWith("please note")
      assert.deepStrictEqual(sent?.tools, [{
        type: "function",
        function: { name: remember.name, description: remember.description, parameters: remember.parameters }
      }])

      const followUp: CompletionRequest = {
        ...request,
        messages: [
          ...request.messages,
          { role: "assistant", content: "", toolCalls: [call] },
          { role: "tool", toolCallId: call.id, content: "stored" }
        ]
      }
      const answer = yield* Stream.runCollect(model.stream(followUp))
      assert.strictEqual(textOf(Chunk.toReadonlyArray(answer)), "done: stored")
      const sentAgain = (yield* requestsWith("please note"))[1]
      const messages = sentAgain?.messages
      assert.isTrue(Array.isArray(messages))
      if (Array.isArray(messages)) {
        assert.deepStrictEqual(messages[2], {
          role: "assistant",
          content: null,
          tool_calls: [{ id: call.id, type: "function", function: { name: "remember", arguments: call.arguments } }]
        })
        assert.deepStrictEqual(messages[3], { role: "tool", tool_call_id: call.id, content: "stored" })
      }
    }))

  it.effect("retries server errors before the first chunk, then completes", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      const chunks = yield* Stream.runCollect(streamWithRetry(model, ask("flaky [[500x2]] one"), fast))
      assert.strictEqual(textOf(Chunk.toReadonlyArray(chunks)), "echo: flaky one")
      assert.strictEqual((yield* requestsWith("flaky [[500x2]] one")).length, 3)
    }))

  it.effect("honours retry-after on 429 and gives up after maxAttempts", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      const direct = yield* failureOf(model.stream(ask("limited [[429]] once")))
      assert.strictEqual(direct.reason, "RateLimited")
      assert.isTrue(direct.retryable)
      assert.strictEqual(direct.retryAfterMs, 50)

      const started = Date.now()
      const error = yield* failureOf(
        streamWithRetry(model, ask("limited [[429]] twice"), { ...fast, baseDelay: "1 millis", maxAttempts: 3 })
      )
      assert.strictEqual(error.reason, "RateLimited")
      assert.isAtLeast(Date.now() - started, 100)
      assert.strictEqual((yield* requestsWith("limited [[429]] twice")).length, 3)
    }))

  it.effect("fails with ServerError after maxAttempts when the 500 persists", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      const error = yield* failureOf(streamWithRetry(model, ask("down [[500]]"), { ...fast, maxAttempts: 3 }))
      assert.strictEqual(error.reason, "ServerError")
      assert.isTrue(error.retryable)
      assert.strictEqual((yield* requestsWith("down [[500]]")).length, 3)
    }))

  it.effect("does not retry a bad request", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      const error = yield* failureOf(streamWithRetry(model, ask("wrong [[400]]"), fast))
      assert.strictEqual(error.reason, "BadRequest")
      assert.isFalse(error.retryable)
      assert.strictEqual((yield* requestsWith("wrong [[400]]")).length, 1)
    }))

  it.effect("a connection broken mid-stream is a ModelError and is not retried", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      const seen = yield* Ref.make<ReadonlyArray<ModelChunk>>([])
      const error = yield* failureOf(
        streamWithRetry(model, ask("cut off [[broken]] here, with a longer text"), fast).pipe(
          Stream.tap((chunk) => Ref.update(seen, (chunks) => [...chunks, chunk]))
        )
      )
      assert.strictEqual(error.reason, "Unavailable")
      assert.strictEqual((yield* Ref.get(seen)).filter((chunk) => chunk._tag === "Delta").length, 2)
      assert.strictEqual((yield* requestsWith("cut off [[broken]]")).length, 1)
    }))

  it.effect("a stream without a finish reason or with unparsable data is Malformed", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      const truncated = yield* failureOf(model.stream(ask("short [[truncated]]")))
      assert.strictEqual(truncated.reason, "Malformed")
      assert.isTrue(truncated.retryable)
      const garbage = yield* failureOf(model.stream(ask("noise [[garbage]]")))
      assert.strictEqual(garbage.reason, "Malformed")
    }))

  it.effect("a stream idle longer than the idle timeout fails with Timeout, not retried", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      const error = yield* failureOf(
        streamWithRetry(model, ask("sleepy [[slow:400]] stream"), { ...fast, idleTimeout: "150 millis" })
      )
      assert.strictEqual(error.reason, "Timeout")
      assert.isTrue(error.retryable)
      assert.strictEqual((yield* requestsWith("sleepy [[slow:400]]")).length, 1)
    }))

  it.effect("a late first chunk times out and is retried", () =>
    Effect.gen(function*() {
      const model = yield* LanguageModel
      const error = yield* failureOf(
        streamWithRetry(model, ask("late [[delay:400]] reply"), {
          ...fast,
          maxAttempts: 2,
          firstChunkTimeout: "150 millis"
        })
      )
      assert.strictEqual(error.reason, "Timeout")
      assert.strictEqual((yield* requestsWith("late [[delay:400]]")).length, 2)
    }))

  it.effect("the fake also answers non-streaming requests", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOpenAI
      const client = new OpenAI({ baseURL: fake.baseURL, apiKey: "fake-key", maxRetries: 0 })
      const completion = yield* Effect.promise(() =>
        client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "plain [[slow:1]]" }] })
      )
      assert.strictEqual(completion.choices[0]?.message.content, "echo: plain")
      assert.isAbove(completion.usage?.total_tokens ?? 0, 0)
      const withTool = yield* Effect.promise(() =>
        client.chat.completions.create({
          model: "gpt-test",
          messages: [{ role: "user", content: "[[tool:remember:{\"fact\":\"x\"}]]" }]
        })
      )
      assert.strictEqual(withTool.choices[0]?.finish_reason, "tool_calls")
      const call = withTool.choices[0]?.message.tool_calls?.[0]
      assert.strictEqual(call?.type === "function" ? call.function.arguments : undefined, "{\"fact\":\"x\"}")
    }))
})

it.live("a refused connection is Unavailable and retryable", () =>
  Effect.gen(function*() {
    const error = yield* failureOf(
      Stream.unwrap(Effect.map(LanguageModel, (model) => model.stream(ask("hi")))).pipe(
        Stream.provideLayer(OpenAIModel.layer({ baseURL: "http://127.0.0.1:1/v1", apiKey: Redacted.make("k") }))
      )
    )
    assert.strictEqual(error.reason, "Unavailable")
    assert.isTrue(error.retryable)
  }))
