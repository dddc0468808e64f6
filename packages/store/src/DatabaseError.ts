/**
 * Telling a database outage from a failing statement. Only an outage (no
 * connection, a connection lost, the server shutting down or overloaded, a
 * conflict Postgres asks to retry) may be reported to clients as "retry
 * later"; any other failure is a fault of the statement, and reporting it as
 * an outage would have clients retry forever and monitoring see an outage
 * that is not there.
 */
import { SqlError } from "@effect/sql/SqlError"
import { Data } from "effect"

/**
 * A row that does not have the shape its query promises: corrupt data, or a
 * query that drifted from its schema. A fault, never an outage.
 */
export class RowError extends Data.TaggedError("RowError")<{ readonly message: string; readonly cause?: unknown }> {}

/** SQLSTATE classes and codes that mean "the database is not available right now". */
const unavailableStates = [
  /^08/, // connection exception
  /^53/, // insufficient resources (too many connections, out of memory, disk full)
  /^57P0[1-4]$/, // admin or crash shutdown, cannot connect now, database dropped
  /^57014$/, // query cancelled (statement timeout)
  /^40001$/, // serialization failure: retry
  /^40P01$/, // deadlock detected: retry
  /^55P03$/, // lock not available
  /^58/ // system error (I/O)
]

/** Node socket errors and driver messages that mean the connection is gone or was never made. */
const connectionCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN"
])
const connectionMessages =
  /connection terminated|connection error|not queryable|timeout exceeded when trying to connect|failed to acquire connection|failed to connect|the database system is|server closed the connection/i

const causeOf = (u: unknown): { readonly code?: unknown; readonly message?: unknown } | undefined =>
  typeof u === "object" && u !== null ? u : undefined

/** Whether `u` is an `SqlError` (by tag, so errors from another copy of the library count too). */
export const isSqlError = (u: unknown): u is SqlError =>
  u instanceof SqlError || (typeof u === "object" && u !== null && "_tag" in u && u._tag === "SqlError")

/** Whether a database error means the database is unavailable (retry later) rather than a failing statement. */
export const isUnavailable = (error: SqlError): boolean => {
  const cause = causeOf(error.cause)
  const code = typeof cause?.code === "string" ? cause.code : undefined
  if (code !== undefined && connectionCodes.has(code)) return true
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) return unavailableStates.some((state) => state.test(code))
  const text = `${error.message ?? ""} ${typeof cause?.message === "string" ? cause.message : ""}`
  return connectionMessages.test(text)
}

/** Whether a database error is a unique constraint refusing a duplicate (a value taken at the same moment). */
export const isUniqueViolation = (error: SqlError): boolean => causeOf(error.cause)?.code === "23505"
