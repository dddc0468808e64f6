/**
 * Local chat platforms for tests, on one loopback port: the Slack Web API's
 * `chat.postMessage`, `chat.update` and `chat.delete` under `/api/` and the
 * Telegram Bot API's `sendMessage`, `editMessageText` and `deleteMessage`
 * under `/bot{token}/`, and Slack's `users.info` for the people a test names. Every call is recorded and answered ok, or as a test
 * scripts it per channel or chat (429 with Retry-After / retry_after, a
 * 5xx, a platform error), each in its platform's own shape. Tests wait for
 * recorded calls, never for time.
 *
 * It also serves files a test puts on it: at a Slack download URL under
 * `/files/` (answered only with `Authorization: Bearer` and a token), and to
 * Telegram's `getFile` and `/file/bot{token}/{file_path}`; each download is
 * recorded.
 */
import * as LoopbackServer from "@troupe/gateway/testing/LoopbackServer"
import { Context, Effect } from "effect"
import { randomBytes } from "node:crypto"
import type { ServerResponse } from "node:http"

/** A call the fake received. */
export interface PlatformCall {
  readonly platform: "slack" | "telegram"
  readonly method: string
  readonly token: string
  readonly channel: string
  readonly text: string
  /** The thread it was sent in: Slack's `thread_ts`, Telegram's `reply_parameters.message_id`. */
  readonly thread: string | undefined
  /** The message an edit or a deletion is about (Slack's `ts`, Telegram's `message_id`), the user `users.info` asks about. */
  readonly target: string | undefined
  /** The id the fake answered with when it accepted the message (Slack's `ts`, Telegram's `message_id`). */
  readonly id: string
  /** When it arrived (ms since the epoch). */
  readonly at: number
}

/** A download of a file the fake served (or refused). */
export interface FileDownload {
  readonly path: string
  readonly authorization: string | undefined
  readonly status: number
}

/** A file put on the fake: where Slack and Telegram offer it. */
export interface ServedFile {
  /** Its Slack `url_private_download`. */
  readonly slackUrl: string
  /** Its Telegram `file_id`. */
  readonly fileId: string
}

/** How the fake answers one call. */
export type PlatformAnswer =
  | { readonly kind: "ok" }
  | { readonly kind: "rateLimited"; readonly retryAfterSeconds: number }
  | { readonly kind: "status"; readonly status: number }
  | { readonly kind: "error"; readonly error: string }

/** The running fake. */
export interface FakePlatformServer {
  /** The Slack Web API base URL, for `SLACK_API_URL`. */
  readonly url: string
  /** The Telegram Bot API root, for `TELEGRAM_API_URL`. */
  readonly telegramUrl: string
  readonly calls: ReadonlyArray<PlatformCall>
  /** Makes `users.info` know the Slack user `id` (any other is `user_not_found`). */
  readonly addUser: (id: string, profile: { readonly display_name: string; readonly real_name: string }) => void
  /** Answers the next calls to `channel` with `answers`, in order, then ok again. */
  readonly script: (channel: string, answers: ReadonlyArray<PlatformAnswer>) => void
  /** The calls matching `keep` once there are `count` of them. */
  readonly waitFor: (
    keep: (call: PlatformCall) => boolean,
    count?: number
  ) => Effect.Effect<ReadonlyArray<PlatformCall>>
  /** Serves `bytes` as a file, or answers its downloads with `status` instead. */
  readonly serveFile: (bytes: Uint8Array, status?: number) => ServedFile
  readonly downloads: ReadonlyArray<FileDownload>
}

/** The fake of a test server. */
export class FakePlatforms extends Context.Tag("test/FakePlatforms")<FakePlatforms, FakePlatformServer>() {}

/** The body's fields as strings, nested objects flattened to dotted keys (`reply_parameters.message_id`). */
const fieldsOf = (contentType: string, body: string): Record<string, string> => {
  if (!contentType.includes("application/json")) return Object.fromEntries(new URLSearchParams(body))
  const out: Record<string, string> = {}
  const walk = (value: unknown, prefix: string) => {
    if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value)) walk(v, prefix === "" ? k : `${prefix}.${k}`)
    } else out[prefix] = String(value)
  }
  walk(JSON.parse(body), "")
  return out
}

