/**
 * The live workspace: the session, the event stream and the requests that
 * change things, feeding the pure state in `model.ts`. React reads it through
 * `useWorkspace` (a `useSyncExternalStore` hook).
 *
 * The stream is opened first; a snapshot is read after its handshake, and
 * events that arrive while a snapshot is in flight wait for it, so nothing is
 * skipped between the two. A dropped stream reconnects with the last event id
 * (exactly what was missed arrives); on `reset` the snapshot is read again.
 */
import * as EventStream from "@troupe/client/EventStream"
import type { Delivered } from "@troupe/domain/Event"
import { Attachment, FileInfo } from "@troupe/domain/File"
import {
  type FileId,
  type MessageId,
  type OrgId,
  type PinId,
  type RoomId,
  type ScheduleId,
  type TaskId,
  TeammateId,
  UserId
} from "@troupe/domain/Ids"
import type { Message } from "@troupe/domain/Message"
import type { CreatedInvitation, Invitation, InvitationPreview, InvitedRole, Member, Role } from "@troupe/domain/Org"
import type { NotifyLevel } from "@troupe/domain/Room"
import type {
  CatalogEntry,
  CoreBlock,
  CreateTeammateRequest,
  MemoryEntry,
  MemoryView,
  ModelPolicyView,
  Run,
  Teammate,
  UpdateTeammateRequest,
  Usage
} from "@troupe/domain/Teammate"
import type { OidcSignIn, User } from "@troupe/domain/User"
import { Effect, Fiber, Schema, Stream } from "effect"
import { ApiError, call, forget, runFork, toApiError } from "./api.js"
import * as Model from "./model.js"
import { oidcReturn } from "./oidc.js"

const TOKEN_KEY = "troupe.session"
const ORG_KEY = "troupe.org"
/** Whether this browser shows notifications: "on" once the person turned them on here. */
const NOTIFICATIONS_KEY = "troupe.notifications"
const PAGE = 50

/** How long a send keeps retrying through network failures before it shows as failed. */
const SEND_ATTEMPTS = 6

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const slugFrom = (name: string) => {
  const base = name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40)
  return `${base || "team"}-${Math.random().toString(36).slice(2, 6)}`
}

/** The token of a link to `page` (`/invite#<token>`, `/reset#<token>`) the app was opened with. */
const tokenInAddress = (page: string): string | null =>
  window.location.pathname === page && window.location.hash.length > 1
    ? decodeURIComponent(window.location.hash.slice(1))
    : null

/** An invitation the app was opened with: its token, and what the server says of it (or why it cannot). */
export interface OpenInvitation {
  readonly token: string
  readonly preview: InvitationPreview | null
  readonly error: string | null
}

/** The room named by the address (`/rooms/<id>`), which survives a reload. */
const roomInAddress = (): string | null => /^\/rooms\/([0-9a-f-]{36})$/.exec(window.location.pathname)?.[1] ?? null

/** The workspace of one browser tab. */
export class Workspace {
  private state: Model.State = Model.initial
  private readonly listeners = new Set<() => void>()
  private token: string | null = null
  private stream: Fiber.RuntimeFiber<unknown, unknown> | null = null
  /** Events held while a snapshot is read; `null` when none is in flight. */
  private held: Array<Delivered> | null = null
  private members: ReadonlyArray<Member> = []
  /** The members' avatars by id, kept with `members`. */
  private avatars: ReadonlyMap<string, string | null> = new Map()
  private catalogEntries: ReadonlyArray<CatalogEntry> = []
  /** Why the last sign-in attempt or session ended, for the sign-in screen. */
  authMessage: string | null = null
  booting = true
  /** The invitation link the app was opened with, until it is accepted or set aside. */
  invitation: OpenInvitation | null = null
  /** The token of the password-reset link the app was opened with, until it is used or set aside. */
  passwordReset: string | null = null
  /** The identity provider people may sign in through, when the server has one. */
  oidc: OidcSignIn | null = null

