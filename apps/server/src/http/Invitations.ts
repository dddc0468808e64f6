/**
 * Invitations: created, listed and revoked by admins; previewed from the
 * link without an account; accepted by the invited person.
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { CreatedInvitation } from "@troupe/domain/Org"
import { Invitations } from "@troupe/workspace/Invitations"
import { Effect } from "effect"
import { publicBase, ServerConfig } from "../ServerConfig.js"

/** The invitations group. */
export const InvitationsLive = HttpApiBuilder.group(TroupeApi, "invitations", (handlers) =>
  Effect.gen(function*() {
    const invitations = yield* Invitations
    const base = publicBase(yield* ServerConfig)
    return handlers
      .handle("create", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          Effect.map(invitations.create(c, path.org, payload), ({ invitation, token }) =>
            new CreatedInvitation({ invitation, token, url: `${base}/invite#${token}` }))))
      .handle("list", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          invitations.list(c, path.org)))
      .handle("revoke", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          invitations.revoke(c, path.org, path.invitation)))
      .handle("preview", ({ payload }) =>
        invitations.preview(payload.token))
      .handle("accept", ({ payload }) => Effect.flatMap(CurrentUser, (c) => invitations.accept(c, payload.token)))
  }))
