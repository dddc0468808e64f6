/**
 * The language-model port over the official `openai` client: any
 * OpenAI-compatible chat completions endpoint, streamed, with tool calls.
 * The client never retries by itself; callers use `withRetry`.
 */
import { Config, Duration, Effect, Layer, Option, Redacted, Stream } from "effect"
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai"
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool
} from "openai/resources/chat/completions"
import {
  type ChatMessage,
  type CompletionRequest,
  LanguageModel,
  type ModelChunk,
  ModelError,
  type ToolCall
} from "./LanguageModel.js"

/** How to reach an OpenAI-compatible endpoint. */
export interface OpenAIOptions {
  /** The API root, e.g. "https://api.openai.com/v1". */
  readonly baseURL: string
  readonly apiKey: Redacted.Redacted
  /** The longest wait for the response headers of one request (default 60 seconds). */
  readonly timeout?: Duration.DurationInput | undefined
  /** The port's `name` (default "openai"). */
  readonly name?: string | undefined
}

const retryAfterMs = (headers: Headers | undefined): number | undefined => {
  const ms = Number.parseFloat(headers?.get("retry-after-ms") ?? "")
  if (Number.isFinite(ms) && ms >= 0) return ms
  const value = headers?.get("retry-after")
  if (value === null || value === undefined) return undefined
  const seconds = Number.parseFloat(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

/** Maps anything the `openai` client throws to a {@link ModelError}. */
export const toModelError = (error: unknown): ModelError => {
  const message = error instanceof Error ? error.message : String(error)
  if (error instanceof APIConnectionTimeoutError) {
    return new ModelError({ reason: "Timeout", retryable: true, message })
  }
  if (error instanceof APIConnectionError || error instanceof APIUserAbortError) {
    return new ModelError({ reason: "Unavailable", retryable: true, message })
  }
  if (error instanceof APIError) {
    const status = error.status
    if (status === 429) {
      return new ModelError({
        reason: "RateLimited",
        retryable: true,
        retryAfterMs: retryAfterMs(error.headers),
        message
      })
    }
    if (status === 408) return new ModelError({ reason: "Timeout", retryable: true, message })
    // No status: an error object sent inside the event stream.
    if (status === undefined || status >= 500) {
      return new ModelError({ reason: "ServerError", retryable: true, message })
    }
    return new ModelError({ reason: "BadRequest", retryable: false, message })
  }
  if (error instanceof SyntaxError) {
    return new ModelError({
      reason: "Malformed",
      retryable: true,
      message: `Unparsable data from the model: ${message}`
    })
  }
  // Sockets closed or reset while the body streams in.
  return new ModelError({
    reason: "Unavailable",
    retryable: true,
    message: `Connection to the model failed: ${message}`
  })
}

const malformed = (message: string) => new ModelError({ reason: "Malformed", retryable: true, message })

const toParam = (message: ChatMessage): ChatCompletionMessageParam => {
  switch (message.role) {
    case "system":
    case "user":
      return message.name === undefined
        ? { role: message.role, content: message.content }
        : { role: message.role, content: message.content, name: message.name }
    case "assistant":
      return message.toolCalls === undefined || message.toolCalls.length === 0
        ? { role: "assistant", content: message.content }
        : {
          role: "assistant",
          content: message.content === "" ? null : message.content,
          tool_calls: message.toolCalls.map((call) => ({
            id: call.id,
            type: "function",
            function: { name: call.name, arguments: call.arguments }
          }))
        }
    case "tool":
      return { role: "tool", tool_call_id: message.toolCallId, content: message.content }
  }
}

/** The chat completions body for a request (streamed, with usage). */
export const toParams = (request: CompletionRequest): ChatCompletionCreateParamsStreaming => {
  const tools: Array<ChatCompletionTool> = request.tools.map((tool) => ({
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: tool.parameters }
  }))
  return {
    model: request.model,
    messages: request.messages.map(toParam),
    stream: true,
    stream_options: { include_usage: true },
    ...(tools.length > 0 ? { tools } : {}),
    ...(request.maxTokens !== undefined ? { max_completion_tokens: request.maxTokens } : {})
  }
}

interface PartialCall {
  id: string
  name: string
  arguments: string
}

/** Turns raw chunks into port chunks, assembling tool calls from their fragments by index. */
class Assembler {
  private calls = new Map<number, PartialCall>()
  finished = false

  push(chunk: ChatCompletionChunk): Array<ModelChunk> | ModelError {
    if (typeof chunk !== "object" || chunk === null || !Array.isArray(chunk.choices)) {
      return malformed("A stream chunk without choices")
    }
    const out: Array<ModelChunk> = []
    for (const choice of chunk.choices) {
      if (choice.index !== 0 && choice.index !== undefined) continue
      const delta = choice.delta ?? {}
      if (typeof delta.content === "string" && delta.content !== "") out.push({ _tag: "Delta", text: delta.content })
      if (typeof delta.refusal === "string" && delta.refusal !== "") out.push({ _tag: "Delta", text: delta.refusal })
      for (const fragment of delta.tool_calls ?? []) {
        const call = this.calls.get(fragment.index) ?? { id: "", name: "", arguments: "" }
        if (fragment.id) call.id = fragment.id
        if (fragment.function?.name) call.name += fragment.function.name
        if (fragment.function?.arguments) call.arguments += fragment.function.arguments
        this.calls.set(fragment.index, call)
      }
      if (choice.finish_reason) {
        this.finished = true
        const calls = this.flush()
        if (calls instanceof ModelError) return calls
        out.push(...calls)
      }
    }
    if (chunk.usage) {
      out.push({
        _tag: "Usage",
        inputTokens: chunk.usage.prompt_tokens ?? 0,
        outputTokens: chunk.usage.completion_tokens ?? 0
      })
    }
    return out
  }

  /** The complete tool calls gathered so far, in index order. */
  flush(): Array<ModelChunk> | ModelError {
    const out: Array<ModelChunk> = []
    for (const [index, call] of [...this.calls].sort(([a], [b]) => a - b)) {
      if (call.id === "" || call.name === "") return malformed(`Tool call ${index} has no id or name`)
      const complete: ToolCall = {
        id: call.id,
        name: call.name,
        arguments: call.arguments === "" ? "{}" : call.arguments
      }
      out.push({ _tag: "ToolCall", call: complete })
    }
    this.calls.clear()
    return out
  }
}

/** Builds the port over an OpenAI-compatible endpoint. */
export const make = Effect.fn("OpenAIModel.make")(function*(options: OpenAIOptions) {
  const client = new OpenAI({
    baseURL: options.baseURL,
    apiKey: Redacted.value(options.apiKey),
    timeout: Duration.toMillis(options.timeout ?? Duration.seconds(60)),
    maxRetries: 0,
    logLevel: "off",
    organization: null,
    project: null,
    webhookSecret: null
  })
  const name = options.name ?? "openai"

  const stream = (request: CompletionRequest): Stream.Stream<ModelChunk, ModelError> =>
    Stream.suspend(() => {
      const assembler = new Assembler()
      const body = toParams(request)
      const chunks = Stream.unwrapScoped(Effect.gen(function*() {
        // Aborting ends the request and its body; registered before the request starts, so an
        // interruption (e.g. a timeout) at any point releases the connection.
        const controller = new AbortController()
        yield* Effect.addFinalizer(() => Effect.sync(() => controller.abort()))
        const response = yield* Effect.tryPromise({
          try: () => client.chat.completions.create(body, { signal: controller.signal }),
          catch: toModelError
        })
        const iterator = response[Symbol.asyncIterator]()
        return Stream.repeatEffectOption(
          Effect.tryPromise({ try: () => iterator.next(), catch: (error) => Option.some(toModelError(error)) }).pipe(
            Effect.flatMap((result) => result.done ? Effect.fail(Option.none()) : Effect.succeed(result.value))
          )
        )
      }))
      return chunks.pipe(
        Stream.mapConcatEffect((chunk) => {
          const out = assembler.push(chunk)
          return out instanceof ModelError ? Effect.fail(out) : Effect.succeed(out)
        }),
        Stream.concat(Stream.suspend(() => {
          if (!assembler.finished) return Stream.fail(malformed("The model stream ended without a finish reason"))
          const rest = assembler.flush()
          return rest instanceof ModelError ? Stream.fail(rest) : Stream.fromIterable(rest)
        }))
      )
    }).pipe(Stream.withSpan("OpenAIModel.stream", { attributes: { "llm.model": request.model, "llm.provider": name } }))

  return LanguageModel.of({ name, stream })
})

/** The port over an OpenAI-compatible endpoint. */
export const layer = (options: OpenAIOptions): Layer.Layer<LanguageModel> => Layer.effect(LanguageModel, make(options))

/** Configuration of {@link layerConfig}. */
export const config = Config.all({
  /** OPENAI_BASE_URL: the API root (default "https://api.openai.com/v1"). */
  baseURL: Config.string("OPENAI_BASE_URL").pipe(Config.withDefault("https://api.openai.com/v1")),
  /** OPENAI_API_KEY: the API key (required, not empty). */
  apiKey: Config.redacted("OPENAI_API_KEY").pipe(
    Config.validate({ message: "OPENAI_API_KEY must not be empty", validation: (key) => Redacted.value(key) !== "" })
  ),
  /** OPENAI_TIMEOUT: the longest wait for response headers (default 60 seconds). */
  timeout: Config.duration("OPENAI_TIMEOUT").pipe(Config.withDefault(Duration.seconds(60)))
})

/** The port over the endpoint named by `OPENAI_BASE_URL`, `OPENAI_API_KEY` and `OPENAI_TIMEOUT`. */
export const layerConfig = Layer.unwrapEffect(Effect.map(config, layer))