  readonly subscribe = (listener: () => void) => {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  readonly snapshot = () => this.state

  private set(next: Model.State) {
    if (next === this.state) return
    this.state = next
    for (const listener of this.listeners) listener()
  }

  private update(f: (s: Model.State) => Model.State) {
    this.set(f(this.state))
  }

  /** Org members (people and teammates), for mentions. */
  get people(): ReadonlyArray<Member> {
    return this.members
  }

  get catalog(): ReadonlyArray<CatalogEntry> {
    return this.catalogEntries
  }

  // Session

  /** Resumes the stored session, if any. */
  async boot() {
    this.passwordReset = tokenInAddress("/reset")
    const invited = tokenInAddress("/invite")
    if (invited !== null) {
      this.invitation = { token: invited, preview: null, error: null }
      try {
        const preview = await call(null, (c) => c.invitations.preview({ payload: { token: invited } }))
        this.invitation = { token: invited, preview, error: null }
      } catch (e) {
        this.invitation = {
          token: invited,
          preview: null,
          error: e instanceof ApiError && e.tag === "NotFound"
            ? "This invitation link is not valid. Ask for a new one."
            : e instanceof ApiError
            ? e.message
            : "The invitation could not be read."
        }
      }
    }
    this.oidc = await call(null, (c) => c.auth.oidc()).then((o) => o.enabled ? o : null, () => null)
    const fromProvider = oidcReturn(window.location.pathname, window.location.hash)
    if (fromProvider !== null) {
      // The one-time code (or the refusal) is read once: the address goes back to the app.
      window.history.replaceState(null, "", "/")
      if (fromProvider.kind === "error") this.authMessage = fromProvider.message
      else {
        try {
          const session = await call(null, (c) => c.auth.oidcExchange({ payload: { code: fromProvider.code } }))
          window.localStorage.setItem(TOKEN_KEY, session.token)
        } catch (e) {
          this.authMessage = e instanceof ApiError && e.tag === "Unauthorized"
            ? "That sign-in has expired or was already used. Sign in again."
            : e instanceof ApiError
            ? e.message
            : "The sign-in could not be finished. Try again."
        }
      }
    }
    const token = window.localStorage.getItem(TOKEN_KEY)
    if (token !== null) {
      try {
        const me = await call(token, (c) => c.auth.me())
        await this.start(token, me)
      } catch (e) {
        window.localStorage.removeItem(TOKEN_KEY)
        if (e instanceof ApiError && e.tag === "Unauthorized") {
          this.authMessage = "Your session has ended. Log in again."
        } else if (e instanceof ApiError) this.authMessage = e.message
      }
    }
    this.booting = false
    this.set({ ...this.state })
  }

  async signup(email: string, password: string, name: string) {
    const session = await call(null, (c) => c.auth.signup({ payload: { email, password, name } }))
    await this.start(session.token, session.user)
  }

  async login(email: string, password: string) {
    const session = await call(null, (c) => c.auth.login({ payload: { email, password } }))
    await this.start(session.token, session.user)
  }

  /** Asks for a password-reset link for `email`; the answer is the same whether or not an account uses it. */
  async requestPasswordReset(email: string): Promise<string> {
    const accepted = await call(null, (c) => c.auth.requestPasswordReset({ payload: { email } }))
    return accepted.message
  }

  /** Sets a new password with the reset link the app was opened with, and signs in with it. */
  async confirmPasswordReset(newPassword: string) {
    const token = this.passwordReset
    if (token === null) return
    const session = await call(null, (c) => c.auth.confirmPasswordReset({ payload: { token, newPassword } }))
    // Every earlier session ended with the reset, this tab's too.
    if (this.token !== null) this.end(null)
    this.setResetAside()
    await this.start(session.token, session.user)
  }

  /** Leaves the password-reset page for the app. */
  setResetAside() {
    this.passwordReset = null
    window.history.replaceState(null, "", "/")
    this.set({ ...this.state })
  }

  /** Changes the person's name or handle. */
  async updateProfile(patch: { readonly name?: string; readonly handle?: string }) {
    const me: User = await call(this.authed(), (c) => c.auth.updateMe({ payload: patch }))
    this.update((s) => ({ ...s, me }))
  }

  /** Changes the person's password; their other sessions end. */
  async changePassword(currentPassword: string, newPassword: string) {
    await call(this.authed(), (c) => c.auth.changePassword({ payload: { currentPassword, newPassword } }))
  }

  async logout() {
    const token = this.token
    if (token !== null) await call(token, (c) => c.auth.logout()).catch(() => undefined)
    this.end(null)
  }

  private end(message: string | null) {
    if (this.stream !== null) runFork(Fiber.interrupt(this.stream))
    this.stream = null
    if (this.token !== null) forget(this.token)
    this.token = null
    window.localStorage.removeItem(TOKEN_KEY)
    this.authMessage = message
    this.set(Model.initial)
  }

  private async start(token: string, me: Model.State["me"]) {
    this.token = token
    window.localStorage.setItem(TOKEN_KEY, token)
    this.authMessage = null
    const orgs = await call(token, (c) => c.orgs.list())
    const remembered = window.localStorage.getItem(ORG_KEY)
    const org = orgs.find((o) => o.id === remembered) ?? orgs[0]
    this.set({ ...Model.initial, me, orgs, orgId: org?.id ?? null })
    this.catalogEntries = await call(token, (c) => c.teammates.catalog()).catch(() => [])
    this.stream = runFork(this.follow(token))
  }

  private authed() {
    if (this.token === null) throw new ApiError("Unauthorized", "You are not logged in.")
    return this.token
  }

  // The stream

  /**
   * Follows the stream until the session ends (`EventStream.follow`
   * reconnects after a drop with the last event id read). A snapshot is read
   * once a connection is up whenever the model has none (at the start, after
   * a `reset`), so nothing between the two is skipped.
   */
  private follow(token: string) {
    const live = Effect.gen(this, function*() {
      this.update((s) => ({ ...s, connection: "live" }))
      if (this.state.position === null) yield* Effect.promise(() => this.refresh().catch(() => undefined))
    })
    return EventStream.follow({
      baseUrl: window.location.origin,
      token,
      lastEventId: this.state.lastEventId ?? undefined,
      firstFailure: "retry",
      onConnected: live,
      onReconnect: () => Effect.sync(() => this.update((s) => ({ ...s, connection: "reconnecting" })))
    }).pipe(
      Stream.takeWhile(() => this.token === token && this.state.ended === null),
      Stream.runForEach((event) => Effect.sync(() => this.receive(event))),
      Effect.catchAll((error) =>
        Effect.sync(() => {
          if (this.token !== token) return
          if (error.status === 401) this.end("Your session has ended. Log in again.")
          else this.update((s) => ({ ...s, connection: "reconnecting" }))
        })
      )
    )
  }

  private receive(event: Delivered) {
    if (this.held !== null) {
      this.held.push(event)
      return
    }
    const before = this.state
    this.set(Model.apply(before, event))
    const after = this.state
    if (after.ended !== null && before.ended === null) {
      this.end("Your session has ended. Log in again.")
      return
    }
    if (after.position === null && before.position !== null) void this.refresh()
    const e = event.event
    if (e.type === "message.created") this.notify(after, e.message)
    if (e.type === "message.created" && e.message.roomId === after.openRoomId && e.message.threadId === null) {
      if (e.message.authorId !== after.me?.id) this.readSoon(e.message.roomId, e.message.id)
    }
    if (
      e.type === "org.member.joined" || e.type === "org.member.updated" || e.type === "org.member.left" ||
      e.type === "teammate.updated" || e.type === "user.updated"
    ) {
      // A new member may have come online before joining: their presence is read with them.
      void this.loadMembers(e.type === "org.member.joined")
    }
  }

  /** Reads the current org's snapshot; events arriving meanwhile are applied after it. */
  async refresh() {
    const token = this.authed()
    const orgId = this.state.orgId
    if (orgId === null) {
      const orgs = await call(token, (c) => c.orgs.list())
      this.update((s) => ({ ...s, orgs }))
      return
    }
    this.held ??= []
    try {
      const [list, teammates] = await Promise.all([
        call(token, (c) => c.rooms.list({ path: { org: orgId } })),
        call(token, (c) => c.teammates.list({ path: { org: orgId } }))
      ])
      this.update((s) => Model.withSnapshot(s, orgId, list.rooms, list.position, teammates))
    } finally {
      const held = this.held ?? []
      this.held = null
      let s = this.state
      for (const event of held) s = Model.apply(s, event)
      this.set(s)
    }
    await this.loadMembers(true)
    // The room on screen stays; after a reload it is the one in the address, else the first joined room.
    const rooms = this.state.rooms
    const wanted = [this.state.openRoomId, roomInAddress()].map((id) => id === null ? undefined : rooms[id])
      .find((r) => r !== undefined)
    const open = wanted ?? Object.values(rooms).filter((r) => r.joined && r.kind !== "direct" && !r.archived)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())[0]
    if (open !== undefined) await this.openRoom(open.id)
    else this.update((s) => ({ ...s, openRoomId: null }))
  }

