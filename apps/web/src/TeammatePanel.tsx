/**
 * A teammate's page: its settings (members and above change them, guests
 * read them), dismissing it (admins), its runs with their steps, and its
 * memory. It follows `teammate.updated`: busy state and edits made
 * elsewhere show at once; runs and memory are read again when a turn ends.
 */
import type { RoomId, TeammateId } from "@troupe/domain/Ids"
import { roleAtLeast } from "@troupe/domain/Org"
import { CoreBlock, type Run, type Teammate } from "@troupe/domain/Teammate"
import { Either } from "effect"
import { type FormEvent, useCallback, useState } from "react"
import { attempt } from "./App.js"
import { TeammateFields, useAdmin, useModelPolicy } from "./Hire.js"
import { changes, type FieldErrors, runDuration, shown, stepsOf, type TeammateInput } from "./teammateRules.js"
import { useLoaded } from "./useLoaded.js"
import { useAppState, useWorkspace } from "./useWorkspace.js"

type Tab = "settings" | "runs" | "memory"

const when = (d: Date) => d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" })
const seconds = (ms: number) => ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`
const usd = (n: number) => `$${n.toFixed(n < 0.01 && n > 0 ? 5 : 2)}`

export const TeammateView = ({ id, onClose }: { readonly id: TeammateId; readonly onClose: () => void }) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const [tab, setTab] = useState<Tab>("settings")
  const [error, setError] = useState<string | null>(null)
  const admin = useAdmin()
  const role = workspace.role
  const member = role !== null && roleAtLeast(role, "member")
  const entry = state.teammates[id]
  if (entry === undefined) {
    return (
      <section className="panel" aria-label="Teammate">
        <header className="room-header">
          <h1>Teammate</h1>
          <button className="link" onClick={onClose}>Close</button>
        </header>
        <p className="hint">This teammate is no longer in the workspace.</p>
      </section>
    )
  }
  const { busy, teammate } = entry
  const tabs: ReadonlyArray<[Tab, string]> = member
    ? [["settings", "Settings"], ["runs", "Runs"], ["memory", "Memory"]]
    : [["settings", "Settings"]]
  return (
    <section className="panel" aria-label={`Teammate @${teammate.handle}`}>
      <header className="room-header">
        <h1>{teammate.name}</h1>
        <span className="handle">@{teammate.handle}</span>
        {busy ? <span className="badge busy">busy</span> : <span className="hint">idle</span>}
        <div className="room-actions">
          <button
            className="primary"
            onClick={() =>
              void attempt(setError, async () => {
                await workspace.openDm(teammate.id)
                onClose()
              })}
          >
            Message
          </button>
          {busy && member && (
            <button onClick={() => void attempt(setError, () => workspace.interrupt(teammate.id))}>Stop</button>
          )}
          {admin && (
            <button
              className="link danger"
              onClick={() => {
                if (window.confirm(`Dismiss @${teammate.handle}? It stops answering; its messages and runs stay.`)) {
                  void attempt(setError, async () => {
                    await workspace.dismiss(teammate.id)
                    onClose()
                  })
                }
              }}
            >
              Dismiss
            </button>
          )}
          <button className="link" onClick={onClose}>Close</button>
        </div>
      </header>
      {error !== null && <p className="error" role="alert">{error}</p>}
      <div className="tabs" role="tablist" aria-label="Teammate">
        {tabs.map(([t, label]) => (
          <button key={t} role="tab" aria-selected={tab === t} onClick={() => setTab(t)}>{label}</button>
        ))}
      </div>
      <div className="panel-body" role="tabpanel">
        {tab === "settings" && <Settings teammate={teammate} editable={member} />}
        {tab === "runs" && member && <Runs teammate={teammate} busy={busy} />}
        {tab === "memory" && member && <Memory teammate={teammate} busy={busy} onLeave={onClose} />}
      </div>
    </section>
  )
}

/** The settings form: what the person edits is kept; the rest follows the teammate as it changes. */
const Settings = ({ editable, teammate }: { readonly teammate: Teammate; readonly editable: boolean }) => {
  const workspace = useWorkspace()
  const admin = useAdmin()
  const { policy } = useModelPolicy()
  const [edits, setEdits] = useState<Partial<TeammateInput>>({})
  const [errors, setErrors] = useState<FieldErrors>({})
  const [error, setError] = useState<string | null>(null)
  const [saved, setSaved] = useState(false)
  const [busy, setBusy] = useState(false)
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault()
    const patch = changes(teammate, edits, admin)
    if (Either.isLeft(patch)) {
      setErrors(patch.left)
      return
    }
    setErrors({})
    setSaved(false)
    setBusy(true)
    void attempt(setError, async () => {
      await workspace.updateTeammate(teammate.id, patch.right)
      setEdits({})
      setSaved(true)
    }).finally(() => setBusy(false))
  }
  return (
    <form className="inline-form teammate-form" aria-label="Settings" onSubmit={submit} noValidate>
      <TeammateFields
        value={shown(teammate, edits)}
        onChange={(patch) => {
          setSaved(false)
          setEdits({ ...edits, ...patch })
        }}
        errors={errors}
        policy={policy}
        readOnly={!editable}
        withHandle={false}
        withLimit={admin || teammate.monthlyTokenLimit !== null}
      />
      {!editable && <p className="hint">Guests see a teammate's settings; members change them.</p>}
      {saved && <p role="status">Saved.</p>}
      {error !== null && <p className="error" role="alert">{error}</p>}
      {editable && (
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>Save settings</button>
          <button type="button" disabled={Object.keys(edits).length === 0} onClick={() => setEdits({})}>
            Undo changes
          </button>
        </div>
      )}
    </form>
  )
}

const Runs = ({ busy, teammate }: { readonly teammate: Teammate; readonly busy: boolean }) => {
  const workspace = useWorkspace()
  const load = useCallback(() => workspace.runs(teammate.id), [workspace, teammate.id])
  const { error, reload, value: runs } = useLoaded(load, busy)
  return (
    <>
      <div className="row">
        <h2>Recent runs</h2>
        <button className="link" onClick={() => void reload()}>Refresh</button>
      </div>
      {runs === null && error === null && <p aria-busy="true">Loading runs…</p>}
      {runs !== null && runs.length === 0 && <p className="hint">No runs yet in rooms you can read.</p>}
      <ul className="runs" aria-label="Runs">
        {(runs ?? []).map((run) => <RunItem key={run.id} run={run} />)}
      </ul>
      {error !== null && <p className="error" role="alert">{error}</p>}
    </>
  )
}

const RunItem = ({ run }: { readonly run: Run }) => {
  const state = useAppState()
  const [open, setOpen] = useState(false)
  const duration = runDuration(run)
  const room = state.rooms[run.roomId]
  return (
    <li className={`run ${run.status}`}>
      <button className="run-summary" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span className={`status ${run.status}`}>{run.status}</span>
        <span>{when(run.startedAt)}</span>
        <span>{duration === null ? "running" : seconds(duration)}</span>
        <span aria-label="tokens">{run.inputTokens} in / {run.outputTokens} out</span>
        <span>{usd(run.costUsd)}</span>
        {run.latencyMs !== null && <span>first token {seconds(run.latencyMs)}</span>}
        {room !== undefined && <span className="hint">in {room.kind === "direct" ? room.name : `#${room.name}`}</span>}
      </button>
      {run.error !== null && <p className="error">{run.error}</p>}
      {open && (
        <ol className="steps" aria-label="Steps">
          {stepsOf(run).map((step) => (
            <li key={step.index} className={`step ${step.kind}`}>
              <strong>{step.kind === "model" ? "Model call" : "Tool call"}</strong> {step.name}
              {step.inputTokens !== null && (
                <span>
                  {" "}· {step.inputTokens} in / {step.outputTokens ?? 0} out
                </span>
              )}
              <span className="hint">{" · "}{seconds(step.durationMs)}</span>
              {step.toolCalls.length > 0 && <span>{" · "}asked for {step.toolCalls.join(", ")}</span>}
              {step.error !== null && <span className="step-error" role="note">{" · "}failed: {step.error}</span>}
              {step.output !== null && step.error === null && <pre className="step-output">{step.output}</pre>}
            </li>
          ))}
          {run.steps.length === 0 && <li className="hint">No steps recorded.</li>}
        </ol>
      )}
    </li>
  )
}

