/**
 * The app's screens: sign-in (and a forgotten password), the first
 * workspace, and the workspace itself (sidebar, room, thread, hiring).
 */
import type { RoomId, TeammateId } from "@troupe/domain/Ids"
import type { Room } from "@troupe/domain/Room"
import { type FormEvent, useState } from "react"
import { ForgotPassword, ResetScreen, SettingsDialog } from "./Account.js"
import { ApiError } from "./api.js"
import { HireDialog } from "./Hire.js"
import { InviteScreen, PeopleDialog } from "./People.js"
import { RoomView } from "./Room.js"
import { SearchView } from "./Search.js"
import { TeammateView } from "./TeammatePanel.js"
import { UsageView } from "./Usage.js"
import { useAppState, useWorkspace, WorkspaceContext } from "./useWorkspace.js"
import type { Workspace } from "./workspace.js"

/** The message of a failed action, for people. */
export const messageOf = (e: unknown) =>
  e instanceof ApiError ? e.message : e instanceof Error ? e.message : "Something went wrong."

/** Runs an action, showing its failure in `setError`. */
export const attempt = async (setError: (e: string | null) => void, action: () => Promise<unknown>) => {
  setError(null)
  try {
    await action()
  } catch (e) {
    setError(messageOf(e))
  }
}

export const App = ({ workspace }: { readonly workspace: Workspace }) => (
  <WorkspaceContext.Provider value={workspace}>
    <Root />
  </WorkspaceContext.Provider>
)

const Root = () => {
  const state = useAppState()
  const workspace = useWorkspace()
  if (workspace.booting) return <div className="splash" aria-busy="true">Loading Troupe…</div>
  if (workspace.passwordReset !== null) return <ResetScreen />
  if (workspace.invitation !== null) return <InviteScreen signIn={(email) => <AuthForm email={email} />} />
  if (state.me === null) return <AuthScreen />
  if (state.orgId === null) return <OrgSetup />
  return <Shell />
}

const AuthScreen = () => (
  <main className="auth">
    <h1 className="brand">Troupe</h1>
    <p className="tagline">People and AI teammates, working together.</p>
    <AuthForm />
  </main>
)

/** Sign-up and log-in; with `email`, for that address only (an invitation's). */
const AuthForm = ({ email: fixed }: { readonly email?: string }) => {
  const workspace = useWorkspace()
  const [mode, setMode] = useState<"login" | "signup">("signup")
  const [forgot, setForgot] = useState(false)
  const [error, setError] = useState<string | null>(workspace.authMessage)
  const [busy, setBusy] = useState(false)
  if (forgot) return <ForgotPassword onBack={() => setForgot(false)} />
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    const email = fixed ?? String(form.get("email") ?? "")
    const password = String(form.get("password") ?? "")
    setBusy(true)
    void attempt(setError, () =>
      mode === "signup"
        ? workspace.signup(email, password, String(form.get("name") ?? ""))
        : workspace.login(email, password)).finally(() => setBusy(false))
  }
  return (
    <>
      <div className="tabs" role="tablist" aria-label="Account">
        <button role="tab" aria-selected={mode === "signup"} onClick={() => setMode("signup")}>Sign up</button>
        <button role="tab" aria-selected={mode === "login"} onClick={() => setMode("login")}>Log in</button>
      </div>
      <form onSubmit={submit} className="card" aria-label={mode === "signup" ? "Sign up" : "Log in"}>
        {mode === "signup" && (
          <label>
            Name
            <input name="name" autoComplete="name" required maxLength={100} />
          </label>
        )}
        <label>
          Email
          {fixed === undefined
            ? <input name="email" type="email" autoComplete="email" required />
            : <input name="email" type="email" autoComplete="email" value={fixed} readOnly />}
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete={mode === "signup" ? "new-password" : "current-password"}
            required
            minLength={8}
          />
        </label>
        {error !== null && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>
          {mode === "signup" ? "Create account" : "Log in"}
        </button>
      </form>
      {mode === "login" && <button className="link" onClick={() => setForgot(true)}>Forgot your password?</button>}
      {workspace.oidc !== null && fixed === undefined && (
        <a className="button sso" href="/v1/auth/oidc/start">Sign in with {workspace.oidc.displayName}</a>
      )}
    </>
  )
}

