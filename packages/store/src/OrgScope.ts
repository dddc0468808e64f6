/**
 * Org isolation. Every read or write of org-scoped data runs inside
 * `withOrg`: a transaction that drops to the `troupe_app` role and sets the
 * org for row-level security, so the database itself refuses to show or
 * change another org's rows.
 */
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import type { OrgId } from "@troupe/domain/Ids"
import { Effect, FiberRef, Option } from "effect"

/** Work registered to run once the outermost transaction commits (null outside any transaction). */
const afterCommit = FiberRef.unsafeMake<Set<Effect.Effect<void>> | null>(null)

/**
 * Runs `effect` once the current transaction commits (each distinct effect
 * once per transaction), or at once outside a transaction. A rolled-back
 * transaction runs none of them.
 */
export const onCommit = (effect: Effect.Effect<void>): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(afterCommit), (pending) => {
    if (pending === null) return effect
    pending.add(effect)
    return Effect.void
  })

/**
 * `sql.withTransaction`, except that a failed COMMIT or ROLLBACK (the
 * connection lost mid-transaction) is a typed `SqlError` the caller can turn
 * into a 503, not a defect: the SQL client itself treats those as defects.
 * The outermost transaction runs what was registered with `onCommit` after
 * it commits.
 */
export const transaction =
  (sql: SqlClient.SqlClient) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    Effect.flatMap(FiberRef.get(afterCommit), (outer) => {
      const run = sql.withTransaction(self).pipe(
        Effect.catchSomeDefect((defect) =>
          defect instanceof SqlError ? Option.some(Effect.fail(defect)) : Option.none()
        )
      )
      if (outer !== null) return run
      const pending = new Set<Effect.Effect<void>>()
      return Effect.locally(run, afterCommit, pending).pipe(
        Effect.tap(() => Effect.forEach(pending, (effect) => effect, { discard: true }))
      )
    })

/** The org whose transaction the current fiber runs in, if any. */
const currentOrg = FiberRef.unsafeMake<OrgId | null>(null)

const bound =
  (sql: SqlClient.SqlClient, orgId: OrgId, isolation: "read committed" | "repeatable read") =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
    transaction(sql)(Effect.gen(function*() {
      if (isolation === "repeatable read") yield* sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`
      yield* sql`SELECT set_config('role', 'troupe_app', true), set_config('troupe.org_id', ${orgId}, true)`
      return yield* Effect.locally(self, currentOrg, orgId)
    }))

/**
 * Runs `self` in a transaction bound to `orgId` under row-level security.
 * Inside another `withOrg` for the same org it joins that transaction (no
 * savepoint, no second `set_config`), so a caller can batch several
 * repository calls into one transaction by wrapping them; a failing
 * statement then fails the whole batch. Inside another org's transaction it
 * is a savepoint, and the outer org is restored after it.
 */
export const withOrg =
  (orgId: OrgId) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
    Effect.flatMap(FiberRef.get(currentOrg), (inside) => {
      if (inside === orgId) return self
      return Effect.flatMap(SqlClient.SqlClient, (sql) => {
        const inner = bound(sql, orgId, "read committed")(self)
        // Inside another org's transaction this is a savepoint, and a released
        // savepoint keeps its settings: put the outer org back afterwards.
        return inside === null
          ? inner
          : Effect.flatMap(
            Effect.exit(inner),
            (exit) => Effect.zipRight(sql`SELECT set_config('troupe.org_id', ${inside}, true)`, exit)
          )
      })
    })

/**
 * Like `withOrg`, but the whole transaction sees one snapshot, so state read
 * in it and the event position read with it agree. It must be the outermost
 * transaction (the isolation level can only be set first).
 */
export const withOrgSnapshot =
  (orgId: OrgId) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => bound(sql, orgId, "repeatable read")(self))

/**
 * `withOrg` and `withOrgSnapshot` bound to one client, for repositories: their
 * methods then need no SQL client from the caller's context.
 */
export const orgScope = (sql: SqlClient.SqlClient) => ({
  withOrg: (orgId: OrgId) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.provideService(withOrg(orgId)(self), SqlClient.SqlClient, sql),
  withOrgSnapshot: (orgId: OrgId) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
    Effect.provideService(withOrgSnapshot(orgId)(self), SqlClient.SqlClient, sql)
})