  /** The org's members (after a member event); with `presence`, also who is online now (with a snapshot). */
  private async loadMembers(presence = false) {
    const orgId = this.state.orgId
    if (orgId === null) return
    const token = this.authed()
    const [members, online] = await Promise.all([
      call(token, (c) => c.orgs.members({ path: { org: orgId } })).catch(() => this.members),
      presence ? call(token, (c) => c.orgs.presence({ path: { org: orgId } })).catch(() => null) : null
    ])
    this.members = members
    this.avatars = new Map(members.map((m) => [m.id, m.avatar]))
    // `presence.changed` events keep who is online current after the snapshot.
    if (online === null) this.set({ ...this.state })
    else this.update((s) => ({ ...s, online: Object.fromEntries(online.online.map((id) => [id, true])) }))
  }

  // Orgs and rooms

  async createOrg(name: string) {
    const token = this.authed()
    const org = await call(token, (c) => c.orgs.create({ payload: { name, slug: slugFrom(name) } }))
    this.update((s) => ({ ...s, orgs: [...s.orgs, org] }))
    // The server makes the org's #general with it; the snapshot opens it.
    await this.selectOrg(org.id)
  }

  /** Joins the org of the invitation the app was opened with, and opens it. */
  async acceptInvitation() {
    const invitation = this.invitation
    if (invitation === null) return
    const org = await call(this.authed(), (c) => c.invitations.accept({ payload: { token: invitation.token } }))
    this.setInvitationAside()
    this.update((s) => ({ ...s, orgs: s.orgs.some((o) => o.id === org.id) ? s.orgs : [...s.orgs, org] }))
    await this.selectOrg(org.id)
  }

