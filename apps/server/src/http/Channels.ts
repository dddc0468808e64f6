/**
 * Channel accounts of the messaging gateway and their bridges (admins only).
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Channels } from "@troupe/gateway/Channels"
import { Effect } from "effect"

/** The channels group. */
export const ChannelsLive = HttpApiBuilder.group(TroupeApi, "channels", (handlers) =>
  Effect.gen(function*() {
    const channels = yield* Channels
    return handlers
      .handle(
        "create",
        ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => channels.create(c, path.org, payload))
      )
      .handle("list", ({ path }) => Effect.flatMap(CurrentUser, (c) => channels.list(c, path.org)))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (c) => channels.get(c, path.org, path.account)))
      .handle(
        "update",
        ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => channels.update(c, path.org, path.account, payload))
      )
      .handle("delete", ({ path }) => Effect.flatMap(CurrentUser, (c) => channels.remove(c, path.org, path.account)))
      .handle(
        "createBridge",
        ({ path, payload }) =>
          Effect.flatMap(CurrentUser, (c) => channels.createBridge(c, path.org, path.account, payload))
      )
      .handle("bridges", ({ path }) => Effect.flatMap(CurrentUser, (c) => channels.bridges(c, path.org, path.account)))
      .handle(
        "deleteBridge",
        ({ path }) => Effect.flatMap(CurrentUser, (c) => channels.removeBridge(c, path.org, path.account, path.bridge))
      )
      .handle("traffic", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, (c) =>
          channels.traffic(c, path.org, path.account, urlParams.limit ?? 50)))
  }))
