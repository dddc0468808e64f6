/**
 * The org's usage this month, per teammate and in total, against its token
 * budget; and which models its teammates may use. Members read it; admins
 * set the budget and narrow the models.
 */
import type { TeammateId } from "@troupe/domain/Ids"
import type { ModelPolicyView, UsageLine } from "@troupe/domain/Teammate"
import { type FormEvent, useCallback, useState } from "react"
import { attempt } from "./App.js"
import { useAdmin, useModelPolicy } from "./Hire.js"
import { useLoaded } from "./useLoaded.js"
import { useAppState, useWorkspace } from "./useWorkspace.js"

const tokens = (n: number) => n.toLocaleString()
const usd = (n: number) => `$${n.toFixed(2)}`

export const UsageView = ({ onClose, onTeammate }: {
  readonly onClose: () => void
  readonly onTeammate: (id: TeammateId) => void
}) => {
  const workspace = useWorkspace()
  const state = useAppState()
  const admin = useAdmin()
  const load = useCallback(() => workspace.usage(), [workspace])
  const { error, reload, value: usage } = useLoaded(load)
  const name = (line: UsageLine) => {
    if (line.teammateId === null) return "Not a teammate"
    const t = state.teammates[line.teammateId]?.teammate
    return t === undefined
      ? "A dismissed teammate"
      : (
        <button className="link" onClick={() => line.teammateId !== null && onTeammate(line.teammateId)}>
          @{t.handle}
        </button>
      )
  }
  const used = usage === null ? 0 : usage.total.inputTokens + usage.total.outputTokens
  return (
    <section className="panel" aria-label="Usage and models">
      <header className="room-header">
        <h1>Usage and models</h1>
        <div className="room-actions">
          <button className="link" onClick={onClose}>Close</button>
        </div>
      </header>
      <div className="panel-body">
        {usage === null && error === null && <p aria-busy="true">Loading usage…</p>}
        {usage !== null && (
          <>
            <h2>Usage in {usage.month}</h2>
            <table className="usage" aria-label="Usage per teammate">
              <thead>
                <tr>
                  <th scope="col">Teammate</th>
                  <th scope="col">Runs</th>
                  <th scope="col">Tokens in</th>
                  <th scope="col">Tokens out</th>
                  <th scope="col">Cost</th>
                </tr>
              </thead>
              <tbody>
                {usage.teammates.map((line) => (
                  <tr key={line.teammateId ?? "none"}>
                    <th scope="row">{name(line)}</th>
                    <td>{line.runs}</td>
                    <td>{tokens(line.inputTokens)}</td>
                    <td>{tokens(line.outputTokens)}</td>
                    <td>{usd(line.costUsd)}</td>
                  </tr>
                ))}
              </tbody>
              <tfoot>
                <tr>
                  <th scope="row">Total</th>
                  <td>{usage.total.runs}</td>
                  <td>{tokens(usage.total.inputTokens)}</td>
                  <td>{tokens(usage.total.outputTokens)}</td>
                  <td>{usd(usage.total.costUsd)}</td>
                </tr>
              </tfoot>
            </table>
            <p>
              {usage.monthlyTokenBudget === null
                ? "No monthly token budget."
                : `${tokens(used)} of the ${tokens(usage.monthlyTokenBudget)} tokens of this month's budget used.`}
            </p>
            {admin && (
              <Budget
                budget={usage.monthlyTokenBudget}
                onSaved={reload}
              />
            )}
          </>
        )}
        {error !== null && <p className="error" role="alert">{error}</p>}
        <Models admin={admin} />
      </div>
    </section>
  )
}

