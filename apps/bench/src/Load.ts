/**
 * The load generator: a child process that holds the SSE connections and
 * makes the timed POSTs, so parsing a thousand streams does not share the
 * server's event loop. Plain `node:http` with agents that do not cap sockets
 * per origin. Driven over IPC by `main.ts` and `cluster.ts` (see `Protocol.ts`).
 */
import { randomBytes, randomUUID } from "node:crypto"
import { mkdir, open as openFile, readFile } from "node:fs/promises"
import { Agent, request } from "node:http"
import * as Path from "node:path"
import { performance } from "node:perf_hooks"
import type {
  Command,
  FairnessResult,
  LatencyResult,
  Reply,
  Request,
  RequestsResult,
  Results,
  RoundResult,
  TelegramHook,
  TextRead,
  ThroughputResult,
  TransferKind,
  TransferResult,
  TurnsResult
} from "./Protocol.js"
import { summarize } from "./Stats.js"

const streamAgent = new Agent({ keepAlive: false, maxSockets: Infinity })
const postAgent = new Agent({ keepAlive: true, maxSockets: Infinity })

/** A frame the commands care about, with its arrival time (`performance.now()`). */
type Frame =
  | {
    readonly kind: "created"
    readonly id: string
    readonly authorKind: string
    readonly authorId: string
    readonly text: string
    readonly at: number
  }
  | { readonly kind: "delta"; readonly teammateId: string; readonly at: number }
  | { readonly kind: "file"; readonly id: string; readonly status: string; readonly at: number }

/** Every running command that listens receives every frame from every open stream. */
const listeners = new Set<(frame: Frame) => void>()

/** Listens to frames until the returned function is called. */
const listen = (listener: (frame: Frame) => void) => {
  listeners.add(listener)
  return () => {
    listeners.delete(listener)
  }
}

/** When any open stream last received a frame. */
let lastFrameAt = 0

/** Wall-clock epoch milliseconds for a `performance.now()` reading: the same clock in every process. */
const epoch = (at: number) => performance.timeOrigin + at

const open: Array<{ readonly close: () => void }> = []

