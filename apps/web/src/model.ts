/**
 * The app's state and how events change it, as pure functions: no I/O here,
 * so the rules (ordering, de-duplication, resume, reset, streaming drafts)
 * are tested without a browser. `Workspace` feeds it from the server.
 *
 * Protocol (docs/events.md): the stream is opened first, then a snapshot is
 * read; durable events at or before the snapshot's position are already in
 * it and are skipped. A message's latest event carries its latest state, so
 * events replace what a page of history brought, and pages never overwrite
 * what events brought.
 */
import type { Delivered } from "@troupe/domain/Event"
import type { Attachment } from "@troupe/domain/File"
import type { MessageId, OrgId, RoomId, TeammateId } from "@troupe/domain/Ids"
import type { Message } from "@troupe/domain/Message"
import { Org } from "@troupe/domain/Org"
import type { Room, RoomInfo } from "@troupe/domain/Room"
import type { Task } from "@troupe/domain/Task"
import type { Run, Teammate } from "@troupe/domain/Teammate"
import type { User } from "@troupe/domain/User"

/** A message the person sent that the server has not confirmed yet. */
export interface Pending {
  readonly clientMessageId: string
  readonly roomId: RoomId
  readonly threadId: MessageId | null
  readonly text: string
  /** Files uploaded for this message, attached when it is posted. */
  readonly attachments: ReadonlyArray<Attachment>
  readonly createdAt: number
  readonly status: "sending" | "failed"
  readonly error: string | null
}

/** A teammate's reply in progress: "thinking" until text arrives. */
export interface Draft {
  readonly runId: string
  readonly roomId: RoomId
  readonly threadId: string | null
  readonly teammateId: TeammateId
  readonly text: string
  /** A delta went missing; the final message will carry the whole text. */
  readonly gap: boolean
}

/** Something the room shows between messages: a failed turn, a routing decision, an unanswered mention. */
export interface Notice {
  readonly id: string
  readonly roomId: RoomId
  readonly kind: "failed" | "routed" | "unanswered" | "stopped" | "limit" | "undelivered"
  readonly text: string
  /** The message it is about, when there is one. */
  readonly messageId: string | null
  /** For `unanswered`: the teammate that could be added. */
  readonly teammateId: TeammateId | null
  readonly at: number
}

/** The history of one room as far as it has been loaded. */
export interface RoomHistory {
  /** By id. */
  readonly messages: Readonly<Record<string, Message>>
  /** Older messages exist before the oldest loaded one. */
  readonly hasOlder: boolean
  /** The cursor for the next older page. */
  readonly olderCursor: string | null
}

/** Everything the app shows. */
export interface State {
  readonly me: User | null
  readonly orgs: ReadonlyArray<Org>
  readonly orgId: OrgId | null
  /** Rooms of the current org, by id. */
  readonly rooms: Readonly<Record<string, Room>>
  /** The log position the current org's snapshot reflects; `null` before one is read. */
  readonly position: bigint | null
  readonly histories: Readonly<Record<string, RoomHistory>>
  readonly pending: ReadonlyArray<Pending>
  readonly drafts: Readonly<Record<string, Draft>>
  readonly notices: ReadonlyArray<Notice>
  readonly teammates: Readonly<Record<string, { readonly teammate: Teammate; readonly busy: boolean }>>
  /** Who is typing where: `${roomId}` → user id → until (ms). */
  readonly typing: Readonly<Record<string, Readonly<Record<string, number>>>>
  readonly online: Readonly<Record<string, boolean>>
  /** How many pin events each room has had: an open pinboard reads itself again when its count moves. */
  readonly pinChanges: Readonly<Record<string, number>>
  /** Background tasks seen, by id, as the latest `task.updated` (or a listing) says. */
  readonly tasks: Readonly<Record<string, Task>>
  /** How many schedule events each room has had: an open schedule list reads itself again when it moves. */
  readonly scheduleChanges: Readonly<Record<string, number>>
  /** The room on screen, whose new messages are read as they arrive. */
  readonly openRoomId: RoomId | null
  /** The last event id applied, to resume the stream after it. */
  readonly lastEventId: string | null
  readonly connection: "connecting" | "live" | "reconnecting"
  /** Why the session ended, when the server ended it. */
  readonly ended: string | null
}

export const initial: State = {
  me: null,
  orgs: [],
  orgId: null,
  rooms: {},
  position: null,
  histories: {},
  pending: [],
  drafts: {},
  notices: [],
  teammates: {},
  typing: {},
  online: {},
  pinChanges: {},
  tasks: {},
  scheduleChanges: {},
  openRoomId: null,
  lastEventId: null,
  connection: "connecting",
  ended: null
}