const Budget = ({ budget, onSaved }: { readonly budget: number | null; readonly onSaved: () => Promise<unknown> }) => {
  const workspace = useWorkspace()
  const [value, setValue] = useState(budget === null ? "" : String(budget))
  const [error, setError] = useState<string | null>(null)
  const save = (monthlyTokens: number | null) =>
    void attempt(setError, async () => {
      await workspace.setBudget(monthlyTokens)
      await onSaved()
    })
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const n = Number(value.trim())
    if (value.trim() === "" || !Number.isInteger(n) || n <= 0) {
      setError("The budget is a whole number of tokens above zero.")
      return
    }
    save(n)
  }
  return (
    <form className="inline-form" aria-label="Budget" onSubmit={submit}>
      <label>
        Monthly token budget
        <input inputMode="numeric" value={value} onChange={(e) => setValue(e.target.value)} />
      </label>
      {error !== null && <p className="error" role="alert">{error}</p>}
      <div className="row">
        <button type="submit" className="primary">Set the budget</button>
        {budget !== null && <button type="button" onClick={() => save(null)}>No budget</button>}
      </div>
    </form>
  )
}

const listed = (models: ReadonlyArray<string> | null) => models === null ? "any" : models.join(", ")

const Models = ({ admin }: { readonly admin: boolean }) => {
  const { error, policy, setPolicy } = useModelPolicy()
  return (
    <>
      <h2>Models</h2>
      {policy === null
        ? error === null ? <p aria-busy="true">Loading the model policy…</p> : null
        : (
          <>
            {policy.local && (
              <p className="hint">
                This server has no model endpoint: every teammate answers with the local model, and the lists do not
                apply.
              </p>
            )}
            <p>The server allows {listed(policy.serverAllowedModels)}; its default is {policy.defaultModel}.</p>
            <p>
              This workspace allows{" "}
              {policy.allowedModels === null ? "every model the server allows" : listed(policy.allowedModels)}.
            </p>
            {admin && <ModelPolicyForm policy={policy} onSaved={setPolicy} />}
          </>
        )}
      {error !== null && <p className="error" role="alert">{error}</p>}
    </>
  )
}

/** Admins narrow the org's models: from the server's list when it has one, else any names, one a line. */
const ModelPolicyForm = ({ onSaved, policy }: {
  readonly policy: ModelPolicyView
  readonly onSaved: (policy: ModelPolicyView) => void
}) => {
  const workspace = useWorkspace()
  const [picked, setPicked] = useState<ReadonlyArray<string>>(policy.allowedModels ?? [])
  const [typed, setTyped] = useState((policy.allowedModels ?? []).join("\n"))
  const [error, setError] = useState<string | null>(null)
  const [saved, setSaved] = useState(false)
  const save = (models: ReadonlyArray<string> | null) =>
    void attempt(setError, async () => {
      setSaved(false)
      onSaved(await workspace.setModelPolicy(models))
      setSaved(true)
    })
  const server = policy.serverAllowedModels
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const models = server === null
      ? typed.split("\n").map((m) => m.trim()).filter((m) => m !== "")
      : picked
    if (models.length === 0) {
      setError("Pick at least one model, or allow every model.")
      return
    }
    save(models)
  }
  return (
    <form className="inline-form" aria-label="Allowed models" onSubmit={submit}>
      {server === null
        ? (
          <label>
            Allowed models, one a line
            <textarea rows={3} value={typed} onChange={(e) => setTyped(e.target.value)} />
          </label>
        )
        : (
          <fieldset className="tools">
            <legend>Allowed models</legend>
            {server.map((m) => (
              <label key={m} className="check">
                <input
                  type="checkbox"
                  checked={picked.includes(m)}
                  onChange={(e) => setPicked(e.target.checked ? [...picked, m] : picked.filter((x) => x !== m))}
                />{" "}
                {m}
              </label>
            ))}
          </fieldset>
        )}
      {saved && <p role="status">Saved.</p>}
      {error !== null && <p className="error" role="alert">{error}</p>}
      <div className="row">
        <button type="submit" className="primary">Save the models</button>
        {policy.allowedModels !== null && <button type="button" onClick={() => save(null)}>Allow every model</button>}
      </div>
    </form>
  )
}