const parse = (json: string): unknown => {
  try {
    return JSON.parse(json)
  } catch {
    return undefined
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

/** The string at `path` in a parsed JSON value, if it is a string there. */
const stringIn = (value: unknown, path: ReadonlyArray<string>): string | undefined => {
  for (const key of path) {
    value = isRecord(value) ? value[key] : undefined
  }
  return typeof value === "string" ? value : undefined
}

/** The string at `path` in a JSON text, if it parses and is a string there. */
const stringAt = (json: string, path: ReadonlyArray<string>): string | undefined => stringIn(parse(json), path)

const dataOf = (block: string) => {
  const line = block.split("\n").find((l) => l.startsWith("data:"))
  return line === undefined ? undefined : parse(line.slice(5))
}

/** The frame in an SSE block, if it is a message, a delta or a file's update. */
const frameOf = (block: string, at: number): Frame | undefined => {
  if (block.includes("\nevent: message.created\n")) {
    const message = dataOf(block)
    const id = stringIn(message, ["event", "message", "id"])
    if (id === undefined) return undefined
    return {
      kind: "created",
      id,
      authorKind: stringIn(message, ["event", "message", "authorKind"]) ?? "",
      authorId: stringIn(message, ["event", "message", "authorId"]) ?? "",
      text: stringIn(message, ["event", "message", "text"]) ?? "",
      at
    }
  }
  if (block.includes("\nevent: message.delta\n")) {
    const teammateId = stringIn(dataOf(block), ["event", "teammateId"])
    return teammateId === undefined ? undefined : { kind: "delta", teammateId, at }
  }
  if (block.includes("\nevent: file.updated\n")) {
    const event = dataOf(block)
    const id = stringIn(event, ["event", "file", "id"])
    return id === undefined
      ? undefined
      : { kind: "file", id, status: stringIn(event, ["event", "file", "textStatus"]) ?? "", at }
  }
  return undefined
}

const openStream = (baseUrl: string, token: string, timeoutMs: number) =>
  new Promise<{ readonly close: () => void }>((resolve, reject) => {
    const req = request(new URL("/v1/events", baseUrl), {
      agent: streamAgent,
      headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" }
    })
    const handle = { close: () => req.destroy() }
    const timer = setTimeout(() => {
      req.destroy()
      reject(new Error(`event stream not ready after ${timeoutMs} ms`))
    }, timeoutMs)
    req.on("response", (res) => {
      if (res.statusCode !== 200) {
        clearTimeout(timer)
        res.resume()
        reject(new Error(`event stream answered ${res.statusCode}`))
        return
      }
      res.setEncoding("utf8")
      let buffer = ""
      let ready = false
      res.on("data", (chunk: string) => {
        const at = performance.now()
        buffer += chunk
        let end = buffer.indexOf("\n\n")
        while (end !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          lastFrameAt = at
          if (!ready && block.includes(": ready")) {
            ready = true
            clearTimeout(timer)
            resolve(handle)
          } else if (listeners.size > 0) {
            const frame = frameOf(block, at)
            if (frame !== undefined) { for (const listener of listeners) listener(frame) }
          }
          end = buffer.indexOf("\n\n")
        }
      })
      res.on("error", () => {})
    })
    req.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    req.end()
  })

/**
 * POSTs a body made of `parts` to `url`; resolves with the id of what it
 * created, or `undefined` when the server refused.
 */
const create = (
  url: URL,
  token: string,
  contentType: string,
  parts: ReadonlyArray<Uint8Array>,
  timeoutMs: number
) =>
  new Promise<string | undefined>((resolve) => {
    const req = request(url, {
      method: "POST",
      agent: postAgent,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": contentType,
        "content-length": parts.reduce((n, part) => n + part.byteLength, 0)
      }
    })
    req.setTimeout(timeoutMs, () => req.destroy())
    req.on("response", (res) => {
      res.setEncoding("utf8")
      let text = ""
      res.on("data", (chunk: string) => (text += chunk))
      res.on("end", () => {
        resolve(res.statusCode === 201 ? stringAt(text, ["id"]) : undefined)
      })
      res.on("error", () => resolve(undefined))
    })
    req.on("error", () => resolve(undefined))
    for (const part of parts) req.write(part)
    req.end()
  })

/** Posts a message; resolves with its id, or `undefined` when the server refused. */
const post = (baseUrl: string, token: string, roomId: string, text: string) =>
  create(
    new URL(`/v1/rooms/${roomId}/messages`, baseUrl),
    token,
    "application/json",
    [Buffer.from(JSON.stringify({ text }))],
    30_000
  )

/** Uploads `bytes` as a file of a room (one multipart part named `file`); resolves with its id. */
const upload = (baseUrl: string, token: string, roomId: string, bytes: Uint8Array, name: string, type: string) => {
  const boundary = `bench-${randomUUID()}`
  return create(new URL(`/v1/rooms/${roomId}/files`, baseUrl), token, `multipart/form-data; boundary=${boundary}`, [
    Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n` +
        `Content-Type: ${type}\r\n\r\n`
    ),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`)
  ], 120_000)
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const openAll = async (baseUrl: string, tokens: ReadonlyArray<string>, concurrency: number, timeoutMs: number) => {
  let next = 0
  const worker = async () => {
    while (next < tokens.length) {
      const token = tokens[next++]
      if (token === undefined) return
      open.push(await openStream(baseUrl, token, timeoutMs))
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker))
  return { opened: open.length }
}

/** Waits until no stream has received anything for `quietMs` (at most `timeoutMs`); returns how long it took. */
const settle = async (quietMs: number, timeoutMs: number) => {
  const start = performance.now()
  while (performance.now() - lastFrameAt < quietMs && performance.now() - start < timeoutMs) await sleep(20)
  return { waitedMs: performance.now() - start }
}

const closeAll = () => {
  const closed = open.length
  for (const stream of open.splice(0)) stream.close()
  return { closed }
}

const latency = async (cmd: Extract<Command, { type: "latency" }>): Promise<LatencyResult> => {
  const expected = cmd.receivers ?? open.length
  const arrivals = new Map<string, Array<number>>()
  let waiting: { readonly id: string; readonly done: () => void } | undefined
  const unlisten = listen((frame) => {
    if (frame.kind !== "created") return
    const { at, id } = frame
    let list = arrivals.get(id)
    if (list === undefined) arrivals.set(id, list = [])
    list.push(at)
    if (waiting !== undefined && waiting.id === id && list.length >= expected) waiting.done()
  })
  const rtts: Array<number> = []
  const deliveries: Array<number> = []
  let posts = 0
  let missing = 0
  let errors = 0
  const deadline = performance.now() + cmd.budgetMs
  for (let i = 0; i < cmd.warmup + cmd.posts && performance.now() < deadline; i++) {
    const t0 = performance.now()
    const id = await post(cmd.baseUrl, cmd.token, cmd.roomId, `latency probe ${i}`)
    const t1 = performance.now()
    if (id === undefined) {
      errors++
      continue
    }
    if (expected > 0 && (arrivals.get(id)?.length ?? 0) < expected) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          waiting = undefined
          resolve()
        }, cmd.deliveryTimeoutMs)
        waiting = {
          id,
          done: () => {
            clearTimeout(timer)
            waiting = undefined
            resolve()
          }
        }
      })
    }
    const list = arrivals.get(id) ?? []
    arrivals.delete(id)
    if (i < cmd.warmup) continue
    posts++
    rtts.push(t1 - t0)
    for (const at of list) deliveries.push(at - t0)
    missing += Math.max(0, expected - list.length)
  }
  unlisten()
  return { posts, streams: expected, post: summarize(rtts), delivery: summarize(deliveries), missing, errors }
}

