/**
 * Invitations into an org. An admin's side (create, list, revoke) runs under
 * the org's row-level security scope; the invited person's side starts from
 * the link's token, outside any org, through `troupe_invitation`.
 */
import { SqlClient } from "@effect/sql"
import { Conflict, NotFound } from "@troupe/domain/Errors"
import { InvitationId, OrgId, UserId } from "@troupe/domain/Ids"
import { Invitation, type InvitationStatus, InvitedRole, type Member } from "@troupe/domain/Org"
import { normalizeEmail, type User } from "@troupe/domain/User"
import { Duration, Effect, Option, Schema } from "effect"
import { randomBytes } from "node:crypto"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import { OrgRepo } from "./OrgRepo.js"
import { orgScope } from "./OrgScope.js"
import { hashSecret } from "./Secrets.js"

const InvitationRow = Schema.Struct({
  id: InvitationId,
  orgId: OrgId,
  email: Schema.String,
  role: InvitedRole,
  invitedBy: UserId,
  invitedByName: Schema.String,
  createdAt: Schema.DateFromSelf,
  expiresAt: Schema.DateFromSelf,
  acceptedBy: Schema.NullOr(UserId),
  acceptedAt: Schema.NullOr(Schema.DateFromSelf),
  revokedAt: Schema.NullOr(Schema.DateFromSelf)
})
type InvitationRow = typeof InvitationRow.Type

/** What `troupe_invitation` answers for a token. */
const TokenRow = Schema.Struct({
  id: InvitationId,
  orgId: OrgId,
  orgName: Schema.String,
  email: Schema.String,
  role: InvitedRole,
  invitedByName: Schema.String,
  createdAt: Schema.DateFromSelf,
  expiresAt: Schema.DateFromSelf,
  acceptedAt: Schema.NullOr(Schema.DateFromSelf),
  revokedAt: Schema.NullOr(Schema.DateFromSelf)
})
/** An invitation found by its token. */
export type TokenInvitation = typeof TokenRow.Type

/** Where an invitation stands now. */
export const statusOf = (
  row: { acceptedAt: Date | null; revokedAt: Date | null; expiresAt: Date },
  now = new Date()
): InvitationStatus =>
  row.acceptedAt !== null
    ? "accepted"
    : row.revokedAt !== null
    ? "revoked"
    : row.expiresAt.getTime() <= now.getTime()
    ? "expired"
    : "pending"

/** Why an invitation that is not pending cannot be used. */
const unusable = (status: InvitationStatus) =>
  new Conflict({
    message: status === "accepted"
      ? "this invitation was already accepted"
      : status === "revoked"
      ? "this invitation was revoked; ask for a new one"
      : "this invitation has expired; ask for a new one"
  })

const toInvitation = (row: InvitationRow) =>
  new Invitation({
    id: row.id,
    orgId: row.orgId,
    email: row.email,
    role: row.role,
    status: statusOf(row),
    invitedBy: { id: row.invitedBy, name: row.invitedByName },
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    acceptedBy: row.acceptedBy
  })

/** A new link's secret. */
const newToken = () => `trp_i_${randomBytes(32).toString("base64url")}`

