/**
 * Org isolation. Every read or write of org-scoped data runs inside
 * `withOrg`: a transaction that drops to the `troupe_app` role and sets the
 * org for row-level security, so the database itself refuses to show or
 * change another org's rows.
 */
import { SqlClient } from "@effect/sql"
import type { SqlError } from "@effect/sql/SqlError"
import type { OrgId } from "@troupe/domain/Ids"
import { Effect } from "effect"

/** Runs `self` in a transaction bound to `orgId` under row-level security. */
export const withOrg = (orgId: OrgId) =>
<A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | SqlError, R | SqlClient.SqlClient> =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(
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
    sql.withTransaction(
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
