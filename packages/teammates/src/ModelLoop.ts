/**
 * The model loop of a turn, with no store: call the model with streaming and
 * the teammate's tools, run the tools it asks for, give it their results and
 * call it again, until it answers without tools or the calls run out. Where
 * the deltas go, how a step is recorded and how a tool runs are the caller's
 * (`Turn` publishes, records and journals them; `troupe run agent` prints
 * them and runs tools in memory).
 */
import { type CompletionRequest, type LanguageModel, streamWithRetry, type ToolCall } from "@troupe/llm/LanguageModel"
import { Config, Data, Duration, Effect, Either, Stream } from "effect"

/** Why a turn could not finish. */
export class TurnFailed
  extends Data.TaggedError("TurnFailed")<{ readonly message: string; readonly cause?: unknown }>
{}

/** Settings for turns. */
export interface TurnSettings {
  readonly maxModelCalls: number
  readonly modelAttempts: number
  readonly firstChunkTimeout: Duration.Duration
  readonly idleTimeout: Duration.Duration
}

/** Turn settings from configuration. */
export const TurnConfig = Config.all({
  /** Model calls per turn, counting tool round trips (`TURN_MAX_MODEL_CALLS`, default 5). */
  maxModelCalls: Config.integer("TURN_MAX_MODEL_CALLS").pipe(Config.withDefault(5)),
  /** Attempts per model call for retryable errors (`MODEL_ATTEMPTS`, default 3). */
  modelAttempts: Config.integer("MODEL_ATTEMPTS").pipe(Config.withDefault(3)),
  /** Longest wait for the model's first token (`MODEL_FIRST_TOKEN_TIMEOUT`, default 60 seconds). */
  firstChunkTimeout: Config.duration("MODEL_FIRST_TOKEN_TIMEOUT").pipe(Config.withDefault(Duration.seconds(60))),
  /** Longest pause inside a streamed reply (`MODEL_IDLE_TIMEOUT`, default 30 seconds). */
  idleTimeout: Config.duration("MODEL_IDLE_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30)))
})

/** What one model call gave. */
export interface ModelResult {
  readonly text: string
  readonly calls: ReadonlyArray<ToolCall>
  readonly usage: { readonly inputTokens: number; readonly outputTokens: number }
  /** How long the call took, from the request to its last chunk (restarts included). */
  readonly durationMs: number
}

/** What a tool call answered: the text the model is told, and what was wrong when it could not run. */
export interface ToolAnswer {
  readonly output: string
  readonly error: string | null
}

/** What the caller does with the loop's work. */
export interface LoopHooks<E, R> {
  /**
   * Some text of the reply. `offset` counts the reply's characters before
   * it; `restart` (with empty text) says the model call restarted and its
   * text so far is to be dropped.
   */
  readonly delta: (text: string, offset: number, restart: boolean) => Effect.Effect<void>
  /** A model call ended; `messages` is how many messages it was sent. */
  readonly modelStep: (messages: number, result: ModelResult) => Effect.Effect<void, E, R>
  /** Runs a tool call (`key` names it within the turn) and answers what the model is told. */
  readonly tool: (call: ToolCall, key: string) => Effect.Effect<ToolAnswer, E, R>
  /** A tool call ended with `output`. */
  readonly toolStep: (call: ToolCall, answer: ToolAnswer, durationMs: number) => Effect.Effect<void, E, R>
}

/** What the loop produced: the reply's text and the tokens of all its calls. */
export interface LoopResult {
  readonly text: string
  readonly inputTokens: number
  readonly outputTokens: number
}

/**
 * Streams one model call, handing deltas on. A reply that breaks midway with
 * a retryable error is restarted (a `restart` delta first);
 * `MODEL_ATTEMPTS` bounds all attempts of the call.
 */
const call = (
  model: LanguageModel["Type"],
  request: CompletionRequest,
  settings: TurnSettings,
  offset: { value: number },
  delta: LoopHooks<unknown, unknown>["delta"]
) =>
  Effect.gen(function*() {
    const start = offset.value
    let text = ""
    const calls: Array<ToolCall> = []
    let usage = { inputTokens: 0, outputTokens: 0 }
    const restart = Effect.suspend(() => {
      text = ""
      calls.length = 0
      usage = { inputTokens: 0, outputTokens: 0 }
      offset.value = start
      return Effect.zipRight(
        Effect.logWarning("model stream broke mid-reply; restarting"),
        delta("", offset.value, true)
      )
    })
    const outcome = yield* streamWithRetry(model, request, {
      maxAttempts: settings.modelAttempts,
      firstChunkTimeout: settings.firstChunkTimeout,
      idleTimeout: settings.idleTimeout,
      onRestart: restart
    }).pipe(
      Stream.runForEach((chunk) => {
        switch (chunk._tag) {
          case "Delta": {
            const at = offset.value
            text += chunk.text
            offset.value += chunk.text.length
            return delta(chunk.text, at, false)
          }
          case "ToolCall":
            return Effect.sync(() => calls.push(chunk.call))
          case "Usage":
            return Effect.sync(() => {
              usage = { inputTokens: chunk.inputTokens, outputTokens: chunk.outputTokens }
            })
        }
      }),
      Effect.either
    )
    if (Either.isLeft(outcome)) {
      return yield* new TurnFailed({ message: `the model failed: ${outcome.left.message}`, cause: outcome.left })
    }
    return { text, calls, usage } satisfies Omit<ModelResult, "durationMs">
  })

/** Runs the loop from `messages` (the system prompt and the conversation). */
export const run = <E, R>(
  model: LanguageModel["Type"],
  request: CompletionRequest,
  settings: TurnSettings,
  hooks: LoopHooks<E, R>
): Effect.Effect<LoopResult, E | TurnFailed, R> =>
  Effect.gen(function*() {
    const conversation = [...request.messages]
    const offset = { value: 0 }
    let inputTokens = 0
    let outputTokens = 0
    let text = ""
    for (let n = 0; n < settings.maxModelCalls; n++) {
      const [took, called] = yield* Effect.timed(
        call(model, { ...request, messages: conversation }, settings, offset, hooks.delta)
      )
      const result: ModelResult = { ...called, durationMs: Duration.toMillis(took) }
      inputTokens += result.usage.inputTokens
      outputTokens += result.usage.outputTokens
      yield* hooks.modelStep(conversation.length, result)
      text += result.text
      if (result.calls.length === 0) break
      conversation.push({ role: "assistant", content: result.text, toolCalls: result.calls })
      for (const [i, c] of result.calls.entries()) {
        const [took, answer] = yield* Effect.timed(hooks.tool(c, `${n}:${i}:${c.name}`))
        yield* hooks.toolStep(c, answer, Duration.toMillis(took))
        conversation.push({ role: "tool", toolCallId: c.id, content: answer.output })
      }
      if (n === settings.maxModelCalls - 1) text += text ? "" : "(I ran out of steps before finishing.)"
    }
    return { text, inputTokens, outputTokens }
  })
