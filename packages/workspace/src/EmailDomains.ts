/**
 * The e-mail domains an org takes people from, applied where people come in
 * by an admin's hand (added, invited, accepting an invitation). The rule
 * itself is `emailDomainAllowed` in the domain.
 */
import { Forbidden } from "@troupe/domain/Errors"
import type { OrgId } from "@troupe/domain/Ids"
import { emailDomainAllowed } from "@troupe/domain/Org"
import type { OrgRepo } from "@troupe/store/OrgRepo"
import { Effect } from "effect"
import { orUnavailable } from "./Unavailable.js"

/** Fails with `Forbidden` when the org lists e-mail domains and `email` is at none of them. */
export const requireEmailDomain = (orgs: OrgRepo, orgId: OrgId, email: string) =>
  Effect.flatMap(orUnavailable(orgs.emailDomains(orgId)), (domains) =>
    emailDomainAllowed(domains, email)
      ? Effect.void
      : Effect.fail(
        new Forbidden({
          message: `this org takes only people with addresses at ${domains.join(", ")}; ${email} is not one`
        })
      ))
