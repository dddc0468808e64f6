/**
 * The language-model port used by teammates: a streaming chat completion with
 * tool calls, a small error taxonomy, and a retry helper that only retries
 * while nothing has been streamed yet.
 */
import { Chunk, Clock, Context, Data, Duration, Effect, Option, Random, Stream } from "effect"

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
  /** Attempts in all, including the first (default 3). */
  readonly maxAttempts?: number | undefined
  /** Delay before the second attempt; doubles each time (default 250 millis). */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** Upper bound of the computed backoff; a provider's retry-after is honoured as given (default 10 seconds). */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** Per attempt: the longest wait for the first chunk (default 60 seconds). */
  readonly firstChunkTimeout?: Duration.DurationInput | undefined
  /** The longest wait between two chunks once the first has arrived (default 30 seconds). */
  readonly idleTimeout?: Duration.DurationInput | undefined
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
 * Runs `make()` with per-attempt timeouts and retries retryable failures with
 * exponential backoff (with a little jitter), or after the provider's
 * `retryAfterMs` when it gave one. A failure after the first chunk was
 * emitted is surfaced as-is: text already went out, so a retry would repeat it.
 */
export const withRetry = (
  make: () => Stream.Stream<ModelChunk, ModelError>,
  options: RetryOptions = {}
): Stream.Stream<ModelChunk, ModelError> => {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3)
  const baseDelay = Duration.toMillis(options.baseDelay ?? Duration.millis(250))
  const maxDelay = Duration.toMillis(options.maxDelay ?? Duration.seconds(10))
  const timeouts: TimeoutOptions = {
    firstChunk: options.firstChunkTimeout ?? Duration.seconds(60),
    idle: options.idleTimeout ?? Duration.seconds(30)
  }
  const attempt = (n: number): Stream.Stream<ModelChunk, ModelError> =>
    Stream.suspend(() => {
      let emitted = false
      return withTimeouts(make(), timeouts).pipe(
        Stream.mapChunks((chunk) => {
          if (Chunk.isNonEmpty(chunk)) emitted = true
          return chunk
        }),
        Stream.catchAll((error) => {
          if (emitted || !error.retryable || n >= maxAttempts) return Stream.fail(error)
          const delay = error.retryAfterMs !== undefined
            ? Effect.succeed(error.retryAfterMs)
            : Effect.map(
              Random.nextRange(0.8, 1.2),
              (jitter) => Math.min(maxDelay, baseDelay * 2 ** (n - 1)) * jitter
            )
          return Stream.unwrap(
            delay.pipe(
              Effect.tap((ms) =>
                Effect.logDebug("Retrying model call").pipe(
                  Effect.annotateLogs({ attempt: n + 1, reason: error.reason, delayMs: Math.round(ms) })
                )
              ),
              Effect.flatMap((ms) => Effect.sleep(Duration.millis(ms))),
              Effect.as(attempt(n + 1))
            )
          )
        })
      )
    })
  return attempt(1)
}

/** {@link withRetry} for one request to a model. */
export const streamWithRetry = (
  model: Context.Tag.Service<LanguageModel>,
  request: CompletionRequest,
  options: RetryOptions = {}
): Stream.Stream<ModelChunk, ModelError> => withRetry(() => model.stream(request), options)
