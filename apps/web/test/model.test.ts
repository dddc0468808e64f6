/**
 * The browser app's state rules, without a browser: snapshot then stream,
 * ordering, de-duplication on resume, reset, streamed drafts, pending sends
 * and unread counts.
 */
import { describe, expect, it } from "@effect/vitest"
import { ChannelAccountId } from "@troupe/domain/Channel"
import {
  Delivered,
  type Event,
  MessageCreated,
  MessageDeliveryFailed,
  MessageDelta,
  MessageUpdated,
  OrgDeleted,
  PinCreated,
  PinDeleted,
  Reset,
  RoomCreated,
  RoomSettingsChanged,
  RunFailed,
  RunStarted,
  UserUpdated
} from "@troupe/domain/Event"
import { MessageId, OrgId, PinId, RoomId, TeammateId, UserId } from "@troupe/domain/Ids"
import { Mention, Message } from "@troupe/domain/Message"
import { Org } from "@troupe/domain/Org"
import { Pin } from "@troupe/domain/Pin"
import { Room, RoomInfo } from "@troupe/domain/Room"
import { Run } from "@troupe/domain/Teammate"
import { User, UserProfile } from "@troupe/domain/User"
import { randomUUID } from "node:crypto"
import * as Model from "../src/model.js"

const orgId = OrgId.make(randomUUID())
const me = new User({
  id: UserId.make(randomUUID()),
  email: "me@x.io",
  name: "Me",
  handle: "me",
  createdAt: new Date()
})
const other = UserId.make(randomUUID())
const teammateId = TeammateId.make(randomUUID())

const info = (name: string) =>
  new RoomInfo({
    id: RoomId.make(randomUUID()),
    orgId,
    kind: "public",
    name,
    topic: "",
    archived: false,
    routing: "mentions",
    createdBy: me.id,
    createdAt: new Date()
  })

const room = (name: string) =>
  new Room({
    ...info(name),
    joined: true,
    unreadCount: 0,
    mentionCount: 0,
    threadUnreadCount: 0,
    threadMentionCount: 0,
    muted: false,
    notify: "mentions"
  })

let seq = 0
const message = (roomId: RoomId, text: string, options: Partial<ConstructorParameters<typeof Message>[0]> = {}) =>
  new Message({
    id: MessageId.make(randomUUID()),
    orgId,
    roomId,
    seq: ++seq,
    threadId: null,
    authorKind: "user",
    authorId: other,
    authorName: "Other",
    text,
    mentions: [],
    reactions: [],
    replyCount: 0,
    lastReplyAt: null,
    clientMessageId: null,
    createdAt: new Date(),
    editedAt: null,
    deletedAt: null,
    ...options
  })

const at = (id: string | number, event: Event) => new Delivered({ id: String(id), orgId, at: new Date(), event })

/** Signed in, in an org whose snapshot is at position 100, with two rooms and `a`'s history loaded. */
const start = () => {
  const a = room("a")
  const b = room("b")
  let s: Model.State = { ...Model.initial, me, orgs: [], orgId }
  s = Model.withSnapshot(s, orgId, [a, b], "100", [])
  s = Model.withPage(s, a.id, [], null)
  s = { ...s, openRoomId: a.id }
  return { a, b, s }
}

