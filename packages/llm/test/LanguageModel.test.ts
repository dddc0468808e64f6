import { assert, it } from "@effect/vitest"
import { Chunk, Effect, Either, Fiber, Stream, TestClock } from "effect"
import { type ModelChunk, ModelError, withRetry } from "../src/LanguageModel.js"

const delta = (text: string): ModelChunk => ({ _tag: "Delta", text })
const serverError = new ModelError({ reason: "ServerError", retryable: true, message: "boom" })

/** A stream factory that fails the first `failures` attempts with `error` (after emitting `before`). */
const flaky = (failures: number, error: ModelError, before: ReadonlyArray<ModelChunk> = []) => {
  let attempts = 0
  const make = () =>
    Stream.suspend(() => {
      attempts++
      return attempts <= failures
        ? Stream.concat(Stream.fromIterable(before), Stream.fail(error))
        : Stream.fromIterable([delta("ok"), { _tag: "Usage", inputTokens: 1, outputTokens: 1 } as const])
    })
  return { make, attempts: () => attempts }
}

it.effect("retries before the first chunk with exponential backoff", () =>
  Effect.gen(function*() {
    const source = flaky(2, serverError)
    const fiber = yield* Effect.fork(Stream.runCollect(withRetry(source.make, { baseDelay: "1 second" })))
    // 1 second then 2 seconds, each with ±20% jitter.
    yield* TestClock.adjust("790 millis")
    assert.strictEqual(source.attempts(), 1)
    yield* TestClock.adjust("420 millis")
    assert.strictEqual(source.attempts(), 2)
    yield* TestClock.adjust("3 seconds")
    const chunks = yield* Fiber.join(fiber)
    assert.strictEqual(source.attempts(), 3)
    assert.deepStrictEqual(Chunk.toReadonlyArray(chunks)[0], delta("ok"))
  }))

it.effect("waits exactly retryAfterMs when the provider gives one", () =>
  Effect.gen(function*() {
    const limited = new ModelError({ reason: "RateLimited", retryable: true, retryAfterMs: 5000, message: "slow down" })
    const source = flaky(1, limited)
    const fiber = yield* Effect.fork(Stream.runCollect(withRetry(source.make, { baseDelay: "1 millis" })))
    yield* TestClock.adjust("4999 millis")
    assert.strictEqual(source.attempts(), 1)
    yield* TestClock.adjust("1 millis")
    yield* Fiber.join(fiber)
    assert.strictEqual(source.attempts(), 2)
  }))

it.effect("does not retry once a chunk went out, nor errors that are not retryable", () =>
  Effect.gen(function*() {
    const midStream = flaky(1, serverError, [delta("partial")])
    const first = yield* Effect.either(Stream.runCollect(withRetry(midStream.make, { baseDelay: "1 millis" })))
    assert.isTrue(Either.isLeft(first))
    assert.strictEqual(midStream.attempts(), 1)

    const bad = new ModelError({ reason: "BadRequest", retryable: false, message: "no" })
    const rejected = flaky(1, bad)
    const second = yield* Effect.either(Stream.runCollect(withRetry(rejected.make)))
    assert.deepStrictEqual(second, Either.left(bad))
    assert.strictEqual(rejected.attempts(), 1)
  }))

it.effect("gives up after maxAttempts with the last error", () =>
  Effect.gen(function*() {
    const source = flaky(10, serverError)
    const fiber = yield* Effect.fork(Effect.either(Stream.runCollect(withRetry(source.make, { maxAttempts: 4 }))))
    yield* TestClock.adjust("1 minute")
    assert.deepStrictEqual(yield* Fiber.join(fiber), Either.left(serverError))
    assert.strictEqual(source.attempts(), 4)
  }))

it.effect("times out a missing first chunk and an idle stream", () =>
  Effect.gen(function*() {
    const silent = withRetry(() => Stream.never, { maxAttempts: 1, firstChunkTimeout: "10 seconds" })
    const fiber = yield* Effect.fork(Effect.either(Stream.runCollect(silent)))
    yield* TestClock.adjust("10 seconds")
    const result = yield* Fiber.join(fiber)
    assert.isTrue(Either.isLeft(result) && result.left.reason === "Timeout" && result.left.retryable)

    const stalls = withRetry(() => Stream.concat(Stream.make(delta("hi")), Stream.never), { idleTimeout: "3 seconds" })
    const stalled = yield* Effect.fork(Effect.either(Stream.runCollect(stalls)))
    yield* TestClock.adjust("3 seconds")
    const outcome = yield* Fiber.join(stalled)
    assert.isTrue(Either.isLeft(outcome) && outcome.left.reason === "Timeout")
  }))

/** A stream factory whose attempts follow `script`: each entry fails after emitting its chunks; past the end, "ok". */
const scripted = (script: ReadonlyArray<ReadonlyArray<ModelChunk>>) => {
  let attempts = 0
  const make = () =>
    Stream.suspend(() => {
      const before = script[attempts]
      attempts++
      return before === undefined
        ? Stream.make(delta("ok"))
        : Stream.concat(Stream.fromIterable(before), Stream.fail(serverError))
    })
  return { make, attempts: () => attempts }
}

it.effect("with onRestart, a reply broken midway is restarted, and one budget bounds every attempt", () =>
  Effect.gen(function*() {
    // Attempt 1 fails before any chunk, attempt 2 midway, attempt 3 succeeds.
    const script = [[], [delta("part")]]
    let restarts = 0
    const onRestart = Effect.sync(() => restarts++)
    const source = scripted(script)
    const fiber = yield* Effect.fork(
      Stream.runCollect(withRetry(source.make, { baseDelay: "1 millis", maxAttempts: 3, onRestart }))
    )
    yield* TestClock.adjust("1 second")
    const chunks = Chunk.toReadonlyArray(yield* Fiber.join(fiber))
    assert.deepStrictEqual(chunks, [delta("part"), delta("ok")])
    assert.strictEqual(source.attempts(), 3)
    // Only the attempt after the broken reply was preceded by a restart.
    assert.strictEqual(restarts, 1)

    // The same failures with two attempts in all: the call fails after the second, not 2 × 2 calls.
    const short = scripted(script)
    const failed = yield* Effect.fork(
      Effect.either(Stream.runCollect(withRetry(short.make, { baseDelay: "1 millis", maxAttempts: 2, onRestart })))
    )
    yield* TestClock.adjust("1 second")
    assert.deepStrictEqual(yield* Fiber.join(failed), Either.left(serverError))
    assert.strictEqual(short.attempts(), 2)
  }))