  /** Leaves the invitation page for the app. */
  setInvitationAside() {
    this.invitation = null
    window.history.replaceState(null, "", "/")
    this.set({ ...this.state })
  }

  /** The caller's role in the current org. */
  get role(): Role | null {
    return this.state.orgs.find((o) => o.id === this.state.orgId)?.role ?? null
  }

  private orgOrThrow() {
    const orgId = this.state.orgId
    if (orgId === null) throw new ApiError("NotFound", "Pick a workspace first.")
    return orgId
  }

  async renameOrg(name: string) {
    const org = this.orgOrThrow()
    const renamed = await call(this.authed(), (c) => c.orgs.update({ path: { org }, payload: { name } }))
    this.update((s) => ({ ...s, orgs: s.orgs.map((o) => o.id === renamed.id ? renamed : o) }))
  }

  /** Deletes the current org for good (owners), confirmed with its slug; `org.deleted` then takes it away. */
  async deleteOrg(confirm: string) {
    const org = this.orgOrThrow()
    await call(this.authed(), (c) => c.orgs.delete({ path: { org }, urlParams: { confirm } }))
    this.update((s) => ({ ...s, orgs: s.orgs.filter((o) => o.id !== org), orgId: null, rooms: {}, histories: {} }))
  }

  /** Sets the e-mail domains the org takes people from (`[]`: any address). */
  async setEmailDomains(allowedEmailDomains: ReadonlyArray<string>) {
    const org = this.orgOrThrow()
    const changed = await call(this.authed(), (c) => c.orgs.update({ path: { org }, payload: { allowedEmailDomains } }))
    this.update((s) => ({ ...s, orgs: s.orgs.map((o) => o.id === changed.id ? changed : o) }))
  }

  async invite(email: string, role: InvitedRole): Promise<CreatedInvitation> {
    const org = this.orgOrThrow()
    return call(this.authed(), (c) => c.invitations.create({ path: { org }, payload: { email, role } }))
  }

  async invitations(): Promise<ReadonlyArray<Invitation>> {
    const org = this.orgOrThrow()
    return call(this.authed(), (c) => c.invitations.list({ path: { org } }))
  }

  async revokeInvitation(invitation: Invitation) {
    const org = this.orgOrThrow()
    await call(this.authed(), (c) => c.invitations.revoke({ path: { org, invitation: invitation.id } }))
  }

  async changeRole(userId: string, role: Role) {
    const org = this.orgOrThrow()
    await call(this.authed(), (c) => c.orgs.changeRole({ path: { org, user: UserId.make(userId) }, payload: { role } }))
    await this.loadMembers()
  }

  async removeMember(userId: string) {
    const org = this.orgOrThrow()
    await call(this.authed(), (c) => c.orgs.removeMember({ path: { org, user: UserId.make(userId) } }))
    await this.loadMembers()
  }

  async selectOrg(orgId: OrgId) {
    window.localStorage.setItem(ORG_KEY, orgId)
    this.update((s) => ({ ...s, orgId, position: null, openRoomId: null, rooms: {}, histories: {} }))
    await this.refresh()
  }

  async createRoom(name: string, kind: "public" | "private") {
    const orgId = this.state.orgId
    if (orgId === null) return
    const room = await call(this.authed(), (c) => c.rooms.create({ path: { org: orgId }, payload: { name, kind } }))
    this.update((s) => ({
      ...s,
      rooms: s.rooms[room.id] === undefined
        ? {
          ...s.rooms,
          [room.id]: {
            ...room,
            joined: true,
            unreadCount: 0,
            mentionCount: 0,
            threadUnreadCount: 0,
            threadMentionCount: 0,
            muted: false,
            notify: "mentions"
          }
        }
        : s.rooms
    }))
    await this.openRoom(room.id)
  }

  /** Messages matching `query` in the rooms the person can read, best first. */
  /** Files whose name or text matches, in the rooms the person can read. */
  async searchFiles(query: string) {
    const org = this.orgOrThrow()
    return call(this.authed(), (c) => c.files.search({ path: { org }, urlParams: { q: query, limit: 10 } }))
  }

  async search(query: string, options: { room: RoomId | undefined; offset: number; limit: number }) {
    const org = this.orgOrThrow()
    return call(this.authed(), (c) =>
      c.orgs.search({
        path: { org },
        urlParams: { q: query, offset: options.offset, limit: options.limit, room: options.room }
      }))
  }

