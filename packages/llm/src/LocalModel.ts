/**
 * A deterministic stand-in for a real model: no key, no network. Every reply
 * starts with "[local model] " so nobody mistakes it for a real answer. It
 * echoes the gist of the last user message and knows one tool, "remember".
 */
import { type Context, Duration, Effect, Layer, Stream } from "effect"
import { type ChatMessage, type CompletionRequest, LanguageModel, type ModelChunk } from "./LanguageModel.js"

/** The prefix of every reply of the local model. */
export const label = "[local model] "

/** Options of {@link make}. */
export interface LocalModelOptions {
  /** Pause before each streamed piece of text, so streaming is observable (default 5 millis). */
  readonly chunkDelay?: Duration.DurationInput | undefined
}

const estimateTokens = (text: string) => Math.ceil(text.length / 4)

const rememberWord = /\bremember\b/i

/**
 * The fact in "remember (that) X": X trimmed, without a leading "that" or
 * colon and without a final period; undefined when there is none.
 */
export const factOf = (text: string): string | undefined => {
  const match = rememberWord.exec(text)
  if (match === null) return undefined
  const fact = text.slice(match.index + match[0].length)
    .replace(/^[\s:,]*/, "")
    .replace(/^that\b/i, "")
    .trim()
    .replace(/\.$/, "")
    .trim()
  return fact === "" ? undefined : fact
}

const gist = (text: string) => {
  const flat = text.replace(/\s+/g, " ").trim()
  return flat.length > 200 ? `${flat.slice(0, 200)}…` : flat
}

/** What the local model answers: some text or one tool call. */
export type Reply =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Call"; readonly name: string; readonly arguments: string }

const factFromToolResult = (messages: ReadonlyArray<ChatMessage>, result: ChatMessage & { role: "tool" }) => {
  for (const message of messages) {
    if (message.role !== "assistant") continue
    const call = message.toolCalls?.find((candidate) => candidate.id === result.toolCallId)
    if (call === undefined) continue
    try {
      const parsed: unknown = JSON.parse(call.arguments)
      if (typeof parsed === "object" && parsed !== null && "fact" in parsed && typeof parsed.fact === "string") {
        return parsed.fact
      }
    } catch {
      // Arguments that are not JSON: fall back to the tool result.
    }
  }
  return result.content
}

/** What the local model answers to a request; a pure function of the request. */
export const reply = (request: CompletionRequest): Reply => {
  const messages = request.messages
  let lastUser = -1
  let result: (ChatMessage & { role: "tool" }) | undefined
  for (const [index, message] of messages.entries()) {
    if (message.role === "user") {
      lastUser = index
      result = undefined
    } else if (message.role === "tool") {
      result = message
    }
  }
  const user = messages[lastUser]?.content ?? ""
  if (result !== undefined) {
    return { _tag: "Text", text: `${label}Noted: ${factOf(user) ?? factFromToolResult(messages, result)}.` }
  }
  const fact = factOf(user)
  if (fact !== undefined && request.tools.some((tool) => tool.name === "remember")) {
    return { _tag: "Call", name: "remember", arguments: JSON.stringify({ fact }) }
  }
  return {
    _tag: "Text",
    text: lastUser >= 0 ? `${label}You said: ${gist(user)}` : `${label}Hello! Nothing to answer yet.`
  }
}

/** Builds the local model. */
export const make = (options: LocalModelOptions = {}): Context.Tag.Service<LanguageModel> => {
  const delay = Duration.decode(options.chunkDelay ?? Duration.millis(5))
  const stream = (request: CompletionRequest): Stream.Stream<ModelChunk> =>
    Stream.suspend(() => {
      const inputTokens = estimateTokens(request.messages.map((message) => message.content).join(""))
      const answer = reply(request)
      if (answer._tag === "Call") {
        const chunks: Array<ModelChunk> = [
          {
            _tag: "ToolCall",
            call: { id: `local_call_${request.messages.length}`, name: answer.name, arguments: answer.arguments }
          },
          { _tag: "Usage", inputTokens, outputTokens: estimateTokens(answer.name + answer.arguments) }
        ]
        return Stream.fromIterable(chunks).pipe(Stream.tap(() => Effect.sleep(delay)))
      }
      const words = answer.text.match(/\S+\s*/g) ?? [answer.text]
      const deltas = Stream.fromIterable(words).pipe(
        Stream.mapEffect((text) => Effect.as(Effect.sleep(delay), { _tag: "Delta", text } satisfies ModelChunk))
      )
      const usage: ModelChunk = { _tag: "Usage", inputTokens, outputTokens: estimateTokens(answer.text) }
      return Stream.concat(deltas, Stream.succeed(usage))
    }).pipe(
      Stream.withSpan("LocalModel.stream", { attributes: { "llm.model": request.model, "llm.provider": "local" } })
    )
  return LanguageModel.of({ name: "local", stream })
}

/** The local model, streaming a word every 5 millis. */
export const layer: Layer.Layer<LanguageModel> = Layer.succeed(LanguageModel, make())
