/**
 * Implementations of the contract's middleware: bearer authentication and
 * the request-body guard.
 */
import { HttpServerRequest } from "@effect/platform"
import { MAX_BODY_BYTES, RequestGuard } from "@troupe/api/Api"
import { Authentication } from "@troupe/api/Auth"
import { MalformedRequest, PayloadTooLarge } from "@troupe/domain/Errors"
import { Accounts } from "@troupe/workspace/Accounts"
import { Effect, Layer, Option, Redacted } from "effect"

/** Resolves a bearer token to the caller. */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.map(Accounts, (accounts) =>
    Authentication.of({
      bearer: (token) => {
        const value = Redacted.value(token)
        return Effect.map(accounts.authenticate(value), (caller) => ({ ...caller, token: value }))
      }
    }))
)

/** Uploads: a route whose body is multipart and may be larger, read by its handler under the file limits. */
const uploadRoute = /^\/v1\/rooms\/[^/]+\/files\/?(\?.*)?$/
/** Where a person's avatar is uploaded (PUT), a multipart body like a file's. */
const avatarRoute = /^\/v1\/auth\/me\/avatar\/?(\?.*)?$/

/** Webhooks of the messaging gateway: their handlers read the raw body, whose bytes their signatures cover. */
const webhookRoute = /^\/v1\/gateway\//

const hasBody = (method: string) => method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE"

/** The deepest nesting of arrays and objects a JSON body may have. */
export const MAX_JSON_DEPTH = 32

/** How deep `text` nests arrays and objects (strings skipped), counted without recursion. */
const nesting = (text: string): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // a backslash escapes the next character
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === 91 || c === 123) deepest = Math.max(deepest, ++depth)
    else if (c === 93 || c === 125) depth--
  }
  return deepest
}

/** Matches a surrogate that is not half of a pair (with the `u` flag, pairs are one code point). */
const loneSurrogate = /[\uD800-\uDFFF]/u

/**
 * The first string (key or value) in a parsed body that Postgres could not
 * store: one holding U+0000, or ill-formed UTF-16 (a lone surrogate, which
 * `\ud800` in JSON produces). Iterative, and the depth is already bounded.
 */
const badString = (value: unknown): { readonly path: string; readonly problem: "nul" | "surrogate" } | null => {
  const stack: Array<readonly [unknown, string]> = [[value, ""]]
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [v, path] = next
    if (typeof v === "string") {
      if (v.includes("\u0000")) return { path, problem: "nul" }
      if (loneSurrogate.test(v)) return { path, problem: "surrogate" }
    } else if (typeof v === "object" && v !== null) {
      for (const [k, child] of Object.entries(v)) {
        const at = path === "" ? k : `${path}.${k}`
        if (k.includes("\u0000")) return { path: at, problem: "nul" }
        if (loneSurrogate.test(k)) return { path: at, problem: "surrogate" }
        stack.push([child, at])
      }
    }
  }
  return null
}

const nulRefused = () => new MalformedRequest({ message: "the request must not contain NUL (U+0000) characters" })

/**
 * Reads the body once (the server caches it for the decoder), so oversize
 * bodies become 413, and malformed JSON, JSON nested deeper than
 * `MAX_JSON_DEPTH` and strings Postgres cannot store (NUL, lone surrogates)
 * become 400, before any handler or decoder runs. NUL in the URL is 400 too.
 * Uploads (files, avatars) are the exception: their multipart body is left to the handler,
 * which reads it under the file limits; and so are the gateway's webhooks,
 * whose handlers check signatures over the raw bytes before parsing them.
 */
export const RequestGuardLive = Layer.succeed(
  RequestGuard,
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (request.url.includes("%00")) return yield* nulRefused()
    if (!hasBody(request.method) || webhookRoute.test(request.url)) return
    const type = (request.headers["content-type"] ?? "application/json").toLowerCase()
    if (
      (request.method === "POST" && uploadRoute.test(request.url)) ||
      (request.method === "PUT" && avatarRoute.test(request.url))
    ) {
      if (type.includes("multipart/form-data")) return
      return yield* new MalformedRequest({
        message: `unsupported content type "${type}"; upload with multipart/form-data, the file in a part named file`
      })
    }
    const declared = Number(request.headers["content-length"] ?? "0")
    const tooLarge = new PayloadTooLarge({
      message: `the request body is larger than the ${MAX_BODY_BYTES}-byte limit`,
      limitBytes: MAX_BODY_BYTES
    })
    if (declared > MAX_BODY_BYTES) return yield* tooLarge
    const text = yield* request.text.pipe(
      HttpServerRequest.withMaxBodySize(Option.some(MAX_BODY_BYTES)),
      Effect.mapError((e) => {
        const cause = e.cause
        return cause instanceof Error && cause.message === "maxBytes exceeded"
          ? tooLarge
          : new MalformedRequest({ message: "the request body could not be read" })
      })
    )
    if (text.length === 0) return
    if (!type.includes("application/json")) {
      return yield* new MalformedRequest({ message: `unsupported content type "${type}"; send application/json` })
    }
    if (nesting(text) > MAX_JSON_DEPTH) {
      return yield* new MalformedRequest({ message: `the request body nests deeper than ${MAX_JSON_DEPTH} levels` })
    }
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (e) => {
        // The parser's own message quotes part of the body (a password, say): keep only the position.
        const at = String(e).match(/position (\d+)/)?.[1]
        return new MalformedRequest({
          message: `the request body is not valid JSON${at === undefined ? "" : ` (at position ${at})`}`
        })
      }
    })
    const bad = badString(json)
    if (bad?.problem === "nul") return yield* nulRefused()
    if (bad !== null) {
      return yield* new MalformedRequest({
        message: `${bad.path === "" ? "the body" : bad.path} is not well-formed Unicode (it holds a lone surrogate)`
      })
    }
  })
)