  /** Whether this browser shows notifications (the person turned them on here, and the browser allows them). */
  get notificationsOn(): boolean {
    return typeof Notification !== "undefined" && Notification.permission === "granted" &&
      window.localStorage.getItem(NOTIFICATIONS_KEY) === "on"
  }

  /** Turns this browser's notifications on (asking the browser's permission) or off. */
  async setNotifications(on: boolean) {
    if (!on) {
      window.localStorage.removeItem(NOTIFICATIONS_KEY)
    } else {
      if (typeof Notification === "undefined") throw new ApiError("Unsupported", "This browser has no notifications.")
      const permission = await Notification.requestPermission()
      if (permission !== "granted") {
        throw new ApiError("Forbidden", "The browser did not allow notifications; allow them in its site settings.")
      }
      window.localStorage.setItem(NOTIFICATIONS_KEY, "on")
    }
    this.set({ ...this.state })
  }

  /**
   * Shows a notification for a new message the room's level asks for, when
   * the person is not looking at it (another room, or the tab in the
   * background), and only for what is recent (not a backlog caught up on).
   */
  private notify(state: Model.State, message: Message) {
    if (!this.notificationsOn || !Model.shouldNotify(state, message)) return
    const looking = !document.hidden && state.openRoomId === message.roomId
    if (looking || Date.now() - message.createdAt.getTime() > 2 * 60_000) return
    const room = state.rooms[message.roomId]
    const where = room === undefined || room.kind === "direct" ? "" : ` in #${room.name}`
    const shown = new Notification(`${message.authorName}${where}`, {
      body: message.text.slice(0, 200),
      tag: message.id
    })
    shown.onclick = () => {
      window.focus()
      void this.openRoom(message.roomId)
      shown.close()
    }
  }

  /** Mutes or unmutes a room for this person (their other tabs follow through the stream). */
  async setMuted(roomId: RoomId, muted: boolean) {
    await call(this.authed(), (c) => c.rooms.settings({ path: { room: roomId }, payload: { muted } }))
  }

  /** What of a room this person is notified of (their other tabs follow through the stream). */
  async setNotify(roomId: RoomId, notify: NotifyLevel) {
    await call(this.authed(), (c) => c.rooms.settings({ path: { room: roomId }, payload: { notify } }))
  }

  async leaveRoom(roomId: RoomId) {
    await call(this.authed(), (c) => c.rooms.leave({ path: { room: roomId } }))
  }

  async archiveRoom(roomId: RoomId) {
    await call(this.authed(), (c) => c.rooms.archive({ path: { room: roomId } }))
  }

  async unarchiveRoom(roomId: RoomId) {
    await call(this.authed(), (c) => c.rooms.unarchive({ path: { room: roomId } }))
  }

  async deleteRoom(roomId: RoomId) {
    await call(this.authed(), (c) => c.rooms.delete({ path: { room: roomId } }))
  }

  // Background tasks and schedules

  /** Reads the room's tasks into the state (events keep them current after). */
  async loadTasks(roomId: RoomId) {
    const tasks = await call(this.authed(), (c) => c.tasks.list({ path: { room: roomId }, urlParams: {} }))
    this.update((s) => Model.withTasks(s, tasks))
  }

  async giveTask(roomId: RoomId, teammateId: TeammateId, goal: string) {
    const task = await call(
      this.authed(),
      (c) => c.tasks.create({ path: { room: roomId }, payload: { teammateId, goal } })
    )
    this.update((s) => Model.withTasks(s, [task]))
  }

  async cancelTask(roomId: RoomId, taskId: TaskId) {
    const task = await call(this.authed(), (c) => c.tasks.cancel({ path: { room: roomId, task: taskId } }))
    this.update((s) => Model.withTasks(s, [task]))
  }

  /** The room's teammates (members that are teammates), to give work to. */
  async roomTeammates(roomId: RoomId) {
    const members = await call(this.authed(), (c) => c.rooms.members({ path: { room: roomId } }))
    return members.filter((m) => m.kind === "teammate")
  }

  async schedules(roomId: RoomId) {
    return call(this.authed(), (c) => c.schedules.list({ path: { room: roomId } }))
  }

  async schedule(roomId: RoomId, input: { teammateId: TeammateId; goal: string; cron: string; timeZone: string }) {
    await call(this.authed(), (c) => c.schedules.create({ path: { room: roomId }, payload: input }))
  }

  async pauseSchedule(roomId: RoomId, scheduleId: ScheduleId, paused: boolean) {
    await call(
      this.authed(),
      (c) => c.schedules.update({ path: { room: roomId, schedule: scheduleId }, payload: { paused } })
    )
  }

  async deleteSchedule(roomId: RoomId, scheduleId: ScheduleId) {
    await call(this.authed(), (c) => c.schedules.delete({ path: { room: roomId, schedule: scheduleId } }))
  }