const throughput = async (cmd: Extract<Command, { type: "throughput" }>): Promise<ThroughputResult> => {
  const sentAt = new Map<string, number>()
  const arrivedAt = new Map<string, number>()
  let delivered = 0
  let lastDelivery = 0
  // Posted messages only: teammate replies in the same rooms do not count.
  const unlisten = listen((frame) => {
    if (frame.kind !== "created" || arrivedAt.has(frame.id)) return
    arrivedAt.set(frame.id, frame.at)
    if (sentAt.has(frame.id)) {
      delivered++
      lastDelivery = frame.at
    }
  })
  let posted = 0
  let errors = 0
  const every = cmd.mentionEvery ?? 0
  const start = performance.now()
  const end = start + cmd.durationMs
  await Promise.all(cmd.posters.map(async (poster, p) => {
    for (let n = 0; n < cmd.maxPerPoster && performance.now() < end; n++) {
      const t0 = performance.now()
      const text = poster.mention !== undefined && every > 0 && n % every === every - 1
        ? `${poster.mention} throughput ${p}.${n}`
        : `throughput ${p}.${n}`
      const id = await post(cmd.baseUrl, poster.token, poster.roomId, text)
      if (id === undefined) errors++
      else {
        posted++
        sentAt.set(id, t0)
        const at = arrivedAt.get(id)
        if (at !== undefined) {
          delivered++
          lastDelivery = Math.max(lastDelivery, at)
        }
      }
    }
  }))
  const drainBy = performance.now() + cmd.drainTimeoutMs
  while (delivered < posted && performance.now() < drainBy) await sleep(5)
  unlisten()
  const latencies: Array<number> = []
  for (const [id, t0] of sentAt) {
    const at = arrivedAt.get(id)
    if (at !== undefined) latencies.push(at - t0)
  }
  const elapsedMs = (latencies.length >= posted ? lastDelivery : performance.now()) - start
  return { posted, delivered: latencies.length, errors, elapsedMs, delivery: summarize(latencies) }
}

/** Whether a teammate's reply is the model's answer (the fake model echoes), not an apology or a refusal. */
const isAnswer = (text: string) => text.startsWith("echo:") || text.startsWith("done:")

