/**
 * Liveness and readiness probes.
 */
import { HttpApiBuilder } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { TroupeApi } from "@troupe/api/Api"
import { Unavailable } from "@troupe/domain/Errors"
import { Effect } from "effect"

/** `live` answers while the process runs; `ready` only while the database answers. */
export const HealthLive = HttpApiBuilder.group(TroupeApi, "health", (handlers) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return handlers
      .handle("live", () => Effect.succeed({ status: "ok" as const }))
      .handle("ready", () =>
        sql`SELECT 1`.pipe(
          Effect.timeout("2 seconds"),
          Effect.as({ status: "ready" as const, checks: { database: "ok" } }),
          Effect.catchAll(() => Effect.fail(new Unavailable({ message: "the database is not reachable" })))
        ))
  }))
