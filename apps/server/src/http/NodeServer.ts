/**
 * The Node HTTP server under the platform's. One adjustment: a request body
 * sent without `Content-Length` (chunked) that grows past the body limit.
 *
 * The platform stops reading such a body at the limit and destroys the
 * request, which destroys the socket: the client sees its connection reset
 * instead of the 413 the request guard answers. Here destroying a request
 * whose body is still arriving drains the rest instead (discarding it, up to
 * `DRAIN_LIMIT_BYTES`), so the 413 reaches the client on an intact
 * connection. Bodies with `Content-Length` are refused before any byte is
 * read and are unaffected.
 */
import { MAX_BODY_BYTES } from "@troupe/api/Api"
import { createServer, type IncomingMessage, type Server } from "node:http"

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

/** A Node HTTP server for `NodeHttpServer.layer`. */
export const createHttpServer = (): Server => {
  const server = createServer()
  server.prependListener("request", drainInsteadOfDestroy)
  return server
}