const turns = async (cmd: Extract<Command, { type: "turns" }>): Promise<TurnsResult> => {
  const laneOf = new Map<string, number>()
  cmd.lanes.forEach((lane, l) =>
    lane.forEach((job) => {
      if ((laneOf.get(job.teammateId) ?? l) !== l) throw new Error(`teammate ${job.teammateId} is in two lanes`)
      laneOf.set(job.teammateId, l)
    })
  )
  interface Waiting {
    firstDelta: number | undefined
    readonly done: (at: number, text: string) => void
  }
  const waiting = new Map<string, Waiting>()
  const unlisten = listen((frame) => {
    if (frame.kind === "delta") {
      const w = waiting.get(frame.teammateId)
      if (w !== undefined && w.firstDelta === undefined) w.firstDelta = frame.at
    } else if (frame.kind === "created" && frame.authorKind === "teammate") {
      waiting.get(frame.authorId)?.done(frame.at, frame.text)
    }
  })
  const posts: Array<number> = []
  const firstDeltas: Array<number> = []
  const replies: Array<number> = []
  let started = 0
  let failedReplies = 0
  let errors = 0
  let timedOut = 0
  let first = Number.POSITIVE_INFINITY
  let last = 0
  const deadline = performance.now() + cmd.budgetMs
  await Promise.all(cmd.lanes.map(async (lane) => {
    for (const job of lane) {
      if (performance.now() >= deadline) return
      let settle: (reply: { readonly at: number; readonly text: string } | undefined) => void = () => {}
      const replied = new Promise<{ readonly at: number; readonly text: string } | undefined>((resolve) => {
        settle = resolve
      })
      const timer = setTimeout(() => settle(undefined), cmd.turnTimeoutMs)
      const state: Waiting = {
        firstDelta: undefined,
        done: (at, text) => {
          clearTimeout(timer)
          settle({ at, text })
        }
      }
      waiting.set(job.teammateId, state)
      started++
      const t0 = performance.now()
      first = Math.min(first, t0)
      const id = await post(cmd.baseUrl, job.token, job.roomId, job.text)
      const t1 = performance.now()
      if (id === undefined) {
        errors++
        clearTimeout(timer)
        waiting.delete(job.teammateId)
        continue
      }
      posts.push(t1 - t0)
      const reply = await replied
      waiting.delete(job.teammateId)
      if (reply === undefined) {
        timedOut++
        continue
      }
      last = Math.max(last, reply.at)
      replies.push(reply.at - t0)
      if (state.firstDelta !== undefined) firstDeltas.push(state.firstDelta - t0)
      if (!isAnswer(reply.text)) failedReplies++
    }
  }))
  unlisten()
  return {
    turns: started,
    completed: replies.length,
    failedReplies,
    errors,
    timedOut,
    elapsedMs: replies.length === 0 ? 0 : last - first,
    post: summarize(posts),
    firstDelta: summarize(firstDeltas),
    reply: summarize(replies)
  }
}

const round = async (cmd: Extract<Command, { type: "round" }>): Promise<RoundResult> => {
  const seen = new Map(
    cmd.expect.map((e) => {
      const deltas: Array<number> = []
      const replies: Array<number> = []
      return [e.teammateId, { want: e.replies, deltas, replies }]
    })
  )
  let remaining = cmd.expect.reduce((n, e) => n + e.replies, 0)
  let finished: () => void = () => {}
  const done = new Promise<void>((resolve) => (finished = resolve))
  const unlisten = listen((frame) => {
    if (frame.kind === "delta") {
      seen.get(frame.teammateId)?.deltas.push(epoch(frame.at))
    } else if (frame.kind === "created" && frame.authorKind === "teammate") {
      const t = seen.get(frame.authorId)
      if (t === undefined) return
      t.replies.push(epoch(frame.at))
      if (t.replies.length <= t.want && --remaining === 0) finished()
    }
  })
  const startedAt = epoch(performance.now())
  let errors = 0
  let next = 0
  await Promise.all(Array.from({ length: Math.max(1, cmd.concurrency) }, async () => {
    while (next < cmd.posts.length) {
      const p = cmd.posts[next++]
      if (p === undefined) return
      if ((await post(cmd.baseUrl, p.token, p.roomId, p.text)) === undefined) errors++
    }
  }))
  const postedAt = epoch(performance.now())
  let timer: NodeJS.Timeout | undefined
  await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, cmd.timeoutMs)))])
  clearTimeout(timer)
  unlisten()
  return {
    startedAt,
    postedAt,
    errors,
    complete: remaining <= 0,
    teammates: [...seen].map(([teammateId, t]) => ({ teammateId, deltas: t.deltas, replies: t.replies }))
  }
}

