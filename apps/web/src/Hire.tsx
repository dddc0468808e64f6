/**
 * Hiring: a teammate from the catalog, or a custom one with its own
 * instructions, personality, model, tools and busy policy. The fields are
 * the same in a teammate's settings (`TeammateFields`).
 */
import type { RoomId } from "@troupe/domain/Ids"
import { roleAtLeast } from "@troupe/domain/Org"
import type { ModelPolicyView, Teammate } from "@troupe/domain/Teammate"
import { Either } from "effect"
import { type FormEvent, useCallback, useState } from "react"
import { attempt } from "./App.js"
import { Dialog } from "./Dialog.js"
import {
  busyPolicies,
  busyPolicyHelp,
  type FieldErrors,
  modelChoices,
  newTeammate,
  type TeammateInput,
  toolNames
} from "./teammateRules.js"
import { useLoaded } from "./useLoaded.js"
import { useAppState, useWorkspace } from "./useWorkspace.js"

/** The org's model policy, read when a form opens. */
export const useModelPolicy = () => {
  const workspace = useWorkspace()
  const load = useCallback(() => workspace.modelPolicy(), [workspace])
  const { error, setValue, value } = useLoaded(load)
  return { policy: value, error, setPolicy: setValue }
}

/** Whether the person may set teammates' token limits (admins and above). */
export const useAdmin = () => {
  const role = useWorkspace().role
  return role !== null && roleAtLeast(role, "admin")
}

const FieldError = ({ errors, name }: { readonly errors: FieldErrors; readonly name: string }) =>
  errors[name] === undefined
    ? null
    : <span className="field-error" id={`${name}-error`} role="alert">{errors[name]}</span>

/** The fields of a teammate: for hiring (with a handle) and for its settings. */
export const TeammateFields = ({ errors, onChange, policy, readOnly, value, withHandle, withLimit }: {
  readonly value: TeammateInput
  readonly onChange: (patch: Partial<TeammateInput>) => void
  readonly errors: FieldErrors
  readonly policy: ModelPolicyView | null
  readonly readOnly: boolean
  readonly withHandle: boolean
  readonly withLimit: boolean
}) => {
  const choices = policy === null ? null : modelChoices(policy)
  const described = (name: string) => errors[name] === undefined ? {} : { "aria-describedby": `${name}-error` }
  /** A text field: one line, or `rows` lines. */
  const text = (name: "name" | "role" | "personality" | "instructions", label: string, max: number, rows = 1) => {
    const props = {
      name,
      value: value[name],
      readOnly,
      maxLength: max,
      "aria-invalid": errors[name] !== undefined,
      ...described(name)
    }
    return (
      <label>
        {label}
        {rows === 1
          ? <input {...props} onChange={(e) => onChange({ [name]: e.target.value })} />
          : <textarea {...props} rows={rows} onChange={(e) => onChange({ [name]: e.target.value })} />}
        <FieldError errors={errors} name={name} />
      </label>
    )
  }
  // A model the teammate has but the list no longer offers stays visible, so the form shows the truth.
  const models = choices === null ? null : choices.includes(value.model) || value.model === "" ? choices : [
    value.model,
    ...choices
  ]
  return (
    <>
      {text("name", "Name", 80)}
      {withHandle && (
        <label>
          Handle
          <input
            name="handle"
            value={value.handle}
            onChange={(e) => onChange({ handle: e.target.value })}
            maxLength={32}
            placeholder="e.g. ada"
            aria-invalid={errors["handle"] !== undefined}
            {...described("handle")}
          />
          <FieldError errors={errors} name="handle" />
        </label>
      )}
      {text("role", "Role", 200)}
      {text("instructions", "Instructions", 8000, 5)}
      {text("personality", "Personality", 2000, 2)}
      <label>
        Model
        {models === null
          ? (
            <input
              name="model"
              value={value.model}
              onChange={(e) => onChange({ model: e.target.value })}
              readOnly={readOnly}
              maxLength={100}
              placeholder={policy?.defaultModel ?? "the server's default"}
              {...described("model")}
            />
          )
          : (
            <select
              name="model"
              value={value.model === "" ? models[0] ?? "" : value.model}
              onChange={(e) => onChange({ model: e.target.value })}
              disabled={readOnly}
              {...described("model")}
            >
              {models.map((m) => <option key={m} value={m}>{m}</option>)}
            </select>
          )}
        <FieldError errors={errors} name="model" />
      </label>
      {policy?.local === true && <p className="hint">This server answers with its local model, which echoes.</p>}
      <fieldset className="tools">
        <legend>Tools</legend>
        {toolNames.map((tool) => (
          <label key={tool} className="check">
            <input
              type="checkbox"
              checked={value.tools.includes(tool)}
              disabled={readOnly}
              onChange={(e) =>
                onChange({
                  tools: e.target.checked ? [...value.tools, tool] : value.tools.filter((t) => t !== tool)
                })}
            />{" "}
            {tool}
          </label>
        ))}
        <FieldError errors={errors} name="tools" />
      </fieldset>
      <label>
        When busy
        <select
          name="busyPolicy"
          value={value.busyPolicy}
          disabled={readOnly}
          onChange={(e) => {
            const picked = busyPolicies.find((p) => p === e.target.value)
            if (picked !== undefined) onChange({ busyPolicy: picked })
          }}
        >
          {busyPolicies.map((p) => <option key={p} value={p}>{p}: {busyPolicyHelp[p]}</option>)}
        </select>
      </label>
      {withLimit && (
        <label>
          Monthly token limit
          <input
            name="monthlyTokenLimit"
            inputMode="numeric"
            value={value.monthlyTokenLimit}
            onChange={(e) => onChange({ monthlyTokenLimit: e.target.value })}
            readOnly={readOnly}
            placeholder="none"
            {...described("monthlyTokenLimit")}
          />
          <FieldError errors={errors} name="monthlyTokenLimit" />
        </label>
      )}
    </>
  )
}