  // The pinboard

  /** The room's pins, oldest first. */
  async pins(roomId: RoomId) {
    return call(this.authed(), (c) => c.pins.list({ path: { room: roomId } }))
  }

  async pinNote(roomId: RoomId, text: string) {
    await call(this.authed(), (c) => c.pins.create({ path: { room: roomId }, payload: { text } }))
  }

  async pinMessage(roomId: RoomId, messageId: MessageId) {
    await call(this.authed(), (c) => c.pins.create({ path: { room: roomId }, payload: { messageId } }))
  }

  /** Edits a note; refused (409) when someone else edited `version` meanwhile. */
  async editPin(roomId: RoomId, pinId: PinId, text: string, version: number) {
    await call(this.authed(), (c) => c.pins.edit({ path: { room: roomId, pin: pinId }, payload: { text, version } }))
  }

  async unpin(roomId: RoomId, pinId: PinId) {
    await call(this.authed(), (c) => c.pins.delete({ path: { room: roomId, pin: pinId } }))
  }

  async joinRoom(roomId: RoomId) {
    await call(this.authed(), (c) => c.rooms.join({ path: { room: roomId } }))
    await this.refresh()
  }

  async openDm(userId: string) {
    const orgId = this.state.orgId
    const member = this.members.find((m) => m.id === userId)
    if (orgId === null || member === undefined) return
    const token = this.authed()
    const room = member.kind === "teammate"
      ? await call(token, (c) => c.teammates.openDm({ path: { org: orgId, teammate: TeammateId.make(member.id) } }))
      : await call(
        token,
        (c) => c.rooms.openDm({ path: { org: orgId }, payload: { participants: [UserId.make(member.id)] } })
      )
    if (!(room.id in this.state.rooms)) await this.refresh()
    await this.openRoom(room.id)
  }

  /** Puts a room on screen: its newest page of history, read up to its last message. */
  async openRoom(roomId: RoomId) {
    const token = this.authed()
    if (window.location.pathname !== `/rooms/${roomId}`) window.history.replaceState(null, "", `/rooms/${roomId}`)
    // An empty history first, so messages arriving while the page loads are kept.
    this.update((s) => ({
      ...Model.markedRead(s, roomId),
      openRoomId: roomId,
      histories: s.histories[roomId] === undefined
        ? { ...s.histories, [roomId]: { messages: {}, hasOlder: false, olderCursor: null } }
        : s.histories
    }))
    const page = await call(token, (c) => c.messages.list({ path: { room: roomId }, urlParams: { limit: PAGE } }))
    this.update((s) => Model.withPage(s, roomId, page.messages, page.prevCursor))
    const last = page.messages.at(-1)
    if (last !== undefined) this.readSoon(roomId, last.id)
  }

  async loadOlder(roomId: RoomId) {
    const cursor = this.state.histories[roomId]?.olderCursor
    if (cursor === null || cursor === undefined) return
    const page = await call(
      this.authed(),
      (c) => c.messages.list({ path: { room: roomId }, urlParams: { limit: PAGE, before: Number(cursor) } })
    )
    this.update((s) => Model.withPage(s, roomId, page.messages, page.prevCursor))
  }

  private readTimer: ReturnType<typeof setTimeout> | null = null

  /** Marks the room read up to `messageId` shortly (one request for a burst of messages). */
  private readSoon(roomId: RoomId, messageId: MessageId) {
    this.update((s) => Model.markedRead(s, roomId))
    if (this.readTimer !== null) clearTimeout(this.readTimer)
    this.readTimer = setTimeout(() => {
      this.readTimer = null
      void call(this.authed(), (c) => c.messages.markRead({ path: { room: roomId }, payload: { messageId } }))
        .catch(() => undefined)
    }, 300)
  }

  // Messages

  /**
   * Sends a message. It shows at once as pending; network failures are retried
   * with the same `clientMessageId`, so the server stores it once however many
   * attempts reach it.
   */
  async send(
    roomId: RoomId,
    text: string,
    threadId: MessageId | null = null,
    attachments: ReadonlyArray<Attachment> = [],
    clientMessageId: string = crypto.randomUUID()
  ) {
    const token = this.authed()
    this.update((s) =>
      Model.sending(s, { clientMessageId, roomId, threadId, text, attachments, createdAt: Date.now() })
    )
    const files = attachments.length === 0 ? {} : { attachments: attachments.map((a) => a.id) }
    for (let attempt = 1;; attempt++) {
      try {
        const message = await call(token, (c) =>
          c.messages.post({
            path: { room: roomId },
            payload: { text, clientMessageId, ...(threadId === null ? {} : { threadId }), ...files }
          }))
        this.update((s) => Model.sent(s, message))
        return
      } catch (e) {
        const retriable = e instanceof ApiError && (e.tag === "Network" || e.tag === "Unavailable")
        if (!retriable || attempt >= SEND_ATTEMPTS) {
          this.update((s) => Model.sendFailed(s, clientMessageId, e instanceof Error ? e.message : "not sent"))
          return
        }
        await sleep(Math.min(8000, 500 * 2 ** attempt))
      }
    }
  }

