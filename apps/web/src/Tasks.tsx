/**
 * A room's background work: the tasks its teammates work on (status, each
 * step's progress, cancel) and its schedules (when they run next, pause,
 * resume, delete), with forms to give a teammate a task or a schedule.
 * Tasks stay current from `task.updated`; schedules are read again on each
 * schedule event for the room.
 */
import { TeammateId } from "@troupe/domain/Ids"
import type { RoomMember } from "@troupe/domain/Room"
import type { Room } from "@troupe/domain/Room"
import type { Schedule } from "@troupe/domain/Schedule"
import { isFinal, type Task } from "@troupe/domain/Task"
import { Schema } from "effect"
import { type ReactNode, useCallback, useEffect, useState } from "react"
import { attempt } from "./App.js"
import * as Model from "./model.js"
import { useLoaded } from "./useLoaded.js"
import { useAppState, useWorkspace } from "./useWorkspace.js"

const when = (d: Date) =>
  d.toLocaleString(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit", month: "short", day: "numeric" })

const localZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"

const isTeammateId = Schema.is(TeammateId)

const TaskItem = (
  { onError, room, task }: { readonly room: Room; readonly task: Task; readonly onError: (e: string | null) => void }
) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const done = task.steps.filter((s) => s.status === "done").length
  const mayCancel = !isFinal(task.status) && !task.cancelRequested &&
    (task.createdById === state.me?.id || workspace.role === "owner" || workspace.role === "admin")
  const teammate = state.teammates[task.teammateId]?.teammate.name ?? "A teammate"
  return (
    <article className="message task" aria-label={`Task: ${task.goal}`}>
      <header>
        <strong className="author">{teammate}</strong>
        <span className={`tag status-${task.status}`} aria-label="Status">{task.status}</span>
        {task.steps.length > 0 && <span className="hint">{done}/{task.steps.length} steps</span>}
        {task.cancelRequested && !isFinal(task.status) && <span className="hint">stopping…</span>}
      </header>
      <p className="text">{task.goal}</p>
      {task.steps.length > 0 && (
        <ol className="steps">
          {task.steps.map((s, i) => (
            <li key={i} className={`step ${s.status}`}>
              {s.title}{" "}
              <span className="hint">{s.status === "running" ? "working…" : s.status === "done" ? "✓" : ""}</span>
            </li>
          ))}
        </ol>
      )}
      {task.error !== null && <p className="error">{task.error}</p>}
      {mayCancel && (
        <div className="reactions">
          <button className="icon" onClick={() => void attempt(onError, () => workspace.cancelTask(room.id, task.id))}>
            Cancel
          </button>
        </div>
      )}
    </article>
  )
}

const ScheduleItem = (
  { onError, room, schedule }: {
    readonly room: Room
    readonly schedule: Schedule
    readonly onError: (e: string | null) => void
  }
) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const mine = schedule.createdById === state.me?.id || workspace.role === "owner" || workspace.role === "admin"
  const teammate = state.teammates[schedule.teammateId]?.teammate.name ?? "A teammate"
  return (
    <article className="message schedule" aria-label={`Schedule: ${schedule.goal}`}>
      <header>
        <strong className="author">{teammate}</strong>
        <code>{schedule.cron}</code>
        <span className="hint">{schedule.timeZone}</span>
        {schedule.paused && <span className="tag">paused</span>}
      </header>
      <p className="text">{schedule.goal}</p>
      {schedule.upcoming.length > 0 && <p className="hint">Next: {schedule.upcoming.map(when).join(" · ")}</p>}
      {mine && (
        <div className="reactions">
          <button
            className="icon"
            onClick={() => void attempt(onError, () => workspace.pauseSchedule(room.id, schedule.id, !schedule.paused))}
          >
            {schedule.paused ? "Resume" : "Pause"}
          </button>
          <button
            className="icon"
            onClick={() => {
              if (window.confirm("Delete this schedule?")) {
                void attempt(onError, () => workspace.deleteSchedule(room.id, schedule.id))
              }
            }}
          >
            Delete
          </button>
        </div>
      )}
    </article>
  )
}