const blank: TeammateInput = {
  handle: "",
  name: "",
  role: "",
  personality: "",
  instructions: "",
  model: "",
  tools: ["remember", "recall"],
  busyPolicy: "queue",
  monthlyTokenLimit: ""
}

/** A custom teammate: checked by the contract's schema here, then by the server. */
const NewTeammateForm = ({ onHired, roomId }: {
  readonly roomId: RoomId | null
  readonly onHired: (teammate: Teammate) => void
}) => {
  const workspace = useWorkspace()
  const admin = useAdmin()
  const { error: policyError, policy } = useModelPolicy()
  const [value, setValue] = useState<TeammateInput>(blank)
  const [errors, setErrors] = useState<FieldErrors>({})
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const choices = policy === null ? null : modelChoices(policy)
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const request = newTeammate({ ...value, model: value.model === "" ? choices?.[0] ?? "" : value.model }, admin)
    if (Either.isLeft(request)) {
      setErrors(request.left)
      return
    }
    setErrors({})
    setBusy(true)
    void attempt(setError, async () => onHired(await workspace.createTeammate(request.right, roomId)))
      .finally(() => setBusy(false))
  }
  return (
    <form className="inline-form teammate-form" aria-label="New teammate" onSubmit={submit} noValidate>
      <TeammateFields
        value={value}
        onChange={(patch) => setValue({ ...value, ...patch })}
        errors={errors}
        policy={policy}
        readOnly={false}
        withHandle
        withLimit={admin}
      />
      {policyError !== null && <p className="error" role="alert">{policyError}</p>}
      {error !== null && <p className="error" role="alert">{error}</p>}
      <button type="submit" className="primary" disabled={busy}>{busy ? "Creating…" : "Create teammate"}</button>
    </form>
  )
}

/** Hiring from the catalog, or a custom teammate (the second tab). */
export const HireDialog = ({ onClose, onHired }: {
  readonly onClose: () => void
  readonly onHired: (teammate: Teammate) => void
}) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const [tab, setTab] = useState<"catalog" | "custom">("catalog")
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState<string | null>(null)
  const room = state.openRoomId === null ? undefined : state.rooms[state.openRoomId]
  const hired = new Set(Object.values(state.teammates).map((t) => t.teammate.template))
  return (
    <Dialog label="Hire a teammate" onClose={onClose}>
      <h2>Hire a teammate</h2>
      <p className="hint">
        {room === undefined || room.kind === "direct"
          ? "They join the workspace; open a direct message with them, or add them to a room to talk there."
          : `They join #${room.name} at once.`}
      </p>
      <div className="tabs" role="tablist" aria-label="How to hire">
        <button role="tab" aria-selected={tab === "catalog"} onClick={() => setTab("catalog")}>From the catalog</button>
        <button role="tab" aria-selected={tab === "custom"} onClick={() => setTab("custom")}>Custom</button>
      </div>
      {tab === "custom"
        ? <NewTeammateForm roomId={room?.kind === "direct" ? null : room?.id ?? null} onHired={onHired} />
        : (
          <ul className="catalog">
            {workspace.catalog.map((entry) => (
              <li key={entry.template}>
                <div>
                  <strong>{entry.name}</strong> <span className="handle">@{entry.handle}</span>
                  <p>{entry.role}</p>
                </div>
                <button
                  className="primary"
                  disabled={busy !== null || hired.has(entry.template)}
                  aria-label={`Hire ${entry.name}`}
                  onClick={() => {
                    setBusy(entry.template)
                    void attempt(setError, async () => {
                      await workspace.hire(entry.template, room?.kind === "direct" ? null : room?.id ?? null)
                      onClose()
                    }).finally(() => setBusy(null))
                  }}
                >
                  {hired.has(entry.template) ? "Hired" : busy === entry.template ? "Hiring…" : "Hire"}
                </button>
              </li>
            ))}
          </ul>
        )}
      {error !== null && <p className="error" role="alert">{error}</p>}
      <button onClick={onClose} autoFocus>Close</button>
    </Dialog>
  )
}
