/**
 * Avatars: a person's picture, uploaded like a file (one part named `file`,
 * read straight to staging), kept only when its bytes are an image
 * (PNG, JPEG, GIF or WebP, whatever was declared), at most 1 MiB. Anyone who
 * shares an org with the person reads it; their orgs get `user.updated`.
 */
import type { Multipart } from "@effect/platform"
import type { Caller } from "@troupe/domain/Caller"
import { Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import type { UserId } from "@troupe/domain/Ids"
import { AccountRepo } from "@troupe/store/AccountRepo"
import { BlobStore } from "@troupe/store/BlobStore"
import { Effect, Option, Stream } from "effect"
import { recogniseType, stageUpload, storageDown } from "./Files.js"
import { orUnavailable } from "./Unavailable.js"

/** The largest avatar, in bytes. */
export const MAX_AVATAR_BYTES = 1024 * 1024

/** The image types an avatar may be. */
export const AVATAR_TYPES: ReadonlyArray<string> = ["image/png", "image/jpeg", "image/gif", "image/webp"]

/** Where a person's avatar content is stored. */
const avatarKey = (userId: string, sha256: string) => `avatar-${userId}/${sha256}`

/** The avatar use cases. */
export class Avatars extends Effect.Service<Avatars>()("@troupe/workspace/Avatars", {
  effect: Effect.gen(function*() {
    const accounts = yield* AccountRepo
    const store = yield* BlobStore

    const peopleOnly = (caller: Caller) =>
      caller.apiKey === null ? Effect.void : Effect.fail(new Forbidden({ message: "API keys have no avatar" }))

    /** Sets the caller's avatar from an upload; returns their profile as their orgs now see it. */
    const set = Effect.fn("Avatars.set")(function*(
      caller: Caller,
      parts: Stream.Stream<Multipart.Part, Multipart.MultipartError>,
      contentLength: number | undefined
    ) {
      yield* peopleOnly(caller)
      const { staged } = yield* stageUpload(store, parts, MAX_AVATAR_BYTES, contentLength)
      const type = yield* recogniseType(staged.head, "application/octet-stream")
      if (!AVATAR_TYPES.includes(type)) {
        return yield* new InvalidInput({ message: `an avatar must be a PNG, JPEG, GIF or WebP image, not ${type}` })
      }
      yield* store.put(avatarKey(caller.user.id, staged.sha256), staged)
      const { profile, replaced } = yield* orUnavailable(
        accounts.setAvatar(caller.user.id, { sha256: staged.sha256, type })
      )
      if (replaced !== null) yield* store.remove(avatarKey(caller.user.id, replaced))
      return profile
    }, (effect) => effect.pipe(Effect.catchTag("BlobStoreError", storageDown), Effect.scoped))

    /** Removes the caller's avatar. */
    const remove = Effect.fn("Avatars.remove")(function*(caller: Caller) {
      yield* peopleOnly(caller)
      const { replaced } = yield* orUnavailable(accounts.setAvatar(caller.user.id, null))
      if (replaced !== null) yield* store.remove(avatarKey(caller.user.id, replaced))
    }, (effect) => Effect.catchTag(effect, "BlobStoreError", storageDown))

    /** A person's avatar, for anyone who shares an org with them (404 otherwise, or when they have none). */
    const get = Effect.fn("Avatars.get")(function*(caller: Caller, userId: UserId) {
      const found = yield* orUnavailable(accounts.avatarFor(caller.user.id, userId))
      if (Option.isNone(found)) return yield* NotFound.of("avatar", userId)
      const { sha256, type } = found.value
      const content = Stream.catchAll(store.read(avatarKey(userId, sha256)), (e) => Stream.fromEffect(storageDown(e)))
      return { sha256, type, content }
    })

    return { set, remove, get } as const
  })
}) {}
