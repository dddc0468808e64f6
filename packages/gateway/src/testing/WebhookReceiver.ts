/**
 * A webhook receiver for tests, on a loopback port: every request to any path
 * is recorded (path, headers, raw body) and answered 204, or with the statuses
 * a test scripted for its path (a 429 with `Retry-After: 1`). Tests wait for
 * recorded requests, never for time.
 */
import { Effect } from "effect"
import * as LoopbackServer from "./LoopbackServer.js"

/** A request the receiver got. */
export interface ReceivedRequest {
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: string
}

/** The running receiver. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:{port}`: any path under it is a receiving URL. */
  readonly url: string
  readonly received: ReadonlyArray<ReceivedRequest>
  /** Answers the next requests to `path` with these statuses, in order, then 204 again. */
  readonly script: (path: string, statuses: ReadonlyArray<number>) => void
  /** The requests to `path` once there are `count` of them. */
  readonly waitFor: (path: string, count?: number) => Effect.Effect<ReadonlyArray<ReceivedRequest>>
}

/** Starts a receiver for the scope. */
export const make = Effect.gen(function*() {
  const log = LoopbackServer.recorder<ReceivedRequest>()
  const scripts = new Map<string, Array<number>>()
  const url = yield* LoopbackServer.serve((req, body, res) => {
    const path = req.url ?? "/"
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v
    const status = scripts.get(path)?.shift() ?? 204
    res.writeHead(status, status === 429 ? { "retry-after": "1" } : {})
    res.end()
    log.record({ path, headers, body: body.toString("utf8") })
  })
  const receiver: WebhookReceiver = {
    url,
    received: log.entries,
    script: (path, statuses) => scripts.set(path, [...statuses]),
    waitFor: (path, count = 1) => log.waitFor((r) => r.path === path, count)
  }
  return receiver
})
