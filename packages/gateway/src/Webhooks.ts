/**
 * Outbound webhooks, the admin plane: an org's admins subscribe URLs to event
 * types, change them, enable or disable them, rotate their signing secrets,
 * remove them and read their recent deliveries (docs/access.md). A secret is
 * encrypted (CHANNEL_KEY, the endpoint id as associated data) before it is
 * stored and shown once, when it is made.
 */
import type { Caller } from "@troupe/domain/Caller"
import { InvalidInput } from "@troupe/domain/Errors"
import type { OrgId } from "@troupe/domain/Ids"
import {
  type CreateWebhookRequest,
  type UpdateWebhookRequest,
  WebhookEndpointId,
  WebhookWithSecret
} from "@troupe/domain/Webhook"
import { WebhookRepo } from "@troupe/store/WebhookRepo"
import { Access } from "@troupe/workspace/Access"
import { orUnavailable } from "@troupe/workspace/Unavailable"
import { Clock, Duration, Effect } from "effect"
import { randomUUID } from "node:crypto"
import { ChannelKey } from "./ChannelKey.js"
import { EndpointSecret } from "./Credentials.js"
import * as StandardWebhooks from "./StandardWebhooks.js"
import * as WebhookTarget from "./WebhookTarget.js"

/** How long a rotated-out secret goes on signing beside the new one. */
export const SECRET_OVERLAP = Duration.days(1)

/** The most deliveries one list returns. */
export const MAX_DELIVERIES = 200

/** The outbound-webhook use cases. */
export class Webhooks extends Effect.Service<Webhooks>()("@troupe/gateway/Webhooks", {
  effect: Effect.gen(function*() {
    const repo = yield* WebhookRepo
    const access = yield* Access
    const key = yield* ChannelKey

    const allowPrivate = yield* WebhookTarget.AllowPrivate

    /** Fails with a 422 naming what is wrong with `url` as an endpoint's URL. */
    const checkUrl = (url: string | undefined) => {
      const problem = url === undefined ? undefined : WebhookTarget.urlProblem(url, allowPrivate)
      return problem === undefined ? Effect.void : Effect.fail(new InvalidInput({ message: problem }))
    }

    const admin = (caller: Caller, orgId: OrgId) => access.orgRole(caller, orgId, "admin", "managing webhooks")

    /** A new secret for the endpoint, sealed for storing and in clear for showing once. */
    const freshSecret = (id: WebhookEndpointId) =>
      Effect.gen(function*() {
        const secret = StandardWebhooks.newSecret()
        return { secret, sealed: yield* key.seal(id, new EndpointSecret({ secret })) }
      })

    /**
     * Subscribes a URL to event types; the answer carries the signing secret,
     * this once. A URL the gateway may not send to (WebhookTarget) is 422.
     */
    const create = Effect.fn("Webhooks.create")(function*(caller: Caller, orgId: OrgId, input: CreateWebhookRequest) {
      const a = yield* admin(caller, orgId)
      yield* checkUrl(input.url)
      const id = WebhookEndpointId.make(randomUUID())
      const { sealed, secret } = yield* freshSecret(id)
      const endpoint = yield* orUnavailable(repo.create(orgId, {
        id,
        url: input.url,
        eventTypes: input.eventTypes,
        enabled: input.enabled ?? true,
        secret: sealed,
        createdBy: a.user.id
      }))
      return new WebhookWithSecret({ endpoint, secret })
    })

    const list = Effect.fn("Webhooks.list")(function*(caller: Caller, orgId: OrgId) {
      yield* admin(caller, orgId)
      return yield* orUnavailable(repo.list(orgId))
    })

    const get = Effect.fn("Webhooks.get")(function*(caller: Caller, orgId: OrgId, id: WebhookEndpointId) {
      yield* admin(caller, orgId)
      return yield* orUnavailable(repo.get(orgId, id))
    })

    /** Changes the URL, the event types or whether the endpoint is enabled (a disabled one is sent nothing). */
    const update = Effect.fn("Webhooks.update")(
      function*(caller: Caller, orgId: OrgId, id: WebhookEndpointId, input: UpdateWebhookRequest) {
        yield* admin(caller, orgId)
        yield* checkUrl(input.url)
        return yield* orUnavailable(repo.update(orgId, id, input))
      }
    )

    /**
     * A new signing secret, shown this once; deliveries carry a signature with
     * the old one too for `SECRET_OVERLAP`, so receivers can switch over.
     */
    const rotateSecret = Effect.fn("Webhooks.rotateSecret")(
      function*(caller: Caller, orgId: OrgId, id: WebhookEndpointId) {
        yield* admin(caller, orgId)
        const { sealed, secret } = yield* freshSecret(id)
        const until = new Date((yield* Clock.currentTimeMillis) + Duration.toMillis(SECRET_OVERLAP))
        const endpoint = yield* orUnavailable(repo.rotate(orgId, id, sealed, until))
        return new WebhookWithSecret({ endpoint, secret })
      }
    )

    /** Removes the endpoint and its deliveries, pending ones included. */
    const remove = Effect.fn("Webhooks.remove")(function*(caller: Caller, orgId: OrgId, id: WebhookEndpointId) {
      yield* admin(caller, orgId)
      yield* orUnavailable(repo.remove(orgId, id))
    })

    /** The endpoint's latest deliveries, newest first, with each one's status. */
    const deliveries = Effect.fn("Webhooks.deliveries")(
      function*(caller: Caller, orgId: OrgId, id: WebhookEndpointId, limit: number) {
        yield* admin(caller, orgId)
        return yield* orUnavailable(repo.deliveries(orgId, id, Math.min(limit, MAX_DELIVERIES)))
      }
    )

    return { create, list, get, update, rotateSecret, remove, deliveries } as const
  }),
  dependencies: [WebhookRepo.Default, Access.Default, ChannelKey.Default]
}) {}
