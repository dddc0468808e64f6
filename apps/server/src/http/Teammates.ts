/**
 * Teammates: the catalog, hiring and dismissing, rooms and DMs, runs,
 * interrupting a turn, memory, usage, budgets and the org's model policy.
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Teammates } from "@troupe/workspace/Teammates"
import { Effect } from "effect"

/** The teammates group. */
export const TeammatesLive = HttpApiBuilder.group(TroupeApi, "teammates", (handlers) =>
  Effect.gen(function*() {
    const teammates = yield* Teammates
    return handlers
      .handle("catalog", () => Effect.succeed(teammates.catalog))
      .handle("hire", ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => teammates.hire(c, path.org, payload)))
      .handle("list", ({ path }) => Effect.flatMap(CurrentUser, (c) => teammates.list(c, path.org)))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (c) => teammates.get(c, path.org, path.teammate)))
      .handle("update", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) => teammates.update(c, path.org, path.teammate, payload)))
      .handle("dismiss", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) => teammates.dismiss(c, path.org, path.teammate)))
      .handle("openDm", ({ path }) => Effect.flatMap(CurrentUser, (c) => teammates.openDm(c, path.org, path.teammate)))
      .handle("addToRoom", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          teammates.addToRoom(c, path.room, payload.teammateId)))
      .handle("runs", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, (c) =>
          teammates.runs(c, path.org, path.teammate, urlParams.limit ?? 20)))
      .handle("interrupt", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          Effect.map(teammates.interrupt(c, path.org, path.teammate), (interrupted) => ({ interrupted }))))
      .handle("memory", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          teammates.memory(c, path.org, path.teammate)))
      .handle("remember", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          teammates.remember(c, path.org, path.teammate, payload.text)))
      .handle("putCore", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          teammates.putCore(c, path.org, path.teammate, path.block, payload.text)))
      .handle("forget", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          teammates.forget(c, path.org, path.teammate, path.memory)))
      .handle("usage", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          teammates.usage(c, path.org)))
      .handle("budget", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          teammates.budget(c, path.org, payload.monthlyTokens)))
      .handle("modelPolicy", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          teammates.modelPolicy(c, path.org)))
      .handle("setModelPolicy", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          teammates.setModelPolicy(c, path.org, payload.allowedModels)))
  }))
