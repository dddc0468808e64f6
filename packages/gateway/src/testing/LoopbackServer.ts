/**
 * What the gateway's test peers (a fake Slack and Telegram, a webhook
 * receiver) share: an HTTP server on a loopback port for the scope, handed
 * each request with its whole body, and a log of what it saw that tests wait
 * on (never on time).
 */
import { Effect } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"

/** Entries recorded as they come, and a way to wait for them. */
export interface Recorder<A> {
  readonly entries: ReadonlyArray<A>
  readonly record: (entry: A) => void
  /** The entries matching `keep` once there are `count` of them. */
  readonly waitFor: (keep: (entry: A) => boolean, count?: number) => Effect.Effect<ReadonlyArray<A>>
}

/** A new, empty recorder. */
export const recorder = <A>(): Recorder<A> => {
  const entries: Array<A> = []
  const waiters: Array<{ keep: (a: A) => boolean; count: number; resolve: (found: ReadonlyArray<A>) => void }> = []
  const settle = () => {
    for (const w of [...waiters]) {
      const found = entries.filter(w.keep)
      if (found.length >= w.count) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(found)
      }
    }
  }
  return {
    entries,
    record: (entry) => {
      entries.push(entry)
      settle()
    },
    waitFor: (keep, count = 1) =>
      Effect.promise(() =>
        new Promise<ReadonlyArray<A>>((resolve) => {
          waiters.push({ keep, count, resolve })
          settle()
        })
      )
  }
}

/** Serves `handle` on a random loopback port for the scope; its base URL, `http://127.0.0.1:{port}`. */
export const serve = (handle: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.async<{ server: ReturnType<typeof createServer>; url: string }>((resume) => {
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (chunk: Buffer) => chunks.push(chunk))
        req.on("end", () => handle(req, Buffer.concat(chunks), res))
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}` }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ url }) => url))