/** One authenticated GET; resolves with whether it answered 200. */
const get = (baseUrl: string, token: string, path: string) =>
  new Promise<boolean>((resolve) => {
    const req = request(new URL(path, baseUrl), {
      method: "GET",
      agent: postAgent,
      headers: { authorization: `Bearer ${token}` }
    })
    req.setTimeout(30_000, () => req.destroy())
    req.on("response", (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode === 200))
      res.on("error", () => resolve(false))
    })
    req.on("error", () => resolve(false))
    req.end()
  })

const requests = async (cmd: Extract<Command, { type: "requests" }>): Promise<RequestsResult> => {
  for (let i = 0; i < cmd.warmup; i++) await get(cmd.baseUrl, cmd.token, cmd.path)
  const samples: Array<number> = []
  let failed = 0
  for (let i = 0; i < cmd.count; i++) {
    const start = performance.now()
    if (!(await get(cmd.baseUrl, cmd.token, cmd.path))) failed++
    samples.push(performance.now() - start)
  }
  return { count: cmd.count, failed, latency: summarize(samples) }
}

/** The files `makeFiles` made, and where the last `write` and `upload` put them. */
let made: ReadonlyArray<Uint8Array> = []
let written: ReadonlyArray<string> = []
let uploaded: Array<string | undefined> = []

const makeFiles = (count: number, bytes: number) => {
  made = Array.from({ length: count }, () => new Uint8Array(randomBytes(bytes)))
  written = []
  uploaded = []
  return { count }
}

/** Downloads a file; resolves with how many bytes came, or `undefined` when it was not a 200. */
const download = (baseUrl: string, token: string, roomId: string, fileId: string) =>
  new Promise<number | undefined>((resolve) => {
    const req = request(new URL(`/v1/rooms/${roomId}/files/${fileId}/content`, baseUrl), {
      agent: postAgent,
      headers: { authorization: `Bearer ${token}` }
    })
    req.setTimeout(120_000, () => req.destroy())
    req.on("response", (res) => {
      let bytes = 0
      res.on("data", (chunk: Buffer) => (bytes += chunk.byteLength))
      res.on("end", () => resolve(res.statusCode === 200 ? bytes : undefined))
      res.on("error", () => resolve(undefined))
    })
    req.on("error", () => resolve(undefined))
    req.end()
  })

/** Writes `bytes` to a new file at `path` with one open, write and close, fsync-ed before closing or not. */
const writeRaw = async (path: string, bytes: Uint8Array, fsync: boolean) => {
  const file = await openFile(path, "w")
  try {
    await file.writeFile(bytes)
    if (fsync) await file.sync()
  } finally {
    await file.close()
  }
}

/** Moves made file `i` one way; resolves with the bytes moved, or `undefined` when that failed. */
const moveOne = (how: TransferKind, i: number): Promise<number | undefined> => {
  const bytes = made[i] ?? new Uint8Array()
  switch (how.kind) {
    case "write": {
      const path = Path.join(how.dir, `raw-${i}`)
      return writeRaw(path, bytes, how.fsync).then(() => bytes.byteLength)
    }
    case "read":
      return readFile(written[i] ?? "").then((read) => read.byteLength)
    case "upload":
      return upload(how.baseUrl, how.token, how.roomId, bytes, `bench-${i}.bin`, "application/octet-stream").then(
        (id) => {
          uploaded[i] = id
          return id === undefined ? undefined : bytes.byteLength
        }
      )
    case "download": {
      const id = uploaded[i]
      if (id === undefined) return Promise.resolve(undefined)
      return download(how.baseUrl, how.token, how.roomId, id).then((n) => n === bytes.byteLength ? n : undefined)
    }
  }
}