/** The log position of an event id (`1042`, or `1042~3` for an ephemeral event after 1042). */
export const positionOf = (id: string): bigint | null => {
  const head = id.split("~")[0] ?? ""
  return /^\d+$/.test(head) ? BigInt(head) : null
}

const omit = <V>(record: Readonly<Record<string, V>>, key: string): Readonly<Record<string, V>> => {
  if (!(key in record)) return record
  const { [key]: _, ...rest } = record
  return rest
}

/** A room as the sidebar knows it, from the `RoomInfo` an event carries. */
const roomFromInfo = (info: RoomInfo, previous: Room | undefined, joined: boolean): Room => ({
  ...info,
  joined,
  unreadCount: previous?.unreadCount ?? 0,
  mentionCount: previous?.mentionCount ?? 0,
  threadUnreadCount: previous?.threadUnreadCount ?? 0,
  threadMentionCount: previous?.threadMentionCount ?? 0,
  muted: previous?.muted ?? false,
  notify: previous?.notify ?? (info.kind === "direct" ? "all" : "mentions")
})

/** The snapshot of an org: its rooms and the position they reflect. Replaces what was known of the org. */
export const withSnapshot = (
  state: State,
  orgId: OrgId,
  rooms: ReadonlyArray<Room>,
  position: string,
  teammates: ReadonlyArray<Teammate>
): State => ({
  ...state,
  orgId,
  rooms: Object.fromEntries(rooms.map((r) => [r.id, r])),
  position: positionOf(position),
  teammates: Object.fromEntries(
    teammates.map((t) => [t.id, { teammate: t, busy: state.teammates[t.id]?.busy ?? false }])
  ),
  // What the snapshot replaces: history is re-read when a room opens.
  histories: {},
  drafts: {},
  notices: state.notices.filter((n) => rooms.some((r) => r.id === n.roomId))
})

/** A teammate as the server answered a change to it (its busy state stays as the stream said). */
export const withTeammate = (state: State, teammate: Teammate): State =>
  teammate.dismissed
    ? { ...state, teammates: omit(state.teammates, teammate.id) }
    : {
      ...state,
      teammates: {
        ...state.teammates,
        [teammate.id]: { teammate, busy: state.teammates[teammate.id]?.busy ?? false }
      }
    }

/** Adds a page of history (older or newest): it never overwrites a message an event already brought. */
export const withPage = (
  state: State,
  roomId: RoomId,
  page: ReadonlyArray<Message>,
  olderCursor: string | null
): State => {
  const history = state.histories[roomId]
  const messages: Record<string, Message> = { ...history?.messages }
  for (const m of page) if (!(m.id in messages)) messages[m.id] = m
  return {
    ...state,
    histories: {
      ...state.histories,
      [roomId]: { messages, hasOlder: olderCursor !== null, olderCursor }
    }
  }
}

/** The loaded top-level messages of a room, oldest first. */
export const timeline = (state: State, roomId: RoomId): ReadonlyArray<Message> =>
  Object.values(state.histories[roomId]?.messages ?? {})
    .filter((m) => m.threadId === null)
    .sort((a, b) => a.seq - b.seq)

/** The loaded replies of a thread, oldest first. */
export const replies = (state: State, roomId: RoomId, threadId: string): ReadonlyArray<Message> =>
  Object.values(state.histories[roomId]?.messages ?? {})
    .filter((m) => m.threadId === threadId)
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())

/** A message as it now is (an answer to an edit, a reaction, a delete, or an event). */
export const withMessage = (state: State, message: Message): State => {
  const history = state.histories[message.roomId]
  // A room whose history is not loaded learns it when it opens.
  if (history === undefined) return state
  return {
    ...state,
    histories: {
      ...state.histories,
      [message.roomId]: { ...history, messages: { ...history.messages, [message.id]: message } }
    }
  }
}

const mentionsMe = (state: State, message: Message) =>
  message.mentions.some((m) => m.kind === "user" && m.id === state.me?.id)

/** A new message from someone else counts as unread unless its room is on screen. */
const countUnread = (state: State, message: Message): State => {
  const room = state.rooms[message.roomId]
  if (room === undefined || message.authorId === state.me?.id || state.openRoomId === message.roomId) return state
  const mention = mentionsMe(state, message) ? 1 : 0
  const updated: Room = message.threadId === null
    ? { ...room, unreadCount: room.unreadCount + 1, mentionCount: room.mentionCount + mention }
    : {
      ...room,
      threadUnreadCount: room.threadUnreadCount + 1,
      threadMentionCount: room.threadMentionCount + mention
    }
  return { ...state, rooms: { ...state.rooms, [room.id]: updated } }
}

