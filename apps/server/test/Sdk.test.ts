/**
 * The SDK as a developer who does not use Effect meets it: promises for
 * every endpoint, typed failures, and the event stream as async iteration.
 */
import { describe, expect, layer } from "@effect/vitest"
import * as Troupe from "@troupe/client/Troupe"
import type { Delivered } from "@troupe/domain/Event"
import { OrgId } from "@troupe/domain/Ids"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { baseUrl, email, slug, TestServer } from "./Harness.js"

describe("the SDK's promise facade", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.effect("sign up, post, read it back and from the stream; failures reject with the API's error", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const result = yield* Effect.promise(async () => {
          const troupe = Troupe.create({ baseUrl: url })
          const session = await troupe.signup({ email: email("sdk"), password: "correct horse battery", name: "Sid" })
          expect(troupe.token()).toBe(session.token)
          const org = await troupe.call((api) => api.orgs.create({ payload: { name: "Acme", slug: slug() } }))
          const room = await troupe.call((api) => api.rooms.create({ path: { org: org.id }, payload: { name: "sdk" } }))
          const { position } = await troupe.call((api) => api.rooms.list({ path: { org: org.id } }))
          const posted = await troupe.call((api) =>
            api.messages.post({ path: { room: room.id }, payload: { text: "hello from the SDK" } })
          )
          // The stream from before the post: the message comes, and leaving the loop closes it.
          let seen: Delivered | undefined = undefined
          for await (const delivered of troupe.events({ lastEventId: position })) {
            if (delivered.event.type === "message.created") {
              seen = delivered
              break
            }
          }
          const missing = await troupe.call((api) => api.orgs.get({ path: { org: OrgId.make(randomUUID()) } })).then(
            () => null,
            (e: unknown) => e
          )
          return { posted, seen, missing }
        })
        expect(result.seen?.event).toMatchObject({ type: "message.created", message: { id: result.posted.id } })
        expect(result.missing).toMatchObject({ _tag: "NotFound" })
      }))
  })
})