const OrgSetup = () => {
  const workspace = useWorkspace()
  const state = useAppState()
  const [error, setError] = useState<string | null>(null)
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const name = String(new FormData(e.currentTarget).get("name") ?? "").trim()
    void attempt(setError, () => workspace.createOrg(name))
  }
  return (
    <main className="auth">
      <h1 className="brand">Welcome, {state.me?.name}</h1>
      <form onSubmit={submit} className="card" aria-label="Create a workspace">
        <label>
          Workspace name
          <input name="name" required maxLength={100} placeholder="Acme" />
        </label>
        {error !== null && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary">Create workspace</button>
      </form>
      <button className="link" onClick={() => void workspace.logout()}>Log out</button>
    </main>
  )
}

/** What the main area shows instead of the open room. */
type Aside =
  | { readonly kind: "search"; readonly query: string }
  | { readonly kind: "teammate"; readonly id: TeammateId }
  | { readonly kind: "usage" }

const Shell = () => {
  const state = useAppState()
  const [menu, setMenu] = useState(false)
  const [aside, setAside] = useState<Aside | null>(null)
  const open = state.openRoomId === null ? undefined : state.rooms[state.openRoomId]
  const show = (next: Aside | null) => {
    setMenu(false)
    setAside(next)
  }
  const close = () => setAside(null)
  return (
    <div className={menu ? "shell menu-open" : "shell"}>
      <Sidebar onPick={() => show(null)} onShow={show} />
      <main className="main">
        <button className="menu-toggle" aria-label="Rooms" aria-expanded={menu} onClick={() => setMenu(!menu)}>
          ☰
        </button>
        {state.connection !== "live" && (
          <p className="banner" role="status">
            {state.connection === "connecting" ? "Connecting…" : "Reconnecting… messages will catch up."}
          </p>
        )}
        {aside?.kind === "search"
          ? <SearchView query={aside.query} key={aside.query} onClose={close} />
          : aside?.kind === "teammate"
          ? <TeammateView id={aside.id} key={aside.id} onClose={close} />
          : aside?.kind === "usage"
          ? <UsageView onClose={close} onTeammate={(id) => show({ kind: "teammate", id })} />
          : open === undefined
          ? <EmptyRoom />
          : <RoomView room={open} key={open.id} />}
      </main>
    </div>
  )
}

const EmptyRoom = () => (
  <div className="empty">
    <h2>Pick a room</h2>
    <p>Choose a room on the left, or create one.</p>
  </div>
)

const roomLabel = (room: Room) =>
  room.kind === "public" ? `# ${room.name}` : room.kind === "private" ? `🔒 ${room.name}` : room.name

