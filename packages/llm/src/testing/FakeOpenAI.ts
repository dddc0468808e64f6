/**
 * A local OpenAI-compatible server for tests and benchmarks: POST
 * /v1/chat/completions on 127.0.0.1, streamed (real SSE chunk format, tool
 * call fragments, a final usage chunk) or not. Its behaviour is scripted by
 * directives in the text of the last user message:
 *
 * - `[[429]]`: 429 with `retry-after-ms: 50`
 * - `[[500]]`: 500; `[[500xN]]`: 500 for the first N requests carrying that message, then normal
 * - `[[400]]`: 400 (a request the server rejects)
 * - `[[delay:MS]]`: wait MS millis before the first byte
 * - `[[slow:MS]]`: wait MS millis between chunks
 * - `[[broken]]`: send the role chunk and two text chunks, then destroy the socket;
 *   `[[brokenxN]]`: so for the first N requests carrying that message, then normal
 * - `[[truncated]]`: stream text, then `[DONE]` without any finish reason
 * - `[[garbage]]`: send one text chunk, then data that is not JSON
 * - `[[tool:NAME:JSON]]`: call tool NAME with arguments JSON; once the request
 *   carries a tool result, reply "done: <tool result content>"
 * - otherwise: reply "echo: <user text without directives>" in about 4 chunks
 */
import { Context, Effect, Layer, Redacted, type Scope } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import type { LanguageModel } from "../LanguageModel.js"
import * as OpenAIModel from "../OpenAIModel.js"

/** A received request body (a JSON object). */
export type ReceivedRequest = Readonly<Record<string, unknown>>

/** A running fake server. */
export interface FakeServer {
  /** The API root to give a client, e.g. "http://127.0.0.1:40123/v1". */
  readonly baseURL: string
  /** Every request body received so far, oldest first. */
  readonly requests: () => ReadonlyArray<ReceivedRequest>
}

/** A running fake server, as a service. */
export class FakeOpenAI extends Context.Tag("@troupe/llm/testing/FakeOpenAI")<FakeOpenAI, FakeServer>() {}

interface Directives {
  readonly status?: number
  readonly failFirst?: number
  readonly delay: number
  readonly slow: number
  readonly broken: boolean
  readonly brokenFirst?: number
  readonly truncated: boolean
  readonly garbage: boolean
  readonly tool?: { readonly name: string; readonly arguments: string }
  readonly text: string
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const textOf = (content: unknown): string => {
  if (typeof content === "string") return content
  if (!Array.isArray(content)) return ""
  return content.map((part) => (isRecord(part) && typeof part.text === "string" ? part.text : "")).join("")
}

const parseDirectives = (text: string): Directives => {
  let status: number | undefined
  let failFirst: number | undefined
  let brokenFirst: number | undefined
  let delay = 0
  let slow = 0
  let broken = false
  let truncated = false
  let garbage = false
  let tool: { name: string; arguments: string } | undefined
  for (const [, body = ""] of text.matchAll(/\[\[(.*?)\]\]/gs)) {
    const [kind = "", ...rest] = body.split(":")
    const arg = rest.join(":")
    const times = /^500x(\d+)$/.exec(kind)
    const breaks = /^brokenx(\d+)$/.exec(kind)
    if (kind === "429" || kind === "500" || kind === "400") status = Number(kind)
    else if (times !== null) failFirst = Number(times[1])
    else if (kind === "delay") delay = Number(arg) || 0
    else if (kind === "slow") slow = Number(arg) || 0
    else if (kind === "broken") broken = true
    else if (breaks !== null) brokenFirst = Number(breaks[1])
    else if (kind === "truncated") truncated = true
    else if (kind === "garbage") garbage = true
    else if (kind === "tool") {
      const colon = arg.indexOf(":")
      tool = colon < 0
        ? { name: arg, arguments: "{}" }
        : { name: arg.slice(0, colon), arguments: arg.slice(colon + 1) }
    }
  }
  return {
    ...(status !== undefined ? { status } : {}),
    ...(failFirst !== undefined ? { failFirst } : {}),
    ...(brokenFirst !== undefined ? { brokenFirst } : {}),
    ...(tool !== undefined ? { tool } : {}),
    delay,
    slow,
    broken,
    truncated,
    garbage,
    text: text.replace(/\[\[.*?\]\]/gs, " ").replace(/\s+/g, " ").trim()
  }
}

/** Splits text into about `parts` pieces (at least one character each). */
const split = (text: string, parts: number): Array<string> => {
  if (text === "") return [""]
  const size = Math.max(1, Math.ceil(text.length / parts))
  const out: Array<string> = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

const tokens = (text: string) => Math.ceil(text.length / 4)

const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const parts: Array<Buffer> = []
    req.on("data", (part: Buffer) => parts.push(part))
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")))
    req.on("error", reject)
  })

const sendJson = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers })
  res.end(JSON.stringify(body))
}

const errorBody = (message: string, type: string) => ({ error: { message, type, param: null, code: null } })