/** Starts the fake for the scope. */
export const make = Effect.gen(function*() {
  const log = LoopbackServer.recorder<PlatformCall>()
  const scripts = new Map<string, Array<PlatformAnswer>>()
  const users = new Map<string, { readonly display_name: string; readonly real_name: string }>()
  const files = new Map<string, { bytes: Uint8Array; status: number }>()
  const downloads: Array<FileDownload> = []
  /** Answers a GET for a file or for `getFile`. */
  const serveGet = (path: string, authorization: string | undefined, res: ServerResponse) => {
    const getFile = /^\/bot[^/]+\/getFile\?file_id=(.+)$/.exec(path)
    if (getFile !== null) {
      const id = decodeURIComponent(getFile[1] ?? "")
      const file = files.get(id)
      res.writeHead(file === undefined ? 400 : 200, { "content-type": "application/json" })
      res.end(JSON.stringify(
        file === undefined
          ? { ok: false, error_code: 400, description: "Bad Request: invalid file_id" }
          : { ok: true, result: { file_id: id, file_size: file.bytes.length, file_path: `documents/${id}.bin` } }
      ))
      return
    }
    const id = /^\/files\/([^/]+)\//.exec(path)?.[1] ?? /^\/file\/bot[^/]+\/documents\/([^/]+)\.bin$/.exec(path)?.[1]
    const file = id === undefined ? undefined : files.get(id)
    const slack = path.startsWith("/files/")
    const status = file === undefined
      ? 404
      : slack && !/^Bearer \S+$/.test(authorization ?? "")
      ? 403
      : file.status
    downloads.push({ path, authorization, status })
    res.writeHead(status, { "content-type": "application/octet-stream" })
    res.end(status === 200 && file !== undefined ? file.bytes : undefined)
  }
  const root = yield* LoopbackServer.serve((req, raw, res) => {
    const body = raw.toString("utf8")
    const path = req.url ?? ""
    if (req.method === "GET") return serveGet(path, req.headers["authorization"], res)
    const telegram = /^\/bot([^/]+)\/(\w+)$/.exec(path)
    const fields = fieldsOf(req.headers["content-type"] ?? "", body)
    const channel = fields[telegram === null ? "channel" : "chat_id"] ?? ""
    const number = log.entries.length + 1
    const id = telegram === null
      ? `${Math.floor(Date.now() / 1000)}.${String(number - 1).padStart(6, "0")}`
      : String(number)
    const call: PlatformCall = {
      platform: telegram === null ? "slack" : "telegram",
      method: telegram?.[2] ?? path.replace(/^.*\//, ""),
      token: telegram?.[1] ?? (req.headers["authorization"] ?? "").replace(/^Bearer /, ""),
      channel,
      text: fields["text"] ?? "",
      thread: fields["thread_ts"] ?? fields["reply_parameters.message_id"],
      target: fields["ts"] ?? fields["message_id"],
      id,
      at: Date.now()
    }
    const answer = scripts.get(channel)?.shift() ?? { kind: "ok" }
    const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers })
      res.end(JSON.stringify(value))
    }
    if (telegram !== null) {
      if (answer.kind === "rateLimited") {
        json(429, {
          ok: false,
          error_code: 429,
          description: `Too Many Requests: retry after ${answer.retryAfterSeconds}`,
          parameters: { retry_after: answer.retryAfterSeconds }
        })
      } else if (answer.kind === "status") {
        json(answer.status, { ok: false, error_code: answer.status, description: "Internal Server Error" })
      } else if (answer.kind === "error") json(400, { ok: false, error_code: 400, description: answer.error })
      else if (telegram[2] === "deleteMessage") json(200, { ok: true, result: true })
      else json(200, { ok: true, result: { message_id: number, chat: { id: Number(channel) }, text: fields["text"] } })
    } else if (answer.kind === "rateLimited") {
      json(429, { ok: false, error: "ratelimited" }, { "retry-after": String(answer.retryAfterSeconds) })
    } else if (answer.kind === "status") json(answer.status, { ok: false })
    else if (answer.kind === "error") json(200, { ok: false, error: answer.error })
    else if (call.method === "users.info") {
      const profile = users.get(fields["user"] ?? "")
      json(
        200,
        profile === undefined
          ? { ok: false, error: "user_not_found" }
          : { ok: true, user: { id: fields["user"], name: profile.display_name, profile } }
      )
    } else json(200, { ok: true, channel, ts: id, message: { text: fields["text"] } })
    log.record({ ...call, target: call.target ?? fields["user"] })
  })
  const fake: FakePlatformServer = {
    url: `${root}/api/`,
    telegramUrl: root,
    calls: log.entries,
    addUser: (id, profile) => users.set(id, profile),
    script: (channel, answers) => scripts.set(channel, [...answers]),
    waitFor: log.waitFor,
    serveFile: (bytes, status = 200) => {
      const id = `F${randomBytes(6).toString("hex").toUpperCase()}`
      files.set(id, { bytes, status })
      return { slackUrl: `${root}/files/${id}/download`, fileId: id }
    },
    downloads
  }
  return fake
})
