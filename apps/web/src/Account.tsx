/**
 * A person's own account: asking for a password-reset link, the page the
 * link opens, and the settings dialog (name, handle, password).
 */
import { type FormEvent, useState } from "react"
import { ApiError } from "./api.js"
import { attempt } from "./App.js"
import { Avatar } from "./Avatar.js"
import { Dialog } from "./Dialog.js"
import { useAppState, useWorkspace } from "./useWorkspace.js"

/** The value of a form's field, as text. */
const field = (form: HTMLFormElement, name: string) => String(new FormData(form).get(name) ?? "")

/** A form's submit: the form to `action`, its failure as `error`, `busy` while it runs. */
const useSubmit = (action: (form: HTMLFormElement) => Promise<unknown>) => {
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const form = e.currentTarget
    setBusy(true)
    void attempt(setError, () => action(form)).finally(() => setBusy(false))
  }
  return { error, busy, submit }
}

/** Asks for a password-reset link; the answer is the same whether or not an account uses the address. */
export const ForgotPassword = ({ onBack }: { readonly onBack: () => void }) => {
  const workspace = useWorkspace()
  const [sent, setSent] = useState<string | null>(null)
  const { busy, error, submit } = useSubmit(async (form) =>
    setSent(await workspace.requestPasswordReset(field(form, "email")))
  )
  return (
    <>
      <form onSubmit={submit} className="card" aria-label="Reset your password">
        <p className="hint">Enter the address you log in with; a link to choose a new password goes to it.</p>
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required maxLength={254} />
        </label>
        {sent !== null && <p role="status">{sent}</p>}
        {error !== null && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>Send the link</button>
      </form>
      <button className="link" onClick={onBack}>Back to log in</button>
    </>
  )
}

/** The page of a password-reset link: a new password, then the app, signed in. */
export const ResetScreen = () => {
  const workspace = useWorkspace()
  const { busy, error, submit } = useSubmit((form) =>
    workspace.confirmPasswordReset(field(form, "password")).catch((failure: unknown) =>
      Promise.reject(
        failure instanceof ApiError && failure.tag === "NotFound"
          ? new Error("This link is not valid. Ask for a new one from the log-in page.")
          : failure
      )
    )
  )
  return (
    <main className="auth">
      <h1 className="brand">Troupe</h1>
      <form onSubmit={submit} className="card" aria-label="Choose a new password">
        <h2>Choose a new password</h2>
        <p className="hint">Choosing a new password logs you out everywhere else.</p>
        <label>
          New password
          <input name="password" type="password" autoComplete="new-password" required minLength={8} maxLength={256} />
        </label>
        {error !== null && <p className="error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>Set the password</button>
      </form>
      <button className="link" onClick={() => workspace.setResetAside()}>Go to Troupe</button>
    </main>
  )
}

/** The person's name, handle and password. */
export const SettingsDialog = ({ onClose }: { readonly onClose: () => void }) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const [profileSaved, setProfileSaved] = useState(false)
  const [passwordChanged, setPasswordChanged] = useState(false)
  const me = state.me
  const profile = useSubmit(async (form) => {
    const name = field(form, "name").trim()
    const handle = field(form, "handle").trim().toLowerCase()
    setProfileSaved(false)
    await workspace.updateProfile({
      ...(name === me?.name ? {} : { name }),
      ...(handle === me?.handle ? {} : { handle })
    })
    setProfileSaved(true)
  })
  const password = useSubmit(async (form) => {
    setPasswordChanged(false)
    await workspace.changePassword(field(form, "current"), field(form, "new"))
    form.reset()
    setPasswordChanged(true)
  })
  const [avatarError, setAvatarError] = useState<string | null>(null)
  const [notifyError, setNotifyError] = useState<string | null>(null)
  if (me === null) return null
  const mine = workspace.avatarOf(me.id)
  return (
    <Dialog label="Settings" onClose={onClose}>
      <h2>Settings</h2>
      <p className="hint">Signed in as {me.email}.</p>
      <form onSubmit={profile.submit} className="inline-form" aria-label="Profile">
        <h3>Profile</h3>
        <label>
          Name
          <input name="name" defaultValue={me.name} required maxLength={100} autoComplete="name" />
        </label>
        <label>
          Handle
          <input
            name="handle"
            defaultValue={me.handle}
            required
            minLength={2}
            maxLength={32}
            pattern="[a-z0-9][a-z0-9._\-]{1,31}"
            title="2–32 characters a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
          />
        </label>
        {profileSaved && <p role="status">Saved.</p>}
        {profile.error !== null && <p className="error" role="alert">{profile.error}</p>}
        <button type="submit" className="primary" disabled={profile.busy}>Save the profile</button>
      </form>
      <section className="inline-form" aria-label="Avatar">
        <h3>Avatar</h3>
        <Avatar path={mine} name={me.name} />
        <label>
          Picture (PNG, JPEG, GIF or WebP, up to 1 MiB)
          <input
            type="file"
            accept="image/png,image/jpeg,image/gif,image/webp"
            onChange={(e) => {
              const file = e.currentTarget.files?.[0]
              e.currentTarget.value = ""
              if (file !== undefined) void attempt(setAvatarError, () => workspace.setAvatar(file))
            }}
          />
        </label>
        {mine !== null && (
          <button
            type="button"
            onClick={() => void attempt(setAvatarError, () => workspace.removeAvatar())}
          >
            Remove the picture
          </button>
        )}
        {avatarError !== null && <p className="error" role="alert">{avatarError}</p>}
      </section>
      <section className="inline-form" aria-label="Notifications">
        <h3>Notifications</h3>
        <p className="hint">
          In this browser, when you are not looking: each room's setting says what (by default every message of a direct
          conversation, and mentions elsewhere).
        </p>
        <button
          type="button"
          onClick={() => void attempt(setNotifyError, () => workspace.setNotifications(!workspace.notificationsOn))}
        >
          {workspace.notificationsOn ? "Turn notifications off" : "Turn notifications on"}
        </button>
        {notifyError !== null && <p className="error" role="alert">{notifyError}</p>}
      </section>
      <form onSubmit={password.submit} className="inline-form" aria-label="Password">
        <h3>Password</h3>
        <label>
          Current password
          <input name="current" type="password" autoComplete="current-password" required maxLength={256} />
        </label>
        <label>
          New password
          <input name="new" type="password" autoComplete="new-password" required minLength={8} maxLength={256} />
        </label>
        {passwordChanged && <p role="status">Password changed. Your other sessions were logged out.</p>}
        {password.error !== null && <p className="error" role="alert">{password.error}</p>}
        <button type="submit" className="primary" disabled={password.busy}>Change the password</button>
      </form>
      <button onClick={onClose}>Close</button>
    </Dialog>
  )
}