/** Invitations. */
export class InvitationRepo extends Effect.Service<InvitationRepo>()("@troupe/store/InvitationRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const { withOrg } = orgScope(sql)
    const orgs = yield* OrgRepo

    const columns = sql`i.id, i.org_id, i.email, i.role, i.invited_by, u.name AS invited_by_name, i.created_at,
      i.expires_at, i.accepted_by, i.accepted_at, i.revoked_at`

    const byId = (id: string) =>
      Rows.first("invitation", InvitationRow)(sql`
        SELECT ${columns} FROM invitations i JOIN users u ON u.id = i.invited_by WHERE i.id = ${id}`)

    /**
     * Invites `email` with `role`, replacing any open invitation of the same
     * address. Refused when the address already belongs to a member.
     */
    const create = Effect.fn("InvitationRepo.create")(
      function*(orgId: OrgId, invitedBy: User, input: { email: string; role: InvitedRole; ttl: Duration.Duration }) {
        const email = normalizeEmail(input.email)
        const token = newToken()
        return yield* withOrg(orgId)(Effect.gen(function*() {
          const member = yield* sql`
            SELECT 1 FROM org_members m JOIN troupe_find_user(${email}) f ON f.id = m.user_id
            WHERE m.org_id = ${orgId}`
          if (member.length > 0) return yield* new Conflict({ message: `${email} is already a member` })
          yield* sql`UPDATE invitations SET revoked_at = now()
            WHERE org_id = ${orgId} AND email = ${email} AND accepted_at IS NULL AND revoked_at IS NULL`
          const { id } = yield* Rows.one("invitation", Schema.Struct({ id: InvitationId }))(sql`
            INSERT INTO invitations (org_id, email, role, token_hash, invited_by, expires_at)
            VALUES (${orgId}, ${email}, ${input.role}, ${hashSecret(token)}, ${invitedBy.id},
              now() + ${`${Duration.toMillis(input.ttl)} milliseconds`}::interval)
            RETURNING id`)
          const row = yield* byId(id)
          if (Option.isNone(row)) return yield* NotFound.of("invitation", id)
          return { invitation: toInvitation(row.value), token }
        }))
      }
    )

    /** The org's invitations, newest first (the latest 200). */
    const list = Effect.fn("InvitationRepo.list")(function*(orgId: OrgId) {
      return yield* withOrg(orgId)(Effect.map(
        Rows.all("invitation", InvitationRow)(sql`
          SELECT ${columns} FROM invitations i JOIN users u ON u.id = i.invited_by
          WHERE i.org_id = ${orgId} ORDER BY i.created_at DESC LIMIT 200`),
        (rows) => rows.map(toInvitation)
      ))
    })

    /** Revokes a pending invitation: its link stops working. */
    const revoke = Effect.fn("InvitationRepo.revoke")(function*(orgId: OrgId, id: InvitationId) {
      return yield* withOrg(orgId)(Effect.gen(function*() {
        const row = yield* Rows.first("invitation", InvitationRow)(sql`
          SELECT ${columns} FROM invitations i JOIN users u ON u.id = i.invited_by
          WHERE i.id = ${id} AND i.org_id = ${orgId} FOR UPDATE OF i`)
        if (Option.isNone(row)) return yield* NotFound.of("invitation", id)
        const status = statusOf(row.value)
        if (status === "accepted") return yield* unusable(status)
        if (status === "revoked") return toInvitation(row.value)
        yield* sql`UPDATE invitations SET revoked_at = now() WHERE id = ${id}`
        return toInvitation({ ...row.value, revokedAt: new Date() })
      }))
    })

    /** The invitation a link's token names, from outside its org. */
    const byToken = Effect.fn("InvitationRepo.byToken")(function*(token: string) {
      return yield* Rows.first("invitation", TokenRow)(sql`SELECT * FROM troupe_invitation(${hashSecret(token)})`)
    })

    /**
     * Accepts the invitation `token` names for `user`: marks it accepted and
     * adds them with its role, in one transaction, once however many try.
     */
    const accept = Effect.fn("InvitationRepo.accept")(function*(invitation: TokenInvitation, user: User) {
      return yield* withOrg(invitation.orgId)(Effect.gen(function*() {
        const taken = yield* Rows.first("invitation", Schema.Struct({ role: InvitedRole }))(sql`
          UPDATE invitations SET accepted_by = ${user.id}, accepted_at = now()
          WHERE id = ${invitation.id} AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
          RETURNING role`)
        if (Option.isNone(taken)) {
          const now = yield* byId(invitation.id)
          return yield* unusable(Option.match(now, { onNone: () => "revoked", onSome: (r) => statusOf(r) }))
        }
        const member: Member = yield* orgs.addMember(invitation.orgId, user, taken.value.role)
        return member
      }))
    })

    return { create, list, revoke, byToken, accept } as const
  }),
  dependencies: [OrgRepo.Default, EventLog.Default]
}) {}
