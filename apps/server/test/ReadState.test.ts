import { describe, expect, layer } from "@effect/vitest"
import type { Message } from "@troupe/domain/Message"
import { Effect, FastCheck as fc } from "effect"
import { person, slug, TestServer } from "./Harness.js"

type Who = 0 | 1

type Action =
  | { readonly _tag: "post"; readonly by: Who; readonly mention: boolean }
  | { readonly _tag: "reply"; readonly by: Who; readonly root: number; readonly mention: boolean }
  | { readonly _tag: "delete"; readonly pick: number }
  | { readonly _tag: "markRoom"; readonly who: Who; readonly pick: number }
  | { readonly _tag: "markThread"; readonly who: Who; readonly root: number; readonly pick: number }

const who = fc.constantFrom<Who>(0, 1)
const index = fc.nat({ max: 50 })
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ _tag: fc.constant("post" as const), by: who, mention: fc.boolean() }), weight: 4 },
  {
    arbitrary: fc.record({ _tag: fc.constant("reply" as const), by: who, root: index, mention: fc.boolean() }),
    weight: 4
  },
  { arbitrary: fc.record({ _tag: fc.constant("delete" as const), pick: index }), weight: 1 },
  { arbitrary: fc.record({ _tag: fc.constant("markRoom" as const), who, pick: index }), weight: 2 },
  { arbitrary: fc.record({ _tag: fc.constant("markThread" as const), who, root: index, pick: index }), weight: 2 }
)

interface Model {
  readonly messages: Array<{ message: Message; author: Who; mentions: ReadonlySet<Who>; deleted: boolean }>
  readonly room: [number, number]
  readonly threads: [Map<string, number>, Map<string, number>]
}

const SEED = 20261122

describe("read state", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 300_000 })((it) => {
    it.effect("unread and mention counts are never negative, match a model, and agree between room and thread views", () =>
      Effect.gen(function*() {
        const samples = fc.sample(fc.array(action, { minLength: 5, maxLength: 28 }), { numRuns: 14, seed: SEED })
        const ana = yield* person("Ana")
        const ben = yield* person("Ben")
        const people = [ana, ben] as const
        const org = yield* ana.api.orgs.create({ payload: { name: "Counts", slug: slug() } })
        yield* ana.api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })

        for (const [run, actions] of samples.entries()) {
          const room = yield* ana.api.rooms.create({ path: { org: org.id }, payload: { name: `run ${run}` } })
          yield* ben.api.rooms.join({ path: { room: room.id } })
          const model: Model = { messages: [], room: [0, 0], threads: [new Map(), new Map()] }
          const roots = () => model.messages.filter((m) => m.message.threadId === null && !m.deleted)
          const text = (mention: boolean, by: Who) => mention ? `hi @${people[by === 0 ? 1 : 0].user.handle}` : "hello"

          for (const a of actions) {
            switch (a._tag) {
              case "post": {
                const message = yield* people[a.by].api.messages.post({
                  path: { room: room.id },
                  payload: { text: text(a.mention, a.by) }
                })
                model.messages.push({
                  message,
                  author: a.by,
                  mentions: new Set(a.mention ? [a.by === 0 ? 1 : 0] : []),
                  deleted: false
                })
                break
              }
              case "reply": {
                const candidates = roots()
                if (candidates.length === 0) break
                const root = candidates[a.root % candidates.length]!.message
                const message = yield* people[a.by].api.messages.post({
                  path: { room: room.id },
                  payload: { text: text(a.mention, a.by), threadId: root.id }
                })
                model.messages.push({
                  message,
                  author: a.by,
                  mentions: new Set(a.mention ? [a.by === 0 ? 1 : 0] : []),
                  deleted: false
                })
                break
              }
              case "delete": {
                const live = model.messages.filter((m) => !m.deleted)
                if (live.length === 0) break
                const target = live[a.pick % live.length]!
                yield* people[target.author].api.messages.delete({
                  path: { room: room.id, message: target.message.id }
                })
                target.deleted = true
                break
              }
              case "markRoom": {
                const top = model.messages.filter((m) => m.message.threadId === null)
                if (top.length === 0) break
                const target = top[a.pick % top.length]!.message
                yield* people[a.who].api.messages.markRead({
                  path: { room: room.id },
                  payload: { messageId: target.id }
                })
                model.room[a.who] = Math.max(model.room[a.who], target.seq)
                break
              }
              case "markThread": {
                const rootsWithReplies = model.messages.filter((m) =>
                  m.message.threadId === null && model.messages.some((r) => r.message.threadId === m.message.id)
                )
                if (rootsWithReplies.length === 0) break
                const root = rootsWithReplies[a.root % rootsWithReplies.length]!.message
                const replies = model.messages.filter((r) => r.message.threadId === root.id)
                const target = replies[a.pick % replies.length]!.message
                yield* people[a.who].api.messages.markRead({
                  path: { room: room.id },
                  payload: { messageId: target.id, threadId: root.id }
                })
                const markers = model.threads[a.who]
                markers.set(root.id, Math.max(markers.get(root.id) ?? 0, target.seq))
                break
              }
            }
          }

          for (const w of [0, 1] as const) {
            const unread = (m: Model["messages"][number], marker: number) =>
              !m.deleted && m.author !== w && m.message.seq > marker
            const expectTop = model.messages.filter((m) => m.message.threadId === null && unread(m, model.room[w]))
            const threadMarker = (m: Model["messages"][number]) => model.threads[w].get(m.message.threadId!) ?? 0
            const expectReplies = model.messages.filter((m) =>
              m.message.threadId !== null && unread(m, threadMarker(m))
            )
            const view = yield* people[w].api.rooms.get({ path: { room: room.id } })
            const threads = yield* people[w].api.rooms.threads({ path: { room: room.id } })
            const label = `seed ${SEED} run ${run} person ${w}: ${JSON.stringify(actions)}`
            for (const n of [view.unreadCount, view.mentionCount, view.threadUnreadCount, view.threadMentionCount]) {
              expect(n, label).toBeGreaterThanOrEqual(0)
            }
            for (const t of threads) {
              expect(t.unreadCount, label).toBeGreaterThanOrEqual(0)
              expect(t.mentionCount, label).toBeGreaterThanOrEqual(0)
            }
            expect(view.unreadCount, label).toBe(expectTop.length)
            expect(view.mentionCount, label).toBe(expectTop.filter((m) => m.mentions.has(w)).length)
            expect(view.threadUnreadCount, label).toBe(expectReplies.length)
            expect(view.threadMentionCount, label).toBe(expectReplies.filter((m) => m.mentions.has(w)).length)
            expect(threads.reduce((n, t) => n + t.unreadCount, 0), label).toBe(view.threadUnreadCount)
            expect(threads.reduce((n, t) => n + t.mentionCount, 0), label).toBe(view.threadMentionCount)
            const listed = (yield* people[w].api.rooms.list({ path: { org: org.id } })).rooms.find((r) =>
              r.id === room.id
            )!
            expect([listed.unreadCount, listed.mentionCount, listed.threadUnreadCount], label)
              .toEqual([view.unreadCount, view.mentionCount, view.threadUnreadCount])
          }
        }
      }))
  })
})
