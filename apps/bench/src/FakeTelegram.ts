/**
 * A Telegram Bot API for the gateway phase, on a loopback port of the
 * benchmark's own process (the server's `TELEGRAM_API_URL`): every method
 * answers ok, and each `sendMessage` is counted with the time it arrived, per
 * chat, so the phase can check the outbox's pacing from the platform's side.
 */
import * as LoopbackServer from "@troupe/gateway/testing/LoopbackServer"
import { Effect } from "effect"
import { performance } from "node:perf_hooks"

/** The running fake. */
export interface FakeTelegram {
  /** The Bot API root, for `TELEGRAM_API_URL`. */
  readonly url: string
  /** When each `sendMessage` to a chat arrived (`performance.now()`, ascending), by chat id. */
  readonly sends: ReadonlyMap<string, ReadonlyArray<number>>
}

/** The chat a Bot API call names, from its JSON body. */
const chatOf = (body: string) => {
  try {
    const parsed: unknown = JSON.parse(body)
    return typeof parsed === "object" && parsed !== null && "chat_id" in parsed ? String(parsed.chat_id) : ""
  } catch {
    return ""
  }
}

/** Starts the fake for the scope. */
export const make = Effect.gen(function*() {
  const sends = new Map<string, Array<number>>()
  let sent = 0
  const url = yield* LoopbackServer.serve((req, body, res) => {
    const chat = chatOf(body.toString("utf8"))
    if ((req.url ?? "").endsWith("/sendMessage")) {
      const times = sends.get(chat) ?? []
      times.push(performance.now())
      sends.set(chat, times)
    }
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({ ok: true, result: { message_id: ++sent, chat: { id: Number(chat) } } }))
  })
  const fake: FakeTelegram = { url, sends }
  return fake
})

/** The most of `times` (ms, ascending) that fall in any window of `windowMs` (its ends included). */
export const maxInWindow = (times: ReadonlyArray<number>, windowMs: number) => {
  let most = 0
  let first = 0
  for (let last = 0; last < times.length; last++) {
    while ((times[last] ?? 0) - (times[first] ?? 0) > windowMs) first++
    most = Math.max(most, last - first + 1)
  }
  return most
}
