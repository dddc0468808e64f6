/**
 * Errors that cross the wire. Each carries a message a person can act on; the
 * HTTP contract assigns the status code when it declares them.
 */
import { Schema } from "effect"

/** The request is well-formed JSON but asks for something invalid. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  message: Schema.String
}) {}

/** One field of a request that does not have the declared shape, and the rule it breaks. */
export class FieldIssue extends Schema.Class<FieldIssue>("FieldIssue")({
  /** Where in the path, query, headers or body, as `a.b.0` (empty for the whole value). */
  path: Schema.String,
  /** The rule, e.g. "expected a string at most 16000 character(s) long"; never the rejected value. */
  message: Schema.String
}) {}

/**
 * The request is not valid JSON or HTTP, or not the declared shape. `message`
 * names the first field and the rule it breaks; `issues` lists every field.
 */
export class MalformedRequest extends Schema.TaggedError<MalformedRequest>()("MalformedRequest", {
  message: Schema.String,
  issues: Schema.optional(Schema.Array(FieldIssue))
}) {}

/** The request body exceeds the documented limit. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  message: Schema.String,
  limitBytes: Schema.Number
}) {}

/** No credentials, or credentials that are unknown, expired or revoked. */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}) {}

/** The caller is known but may not do this. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String
}) {}

/** The thing does not exist, or the caller may not know that it exists. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", {
  resource: Schema.String,
  message: Schema.String
}) {
  /** A not-found error for a resource kind and id. */
  static of(resource: string, id: string): NotFound {
    return new NotFound({ resource, message: `${resource} ${id} was not found` })
  }
}

/** The request conflicts with the current state (a taken slug, an archived room). */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", {
  message: Schema.String
}) {}

/** Too many requests; retry after the given number of seconds. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  message: Schema.String,
  retryAfterSeconds: Schema.Number
}) {}

/** A dependency (database, event log) is unavailable; the request may be retried. */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {
  message: Schema.String
}) {}