describe("the app's state from the event stream", () => {
  it("counts pin events per room, so an open pinboard reads itself again; none from before the snapshot", () => {
    const { a, b, s } = start()
    const pin = new Pin({
      id: PinId.make(randomUUID()),
      orgId,
      roomId: a.id,
      kind: "note",
      text: "keep",
      messageId: null,
      authorKind: "user",
      authorId: other,
      authorName: "Other",
      version: 1,
      createdAt: new Date(),
      updatedAt: new Date()
    })
    let next = Model.apply(s, at(99, new PinCreated({ pin })))
    expect(next.pinChanges).toEqual({})
    next = Model.apply(next, at(101, new PinCreated({ pin })))
    next = Model.apply(next, at(102, new PinDeleted({ roomId: a.id, pinId: pin.id })))
    expect([next.pinChanges[a.id], next.pinChanges[b.id]]).toEqual([2, undefined])
  })

  it("notifies by the room's level: every message, mentions only, or nothing; never of one's own", () => {
    const { a, s } = start()
    const plain = message(a.id, "hello all")
    const mention = message(a.id, "@me look", { mentions: [new Mention({ kind: "user", id: me.id, handle: "me" })] })
    expect([Model.shouldNotify(s, plain), Model.shouldNotify(s, mention)]).toEqual([false, true])
    const level = (state: Model.State, notify: "all" | "mentions" | "none", position: number) =>
      Model.apply(state, at(position, new RoomSettingsChanged({ roomId: a.id, muted: false, notify })))
    const all = level(s, "all", 101)
    expect(all.rooms[a.id]?.notify).toBe("all")
    expect([Model.shouldNotify(all, plain), Model.shouldNotify(all, mention)]).toEqual([true, true])
    expect(Model.shouldNotify(all, message(a.id, "mine", { authorId: me.id }))).toBe(false)
    const none = level(all, "none", 102)
    expect([Model.shouldNotify(none, plain), Model.shouldNotify(none, mention)]).toEqual([false, false])
  })

  it("a deleted org leaves the list, and when it was the open one, its rooms go with it", () => {
    const { s } = start()
    const orgOf = (id: OrgId, name: string) =>
      new Org({ id, name, slug: name, role: "member", createdAt: new Date(), allowedEmailDomains: [] })
    const elsewhere = OrgId.make(randomUUID())
    const withOrgs = { ...s, orgs: [orgOf(orgId, "here"), orgOf(elsewhere, "there")] }
    const gone = (id: OrgId, position: number) =>
      new Delivered({
        id: String(position),
        orgId: id,
        at: new Date(),
        event: new OrgDeleted({ orgId: id, name: "x" })
      })
    const afterOther = Model.apply(withOrgs, gone(elsewhere, 101))
    expect(afterOther.orgs.map((o) => o.id)).toEqual([orgId])
    expect(afterOther.orgId).toBe(orgId)
    expect(Object.keys(afterOther.rooms)).toHaveLength(2)
    const open = Model.apply(afterOther, gone(orgId, 102))
    expect(open.orgs).toEqual([])
    expect([open.orgId, open.rooms, open.histories]).toEqual([null, {}, {}])
  })

  it("skips durable events already in the snapshot and applies the ones after it", () => {
    const { s } = start()
    const early = info("early")
    const late = info("late")
    const next = [at(99, new RoomCreated({ room: early })), at(101, new RoomCreated({ room: late }))]
      .reduce(Model.apply, s)
    expect(Object.keys(next.rooms)).not.toContain(early.id)
    expect(next.rooms[late.id]?.name).toBe("late")
    expect(next.lastEventId).toBe("101")
  })

  it("applies an event seen twice (a resume that overlapped) once: one message, one unread", () => {
    const { b, s } = start()
    const m = message(b.id, "hello")
    const event = at(101, new MessageCreated({ message: m }))
    const next = [event, event].reduce(Model.apply, s)
    expect(next.rooms[b.id]?.unreadCount).toBe(1)
  })

  it("counts unread and mentions in rooms not on screen, and none in the open room or for one's own messages", () => {
    const { a, b, s } = start()
    const mention = new Mention({ kind: "user", id: me.id, handle: "me" })
    const next = [
      at(101, new MessageCreated({ message: message(b.id, "hi") })),
      at(102, new MessageCreated({ message: message(b.id, "@me look", { mentions: [mention] }) })),
      at(103, new MessageCreated({ message: message(b.id, "mine", { authorId: me.id }) })),
      at(104, new MessageCreated({ message: message(a.id, "here") }))
    ].reduce(Model.apply, s)
    expect(next.rooms[b.id]).toMatchObject({ unreadCount: 2, mentionCount: 1 })
    expect(next.rooms[a.id]).toMatchObject({ unreadCount: 0, mentionCount: 0 })
    expect(Model.timeline(next, a.id).map((m) => m.text)).toEqual(["here"])
    expect(Model.markedRead(next, b.id).rooms[b.id]).toMatchObject({ unreadCount: 0, mentionCount: 0 })
  })

  it("shows a send as pending until the server confirms it, then as one message whichever confirmation comes first", () => {
    const { a, s } = start()
    const pending = Model.sending(s, {
      clientMessageId: "c1",
      roomId: a.id,
      threadId: null,
      text: "hi",
      attachments: [],
      createdAt: 0
    })
    expect(pending.pending).toHaveLength(1)
    const stored = message(a.id, "hi", { authorId: me.id, clientMessageId: "c1" })
    const event = at(101, new MessageCreated({ message: stored }))
    for (
      const next of [Model.apply(Model.sent(pending, stored), event), Model.sent(Model.apply(pending, event), stored)]
    ) {
      expect(next.pending).toEqual([])
      expect(Model.timeline(next, a.id).map((m) => m.id)).toEqual([stored.id])
    }
    expect(Model.sendFailed(pending, "c1", "too long").pending[0]).toMatchObject({
      status: "failed",
      error: "too long"
    })
  })

  it("lets a later event replace what a page brought, but never lets a page overwrite what an event brought", () => {
    const { a, s } = start()
    const original = message(a.id, "first")
    const edited = new Message({ ...original, text: "second", editedAt: new Date() })
    const afterEvent = Model.apply(s, at(101, new MessageUpdated({ message: edited })))
    // The message was not loaded yet: the event is kept, and the older page does not undo it.
    const paged = Model.withPage(afterEvent, a.id, [original], null)
    expect(Model.timeline(paged, a.id).map((m) => m.text)).toEqual(["second"])
    const again = Model.apply(
      Model.withPage(s, a.id, [original], null),
      at(102, new MessageUpdated({ message: edited }))
    )
    expect(Model.timeline(again, a.id).map((m) => m.text)).toEqual(["second"])
  })

  it("builds a teammate's reply from its deltas, tolerating a repeat and a restart, and ends it with the message", () => {
    const { a, s } = start()
    const runId = randomUUID()
    const run = new Run({
      id: runId,
      teammateId,
      roomId: a.id,
      threadId: null,
      triggerIds: [],
      status: "running",
      model: "m",
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      latencyMs: null,
      error: null,
      replyMessageId: null,
      startedAt: new Date(),
      finishedAt: null,
      steps: []
    })
    const delta = (offset: number, text: string, restart = false) =>
      new MessageDelta({ roomId: a.id, threadId: null, runId, teammateId, offset, text, restart })
    let next = Model.apply(s, at(101, new RunStarted({ run })))
    expect(next.drafts[runId]?.text).toBe("")
    next = [
      at("101~1", delta(0, "Hel")),
      at("101~2", delta(3, "lo")),
      at("101~2", delta(3, "lo")),
      at("101~3", delta(3, "lo wor"))
    ].reduce(Model.apply, next)
    expect(next.drafts[runId]?.text).toBe("Hello wor")
    next = Model.apply(next, at("101~4", delta(0, "Hi", true)))
    expect(next.drafts[runId]).toMatchObject({ text: "Hi", gap: false })
    next = Model.apply(next, at("101~5", delta(9, " there")))
    expect(next.drafts[runId]?.gap).toBe(true)
    const reply = message(a.id, "Hi there", { authorKind: "teammate", authorId: teammateId })
    next = Model.apply(next, at(102, new MessageCreated({ message: reply })))
    expect(next.drafts).toEqual({})
    expect(Model.timeline(next, a.id).map((m) => m.text)).toEqual(["Hi there"])
  })

  it("shows a failed turn as a notice in its room", () => {
    const { a, s } = start()
    const run = new Run({
      id: randomUUID(),
      teammateId,
      roomId: a.id,
      threadId: null,
      triggerIds: [],
      status: "failed",
      model: "m",
      inputTokens: 0,
      outputTokens: 0,
      costUsd: 0,
      latencyMs: null,
      error: "the model is unavailable",
      replyMessageId: null,
      startedAt: new Date(),
      finishedAt: new Date(),
      steps: []
    })
    const next = Model.apply(Model.apply(s, at(101, new RunStarted({ run }))), at(102, new RunFailed({ run })))
    expect(next.drafts).toEqual({})
    expect(next.notices).toEqual([expect.objectContaining({ roomId: a.id, kind: "failed" })])
    expect(next.notices[0]?.text).toContain("the model is unavailable")
  })

  it("shows a message the gateway could not send as a notice on that message, once however often it is seen", () => {
    const { a, s } = start()
    const m = message(a.id, "to slack")
    const failed = new MessageDeliveryFailed({
      messageId: m.id,
      roomId: a.id,
      action: "post",
      channel: { accountId: ChannelAccountId.make(randomUUID()), kind: "slack", name: "Acme", externalChannel: "C1" },
      reason: "slack: not_in_channel"
    })
    const next = Model.apply(
      Model.apply(Model.apply(s, at(101, new MessageCreated({ message: m }))), at(102, failed)),
      at(102, failed)
    )
    expect(next.notices).toEqual([
      expect.objectContaining({
        roomId: a.id,
        kind: "undelivered",
        messageId: m.id,
        text: "Not sent to Slack (Acme, C1): slack: not_in_channel"
      })
    ])
  })

  it("on reset drops the snapshot's position, so events wait for a new snapshot", () => {
    const { b, s } = start()
    const reset = Model.apply(s, at(150, new Reset({ reason: "cursor too old" })))
    expect(reset.position).toBeNull()
    const during = Model.apply(reset, at(151, new MessageCreated({ message: message(b.id, "x") })))
    expect(during.rooms[b.id]?.unreadCount).toBe(0)
    const fresh = Model.withSnapshot(during, orgId, [room("c")], "151", [])
    expect(Object.values(fresh.rooms).map((r) => r.name)).toEqual(["c"])
  })

  it("keeps only the cursor of events from another org", () => {
    const { s } = start()
    const elsewhere = new Delivered({
      id: "101",
      orgId: OrgId.make(randomUUID()),
      at: new Date(),
      event: new RoomCreated({ room: info("theirs") })
    })
    const next = Model.apply(s, elsewhere)
    expect(Object.values(next.rooms).map((r) => r.name).sort()).toEqual(["a", "b"])
    expect(next.lastEventId).toBe("101")
  })

  it("takes the person's own new name and handle from whichever org tells, and no one else's", () => {
    const { s } = start()
    const elsewhere = (id: string, user: UserProfile) =>
      new Delivered({ id, orgId: OrgId.make(randomUUID()), at: new Date(), event: new UserUpdated({ user }) })
    const renamed = Model.apply(s, elsewhere("101", new UserProfile({ id: me.id, name: "Me Too", handle: "me.too" })))
    expect(renamed.me).toMatchObject({ id: me.id, email: me.email, name: "Me Too", handle: "me.too" })
    const others = Model.apply(
      renamed,
      at(102, new UserUpdated({ user: new UserProfile({ id: other, name: "X", handle: "x" }) }))
    )
    expect(others.me).toMatchObject({ name: "Me Too", handle: "me.too" })
    expect(others.lastEventId).toBe("102")
  })
})
