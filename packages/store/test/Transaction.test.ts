import { SqlClient } from "@effect/sql"
import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Exit } from "effect"
import * as Database from "../src/Database.js"
import { transaction } from "../src/OrgScope.js"

layer(Database.layerTest, { excludeTestServices: true })((it) => {
  describe("transactions when the connection is lost", () => {
    it.effect("a COMMIT on a connection that died is a typed SqlError, not a defect", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE IF NOT EXISTS lost_commit_probe (n int)`
        const exit = yield* transaction(sql)(Effect.gen(function*() {
          yield* sql`INSERT INTO lost_commit_probe VALUES (1)`
          const [me] = yield* sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`
          // Another connection ends this one, so the body succeeds and COMMIT fails.
          yield* sql`SELECT pg_terminate_backend(${me!.pid})`.pipe(
            Effect.mapInputContext((ctx: Context.Context<never>) => Context.omit(SqlClient.TransactionConnection)(ctx))
          )
        })).pipe(Effect.exit)
        expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error._tag === "SqlError").toBe(true)
        // The pool may hand out the dead connection once more before it notices.
        const [row] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM lost_commit_probe`.pipe(
          Effect.retry({ times: 3 })
        )
        expect(row!.n).toBe(0)
      }))
  })
})
