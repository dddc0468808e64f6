/**
 * Messages: post, page, edit, delete, history, reactions and read markers.
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { CurrentUser } from "@troupe/api/Auth"
import { Messages } from "@troupe/workspace/Messages"
import { Effect } from "effect"

/** The messages group. */
export const MessagesLive = HttpApiBuilder.group(TroupeApi, "messages", (handlers) =>
  Effect.gen(function*() {
    const messages = yield* Messages
    return handlers
      .handle("post", ({ path, payload }) => Effect.flatMap(CurrentUser, (c) => messages.post(c, path.room, payload)))
      .handle("list", ({ path, urlParams }) =>
        Effect.flatMap(CurrentUser, (c) =>
          messages.list(c, path.room, {
            before: urlParams.before,
            after: urlParams.after,
            limit: urlParams.limit ?? 50,
            threadId: urlParams.threadId
          })))
      .handle("get", ({ path }) => Effect.flatMap(CurrentUser, (c) => messages.get(c, path.room, path.message)))
      .handle("edit", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) => messages.edit(c, path.room, path.message, payload.text)))
      .handle("delete", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) => messages.remove(c, path.room, path.message)))
      .handle("edits", ({ path }) => Effect.flatMap(CurrentUser, (c) => messages.edits(c, path.room, path.message)))
      .handle("react", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          messages.react(c, path.room, path.message, path.emoji, true)))
      .handle("unreact", ({ path }) =>
        Effect.flatMap(CurrentUser, (c) =>
          messages.react(c, path.room, path.message, path.emoji, false)))
      .handle("markRead", ({ path, payload }) =>
        Effect.flatMap(CurrentUser, (c) =>
          messages.markRead(c, path.room, payload.messageId, payload.threadId)))
  }))