  /** Sets the person's avatar from an image file; their orgs hear of it (`user.updated`). */
  async setAvatar(file: File) {
    const form = new FormData()
    form.append("file", file, file.name)
    const response = await fetch("/v1/auth/me/avatar", {
      method: "PUT",
      headers: { authorization: `Bearer ${this.authed()}` },
      body: form
    }).catch(() => {
      throw new ApiError("Network", "Troupe could not be reached. Check the connection and try again.")
    })
    if (!response.ok) throw toApiError(await response.json().catch(() => null))
    await this.loadMembers()
  }

  async removeAvatar() {
    await call(this.authed(), (c) => c.avatars.remove())
    await this.loadMembers()
  }

  /** Where a person's avatar is read (from the org's member list), or null; asked once per message drawn. */
  avatarOf(userId: string): string | null {
    return this.avatars.get(userId) ?? null
  }

  private readonly avatarImages = new Map<string, Promise<string>>()

  /** An avatar's image as a local URL for the page, read once per version (the path carries it). */
  avatarImage(path: string): Promise<string> {
    const known = this.avatarImages.get(path)
    if (known !== undefined) return known
    const loading = fetch(path, { headers: { authorization: `Bearer ${this.authed()}` } })
      .then(async (response) => {
        if (!response.ok) throw new ApiError("NotFound", "no avatar")
        return URL.createObjectURL(await response.blob())
      })
    // A failed read is tried again next time.
    loading.catch(() => this.avatarImages.delete(path))
    this.avatarImages.set(path, loading)
    return loading
  }

