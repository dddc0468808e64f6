/**
 * Invitations: admins invite people by e-mail into an org with a role,
 * whether or not they have an account yet; the invited person opens the
 * link, signs up or logs in with that address, and accepts.
 */
import type { Caller } from "@troupe/domain/Caller"
import { Forbidden, NotFound } from "@troupe/domain/Errors"
import type { InvitationId, OrgId } from "@troupe/domain/Ids"
import { InvitationPreview, type InvitedRole, roleAtLeast } from "@troupe/domain/Org"
import { normalizeEmail } from "@troupe/domain/User"
import { InvitationRepo, statusOf } from "@troupe/store/InvitationRepo"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { Config, Duration, Effect, Option } from "effect"
import { Access } from "./Access.js"
import { requireEmailDomain } from "./EmailDomains.js"
import { Limits } from "./Limits.js"
import { orUnavailable } from "./Unavailable.js"

/** Invitation settings. */
export const InvitationConfig = Config.all({
  /** How long an invitation's link works (`INVITATION_TTL`, default 7 days). */
  ttl: Config.duration("INVITATION_TTL").pipe(Config.withDefault(Duration.days(7)))
})

/** The invitation use cases. */
export class Invitations extends Effect.Service<Invitations>()("@troupe/workspace/Invitations", {
  effect: Effect.gen(function*() {
    const invitations = yield* InvitationRepo
    const orgs = yield* OrgRepo
    const access = yield* Access
    const limits = yield* Limits
    const config = yield* InvitationConfig

    /** Admins invite, with a role up to their own (owners are made by changing a member's role). */
    const create = Effect.fn("Invitations.create")(
      function*(caller: Caller, orgId: OrgId, input: { email: string; role?: InvitedRole | undefined }) {
        const a = yield* access.orgRole(caller, orgId, "admin", "inviting people")
        const role = input.role ?? "member"
        if (!roleAtLeast(a.role, role)) {
          return yield* new Forbidden({
            message: `you cannot invite with more power (${role}) than your own (${a.role})`
          })
        }
        yield* limits.write(caller, orgId)
        yield* requireEmailDomain(orgs, orgId, input.email)
        return yield* orUnavailable(invitations.create(orgId, a.user, { email: input.email, role, ttl: config.ttl }))
      },
      Effect.scoped
    )

    const list = Effect.fn("Invitations.list")(function*(caller: Caller, orgId: OrgId) {
      yield* access.orgRole(caller, orgId, "admin", "listing invitations")
      return yield* orUnavailable(invitations.list(orgId))
    })

    const revoke = Effect.fn("Invitations.revoke")(function*(caller: Caller, orgId: OrgId, id: InvitationId) {
      yield* access.orgRole(caller, orgId, "admin", "revoking invitations")
      return yield* orUnavailable(invitations.revoke(orgId, id))
    })

    /** The invitation a link's token names. */
    const byToken = (token: string) =>
      Effect.flatMap(
        orUnavailable(invitations.byToken(token)),
        Option.match({
          onNone: () => Effect.fail(new NotFound({ resource: "invitation", message: "no such invitation" })),
          onSome: Effect.succeed
        })
      )

    /** What the link's holder may know before accepting: the org, the address and role, who invited, and its state. */
    const preview = Effect.fn("Invitations.preview")(function*(token: string) {
      const i = yield* byToken(token)
      return new InvitationPreview({
        orgName: i.orgName,
        email: i.email,
        role: i.role,
        invitedBy: i.invitedByName,
        status: statusOf(i),
        expiresAt: i.expiresAt
      })
    })

    /** The invited person, signed in with the invited address, joins the org with the invitation's role. */
    const accept = Effect.fn("Invitations.accept")(function*(caller: Caller, token: string) {
      if (caller.apiKey !== null) return yield* new Forbidden({ message: "API keys cannot accept invitations" })
      const invitation = yield* byToken(token)
      if (normalizeEmail(caller.user.email) !== invitation.email) {
        return yield* new Forbidden({
          message: `this invitation is for ${invitation.email}; sign in with that address to accept it`
        })
      }
      // The org may have restricted its domains since the invitation was made.
      yield* requireEmailDomain(orgs, invitation.orgId, invitation.email)
      const member = yield* orUnavailable(invitations.accept(invitation, caller.user))
      return yield* orUnavailable(orgs.get(invitation.orgId, member.role))
    })

    return { create, list, revoke, preview, accept } as const
  }),
  dependencies: [Access.Default, Limits.Default]
}) {}
