/**
 * People: the page an invitation link opens, and the workspace's people
 * (members with their roles, invitations) for admins to manage.
 */
import { type Invitation, type InvitedRole, type Role, roleAtLeast } from "@troupe/domain/Org"
import { type FormEvent, type ReactNode, useEffect, useState } from "react"
import { attempt } from "./App.js"
import { Avatar } from "./Avatar.js"
import { Dialog } from "./Dialog.js"
import { useAppState, useWorkspace } from "./useWorkspace.js"

const roleNames: Record<Role, string> = { owner: "Owner", admin: "Admin", member: "Member", guest: "Guest" }
const article = (role: Role) => (role === "admin" || role === "owner" ? "an" : "a")

/** The page of an invitation link: what it invites to, then signing in (if needed) and joining. */
export const InviteScreen = ({ signIn }: { readonly signIn: (email: string) => ReactNode }) => {
  const workspace = useWorkspace()
  const state = useAppState()
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const invitation = workspace.invitation
  if (invitation === null) return null
  const preview = invitation.preview
  const aside = (
    <button className="link" onClick={() => workspace.setInvitationAside()}>
      {state.me === null ? "Go to Troupe" : "Go to my workspaces"}
    </button>
  )
  if (preview === null) {
    return (
      <main className="auth">
        <h1 className="brand">Troupe</h1>
        {invitation.error === null
          ? <p aria-busy="true">Reading the invitation…</p>
          : <p className="error" role="alert">{invitation.error}</p>}
        {aside}
      </main>
    )
  }
  const header = (
    <section className="card invitation" aria-label="Invitation">
      <h1>Join {preview.orgName}</h1>
      <p>
        {preview.invitedBy} invited <strong>{preview.email}</strong> to {preview.orgName} as {article(preview.role)}
        {" "}
        {roleNames[preview.role].toLowerCase()}.
      </p>
    </section>
  )
  if (preview.status !== "pending") {
    const why = preview.status === "accepted"
      ? "This invitation was already used."
      : preview.status === "revoked"
      ? "This invitation was withdrawn."
      : "This invitation has expired."
    return (
      <main className="auth">
        {header}
        <p className="error" role="alert">{why} Ask {preview.invitedBy} for a new one.</p>
        {aside}
      </main>
    )
  }
  if (state.me === null) {
    return (
      <main className="auth">
        {header}
        {signIn(preview.email)}
        {aside}
      </main>
    )
  }
  const sameAddress = state.me.email.toLowerCase() === preview.email.toLowerCase()
  return (
    <main className="auth">
      {header}
      {sameAddress
        ? (
          <button
            className="primary"
            disabled={busy}
            onClick={() => {
              setBusy(true)
              void attempt(setError, () => workspace.acceptInvitation()).finally(() => setBusy(false))
            }}
          >
            Join {preview.orgName}
          </button>
        )
        : (
          <>
            <p className="error" role="alert">
              You are signed in as {state.me.email}; this invitation is for {preview.email}.
            </p>
            <button onClick={() => void workspace.logout()}>Log out and use {preview.email}</button>
          </>
        )}
      {error !== null && <p className="error" role="alert">{error}</p>}
      {aside}
    </main>
  )
}

const invitedRoles: ReadonlyArray<InvitedRole> = ["member", "guest", "admin"]

