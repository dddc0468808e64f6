/**
 * Outbound webhooks of the messaging gateway (admins only).
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Webhooks } from "@troupe/gateway/Webhooks"
import { Effect } from "effect"

/** The webhooks group. */
export const WebhooksLive = HttpApiBuilder.group(TroupeApi, "webhooks", (handlers) =>
  Effect.gen(function*() {
    const webhooks = yield* Webhooks
    return handlers
      .handle(
        "create",
        ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => webhooks.create(c, path.org, payload))
      )
      .handle("list", ({ path }) => Effect.flatMap(CurrentUser, (c) => webhooks.list(c, path.org)))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (c) => webhooks.get(c, path.org, path.webhook)))
      .handle(
        "update",
        ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => webhooks.update(c, path.org, path.webhook, payload))
      )
      .handle(
        "rotateSecret",
        ({ path }) => Effect.flatMap(CurrentUser, (c) => webhooks.rotateSecret(c, path.org, path.webhook))
      )
      .handle("delete", ({ path }) => Effect.flatMap(CurrentUser, (c) => webhooks.remove(c, path.org, path.webhook)))
      .handle("deliveries", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, (c) =>
          webhooks.deliveries(c, path.org, path.webhook, urlParams.limit ?? 50)))
  }))