const Memory = ({ busy, onLeave, teammate }: {
  readonly teammate: Teammate
  readonly busy: boolean
  /** Closes the page (to show a memory's message). */
  readonly onLeave: () => void
}) => {
  const workspace = useWorkspace()
  const load = useCallback(
    () => workspace.memory(teammate.id),
    [workspace, teammate.id]
  )
  const { error, reload, setError, value } = useLoaded(load, busy)
  const [text, setText] = useState("")
  const act = (action: () => Promise<unknown>) =>
    void attempt(setError, async () => {
      await action()
      await reload()
    })
  if (value === null) return error === null ? <p aria-busy="true">Loading memory…</p> : <p className="error">{error}</p>
  const memory = value
  return (
    <>
      <h2>Core memory</h2>
      <p className="hint">Always in the teammate's mind when it works.</p>
      {CoreBlock.literals.map((block) => (
        <CoreBlockForm
          key={`${block}:${memory.core[block] ?? ""}`}
          block={block}
          text={memory.core[block] ?? ""}
          onSave={(next) => act(() => workspace.putCore(teammate.id, block, next))}
        />
      ))}
      <h2>Long-term memory</h2>
      <ul className="memories" aria-label="Memories">
        {memory.entries.map((entry) => {
          const room = entry.roomId ?? undefined
          return (
            <li key={entry.id}>
              <span className="memory-text">{entry.text}</span>
              <span className="hint">
                {when(entry.createdAt)} · {entry.sourceMessageId === null
                  ? "added by hand"
                  : room === undefined
                  ? "from a message"
                  : <SourceLink roomId={room} onOpen={onLeave} />}
              </span>
              <button
                className="link danger"
                aria-label={`Forget “${entry.text}”`}
                onClick={() => act(() => workspace.forgetMemory(teammate.id, entry.id))}
              >
                Forget
              </button>
            </li>
          )
        })}
        {memory.entries.length === 0 && <li className="hint">Nothing remembered yet.</li>}
      </ul>
      <form
        className="inline-form"
        aria-label="Remember"
        onSubmit={(e) => {
          e.preventDefault()
          const fact = text.trim()
          if (fact === "") return
          act(async () => {
            await workspace.remember(teammate.id, fact)
            setText("")
          })
        }}
      >
        <label>
          A new memory
          <textarea rows={2} maxLength={2000} value={text} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={text.trim() === ""}>Remember</button>
      </form>
      {error !== null && <p className="error" role="alert">{error}</p>}
    </>
  )
}

const SourceLink = ({ onOpen, roomId }: { readonly roomId: RoomId; readonly onOpen: () => void }) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const room = state.rooms[roomId]
  if (room === undefined) return <>from a message</>
  return (
    <button
      className="link"
      onClick={() => {
        onOpen()
        void workspace.openRoom(roomId)
      }}
    >
      from a message in {room.kind === "direct" ? room.name : `#${room.name}`}
    </button>
  )
}

const CoreBlockForm = ({ block, onSave, text }: {
  readonly block: CoreBlock
  readonly text: string
  readonly onSave: (text: string) => void
}) => {
  const [value, setValue] = useState(text)
  return (
    <form
      className="inline-form core-block"
      aria-label={`Core memory: ${block}`}
      onSubmit={(e) => {
        e.preventDefault()
        onSave(value)
      }}
    >
      <label>
        {block}
        <textarea rows={2} maxLength={4000} value={value} onChange={(e) => setValue(e.target.value)} />
      </label>
      <button type="submit" disabled={value === text}>Save {block}</button>
    </form>
  )
}
