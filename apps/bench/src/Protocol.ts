/**
 * Messages between the benchmark driver (which runs the server) and the load
 * generator child process (which runs the HTTP and SSE clients), over the
 * Node IPC channel.
 */
import type { Summary } from "./Stats.js"

/** Opens one SSE stream per token (repeat a token for several streams) and waits until each is live. */
export interface OpenStreams {
  readonly type: "open"
  readonly baseUrl: string
  readonly tokens: ReadonlyArray<string>
  /** Streams being opened at once. */
  readonly concurrency: number
  readonly timeoutMs: number
}

/** Closes every open stream. */
export interface CloseStreams {
  readonly type: "close"
}

/**
 * Waits until the streams go quiet: no frame for `quietMs`, so the server has
 * finished the burst of presence events that opening or closing streams causes.
 */
export interface Settle {
  readonly type: "settle"
  readonly quietMs: number
  readonly timeoutMs: number
}

/**
 * Posts sequentially into one room; after each post waits until every open
 * stream has received its `message.created` frame (or the timeout passes).
 */
export interface Latency {
  readonly type: "latency"
  readonly baseUrl: string
  readonly token: string
  readonly roomId: string
  readonly warmup: number
  readonly posts: number
  readonly deliveryTimeoutMs: number
  /** Stop posting after this long, even if fewer posts were made. */
  readonly budgetMs: number
  /** How many open streams receive each post (default: all of them; fewer when the rest cannot see the room). */
  readonly receivers?: number
}

/**
 * Concurrent posters, one room each, posting as fast as they can for a while.
 * A poster with a `mention` (say `@mate [[delay:50]]`) puts it in every
 * `mentionEvery`-th post, so some posts also start teammate turns.
 */
export interface Throughput {
  readonly type: "throughput"
  readonly baseUrl: string
  readonly posters: ReadonlyArray<{ readonly token: string; readonly roomId: string; readonly mention?: string }>
  readonly mentionEvery?: number
  readonly durationMs: number
  readonly maxPerPoster: number
  readonly drainTimeoutMs: number
}

/** One teammate turn: a post whose text mentions the teammate, answered by the teammate's reply. */
export interface TurnJob {
  readonly token: string
  readonly roomId: string
  readonly teammateId: string
  readonly text: string
}

/**
 * Teammate turns in closed loop: the lanes run concurrently, each posting
 * its jobs one after the other and waiting, after each post, for the
 * teammate's reply (`message.created` by it) before the next. A teammate
 * belongs to one lane only, so the next reply by it answers the post just
 * made. Needs a stream open that sees every room of the jobs.
 */
export interface Turns {
  readonly type: "turns"
  readonly baseUrl: string
  readonly lanes: ReadonlyArray<ReadonlyArray<TurnJob>>
  /** The longest wait for one reply; a turn that takes longer counts as timed out. */
  readonly turnTimeoutMs: number
  /** Stop starting turns after this long. */
  readonly budgetMs: number
}

/**
 * Posts every message at once (`concurrency` at a time), then records every
 * `message.delta` and teammate `message.created` of the `expect`ed teammates
 * until each has replied `replies` times (or the timeout passes).
 */
export interface Round {
  readonly type: "round"
  readonly baseUrl: string
  readonly posts: ReadonlyArray<{ readonly token: string; readonly roomId: string; readonly text: string }>
  readonly concurrency: number
  readonly expect: ReadonlyArray<{ readonly teammateId: string; readonly replies: number }>
  readonly timeoutMs: number
}

/**
 * Makes `count` files of `bytes` random bytes each, in the load generator's
 * memory, replacing those made before: the files the next transfers move.
 */
export interface MakeFiles {
  readonly type: "makeFiles"
  readonly count: number
  readonly bytes: number
}

/** What a transfer of the made files does with each of them. */
export type TransferKind =
  /** Writes it with node:fs into `dir` (one open, write and close; `fsync` before closing, or not). */
  | { readonly kind: "write"; readonly dir: string; readonly fsync: boolean }
  /** Reads back with node:fs what the last `write` put in `dir`. */
  | { readonly kind: "read"; readonly dir: string }
  /** Uploads it into a room's library (`POST /v1/rooms/:room/files`, one multipart part named `file`). */
  | { readonly kind: "upload"; readonly baseUrl: string; readonly token: string; readonly roomId: string }
  /** Downloads what the last `upload` stored (`GET /v1/rooms/:room/files/:file/content`). */
  | { readonly kind: "download"; readonly baseUrl: string; readonly token: string; readonly roomId: string }

/** Moves every made file one way, `concurrency` at a time, timed from the first start to the last end. */
export interface Transfer {
  readonly type: "transfer"
  readonly how: TransferKind
  readonly concurrency: number
}

/** The outcome of `Transfer`. */
export interface TransferResult {
  readonly files: number
  /** Bytes moved by the transfers that succeeded. */
  readonly bytes: number
  readonly failed: number
  readonly elapsedMs: number
  /** Each file's own time. */
  readonly perFile: Summary
}

/** A document on disk to upload, and the type to declare for it. */
export interface Document {
  readonly path: string
  readonly name: string
  readonly contentType: string
}

/**
 * Uploads each document, one after the other, and waits for its
 * `file.updated` frame (its text read, or not) on an open stream before the
 * next. Needs a stream open that sees the room.
 */
export interface ReadTexts {
  readonly type: "readTexts"
  readonly baseUrl: string
  readonly token: string
  readonly roomId: string
  readonly documents: ReadonlyArray<Document>
  /** The longest wait for one `file.updated`. */
  readonly timeoutMs: number
}

