/**
 * Org isolation. Every read or write of org-scoped data runs inside
 * `withOrg`: a transaction that drops to the `troupe_app` role and sets the
 * org for row-level security, so the database itself refuses to show or
 * change another org's rows.
 */
import { SqlClient } from "@effect/sql"
import { SqlError } from "@effect/sql/SqlError"
import type { OrgId } from "@troupe/domain/Ids"
import { Effect, Option } from "effect"

/**
 * `sql.withTransaction`, except that a failed COMMIT or ROLLBACK (the
 * connection lost mid-transaction) is a typed `SqlError` the caller can turn
 * into a 503, not a defect: the SQL client itself treats those as defects.
 */
export const transaction = (sql: SqlClient.SqlClient) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R> =>
  sql.withTransaction(self).pipe(
    Effect.catchSomeDefect((defect) => defect instanceof SqlError ? Option.some(Effect.fail(defect)) : Option.none())
  )

/** Runs `self` in a transaction bound to `orgId` under row-level security. */
export const withOrg = (orgId: OrgId) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    transaction(sql)(
      Effect.zipRight(
        sql`SELECT set_config('role', 'troupe_app', true), set_config('troupe.org_id', ${orgId}, true)`,
        self
      )
    ))

/**
 * Like `withOrg`, but the whole transaction sees one snapshot, so state read
 * in it and the event position read with it agree.
 */
export const withOrgSnapshot = (orgId: OrgId) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    transaction(sql)(
      Effect.zipRight(
        sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`,
        Effect.zipRight(
          sql`SELECT set_config('role', 'troupe_app', true), set_config('troupe.org_id', ${orgId}, true)`,
          self
        )
      )
    ))

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
