/**
 * Database outages as the typed `Unavailable` the API answers 503 with. Any
 * other database failure is a fault, not an outage: it becomes a defect (a
 * logged 500), never a 503 that would have clients retry forever.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Unavailable } from "@troupe/domain/Errors"
import { isSqlError, isUnavailable } from "@troupe/store/DatabaseError"
import { Effect } from "effect"

const outage = new Unavailable({ message: "the database is unavailable; retry shortly" })

/** Turns a database outage into `Unavailable`, and any other database failure into a defect. */
export const orUnavailable = <A, E, R>(
  self: Effect.Effect<A, E | SqlError, R>
): Effect.Effect<A, Exclude<E, SqlError> | Unavailable, R> =>
  Effect.catchIf(
    self,
    (e): e is SqlError => isSqlError(e),
    (e) =>
      isUnavailable(e)
        ? Effect.zipRight(Effect.logWarning("database unavailable", e), Effect.fail(outage))
        : Effect.die(e)
  ) as Effect.Effect<A, Exclude<E, SqlError> | Unavailable, R> // catchIf cannot narrow E by the refinement's complement
