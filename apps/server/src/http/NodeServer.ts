/**
 * The Node HTTP server under the platform's, with four adjustments, each so
 * that a client always gets an answer rather than a hang or a reset:
 *
 * - Idle keep-alive connections stay open for `KEEP_ALIVE_MS` (Node's
 *   default is 5 seconds), longer than a proxy in front keeps its idle
 *   upstream connections (nginx: 60 seconds) and than clients keep theirs.
 *   Otherwise a client sending on a pooled connection just as the server
 *   closes it gets a reset, which happens readily on a busy machine.
 * - Requests that arrive after the port opens but before the application's
 *   handler is attached (start-up) or after it is detached (shut-down) are
 *   answered 503 with `Retry-After`, instead of never.
 * - A request body sent without `Content-Length` (chunked) that grows past
 *   the body limit. The platform stops reading such a body at the limit and
 *   destroys the request, which destroys the socket: the client sees its
 *   connection reset instead of the 413 the request guard answers. Here
 *   destroying a request whose body is still arriving drains the rest instead
 *   (discarding it, up to `DRAIN_LIMIT_BYTES`), so the 413 reaches the client
 *   on an intact connection. Bodies with `Content-Length` are refused before
 *   any byte is read and are unaffected.
 * - A request whose head is larger than Node's limit (16 KiB) gets a JSON 431,
 *   and the rest of what the client sends is read and discarded before the
 *   connection closes, so the client reads the 431 instead of a reset.
 */
import { MAX_BODY_BYTES } from "@troupe/api/Api"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { Duplex } from "node:stream"

/** How much of an oversize chunked body is read and discarded before the connection is cut. */
export const DRAIN_LIMIT_BYTES = 16 * MAX_BODY_BYTES

const drainInsteadOfDestroy = (request: IncomingMessage) => {
  if (request.headers["content-length"] !== undefined || request.headers["transfer-encoding"] === undefined) return
  const destroy = request.destroy.bind(request)
  let draining = false
  request.destroy = (error?: Error) => {
    if (draining || request.complete || error !== undefined) return destroy(error)
    draining = true
    let drained = 0
    request.removeAllListeners("data")
    request.on("data", (chunk: Buffer) => {
      drained += chunk.length
      if (drained > DRAIN_LIMIT_BYTES) destroy()
    })
    request.resume()
    return request
  }
}

/** How long a connection refused for its head is drained before it is closed. */
const HEAD_DRAIN_MS = 5_000

const errorBody = (tag: string, message: string) => JSON.stringify({ _tag: tag, message })

/** Answers a request that came too early or too late for the application, without touching its body. */
const notServing = (response: ServerResponse) => {
  const body = errorBody("Unavailable", "the server is starting or stopping; retry shortly")
  response.writeHead(503, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "retry-after": "1",
    connection: "close"
  })
  response.end(body)
}

/**
 * Answers a request Node could not parse: 431 when its head is too large, 400
 * otherwise, as JSON. The socket is half-closed and what the client still
 * sends is discarded for a while, so the answer is read rather than reset.
 */
const refuseUnparsable = (error: Error & { code?: string }, socket: Duplex) => {
  if (!socket.writable) return socket.destroy()
  const tooLarge = error.code === "HPE_HEADER_OVERFLOW"
  const status = tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request"
  const body = tooLarge
    ? errorBody("MalformedRequest", "the request's headers are larger than the 16 KiB limit")
    : errorBody("MalformedRequest", "the request could not be parsed as HTTP")
  socket.on("data", () => {})
  socket.on("error", () => {})
  const timer = setTimeout(() => socket.destroy(), HEAD_DRAIN_MS)
  socket.once("close", () => clearTimeout(timer))
  socket.once("end", () => socket.destroy())
  socket.end(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `connection: close\r\n\r\n${body}`
  )
  socket.resume()
}

/** How long an idle keep-alive connection stays open. */
export const KEEP_ALIVE_MS = 65_000

/** A Node HTTP server for `NodeHttpServer.layer`. */
export const createHttpServer = (): Server => {
  const server = createServer({ keepAliveTimeout: KEEP_ALIVE_MS, headersTimeout: KEEP_ALIVE_MS + 1_000 })
  const own = new Set<unknown>([drainInsteadOfDestroy])
  const fallback = (_request: IncomingMessage, response: ServerResponse) => {
    if (server.listeners("request").some((listener) => !own.has(listener))) return
    notServing(response)
  }
  own.add(fallback)
  server.prependListener("request", drainInsteadOfDestroy)
  server.on("request", fallback)
  server.on("clientError", refuseUnparsable)
  return server
}
