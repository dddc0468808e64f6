/**
 * Database failures as the API reports them: an outage is the typed
 * `Unavailable` (503, retry later); any other failure of the database, or a
 * row that does not read as its schema says, is a fault: a logged defect
 * (500), never a 503 that would have clients retry forever.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Unavailable } from "@troupe/domain/Errors"
import { isSqlError, isUnavailable, RowError } from "@troupe/store/DatabaseError"
import { Effect } from "effect"

const outage = new Unavailable({ message: "the database is unavailable; retry shortly" })

/** Turns a database outage into `Unavailable`, and any other database failure into a defect. */
export const orUnavailable = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.catchIf(
    self,
    (e): e is Extract<E, SqlError | RowError> => isSqlError(e) || e instanceof RowError,
    (e) =>
      isSqlError(e) && isUnavailable(e)
        ? Effect.zipRight(Effect.logWarning("database unavailable", e), Effect.fail(outage))
        : Effect.die(e)
  )