/** The workspace's people; admins invite, change roles and remove people here. */
export const PeopleDialog = ({ onClose }: { readonly onClose: () => void }) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const [error, setError] = useState<string | null>(null)
  const [link, setLink] = useState<{ readonly invitation: Invitation; readonly url: string } | null>(null)
  const [invitations, setInvitations] = useState<ReadonlyArray<Invitation>>([])
  const role = workspace.role
  const admin = role !== null && roleAtLeast(role, "admin")
  const org = state.orgs.find((o) => o.id === state.orgId)
  const reload = () => admin ? workspace.invitations().then(setInvitations) : Promise.resolve()
  useEffect(() => {
    if (admin) void attempt(setError, () => workspace.invitations().then(setInvitations))
  }, [admin, state.orgId, workspace])
  const invite = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const form = e.currentTarget
    const data = new FormData(form)
    const email = String(data.get("email") ?? "").trim()
    const picked = invitedRoles.find((r) => r === data.get("role")) ?? "member"
    void attempt(setError, async () => {
      const created = await workspace.invite(email, picked)
      setLink({ invitation: created.invitation, url: created.url })
      form.reset()
      await reload()
    })
  }
  const people = workspace.people.filter((m) => m.kind === "user")
  const pending = invitations.filter((i) => i.status === "pending")
  return (
    <Dialog label="People" onClose={onClose} className="people">
      <h2>People in {org?.name}</h2>
      <ul className="members" aria-label="Members">
        {people.map((m) => (
          <li key={m.id}>
            <span
              className={state.online[m.id] === true ? "dot online" : "dot"}
              role="img"
              aria-label={state.online[m.id] === true ? "online" : "offline"}
            />
            <Avatar path={m.avatar} name={m.name} />
            <span className="member-name">{m.name}</span> <span className="handle">@{m.handle}</span>
            {admin && m.id !== state.me?.id && (role === "owner" || m.role !== "owner")
              ? (
                <>
                  <select
                    aria-label={`Role of ${m.name}`}
                    value={m.role}
                    onChange={(e) => {
                      const next = (["owner", "admin", "member", "guest"] as const).find((r) => r === e.target.value)
                      if (next !== undefined) void attempt(setError, () => workspace.changeRole(m.id, next))
                    }}
                  >
                    {(["owner", "admin", "member", "guest"] as const).filter((r) => role === "owner" || r !== "owner")
                      .map((r) => <option key={r} value={r}>{roleNames[r]}</option>)}
                  </select>
                  <button
                    className="link"
                    aria-label={`Remove ${m.name}`}
                    onClick={() => {
                      if (window.confirm(`Remove ${m.name} from ${org?.name ?? "the workspace"}?`)) {
                        void attempt(setError, () => workspace.removeMember(m.id))
                      }
                    }}
                  >
                    Remove
                  </button>
                </>
              )
              : <span className="role">{roleNames[m.role]}</span>}
          </li>
        ))}
      </ul>
      {admin && org !== undefined && (
        <form
          className="inline-form"
          aria-label="Rename the workspace"
          onSubmit={(e) => {
            e.preventDefault()
            const name = String(new FormData(e.currentTarget).get("name") ?? "").trim()
            void attempt(setError, () => workspace.renameOrg(name))
          }}
        >
          <label>
            Workspace name
            <input name="name" defaultValue={org.name} key={org.name} required maxLength={100} />
          </label>
          <button type="submit">Rename</button>
        </form>
      )}
      {admin && org !== undefined && (
        <form
          className="inline-form"
          aria-label="E-mail domains"
          onSubmit={(e) => {
            e.preventDefault()
            const text = String(new FormData(e.currentTarget).get("domains") ?? "")
            const domains = text.split(/[\s,]+/).map((d) => d.trim().toLowerCase()).filter((d) => d !== "")
            void attempt(setError, () => workspace.setEmailDomains(domains))
          }}
        >
          <label>
            E-mail domains
            <input
              name="domains"
              defaultValue={org.allowedEmailDomains.join(", ")}
              key={org.allowedEmailDomains.join(",")}
              placeholder="any address"
              aria-describedby="email-domains-hint"
            />
          </label>
          <button type="submit">Save</button>
          <p id="email-domains-hint" className="hint">
            People who sign in through the identity provider with an address at these domains join as members; only
            these addresses can be invited. Leave empty for any address.
          </p>
        </form>
      )}
      {role === "owner" && org !== undefined && (
        <form
          className="inline-form danger-zone"
          aria-label="Delete the workspace"
          onSubmit={(e) => {
            e.preventDefault()
            const confirm = String(new FormData(e.currentTarget).get("confirm") ?? "").trim()
            void attempt(setError, () => workspace.deleteOrg(confirm))
          }}
        >
          <label>
            Type <code>{org.slug}</code> to delete {org.name} with all its rooms, messages, teammates and files
            <input name="confirm" required autoComplete="off" aria-describedby="delete-org-hint" />
          </label>
          <button type="submit" className="danger">Delete workspace</button>
          <p id="delete-org-hint" className="hint">This cannot be undone. Everyone in it loses access at once.</p>
        </form>
      )}
      {admin && (
        <>
          <form onSubmit={invite} className="inline-form" aria-label="Invite someone">
            <label>
              Email to invite
              <input name="email" type="email" required maxLength={254} />
            </label>
            <label>
              As
              <select name="role" defaultValue="member">
                {invitedRoles.map((r) => <option key={r} value={r}>{roleNames[r]}</option>)}
              </select>
            </label>
            <button type="submit" className="primary">Invite</button>
          </form>
          {link !== null && (
            <div className="invite-link" role="status">
              <p>
                Send {link.invitation.email} this link. It works once, until{" "}
                {link.invitation.expiresAt.toLocaleDateString()}.
              </p>
              <input aria-label="Invitation link" readOnly value={link.url} onFocus={(e) => e.target.select()} />
              <button onClick={() => void navigator.clipboard?.writeText(link.url)}>Copy</button>
            </div>
          )}
          {pending.length > 0 && (
            <>
              <h3>Invited</h3>
              <ul className="members" aria-label="Pending invitations">
                {pending.map((i) => (
                  <li key={i.id}>
                    <span className="member-name">{i.email}</span> <span className="role">{roleNames[i.role]}</span>
                    <button
                      className="link"
                      aria-label={`Withdraw the invitation of ${i.email}`}
                      onClick={() =>
                        void attempt(setError, async () => {
                          await workspace.revokeInvitation(i)
                          await reload()
                        })}
                    >
                      Withdraw
                    </button>
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
      {error !== null && <p className="error" role="alert">{error}</p>}
      <button onClick={onClose}>Close</button>
    </Dialog>
  )
}