const transfer = async (cmd: Extract<Command, { type: "transfer" }>): Promise<TransferResult> => {
  const { how } = cmd
  if (how.kind === "write") {
    await mkdir(how.dir, { recursive: true })
    written = made.map((_, i) => Path.join(how.dir, `raw-${i}`))
  }
  if (how.kind === "upload") uploaded = made.map(() => undefined)
  const samples: Array<number> = []
  let next = 0
  let bytes = 0
  let failed = 0
  const worker = async () => {
    while (next < made.length) {
      const i = next++
      const t0 = performance.now()
      const moved = await moveOne(how, i).catch(() => undefined)
      samples.push(performance.now() - t0)
      if (moved === undefined) failed++
      else bytes += moved
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: Math.max(1, Math.min(cmd.concurrency, made.length)) }, worker))
  return { files: made.length, bytes, failed, elapsedMs: performance.now() - start, perFile: summarize(samples) }
}

const readTexts = async (cmd: Extract<Command, { type: "readTexts" }>): Promise<ReadonlyArray<TextRead>> => {
  const updates = new Map<string, { readonly status: string; readonly at: number }>()
  let waiting: { readonly id: string; readonly done: () => void } | undefined
  const unlisten = listen((frame) => {
    if (frame.kind !== "file") return
    updates.set(frame.id, frame)
    if (waiting?.id === frame.id) waiting.done()
  })
  const reads: Array<TextRead> = []
  for (const doc of cmd.documents) {
    const bytes = await readFile(doc.path)
    const t0 = performance.now()
    const id = await upload(cmd.baseUrl, cmd.token, cmd.roomId, bytes, doc.name, doc.contentType)
    const t1 = performance.now()
    if (id !== undefined && !updates.has(id)) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, cmd.timeoutMs)
        waiting = {
          id,
          done: () => {
            clearTimeout(timer)
            resolve()
          }
        }
      })
      waiting = undefined
    }
    const update = id === undefined ? undefined : updates.get(id)
    reads.push({
      bytes: bytes.byteLength,
      uploadMs: t1 - t0,
      readMs: update === undefined ? null : update.at - t1,
      status: id === undefined ? "upload failed" : update?.status ?? "missing"
    })
  }
  unlisten()
  return reads
}

/** The next Telegram `update_id`, unique in this run. */
let nextUpdateId = randomBytes(3).readUIntBE(0, 3)

/** POSTs a Telegram update with a person's `text` in `hook`'s chat; resolves with the status (0 when it failed). */
const postUpdate = (baseUrl: string, hook: TelegramHook, text: string) =>
  new Promise<number>((resolve) => {
    const id = nextUpdateId++
    const body = Buffer.from(JSON.stringify({
      update_id: id,
      message: {
        message_id: id,
        from: { id: 7000 + (id % 50), is_bot: false, first_name: "Bench" },
        chat: { id: hook.chat, type: "supergroup" },
        date: Math.floor(Date.now() / 1000),
        text
      }
    }))
    const req = request(new URL(hook.path, baseUrl), {
      method: "POST",
      agent: postAgent,
      headers: {
        "content-type": "application/json",
        "content-length": body.byteLength,
        "x-telegram-bot-api-secret-token": hook.secret
      }
    })
    req.setTimeout(120_000, () => req.destroy())
    req.on("response", (res) => {
      res.resume()
      res.on("end", () => resolve(res.statusCode ?? 0))
      res.on("error", () => resolve(0))
    })
    req.on("error", () => resolve(0))
    req.end(body)
  })