/** The open room was read up to now. */
export const markedRead = (state: State, roomId: RoomId): State => {
  const room = state.rooms[roomId]
  if (room === undefined || (room.unreadCount === 0 && room.mentionCount === 0)) return state
  return { ...state, rooms: { ...state.rooms, [roomId]: { ...room, unreadCount: 0, mentionCount: 0 } } }
}

/** How a channel account's platform is named to people. */
const platformNames = { slack: "Slack", telegram: "Telegram", webhook: "the webhook" } as const

const notice = (state: State, n: Omit<Notice, "at">, at: Date): State =>
  state.notices.some((x) => x.id === n.id)
    ? state
    : { ...state, notices: [...state.notices, { ...n, at: at.getTime() }].slice(-200) }

const teammateName = (state: State, id: string) => {
  const t = state.teammates[id]?.teammate
  return t === undefined ? "A teammate" : `@${t.handle}`
}

/** What the room says about a turn that ended without an answer, by its status. */
const endings: Partial<Record<Run["status"], (who: string, run: Run) => [Notice["kind"], string]>> = {
  failed: (who, run) => ["failed", `${who} could not answer: ${run.error ?? "the turn failed"}`],
  interrupted: (who) => ["stopped", `${who} was stopped.`],
  refused: (who, run) => ["limit", `${who} did not answer: ${run.error ?? "the turn was refused"}`]
}

const endRun = (state: State, run: Run, at: Date): State => {
  const next = { ...state, drafts: omit(state.drafts, run.id) }
  const ending = endings[run.status]
  if (ending === undefined) return next
  const [kind, text] = ending(teammateName(state, run.teammateId), run)
  return notice(next, {
    id: `run:${run.id}`,
    roomId: run.roomId,
    kind,
    text,
    messageId: null,
    teammateId: run.teammateId
  }, at)
}

/**
 * Applies one event from the stream. Events of other orgs than the current
 * one are recorded only as the resume point; durable events already in the
 * snapshot are skipped.
 */