  /**
   * Uploads a file into a room's library, to attach to the next message.
   * Multipart is sent with `fetch`: the typed client speaks JSON.
   */
  async upload(roomId: RoomId, file: File): Promise<Attachment> {
    const form = new FormData()
    form.append("file", file, file.name)
    const response = await fetch(`/v1/rooms/${roomId}/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.authed()}` },
      body: form
    }).catch(() => {
      throw new ApiError("Network", "Troupe could not be reached. Check the connection and try again.")
    })
    const body: unknown = await response.json().catch(() => null)
    if (!response.ok) throw toApiError(body)
    const info = Schema.decodeUnknownSync(FileInfo)(body)
    return new Attachment({ id: info.id, name: info.name, contentType: info.contentType, size: info.size })
  }

  /** Deletes a file (one uploaded and then set aside before sending, say). */
  async deleteFile(roomId: RoomId, fileId: FileId) {
    await call(this.authed(), (c) => c.files.delete({ path: { room: roomId, file: fileId } }))
  }

  /** A file's bytes as a local URL for the page (an image to show, a file to save); revoke it when done. */
  async fileUrl(roomId: RoomId, fileId: FileId): Promise<string> {
    const response = await fetch(`/v1/rooms/${roomId}/files/${fileId}/content`, {
      headers: { authorization: `Bearer ${this.authed()}` }
    }).catch(() => {
      throw new ApiError("Network", "Troupe could not be reached. Check the connection and try again.")
    })
    if (!response.ok) throw toApiError(await response.json().catch(() => null))
    return URL.createObjectURL(await response.blob())
  }

  async retry(clientMessageId: string) {
    const p = this.state.pending.find((x) => x.clientMessageId === clientMessageId)
    if (p === undefined) return
    await this.send(p.roomId, p.text, p.threadId, p.attachments, p.clientMessageId)
  }

  private typingSent = 0

  /** Tells the room this person is typing, at most every 3 s. */
  typing(roomId: RoomId) {
    const now = Date.now()
    if (now - this.typingSent < 3000) return
    this.typingSent = now
    void call(this.authed(), (c) => c.rooms.typing({ path: { room: roomId }, payload: {} })).catch(() => undefined)
  }

  async react(roomId: RoomId, messageId: MessageId, emoji: string, on: boolean) {
    const token = this.authed()
    const path = { room: roomId, message: messageId, emoji }
    const message = on
      ? await call(token, (c) => c.messages.react({ path }))
      : await call(token, (c) => c.messages.unreact({ path }))
    this.update((s) => Model.withMessage(s, message))
  }

  async edit(roomId: RoomId, messageId: MessageId, text: string) {
    const message = await call(
      this.authed(),
      (c) => c.messages.edit({ path: { room: roomId, message: messageId }, payload: { text } })
    )
    this.update((s) => Model.withMessage(s, message))
  }

  async remove(roomId: RoomId, messageId: MessageId) {
    const message = await call(this.authed(), (c) => c.messages.delete({ path: { room: roomId, message: messageId } }))
    this.update((s) => Model.withMessage(s, message))
  }

  async loadThread(roomId: RoomId, threadId: MessageId) {
    const page = await call(
      this.authed(),
      (c) => c.messages.list({ path: { room: roomId }, urlParams: { threadId, limit: 200 } })
    )
    this.update((s) => Model.withPage(s, roomId, page.messages, s.histories[roomId]?.olderCursor ?? null))
  }

  // Teammates

  /** Hires a catalog teammate and adds it to `roomId`. */
  async hire(template: string, roomId: RoomId | null) {
    return this.createTeammate({ template }, roomId)
  }

  /** Hires a custom teammate and adds it to `roomId`. */
  async createTeammate(request: CreateTeammateRequest, roomId: RoomId | null): Promise<Teammate> {
    const org = this.orgOrThrow()
    const token = this.authed()
    const teammate = await call(token, (c) => c.teammates.hire({ path: { org }, payload: request }))
    this.update((s) => Model.withTeammate(s, teammate))
    if (roomId !== null) await this.addToRoom(roomId, teammate.id)
    await this.loadMembers()
    return teammate
  }

  /** Changes a teammate; the panel shows the answer at once, other tabs through `teammate.updated`. */
  async updateTeammate(id: TeammateId, patch: UpdateTeammateRequest) {
    const org = this.orgOrThrow()
    const teammate = await call(
      this.authed(),
      (c) => c.teammates.update({ path: { org, teammate: id }, payload: patch })
    )
    this.update((s) => Model.withTeammate(s, teammate))
  }

  /** Dismisses a teammate: it stops answering; its messages and runs stay. */
  async dismiss(id: TeammateId) {
    const org = this.orgOrThrow()
    const teammate = await call(this.authed(), (c) => c.teammates.dismiss({ path: { org, teammate: id } }))
    this.update((s) => Model.withTeammate(s, teammate))
  }

  /** Which models the org's teammates may use. */
  async modelPolicy(): Promise<ModelPolicyView> {
    const org = this.orgOrThrow()
    return call(this.authed(), (c) => c.teammates.modelPolicy({ path: { org } }))
  }

  /** Narrows the org's models to `models`, or lifts the org's list (`null`). */
  async setModelPolicy(models: ReadonlyArray<string> | null): Promise<ModelPolicyView> {
    const org = this.orgOrThrow()
    return call(this.authed(), (c) => c.teammates.setModelPolicy({ path: { org }, payload: { allowedModels: models } }))
  }

  /** A teammate's latest runs in rooms the person can read, newest first. */
  async runs(id: TeammateId): Promise<ReadonlyArray<Run>> {
    const org = this.orgOrThrow()
    return call(this.authed(), (c) => c.teammates.runs({ path: { org, teammate: id }, urlParams: { limit: 20 } }))
  }

  /** A teammate's memory, from rooms the person can read. */
  async memory(id: TeammateId): Promise<MemoryView> {
    const org = this.orgOrThrow()
    return call(this.authed(), (c) => c.teammates.memory({ path: { org, teammate: id } }))
  }

  async remember(id: TeammateId, text: string): Promise<MemoryEntry> {
    const org = this.orgOrThrow()
    return call(this.authed(), (c) => c.teammates.remember({ path: { org, teammate: id }, payload: { text } }))
  }

  async putCore(id: TeammateId, block: CoreBlock, text: string) {
    const org = this.orgOrThrow()
    await call(this.authed(), (c) => c.teammates.putCore({ path: { org, teammate: id, block }, payload: { text } }))
  }

  async forgetMemory(id: TeammateId, memory: string) {
    const org = this.orgOrThrow()
    await call(this.authed(), (c) => c.teammates.forget({ path: { org, teammate: id, memory } }))
  }

  /** This month's runs, tokens and cost of the org, in total and per teammate, with its budget. */
  async usage(): Promise<Usage> {
    const org = this.orgOrThrow()
    return call(this.authed(), (c) => c.teammates.usage({ path: { org } }))
  }

  /** Sets the org's monthly token budget (`null`: none). */
  async setBudget(monthlyTokens: number | null) {
    const org = this.orgOrThrow()
    await call(this.authed(), (c) => c.teammates.budget({ path: { org }, payload: { monthlyTokens } }))
  }

  async addToRoom(roomId: RoomId, teammateId: TeammateId) {
    await call(this.authed(), (c) => c.teammates.addToRoom({ path: { room: roomId }, payload: { teammateId } }))
  }

  async interrupt(teammateId: TeammateId) {
    const orgId = this.state.orgId
    if (orgId === null) return
    await call(this.authed(), (c) => c.teammates.interrupt({ path: { org: orgId, teammate: teammateId } }))
  }
}