/** One document of `ReadTexts`. */
export interface TextRead {
  readonly bytes: number
  readonly uploadMs: number
  /** From the upload's response to its `file.updated` frame; null when none came. */
  readonly readMs: number | null
  /** The `textStatus` announced (`ready`, `none`, `failed`), or `missing`. */
  readonly status: string
}

/** Sends `count` GETs of `path` one after the other (after `warmup` unmeasured ones). */
export interface Requests {
  readonly type: "requests"
  readonly baseUrl: string
  readonly token: string
  readonly path: string
  readonly warmup: number
  readonly count: number
}

/** The outcome of `Requests`. */
export interface RequestsResult {
  readonly count: number
  readonly failed: number
  readonly latency: Summary
}

/** A Telegram bot's webhook: where updates are posted, with the secret token, for one chat. */
export interface TelegramHook {
  /** `/v1/gateway/telegram/{account}`. */
  readonly path: string
  readonly secret: string
  readonly chat: number
}

/**
 * Gateway fairness: a steady trickle of updates to `quiet` (`perSecond`,
 * open loop) for `baselineMs` alone, then again while `count` updates are
 * posted to `burst`, `concurrency` at a time (and at least `minDuringMs`).
 * Each trickle update's latency runs from just before its POST to its
 * `message.created` on an open stream that sees the quiet room.
 */
export interface Fairness {
  readonly type: "fairness"
  readonly baseUrl: string
  readonly quiet: TelegramHook
  readonly burst: TelegramHook & { readonly count: number; readonly concurrency: number }
  readonly perSecond: number
  readonly baselineMs: number
  readonly minDuringMs: number
  readonly deliveryTimeoutMs: number
}

/** The outcome of `Fairness`. */
export interface FairnessResult {
  /** The trickle alone. */
  readonly baseline: Summary
  /** The trickle while the burst was posted. */
  readonly during: Summary
  /** The trickle's POST round-trips (the message is stored when it is answered), alone and during the burst. */
  readonly posts: { readonly baseline: Summary; readonly during: Summary }
  /** Trickle updates whose message did not arrive within the timeout. */
  readonly missing: number
  /** Trickle posts not answered 200. */
  readonly errors: number
  readonly burst: {
    readonly posted: number
    /** Burst posts not answered 200. */
    readonly errors: number
    /** From the first burst post to the last answer. */
    readonly elapsedMs: number
    /** Burst POST round-trips (each is stored when it is answered). */
    readonly post: Summary
  }
}

/** A request to the load generator. */
export type Command =
  | OpenStreams
  | CloseStreams
  | Settle
  | Latency
  | Throughput
  | Turns
  | Round
  | Requests
  | MakeFiles
  | Transfer
  | ReadTexts
  | Fairness

/** The outcome of `Latency`. */
export interface LatencyResult {
  readonly posts: number
  readonly streams: number
  /** POST round-trips. */
  readonly post: Summary
  /** Time from just before each POST to each stream's receipt of the message. */
  readonly delivery: Summary
  /** Deliveries that did not arrive within the timeout. */
  readonly missing: number
  readonly errors: number
}

/** The outcome of `Throughput`. */
export interface ThroughputResult {
  readonly posted: number
  /** Posted messages whose `message.created` frame arrived. */
  readonly delivered: number
  readonly errors: number
  /** From the first post to the last delivery (or to the drain timeout). */
  readonly elapsedMs: number
  /** POST to delivery, for each delivered message. */
  readonly delivery: Summary
}

/** The outcome of `Turns`. */
export interface TurnsResult {
  /** Turns started (posts made). */
  readonly turns: number
  /** Turns whose reply arrived. */
  readonly completed: number
  /** Replies that were not the model's answer (a failed turn's apology, a refusal). */
  readonly failedReplies: number
  /** Posts the server refused. */
  readonly errors: number
  /** Turns whose reply did not arrive within the timeout. */
  readonly timedOut: number
  /** From the first post to the last reply. */
  readonly elapsedMs: number
  /** POST round-trips. */
  readonly post: Summary
  /** From just before the POST to the teammate's first `message.delta`. */
  readonly firstDelta: Summary
  /** From just before the POST to the teammate's reply. */
  readonly reply: Summary
}

/** The outcome of `Round`; times are wall-clock epoch milliseconds, comparable across processes. */
export interface RoundResult {
  readonly startedAt: number
  readonly postedAt: number
  readonly errors: number
  /** Whether every expected reply arrived. */
  readonly complete: boolean
  readonly teammates: ReadonlyArray<{
    readonly teammateId: string
    readonly deltas: ReadonlyArray<number>
    readonly replies: ReadonlyArray<number>
  }>
}

/** Results by command. */
export interface Results {
  readonly open: { readonly opened: number }
  readonly close: { readonly closed: number }
  readonly settle: { readonly waitedMs: number }
  readonly latency: LatencyResult
  readonly throughput: ThroughputResult
  readonly turns: TurnsResult
  readonly round: RoundResult
  readonly requests: RequestsResult
  readonly makeFiles: { readonly count: number }
  readonly transfer: TransferResult
  readonly readTexts: ReadonlyArray<TextRead>
  readonly fairness: FairnessResult
}

/** Asks the model process for its base URL (once it listens). */
export interface StartModel {
  readonly type: "start"
}

/** Asks the model process for the last `last` request bodies it received. */
export interface ModelRequests {
  readonly type: "requests"
  readonly last: number
}

/** A request to the model process (`Model.ts`). */
export type ModelCommand = StartModel | ModelRequests

/** Results by model command. */
export interface ModelResults {
  readonly start: { readonly baseURL: string }
  readonly requests: { readonly requests: ReadonlyArray<Readonly<Record<string, unknown>>>; readonly total: number }
}

/** A request as sent, with a correlation id. */
export interface Request<C = Command> {
  readonly id: number
  readonly command: C
}

/** A reply to a request. */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string }
