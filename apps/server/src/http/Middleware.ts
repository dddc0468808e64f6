/**
 * Implementations of the contract's middleware: bearer authentication and
 * the request-body guard.
 */
import { HttpServerRequest } from "@effect/platform"
import { MAX_BODY_BYTES, RequestGuard } from "@troupe/api/Api"
import { Authentication } from "@troupe/api/Auth"
import { MalformedRequest, PayloadTooLarge, Unauthorized, Unavailable } from "@troupe/domain/Errors"
import { AccountRepo } from "@troupe/store/AccountRepo"
import { Effect, Layer, Option, Redacted } from "effect"

/** Resolves a bearer token to the caller. */
export const AuthenticationLive = Layer.effect(
  Authentication,
  Effect.gen(function*() {
    const accounts = yield* AccountRepo
    return Authentication.of({
      bearer: (token) =>
        Effect.gen(function*() {
          const value = Redacted.value(token)
          if (value.length === 0) return yield* new Unauthorized({ message: "missing bearer token" })
          const principal = yield* accounts.authenticate(value).pipe(
            Effect.catchTag("SqlError", () => Effect.fail(new Unavailable({ message: "cannot verify the token right now; retry shortly" })))
          )
          return { user: principal.user, apiKey: principal.apiKey, credential: principal.credential, token: value }
        })
    })
  })
)

const hasBody = (method: string) => method === "POST" || method === "PUT" || method === "PATCH" || method === "DELETE"

/** True when a parsed JSON value holds U+0000 in any string. */
const hasNul = (value: unknown): boolean =>
  typeof value === "string"
    ? value.includes("\u0000")
    : typeof value === "object" && value !== null && Object.entries(value).some(([k, v]) => k.includes("\u0000") || hasNul(v))

const nulRefused = () => new MalformedRequest({ message: "the request must not contain NUL (U+0000) characters" })

/**
 * Reads the body once (the server caches it for the decoder), so oversize
 * bodies become 413 and malformed JSON becomes 400 before any handler runs.
 * NUL characters (in the URL or the body) are 400 too: Postgres text cannot
 * hold them, so they would otherwise fail in the database.
 */
export const RequestGuardLive = Layer.succeed(
  RequestGuard,
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (request.url.includes("%00")) return yield* nulRefused()
    if (!hasBody(request.method)) return
    const declared = Number(request.headers["content-length"] ?? "0")
    const tooLarge = new PayloadTooLarge({
      message: `the request body is larger than the ${MAX_BODY_BYTES}-byte limit`,
      limitBytes: MAX_BODY_BYTES
    })
    if (declared > MAX_BODY_BYTES) return yield* tooLarge
    const type = (request.headers["content-type"] ?? "application/json").toLowerCase()
    const text = yield* request.text.pipe(
      HttpServerRequest.withMaxBodySize(Option.some(MAX_BODY_BYTES)),
      Effect.mapError((e) => {
        const cause = (e as { cause?: unknown }).cause
        return cause instanceof Error && cause.message === "maxBytes exceeded"
          ? tooLarge
          : new MalformedRequest({ message: "the request body could not be read" })
      })
    )
    if (text.length === 0) return
    if (!type.includes("application/json")) {
      return yield* new MalformedRequest({ message: `unsupported content type "${type}"; send application/json` })
    }
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (e) => new MalformedRequest({ message: `the request body is not valid JSON: ${(e as Error).message}` })
    })
    if (hasNul(json)) return yield* nulRefused()
  })
)
