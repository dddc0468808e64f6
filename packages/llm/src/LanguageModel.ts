/**
 * The language-model port used by teammates: a streaming chat completion with
 * tool calls, a small error taxonomy, and one retry schedule for a call.
 */
import { Chunk, Clock, Context, Data, Duration, Effect, Option, Schedule, Stream } from "effect"

/** A tool the model may call: a name, what it does, and its parameters as a JSON Schema object. */
export interface ToolSpec {
  readonly name: string
  readonly description: string
  /** JSON Schema object describing the arguments. */
  readonly parameters: Record<string, unknown>
}

/** One complete tool call requested by the model. */
export interface ToolCall {
  readonly id: string
  readonly name: string
  /** The arguments as JSON text, exactly as the model produced them. */
  readonly arguments: string
}

/** One message of a conversation sent to the model. */
export type ChatMessage =
  | { readonly role: "system" | "user"; readonly content: string; readonly name?: string | undefined }
  | { readonly role: "assistant"; readonly content: string; readonly toolCalls?: ReadonlyArray<ToolCall> | undefined }
  | { readonly role: "tool"; readonly toolCallId: string; readonly content: string }

/** A request for one streamed completion. */
export interface CompletionRequest {
  readonly model: string
  readonly messages: ReadonlyArray<ChatMessage>
  readonly tools: ReadonlyArray<ToolSpec>
  readonly maxTokens?: number | undefined
}

/**
 * One piece of a streamed completion: some text, one complete tool call
 * (arguments fully accumulated), or the token usage (usually last).
 */
export type ModelChunk =
  | { readonly _tag: "Delta"; readonly text: string }
  | { readonly _tag: "ToolCall"; readonly call: ToolCall }
  | { readonly _tag: "Usage"; readonly inputTokens: number; readonly outputTokens: number }

/** Why a model call failed, whether trying again may help, and how long the provider asked us to wait. */
export class ModelError extends Data.TaggedError("ModelError")<{
  readonly reason: "RateLimited" | "ServerError" | "Timeout" | "Malformed" | "BadRequest" | "Unavailable"
  readonly retryable: boolean
  readonly retryAfterMs?: number | undefined
  readonly message: string
}> {}

/** The port: a named model that streams completions. */
export class LanguageModel extends Context.Tag("@troupe/llm/LanguageModel")<LanguageModel, {
  /** Which implementation this is, e.g. "openai" or "local". */
  readonly name: string
  /** Streams one completion. Never retries by itself; see {@link withRetry}. */
  readonly stream: (request: CompletionRequest) => Stream.Stream<ModelChunk, ModelError>
}>() {}

/** Options of {@link withRetry}; every field has a default. */
export interface RetryOptions {
  /**
   * Attempts in all, including the first (default 3). This bounds every
   * retry of the call together: failures before the first chunk and, with
   * `onRestart`, restarts of a reply that broke midway.
   */
  readonly maxAttempts?: number | undefined
  /** Delay before the second attempt; doubles each time (default 250 millis). */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** Upper bound of the computed backoff; a provider's retry-after is honoured as given (default 10 seconds). */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** Per attempt: the longest wait for the first chunk (default 60 seconds). */
  readonly firstChunkTimeout?: Duration.DurationInput | undefined
  /** The longest wait between two chunks once the first has arrived (default 30 seconds). */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /**
   * Without it, a stream that fails after a chunk went out is not retried
   * (the chunks cannot be taken back). With it, such a stream is retried too:
   * `onRestart` runs before the new attempt so the consumer can discard what
   * the broken one gave it.
   */
  readonly onRestart?: Effect.Effect<void> | undefined
}

/**
 * When to try a failed model call again: exponential backoff from
 * `baseDelay` with ±20% jitter, capped at `maxDelay`, or exactly the
 * provider's `retryAfterMs` when it gave one; only retryable errors, and at
 * most `maxAttempts` attempts in all.
 */
export const retrySchedule = (options: RetryOptions = {}): Schedule.Schedule<ModelError, ModelError> => {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3)
  const maxDelay = Duration.decode(options.maxDelay ?? Duration.seconds(10))
  return Schedule.exponential(options.baseDelay ?? Duration.millis(250)).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((_, delay) => Duration.min(delay, maxDelay)),
    Schedule.intersect(Schedule.recurs(maxAttempts - 1)),
    Schedule.whileInput((error: ModelError) => error.retryable),
    Schedule.passthrough,
    Schedule.modifyDelay((error, delay) =>
      error.retryAfterMs === undefined ? delay : Duration.millis(error.retryAfterMs)
    )
  )
}