export const apply = (state: State, delivered: Delivered): State => {
  const at = positionOf(delivered.id)
  const ephemeral = delivered.id.includes("~")
  // A durable event at or before the last one applied was seen already (a resume that overlapped).
  const last = state.lastEventId === null ? null : positionOf(state.lastEventId)
  if (!ephemeral && at !== null && last !== null && at <= last) return state
  const resumed = at === null ? state : { ...state, lastEventId: delivered.id }
  const event = delivered.event
  if (event.type === "reset") return { ...resumed, position: null }
  if (event.type === "access.revoked") return { ...resumed, ended: event.reason }
  // The person's own name and handle, whichever org told.
  if (event.type === "user.updated") {
    const me = resumed.me
    return me === null || me.id !== event.user.id
      ? resumed
      : { ...resumed, me: { ...me, name: event.user.name, handle: event.user.handle } }
  }
  if (delivered.orgId !== null && delivered.orgId !== state.orgId) {
    if ((event.type === "org.member.left" && event.userId === state.me?.id) || event.type === "org.deleted") {
      return { ...resumed, orgs: resumed.orgs.filter((o) => o.id !== delivered.orgId) }
    }
    return resumed
  }
  // Before a snapshot, or already in it: nothing to do but remember the cursor.
  if (!ephemeral && (state.position === null || at === null || at <= state.position)) return resumed
  const s = resumed
  switch (event.type) {
    case "message.created": {
      const m = event.message
      const confirmed = m.clientMessageId === null
        ? s.pending
        : s.pending.filter((p) => p.clientMessageId !== m.clientMessageId)
      // The teammate's reply replaces its draft.
      const drafts = m.authorKind === "teammate"
        ? Object.fromEntries(
          Object.entries(s.drafts).filter(([, d]) =>
            !(d.teammateId === m.authorId && d.roomId === m.roomId && d.threadId === m.threadId)
          )
        )
        : s.drafts
      return countUnread(withMessage({ ...s, pending: confirmed, drafts }, m), m)
    }
    case "message.updated":
    case "message.deleted":
      return withMessage(s, event.message)
    case "reaction.changed": {
      const history = s.histories[event.roomId]
      const message = history?.messages[event.messageId]
      if (history === undefined || message === undefined) return s
      const mine = event.userId === s.me?.id
      const reactions = event.counts.map((c) => {
        const before = message.reactions.find((r) => r.emoji === c.emoji)
        const me = mine && c.emoji === event.emoji ? event.added : (before?.me ?? false)
        return { emoji: c.emoji, count: c.count, me }
      })
      return withMessage(s, { ...message, reactions })
    }
    case "file.deleted": {
      const file = event.file
      const message = file.messageId === null ? undefined : s.histories[file.roomId]?.messages[file.messageId]
      if (message === undefined) return s
      return withMessage(s, { ...message, attachments: message.attachments.filter((a) => a.id !== file.id) })
    }
    case "room.created": {
      const info = event.room
      const joined = info.kind !== "public" || info.createdBy === s.me?.id
      return { ...s, rooms: { ...s.rooms, [info.id]: roomFromInfo(info, s.rooms[info.id], joined) } }
    }
    case "room.updated":
    case "room.archived": {
      const before = s.rooms[event.room.id]
      return {
        ...s,
        rooms: { ...s.rooms, [event.room.id]: roomFromInfo(event.room, before, before?.joined ?? true) }
      }
    }
    case "org.updated":
      return { ...s, orgs: s.orgs.map((o) => o.id === event.orgId ? new Org({ ...o, name: event.name }, true) : o) }
    case "room.settings": {
      const room = s.rooms[event.roomId]
      if (room === undefined) return s
      return { ...s, rooms: { ...s.rooms, [room.id]: { ...room, muted: event.muted, notify: event.notify } } }
    }
    case "room.deleted":
      return {
        ...s,
        rooms: omit(s.rooms, event.roomId),
        histories: omit(s.histories, event.roomId),
        openRoomId: s.openRoomId === event.roomId ? null : s.openRoomId
      }
    case "member.joined": {
      const room = s.rooms[event.roomId]
      if (event.member.id !== s.me?.id || room === undefined) return s
      return { ...s, rooms: { ...s.rooms, [room.id]: { ...room, joined: true } } }
    }
    case "member.left": {
      const room = s.rooms[event.roomId]
      if (event.memberId !== s.me?.id || room === undefined) return s
      // A private room one left is no longer visible at all.
      if (room.kind !== "public") return { ...s, rooms: omit(s.rooms, room.id), histories: omit(s.histories, room.id) }
      return { ...s, rooms: { ...s.rooms, [room.id]: { ...room, joined: false } } }
    }
    case "org.member.left":
    case "org.deleted":
      if (event.type === "org.member.left" && event.userId !== s.me?.id) return s
      return { ...s, orgs: s.orgs.filter((o) => o.id !== delivered.orgId), orgId: null, rooms: {}, histories: {} }
    case "teammate.updated": {
      const t = event.teammate
      if (t.dismissed) return { ...s, teammates: omit(s.teammates, t.id) }
      return { ...s, teammates: { ...s.teammates, [t.id]: { teammate: t, busy: event.busy } } }
    }
    case "run.started": {
      const run = event.run
      if (run.id in s.drafts) return s
      const draft: Draft = {
        runId: run.id,
        roomId: run.roomId,
        threadId: run.threadId,
        teammateId: run.teammateId,
        text: "",
        gap: false
      }
      return { ...s, drafts: { ...s.drafts, [run.id]: draft } }
    }
    case "message.delta": {
      const before = s.drafts[event.runId]
      const base: Draft = before ?? {
        runId: event.runId,
        roomId: event.roomId,
        threadId: event.threadId,
        teammateId: event.teammateId,
        text: "",
        gap: false
      }
      let draft: Draft
      if (event.restart) draft = { ...base, text: event.text, gap: event.offset > 0 }
      else if (event.offset === base.text.length) draft = { ...base, text: base.text + event.text }
      else if (event.offset < base.text.length) {
        // Overlaps what is shown (a delta seen twice): keep only the new tail.
        const tail = event.text.slice(base.text.length - event.offset)
        draft = { ...base, text: base.text + tail }
      } else draft = { ...base, text: base.text + event.text, gap: true }
      return { ...s, drafts: { ...s.drafts, [event.runId]: draft } }
    }
    case "run.completed":
    case "run.failed":
      return endRun(s, event.run, delivered.at)
    case "routing.decided": {
      if (event.teammateId === null) return s
      return notice(s, {
        id: `route:${event.messageId}`,
        roomId: event.roomId,
        kind: "routed",
        text: `Routed to ${teammateName(s, event.teammateId)}: ${event.reason}`,
        messageId: event.messageId,
        teammateId: event.teammateId
      }, delivered.at)
    }
    case "mention.unanswered":
      return notice(s, {
        id: `unanswered:${event.messageId}:${event.teammateId}`,
        roomId: event.roomId,
        kind: "unanswered",
        text: `@${event.handle} did not see this: ${event.reason}`,
        messageId: event.messageId,
        teammateId: event.teammateId
      }, delivered.at)
    case "usage.limit_reached":
      return s
    case "message.delivery_failed": {
      const where = `${platformNames[event.channel.kind]} (${event.channel.name}, ${event.channel.externalChannel})`
      const what = event.action === "post"
        ? "Not sent to"
        : event.action === "update"
        ? "Edit not sent to"
        : "Not deleted in"
      return notice(s, {
        id:
          `undelivered:${event.messageId}:${event.action}:${event.channel.accountId}:${event.channel.externalChannel}`,
        roomId: event.roomId,
        kind: "undelivered",
        text: `${what} ${where}: ${event.reason}`,
        messageId: event.messageId,
        teammateId: null
      }, delivered.at)
    }
    case "typing": {
      if (event.userId === s.me?.id) return s
      const room = { ...s.typing[event.roomId], [event.userId]: delivered.at.getTime() + 6000 }
      return { ...s, typing: { ...s.typing, [event.roomId]: room } }
    }
    case "presence.changed":
      return { ...s, online: { ...s.online, [event.userId]: event.status === "online" } }
    case "task.created":
    case "task.updated":
      return withTasks(s, [event.task])
    case "schedule.updated":
    case "schedule.deleted": {
      const roomId = event.type === "schedule.deleted" ? event.roomId : event.schedule.roomId
      return { ...s, scheduleChanges: { ...s.scheduleChanges, [roomId]: (s.scheduleChanges[roomId] ?? 0) + 1 } }
    }
    case "pin.created":
    case "pin.updated":
    case "pin.deleted": {
      const roomId = event.type === "pin.deleted" ? event.roomId : event.pin.roomId
      return { ...s, pinChanges: { ...s.pinChanges, [roomId]: (s.pinChanges[roomId] ?? 0) + 1 } }
    }
    default:
      return s
  }
}