/** Who to give work to, what, and (for a schedule) when. */
const WorkForm = (
  { onError, room, teammates }: {
    readonly room: Room
    readonly teammates: ReadonlyArray<RoomMember>
    readonly onError: (e: string | null) => void
  }
) => {
  const workspace = useWorkspace()
  const [teammate, setTeammate] = useState<string>("")
  const [goal, setGoal] = useState("")
  const [repeat, setRepeat] = useState(false)
  const [cron, setCron] = useState("0 9 * * mon-fri")
  const [zone, setZone] = useState(localZone)
  const chosen = teammate !== "" ? teammate : teammates[0]?.id ?? ""
  const submit = () => {
    if (!isTeammateId(chosen) || goal.trim() === "") return
    void attempt(onError, async () => {
      if (repeat) await workspace.schedule(room.id, { teammateId: chosen, goal, cron, timeZone: zone })
      else await workspace.giveTask(room.id, chosen, goal)
      setGoal("")
    })
  }
  if (teammates.length === 0) return <p className="hint">Add a teammate to this room to give it work.</p>
  const field = (id: string, label: string, input: ReactNode) => (
    <label htmlFor={id}>
      {label}
      {input}
    </label>
  )
  return (
    <form
      className="work-form"
      aria-label="Give work"
      onSubmit={(e) => {
        e.preventDefault()
        submit()
      }}
    >
      {field(
        `work-teammate-${room.id}`,
        "Teammate",
        <select id={`work-teammate-${room.id}`} value={chosen} onChange={(e) => setTeammate(e.target.value)}>
          {teammates.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
        </select>
      )}
      {field(
        `work-goal-${room.id}`,
        "Goal",
        <textarea id={`work-goal-${room.id}`} rows={2} value={goal} onChange={(e) => setGoal(e.target.value)} />
      )}
      <label>
        <input type="checkbox" checked={repeat} onChange={(e) => setRepeat(e.target.checked)} /> Repeat on a schedule
      </label>
      {repeat && field(
        `work-cron-${room.id}`,
        "When (cron)",
        <input id={`work-cron-${room.id}`} value={cron} onChange={(e) => setCron(e.target.value)} />
      )}
      {repeat && field(
        `work-zone-${room.id}`,
        "Time zone",
        <input id={`work-zone-${room.id}`} value={zone} onChange={(e) => setZone(e.target.value)} />
      )}
      <button className="primary" type="submit" disabled={goal.trim() === ""}>
        {repeat ? "Schedule" : "Give task"}
      </button>
    </form>
  )
}

/** The room's tasks and schedules. */
export const TasksPanel = ({ room }: { readonly room: Room }) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    void attempt(setError, () => workspace.loadTasks(room.id))
  }, [room.id, workspace])
  const loadSchedules = useCallback(() => workspace.schedules(room.id), [workspace, room.id])
  const schedules = useLoaded(loadSchedules, state.scheduleChanges[room.id] ?? 0)
  const loadTeammates = useCallback(() => workspace.roomTeammates(room.id), [workspace, room.id])
  const teammates = useLoaded(loadTeammates)
  const tasks = Model.tasksIn(state, room.id)
  const canGive = room.joined && !room.archived && workspace.role !== "guest"
  return (
    <>
      <div className="messages" aria-label="Tasks">
        {tasks.length === 0 && <p className="hint">No tasks in this room yet.</p>}
        {tasks.map((t) => <TaskItem key={t.id} task={t} room={room} onError={setError} />)}
        <h3>Schedules</h3>
        {(schedules.value ?? []).length === 0 && <p className="hint">Nothing is scheduled here.</p>}
        {(schedules.value ?? []).map((s) => <ScheduleItem key={s.id} schedule={s} room={room} onError={setError} />)}
      </div>
      {[error, schedules.error, teammates.error].filter((e) => e !== null).map((e) => (
        <p key={e} className="error" role="alert">{e}</p>
      ))}
      {canGive && teammates.value !== null && <WorkForm room={room} teammates={teammates.value} onError={setError} />}
    </>
  )
}