const fairness = async (cmd: Extract<Command, { type: "fairness" }>): Promise<FairnessResult> => {
  const arrivals = new Map<string, number>()
  const unlisten = listen((frame) => {
    if (frame.kind === "created" && !arrivals.has(frame.text)) arrivals.set(frame.text, frame.at)
  })
  const probes: Array<{ readonly text: string; readonly t0: number; readonly during: boolean; rtt: number }> = []
  let errors = 0
  let n = 0
  /** The trickle, open loop, until `done()`; resolves when every probe was answered. */
  const trickle = async (during: boolean, done: () => boolean) => {
    const answered: Array<Promise<void>> = []
    const start = performance.now()
    for (let k = 0; !done(); k++) {
      const text = `fairness probe ${randomUUID()} ${n++}`
      const probe = { text, t0: performance.now(), during, rtt: Number.NaN }
      probes.push(probe)
      answered.push(
        postUpdate(cmd.baseUrl, cmd.quiet, text).then((status) => {
          probe.rtt = performance.now() - probe.t0
          if (status !== 200) errors++
        })
      )
      await sleep(Math.max(0, start + ((k + 1) * 1000) / cmd.perSecond - performance.now()))
    }
    await Promise.all(answered)
  }

  const baselineStart = performance.now()
  await trickle(false, () => performance.now() - baselineStart >= cmd.baselineMs)

  const burstPosts: Array<number> = []
  let burstErrors = 0
  let next = 0
  let burstDone = false
  const burstStart = performance.now()
  const worker = async () => {
    while (next < cmd.burst.count) {
      const i = next++
      const t0 = performance.now()
      const status = await postUpdate(cmd.baseUrl, cmd.burst, `burst ${i}`)
      burstPosts.push(performance.now() - t0)
      if (status !== 200) burstErrors++
    }
  }
  const burst = Promise.all(Array.from({ length: Math.max(1, cmd.burst.concurrency) }, worker)).then(() => {
    burstDone = true
    return performance.now() - burstStart
  })
  await trickle(true, () => burstDone && performance.now() - burstStart >= cmd.minDuringMs)
  const elapsedMs = await burst

  const deadline = performance.now() + cmd.deliveryTimeoutMs
  while (probes.some((p) => !arrivals.has(p.text)) && performance.now() < deadline) await sleep(20)
  unlisten()
  const latencies = (during: boolean) =>
    probes.flatMap((p) => {
      const at = arrivals.get(p.text)
      return p.during === during && at !== undefined ? [at - p.t0] : []
    })
  return {
    baseline: summarize(latencies(false)),
    during: summarize(latencies(true)),
    posts: {
      baseline: summarize(probes.filter((p) => !p.during).map((p) => p.rtt)),
      during: summarize(probes.filter((p) => p.during).map((p) => p.rtt))
    },
    missing: probes.filter((p) => !arrivals.has(p.text)).length,
    errors,
    burst: { posted: burstPosts.length, errors: burstErrors, elapsedMs, post: summarize(burstPosts) }
  }
}

const run = async (command: Command): Promise<Results[Command["type"]]> => {
  switch (command.type) {
    case "open":
      return openAll(command.baseUrl, command.tokens, command.concurrency, command.timeoutMs)
    case "close":
      return closeAll()
    case "settle":
      return settle(command.quietMs, command.timeoutMs)
    case "latency":
      return latency(command)
    case "throughput":
      return throughput(command)
    case "turns":
      return turns(command)
    case "round":
      return round(command)
    case "requests":
      return requests(command)
    case "makeFiles":
      return makeFiles(command.count, command.bytes)
    case "transfer":
      return transfer(command)
    case "readTexts":
      return readTexts(command)
    case "fairness":
      return fairness(command)
  }
}

process.on("message", (message: Request) => {
  run(message.command).then(
    (result): Reply => ({ id: message.id, ok: true, result }),
    (error: unknown): Reply => ({
      id: message.id,
      ok: false,
      error: error instanceof Error ? error.message : String(error)
    })
  ).then((reply) => process.send?.(reply))
})
process.on("disconnect", () => {
  closeAll()
  process.exit(0)
})