/** A message is being sent (optimistically shown until the server confirms it). */
export const sending = (state: State, p: Omit<Pending, "status" | "error">): State => ({
  ...state,
  pending: [...state.pending.filter((x) => x.clientMessageId !== p.clientMessageId), {
    ...p,
    status: "sending",
    error: null
  }]
})

/** The server answered a send: the message is stored (the event may not have arrived yet). */
export const sent = (state: State, message: Message): State => {
  const pending = state.pending.filter((p) => p.clientMessageId !== message.clientMessageId)
  return withMessage({ ...state, pending }, message)
}

/** A send failed for good (refused by the server): shown with the reason and a retry. */
export const sendFailed = (state: State, clientMessageId: string, error: string): State => ({
  ...state,
  pending: state.pending.map((p) => p.clientMessageId === clientMessageId ? { ...p, status: "failed", error } : p)
})

/** Who is typing in a room now, other than me. */
export const typingIn = (state: State, roomId: RoomId, now: number): ReadonlyArray<string> =>
  Object.entries(state.typing[roomId] ?? {}).flatMap(([id, until]) => until > now ? [id] : [])

/** Tasks read from the server or an event: each kept as its latest state (by `steps` and status, never older). */
export const withTasks = (state: State, tasks: ReadonlyArray<Task>): State => ({
  ...state,
  tasks: { ...state.tasks, ...Object.fromEntries(tasks.map((t) => [t.id, t])) }
})

/** A room's tasks, newest first. */
export const tasksIn = (state: State, roomId: RoomId): ReadonlyArray<Task> =>
  Object.values(state.tasks).filter((t) => t.roomId === roomId)
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())

/**
 * Whether a new message calls for a notification to `state`'s person, by
 * the room's notification level: never for their own or a teammate's draft,
 * never in a room set to `none`; with `mentions`, only when it mentions them.
 * Whether the person is looking at the room is the caller's to know.
 */
export const shouldNotify = (state: State, message: Message): boolean => {
  if (state.me === null || message.authorId === state.me.id || message.deletedAt !== null) return false
  const room = state.rooms[message.roomId]
  if (room === undefined || !room.joined) return false
  switch (room.notify) {
    case "none":
      return false
    case "all":
      return true
    case "mentions":
      return message.mentions.some((m) => m.id === state.me?.id)
  }
}
