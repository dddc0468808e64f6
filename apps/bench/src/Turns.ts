/**
 * Teammate turns against the in-process server: the overhead a turn adds
 * to the model's own time to first token, and completed turns per second
 * across many teammates.
 */
import type { OrgId } from "@troupe/domain/Ids"
import { Console, Effect } from "effect"
import { performance } from "node:perf_hooks"
import OpenAI from "openai"
import type { ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions"
import { BenchError, type Child } from "./Child.js"
import { laneJobs, type Person, teamRooms } from "./Fixtures.js"
import type { Command, ModelCommand, ModelResults, Results, TurnsResult } from "./Protocol.js"
import { withServerCpu } from "./ServerCpu.js"
import { summarize, type Summary } from "./Stats.js"

/** What the turn phases need from the run. */
export interface TurnContext {
  readonly url: string
  readonly load: Child<Command, Results>
  readonly model: Child<ModelCommand, ModelResults>
  readonly modelBaseURL: string
  readonly owner: Person
  readonly orgId: OrgId
  /** Waits until the streams are quiet and the server idle. */
  readonly settle: Effect.Effect<void, BenchError>
}

/** One teammate answering sequential mentions, next to the model called directly. */
export interface TurnOverheadRun {
  readonly delayMs: number
  readonly turns: TurnsResult
  readonly serverCpuMs: number
  /** Unmeasured turns before the measured ones. */
  readonly warmup: number
  /** The model called directly with the last turn's own request: time to the first text delta. */
  readonly modelFirstToken: Summary
  /** The same calls: time to the end of the stream. */
  readonly modelTotal: Summary
  /** The replayed request: its messages and its size. */
  readonly requestMessages: number
  readonly requestBytes: number
}

/** Completed turns per second across many teammates. */
export interface TurnThroughputRun {
  readonly delayMs: number
  readonly teammates: number
  readonly rooms: number
  /** Turns in flight at once (one per lane). */
  readonly lanes: number
  readonly setupSeconds: number
  readonly turns: TurnsResult
  readonly serverCpuMs: number
}

const isStreamingParams = (
  body: Readonly<Record<string, unknown>>
): body is ChatCompletionCreateParamsStreaming & Readonly<Record<string, unknown>> =>
  typeof body["model"] === "string" && Array.isArray(body["messages"]) && body["stream"] === true

/**
 * Calls the model directly, `count` times one after the other, with `body`
 * (the request a turn sent), through the official client; returns the times
 * to the first text delta and to the end of each stream.
 */
const modelDirect = (baseURL: string, body: ChatCompletionCreateParamsStreaming, count: number) =>
  Effect.tryPromise({
    try: async () => {
      const client = new OpenAI({ baseURL, apiKey: "bench", maxRetries: 0, timeout: 30_000 })
      const first: Array<number> = []
      const total: Array<number> = []
      for (let i = 0; i < count; i++) {
        const t0 = performance.now()
        const stream = await client.chat.completions.create(body)
        let firstAt: number | undefined
        for await (const chunk of stream) {
          const text = chunk.choices[0]?.delta?.content
          if (firstAt === undefined && typeof text === "string" && text !== "") firstAt = performance.now()
        }
        if (firstAt !== undefined) first.push(firstAt - t0)
        total.push(performance.now() - t0)
      }
      return { first, total }
    },
    catch: (cause) => new BenchError({ message: `calling the model directly failed: ${cause}` })
  })

/**
 * Turn overhead: one teammate in a private room with the owner, whose one
 * stream is open; the owner mentions it `turns` times, one after the other,
 * each time waiting for the reply. Then the model is called directly with
 * the last turn's request as many times.
 */
export const turnOverhead = (
  ctx: TurnContext,
  options: { readonly turns: number; readonly warmup: number; readonly delayMs: number }
) =>
  Effect.gen(function*() {
    const [room] = yield* teamRooms(ctx.owner, ctx.orgId, { prefix: "solo", rooms: 1, perRoom: 1, concurrency: 1 })
    if (room === undefined) return yield* new BenchError({ message: "the solo room was not created" })
    const lane = (label: string, count: number) =>
      laneJobs(ctx.owner.token, [room], { lanes: 1, rounds: count, suffix: `[[delay:${options.delayMs}]]`, label })
    yield* ctx.load.call({
      type: "open",
      baseUrl: ctx.url,
      tokens: [ctx.owner.token],
      concurrency: 1,
      timeoutMs: 30_000
    })
    yield* ctx.settle
    const run = (label: string, count: number, budgetMs: number) =>
      ctx.load.call({ type: "turns", baseUrl: ctx.url, lanes: lane(label, count), turnTimeoutMs: 30_000, budgetMs })
    yield* run("warm-up", options.warmup, 30_000)
    yield* ctx.settle
    const [turns, serverCpuMs] = yield* withServerCpu(run("turn", options.turns, 90_000))
    yield* ctx.load.call({ type: "close" })

    const { requests } = yield* ctx.model.call({ type: "requests", last: 1 })
    const body = requests[0]
    if (body === undefined || !isStreamingParams(body)) {
      return yield* new BenchError({ message: "the model received no streamed request to replay" })
    }
    yield* Console.log(
      `model called directly: ${options.turns} requests like the turn's (${body.messages.length} messages)…`
    )
    yield* modelDirect(ctx.modelBaseURL, body, Math.min(5, options.warmup))
    const direct = yield* modelDirect(ctx.modelBaseURL, body, options.turns)
    return {
      delayMs: options.delayMs,
      turns,
      serverCpuMs,
      warmup: options.warmup,
      modelFirstToken: summarize(direct.first),
      modelTotal: summarize(direct.total),
      requestMessages: body.messages.length,
      requestBytes: Buffer.byteLength(JSON.stringify(body))
    } satisfies TurnOverheadRun
  })

/**
 * Turns per second: hires `teammates` teammates through the API into
 * `rooms` private rooms, then gives every teammate one turn, `lanes` turns
 * in flight at a time (one room at a time per lane).
 */
export const turnThroughput = (
  ctx: TurnContext,
  options: {
    readonly teammates: number
    readonly rooms: number
    readonly lanes: number
    readonly delayMs: number
    readonly budgetMs: number
  }
) =>
  Effect.gen(function*() {
    const began = performance.now()
    const rooms = yield* teamRooms(ctx.owner, ctx.orgId, {
      prefix: "mate",
      rooms: options.rooms,
      perRoom: Math.ceil(options.teammates / options.rooms),
      concurrency: 8
    })
    const setupSeconds = (performance.now() - began) / 1000
    yield* ctx.load.call({
      type: "open",
      baseUrl: ctx.url,
      tokens: [ctx.owner.token],
      concurrency: 1,
      timeoutMs: 30_000
    })
    yield* ctx.settle
    const lanes = laneJobs(ctx.owner.token, rooms, {
      lanes: options.lanes,
      rounds: 1,
      suffix: `[[delay:${options.delayMs}]]`,
      label: "turn"
    })
    const [turns, serverCpuMs] = yield* withServerCpu(
      ctx.load.call({ type: "turns", baseUrl: ctx.url, lanes, turnTimeoutMs: 60_000, budgetMs: options.budgetMs })
    )
    yield* ctx.load.call({ type: "close" })
    return {
      delayMs: options.delayMs,
      teammates: rooms.reduce((n, r) => n + r.mates.length, 0),
      rooms: rooms.length,
      lanes: lanes.length,
      setupSeconds,
      turns,
      serverCpuMs
    } satisfies TurnThroughputRun
  })
