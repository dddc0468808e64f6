/**
 * Every error in the contract's JSON shape (`_tag`, `message`), with the
 * HTTP details the use cases leave to the HTTP layer:
 *
 * - a request that does not decode (`HttpApiDecodeError`, whose messages
 *   print the rejected value, passwords and 200 KB strings included) becomes a
 *   `MalformedRequest` naming each field and the rule it breaks, never the value;
 * - a path no route matches (an empty 404 from the platform) becomes a `NotFound`;
 * - `RateLimited` gets its `Retry-After` header;
 * - a request that died of a database outage no code path typed (the SQL
 *   client and the cluster treat a lost COMMIT as a defect) answers 503, like
 *   every other outage, rather than 500.
 */
import {
  HttpApiBuilder,
  HttpApiError,
  HttpApp,
  HttpMiddleware,
  HttpServerRequest,
  HttpServerResponse
} from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { FieldIssue, MalformedRequest, NotFound, RateLimited } from "@troupe/domain/Errors"
import { isSqlError, isUnavailable } from "@troupe/store/DatabaseError"
import { Cause, Effect, Option } from "effect"

/** Longest part of an unknown path repeated in its 404. */
const MAX_PATH_SHOWN = 120

/** Longest rule text kept from a schema's description. */
const MAX_RULE_LENGTH = 200

/**
 * "Expected a string at most 10 character(s) long, actual \"…\"" →
 * "expected a string at most 10 character(s) long": the rule without the value.
 */
const ruleOf = (message: string) => {
  const transformation = message.match(/^Unable to decode [\s\S]* into (.+)$/)
  const cut = transformation?.[1] !== undefined
    ? `expected ${transformation[1]}`
    : message.split(/, actual |\nactual /)[0] ?? message
  const firstLine = cut.split("\n")[0] ?? cut
  const rule = firstLine.length > MAX_RULE_LENGTH ? `${firstLine.slice(0, MAX_RULE_LENGTH)}…` : firstLine
  return rule.charAt(0).toLowerCase() + rule.slice(1)
}

/** A decode error as the contract's `MalformedRequest`. */
export const toMalformed = (error: HttpApiError.HttpApiDecodeError) => {
  const all = error.issues.map((issue) =>
    new FieldIssue({
      path: issue.path.map(String).join("."),
      message: issue._tag === "Missing" ? "is required" : ruleOf(issue.message)
    })
  )
  // An optional field's "or undefined" branch says nothing the other branch does not.
  const issues = all.filter((i) => i.message !== "expected undefined" || !all.some((o) => o.path === i.path && o !== i))
  const first = issues[0]
  const message = first === undefined
    ? "the request does not have the expected shape"
    : `${first.path === "" ? "the request" : first.path}: ${first.message}` +
      (issues.length > 1 ? ` (and ${issues.length - 1} more; see issues)` : "")
  return new MalformedRequest({ message, issues })
}

const isRouteNotFound = (u: unknown) => typeof u === "object" && u !== null && "_tag" in u && u._tag === "RouteNotFound"

/** The middleware, for `HttpApiBuilder.serve`'s layer graph. */
export const ErrorShapeLive = HttpApiBuilder.middleware(
  TroupeApi,
  (app) =>
    Effect.catchAllCause(
      app,
      (cause): Effect.Effect<never, MalformedRequest | NotFound | RateLimited, HttpServerRequest.HttpServerRequest> => {
        const failure = Cause.failureOption(cause)
        if (Option.isNone(failure)) return Effect.failCause(cause)
        const error: unknown = failure.value
        if (error instanceof HttpApiError.HttpApiDecodeError) return Effect.fail(toMalformed(error))
        if (error instanceof RateLimited) {
          const retryAfter = String(error.retryAfterSeconds)
          return Effect.zipRight(
            HttpApp.appendPreResponseHandler((_request, response) =>
              Effect.succeed(HttpServerResponse.setHeader(response, "retry-after", retryAfter))
            ),
            Effect.fail(error)
          )
        }
        if (!isRouteNotFound(error)) return Effect.failCause(cause)
        return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const path = request.url.split("?")[0] ?? ""
          const shown = path.length > MAX_PATH_SHOWN ? `${path.slice(0, MAX_PATH_SHOWN)}…` : path
          return Effect.fail(
            new NotFound({ resource: "route", message: `no endpoint answers ${request.method} ${shown}` })
          )
        })
      }
    )
)

/** The safety net for database outages that reached the HTTP layer as defects: 503, not 500. */
export const databaseLossUnavailable = HttpMiddleware.make((app) =>
  Effect.catchAllCause(app, (cause) => {
    const lost = Cause.find(cause, (c) =>
      c._tag === "Die" && isSqlError(c.defect) && isUnavailable(c.defect) ? Option.some(c.defect) : Option.none())
    if (Option.isNone(lost)) {
      return Effect.failCause(cause)
    }
    return Effect.zipRight(
      Effect.logWarning("database unavailable (untyped)", lost.value),
      HttpServerResponse.json({ _tag: "Unavailable", message: "the database is unavailable; retry shortly" }, {
        status: 503
      }).pipe(
        Effect.orDie
      )
    )
  })
)
