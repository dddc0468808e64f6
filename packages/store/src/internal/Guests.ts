/**
 * Who among an org's guests hears of org-wide changes. Guests get no
 * org-wide events (`sees`), so the few org-wide events they must still see
 * name them in the audience when written: the org's new name reaches every
 * guest, a person's new name the guests who share a room with them.
 */
import type { SqlClient } from "@effect/sql"
import type { OrgId, UserId as UserIdType } from "@troupe/domain/Ids"
import { UserId } from "@troupe/domain/Ids"
import { Effect, Schema } from "effect"
import * as Rows from "./Rows.js"

const Guest = Schema.Struct({ userId: UserId })

const ids = Effect.map((rows: ReadonlyArray<typeof Guest.Type>) => rows.map((r) => r.userId))

/** Every guest of the org (inside the org's scope). */
export const guestsOf = (sql: SqlClient.SqlClient, orgId: OrgId) =>
  Rows.all("guest", Guest)(
    sql`SELECT user_id FROM org_members WHERE org_id = ${orgId} AND role = 'guest'`
  ).pipe(ids)

/** The org's guests who share a room with `userId` (inside the org's scope). */
export const guestsBeside = (sql: SqlClient.SqlClient, orgId: OrgId, userId: UserIdType) =>
  Rows.all("guest", Guest)(sql`
    SELECT DISTINCT o.user_id FROM org_members o
    JOIN room_members g ON g.org_id = o.org_id AND g.member_kind = 'user' AND g.member_id = o.user_id
    JOIN room_members p ON p.room_id = g.room_id AND p.member_kind = 'user' AND p.member_id = ${userId}
    WHERE o.org_id = ${orgId} AND o.role = 'guest' AND o.user_id <> ${userId}`).pipe(ids)