/** Options of {@link withTimeouts}. */
export interface TimeoutOptions {
  /** The longest wait for the first chunk. */
  readonly firstChunk: Duration.DurationInput
  /** The longest wait between two chunks once the first has arrived. */
  readonly idle: Duration.DurationInput
}

const timeoutError = (which: "first chunk" | "next chunk", after: Duration.DurationInput) =>
  new ModelError({
    reason: "Timeout",
    retryable: true,
    message: `No ${which} from the model within ${Duration.format(Duration.decode(after))}`
  })

/**
 * Fails a stream with a retryable `Timeout` error when its first chunk takes
 * longer than `firstChunk`, or when a later chunk takes longer than `idle`.
 * Note that a tool call is one chunk: the idle timer also runs while its
 * arguments are being generated.
 */
export const withTimeouts = (
  stream: Stream.Stream<ModelChunk, ModelError>,
  options: TimeoutOptions
): Stream.Stream<ModelChunk, ModelError> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const pull = yield* Stream.toPull(stream)
    const firstChunk = Duration.toMillis(options.firstChunk)
    const deadline = (yield* Clock.currentTimeMillis) + firstChunk
    let started = false
    const next = Effect.gen(function*() {
      // Before the first chunk the deadline is fixed; afterwards each wait gets the idle budget.
      const duration = started
        ? options.idle
        : Duration.millis(Math.max(0, deadline - (yield* Clock.currentTimeMillis)))
      const chunk = yield* pull.pipe(
        Effect.timeoutFail({
          duration,
          onTimeout: () =>
            Option.some(started ? timeoutError("next chunk", options.idle) : timeoutError("first chunk", firstChunk))
        })
      )
      if (Chunk.isNonEmpty(chunk)) started = true
      return chunk
    })
    return Stream.repeatEffectChunkOption(next)
  }))

/**
 * Runs `make()` with per-attempt timeouts, trying again on retryable failures
 * by {@link retrySchedule}. One schedule governs the whole call, so
 * `maxAttempts` is the most calls the model ever gets for it. A failure
 * after the first chunk went out is surfaced as-is unless `onRestart` is
 * given (see {@link RetryOptions}).
 */
export const withRetry = (
  make: () => Stream.Stream<ModelChunk, ModelError>,
  options: RetryOptions = {}
): Stream.Stream<ModelChunk, ModelError> => {
  const timeouts: TimeoutOptions = {
    firstChunk: options.firstChunkTimeout ?? Duration.seconds(60),
    idle: options.idleTimeout ?? Duration.seconds(30)
  }
  const { onRestart } = options
  return Stream.unwrap(Effect.map(Schedule.driver(retrySchedule(options)), (driver) => {
    const attempt = (afterOutput: boolean): Stream.Stream<ModelChunk, ModelError> =>
      Stream.suspend(() => {
        let emitted = false
        const body = withTimeouts(make(), timeouts).pipe(
          Stream.mapChunks((chunk) => {
            if (Chunk.isNonEmpty(chunk)) emitted = true
            return chunk
          }),
          Stream.catchAll((error) =>
            emitted && onRestart === undefined
              ? Stream.fail(error)
              : Stream.unwrap(
                driver.next(error).pipe(
                  Effect.tap(() =>
                    Effect.logDebug("Retrying model call").pipe(
                      Effect.annotateLogs({ reason: error.reason, afterOutput: emitted })
                    )
                  ),
                  Effect.match({ onFailure: () => Stream.fail(error), onSuccess: () => attempt(emitted) })
                )
              )
          )
        )
        return afterOutput && onRestart !== undefined ? Stream.unwrap(Effect.as(onRestart, body)) : body
      })
    return attempt(false)
  }))
}

/** {@link withRetry} for one request to a model. */
export const streamWithRetry = (
  model: Context.Tag.Service<LanguageModel>,
  request: CompletionRequest,
  options: RetryOptions = {}
): Stream.Stream<ModelChunk, ModelError> => withRetry(() => model.stream(request), options)