/** Starts the fake server on an ephemeral port; it stops when the scope closes. */
export const make: Effect.Effect<FakeServer, never, Scope.Scope> = Effect.gen(function*() {
  const received: Array<ReceivedRequest> = []
  const seen = new Map<string, number>()
  let counter = 0

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST" || req.url !== "/v1/chat/completions") {
      return sendJson(res, 404, errorBody(`No route ${req.method} ${req.url}`, "invalid_request_error"))
    }
    let body: unknown
    try {
      body = JSON.parse(await readBody(req))
    } catch {
      return sendJson(res, 400, errorBody("Body is not JSON", "invalid_request_error"))
    }
    if (!isRecord(body) || !Array.isArray(body.messages)) {
      return sendJson(res, 400, errorBody("Missing messages", "invalid_request_error"))
    }
    received.push(body)
    const number = ++counter
    const messages: Array<unknown> = body.messages
    const model = typeof body.model === "string" ? body.model : "fake"
    let lastUser = -1
    for (const [index, message] of messages.entries()) {
      if (isRecord(message) && message.role === "user") lastUser = index
    }
    const userMessage = messages[lastUser]
    const userText = isRecord(userMessage) ? textOf(userMessage.content) : ""
    const script = parseDirectives(userText)
    let toolResult: string | undefined
    for (const message of messages.slice(lastUser + 1)) {
      if (isRecord(message) && message.role === "tool") toolResult = textOf(message.content)
    }
    const count = (seen.get(userText) ?? 0) + 1
    seen.set(userText, count)

    let closed = false
    res.on("close", () => {
      closed = true
    })
    if (script.delay > 0) await sleep(script.delay)
    if (closed) return
    if (script.status === 429) {
      return sendJson(res, 429, errorBody("Rate limit reached", "rate_limit_exceeded"), { "retry-after-ms": "50" })
    }
    if (script.status === 400) return sendJson(res, 400, errorBody("Bad request", "invalid_request_error"))
    if (script.status === 500 || (script.failFirst !== undefined && count <= script.failFirst)) {
      return sendJson(res, 500, errorBody("The server had an error", "server_error"))
    }

    const prompt = messages.map((message) => (isRecord(message) ? textOf(message.content) : "")).join("")
    const id = `chatcmpl-fake-${number}`
    const created = Math.floor(Date.now() / 1000)
    const call = script.tool !== undefined && toolResult === undefined
      ? { id: `call_fake_${number}`, name: script.tool.name, arguments: script.tool.arguments }
      : undefined
    const text = script.tool !== undefined && toolResult !== undefined ? `done: ${toolResult}` : `echo: ${script.text}`
    const usage = {
      prompt_tokens: tokens(prompt),
      completion_tokens: call ? tokens(call.name + call.arguments) : tokens(text),
      total_tokens: 0
    }
    usage.total_tokens = usage.prompt_tokens + usage.completion_tokens

    if (body.stream !== true) {
      return sendJson(res, 200, {
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{
          index: 0,
          message: call
            ? {
              role: "assistant",
              content: null,
              refusal: null,
              tool_calls: [{ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }]
            }
            : { role: "assistant", content: text, refusal: null },
          logprobs: null,
          finish_reason: call ? "tool_calls" : "stop"
        }],
        usage
      })
    }

    const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true
    const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(includeUsage ? { usage: null } : {})
    })
    const frames: Array<string> = [JSON.stringify(chunk({ role: "assistant", content: call ? null : "" }, null))]
    if (call) {
      frames.push(JSON.stringify(chunk({
        tool_calls: [{ index: 0, id: call.id, type: "function", function: { name: call.name, arguments: "" } }]
      }, null)))
      for (const fragment of split(call.arguments, 3)) {
        frames.push(JSON.stringify(chunk({ tool_calls: [{ index: 0, function: { arguments: fragment } }] }, null)))
      }
    } else {
      for (const piece of split(text, 4)) frames.push(JSON.stringify(chunk({ content: piece }, null)))
    }
    if (script.garbage) frames.splice(2, frames.length, "{\"id\": not json")
    if (!script.truncated) frames.push(JSON.stringify(chunk({}, call ? "tool_calls" : "stop")))
    if (includeUsage) {
      frames.push(JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [], usage }))
    }
    frames.push("[DONE]")

    const breaks = script.broken || (script.brokenFirst !== undefined && count <= script.brokenFirst)
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
    for (const [index, frame] of frames.entries()) {
      if (index > 0 && script.slow > 0) await sleep(script.slow)
      if (closed) return
      if (breaks && index === 3) {
        // Let the client read what was sent before the connection drops.
        await sleep(20)
        res.socket?.destroy()
        return
      }
      await new Promise<void>((resolve) => res.write(`data: ${frame}\n\n`, () => resolve()))
    }
    res.end()
  }

  const server = yield* Effect.acquireRelease(
    Effect.async<ReturnType<typeof createServer>>((resume) => {
      const server = createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
          if (!res.headersSent) sendJson(res, 500, errorBody(String(error), "server_error"))
          else res.destroy()
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  return { baseURL: `http://127.0.0.1:${port}/v1`, requests: () => [...received] }
})

/** The fake server as a service, for the length of the layer. */
export const layer: Layer.Layer<FakeOpenAI> = Layer.scoped(FakeOpenAI, make)

/**
 * The real OpenAI adapter pointed at a fresh fake server: provides both the
 * model and the server (to read the received requests).
 */
export const layerModel: Layer.Layer<LanguageModel | FakeOpenAI> = Layer.unwrapEffect(
  Effect.map(FakeOpenAI, (fake) => OpenAIModel.layer({ baseURL: fake.baseURL, apiKey: Redacted.make("fake-key") }))
).pipe(Layer.provideMerge(layer))