const Sidebar = (
  { onPick, onShow }: { readonly onPick: () => void; readonly onShow: (aside: Aside) => void }
) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const [creating, setCreating] = useState(false)
  const [hiring, setHiring] = useState(false)
  const [people, setPeople] = useState(false)
  const [settings, setSettings] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const rooms = Object.values(state.rooms).filter((r) => !r.archived)
  const channels = rooms.filter((r) => r.kind !== "direct").sort((a, b) => a.name.localeCompare(b.name))
  const dms = rooms.filter((r) => r.kind === "direct").sort((a, b) => a.name.localeCompare(b.name))
  const pick = (id: RoomId) => {
    onPick()
    void attempt(setError, () => workspace.openRoom(id))
  }
  const org = state.orgs.find((o) => o.id === state.orgId)
  const guest = org?.role === "guest"
  const createRoom = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const form = new FormData(e.currentTarget)
    const name = String(form.get("name") ?? "").trim()
    const kind = form.get("private") === "on" ? "private" : "public"
    void attempt(setError, async () => {
      await workspace.createRoom(name, kind)
      setCreating(false)
      onPick()
    })
  }
  const roomItem = (room: Room) => (
    <li key={room.id}>
      <button
        className={[
          "room",
          room.id === state.openRoomId ? "active" : room.unreadCount > 0 && !room.muted ? "unread" : "",
          room.muted ? "muted" : ""
        ].filter((c) => c !== "").join(" ")}
        aria-current={room.id === state.openRoomId ? "page" : undefined}
        onClick={() => pick(room.id)}
      >
        <span className="room-name">{roomLabel(room)}</span>
        {room.mentionCount > 0 && (
          <span className="badge mention" aria-label={`${room.mentionCount} mentions`}>@{room.mentionCount}</span>
        )}
        {room.unreadCount > 0 && !room.muted && (
          <span className="badge" aria-label={`${room.unreadCount} unread`}>{room.unreadCount}</span>
        )}
      </button>
    </li>
  )
  const teammates = Object.values(state.teammates)
  return (
    <nav className="sidebar" aria-label="Workspace">
      <div className="org">
        <label className="sr-only" htmlFor="org-picker">Workspace</label>
        <select
          id="org-picker"
          value={state.orgId ?? ""}
          onChange={(e) => {
            const next = state.orgs.find((o) => o.id === e.target.value)
            if (next !== undefined) void attempt(setError, () => workspace.selectOrg(next.id))
          }}
        >
          {state.orgs.map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
        </select>
        <span className="me" title={state.me?.email}>{state.me?.name}</span>
        <button className="link" onClick={() => void workspace.logout()}>Log out</button>
        <button className="link" onClick={() => setPeople(true)}>People</button>
        <button className="link" onClick={() => setSettings(true)}>Settings</button>
      </div>
      <form
        role="search"
        className="search"
        onSubmit={(e) => {
          e.preventDefault()
          const query = String(new FormData(e.currentTarget).get("q") ?? "").trim()
          if (query !== "") onShow({ kind: "search", query })
        }}
      >
        <input name="q" type="search" aria-label="Search messages" placeholder="Search" maxLength={200} />
      </form>
      <h2>Rooms</h2>
      <ul aria-label="Rooms">{channels.map(roomItem)}</ul>
      {creating
        ? (
          <form onSubmit={createRoom} className="inline-form" aria-label="New room">
            <label>
              Room name
              <input name="name" required maxLength={80} autoFocus />
            </label>
            <label className="check">
              <input name="private" type="checkbox" /> Private
            </label>
            <div className="row">
              <button type="submit" className="primary">Create</button>
              <button type="button" onClick={() => setCreating(false)}>Cancel</button>
            </div>
          </form>
        )
        : <button className="add" onClick={() => setCreating(true)}>+ New room</button>}
      <h2>Direct messages</h2>
      <ul aria-label="Direct messages">{dms.map(roomItem)}</ul>
      <h2>Teammates</h2>
      <ul aria-label="Teammates">
        {teammates.map(({ busy, teammate }) => (
          <li key={teammate.id}>
            <button className="room" onClick={() => onShow({ kind: "teammate", id: teammate.id })}>
              <span className="room-name">@{teammate.handle}</span>
              {busy && <span className="badge busy">busy</span>}
            </button>
          </li>
        ))}
      </ul>
      {!guest && (
        <>
          <button className="add" onClick={() => setHiring(true)}>+ Hire a teammate</button>
          <button className="add" onClick={() => onShow({ kind: "usage" })}>Usage and models</button>
        </>
      )}
      {guest && <p className="hint">You are a guest here.</p>}
      {error !== null && <p className="error" role="alert">{error}</p>}
      {hiring && (
        <HireDialog
          onClose={() => setHiring(false)}
          onHired={(teammate) => {
            setHiring(false)
            onShow({ kind: "teammate", id: teammate.id })
          }}
        />
      )}
      {people && <PeopleDialog onClose={() => setPeople(false)} />}
      {settings && <SettingsDialog onClose={() => setSettings(false)} />}
    </nav>
  )
}
