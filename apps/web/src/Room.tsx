/**
 * One room on screen: its history (older pages on scroll), teammates'
 * replies as they stream, pending sends, notices, the composer, and a side
 * panel with a thread or the room's pinboard.
 */
import type { Attachment } from "@troupe/domain/File"
import type { MessageId } from "@troupe/domain/Ids"
import type { Message } from "@troupe/domain/Message"
import { mayChangePin, type Pin } from "@troupe/domain/Pin"
import type { Room } from "@troupe/domain/Room"
import { type KeyboardEvent, type ReactNode, useCallback, useEffect, useLayoutEffect, useRef, useState } from "react"
import { attempt } from "./App.js"
import { Avatar } from "./Avatar.js"
import { Attachments, Staged } from "./Files.js"
import * as Model from "./model.js"
import { TasksPanel } from "./Tasks.js"
import { useLoaded } from "./useLoaded.js"
import { useAppState, useWorkspace } from "./useWorkspace.js"

const time = (d: Date) => d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
const day = (d: Date) => d.toLocaleDateString(undefined, { weekday: "long", month: "long", day: "numeric" })

const QUICK_REACTIONS = ["👍", "🎉", "👀"]

export const RoomView = ({ room }: { readonly room: Room }) => {
  const state = useAppState()
  const workspace = useWorkspace()
  // The side panel: a thread, the pinboard, or nothing.
  const [side, setSide] = useState<MessageId | "pins" | "tasks" | null>(null)
  const thread = side === "pins" || side === "tasks" ? null : side
  const setThread = (id: MessageId | null) => setSide(id)
  const [error, setError] = useState<string | null>(null)
  const messages = Model.timeline(state, room.id)
  const history = state.histories[room.id]
  const drafts = Object.values(state.drafts).filter((d) => d.roomId === room.id && d.threadId === null)
  const pending = state.pending.filter((p) => p.roomId === room.id && p.threadId === null)
  const notices = state.notices.filter((n) => n.roomId === room.id)
  const typing = Model.typingIn(state, room.id, Date.now())
    .map((id) => workspace.people.find((p) => p.id === id)?.name ?? "Someone")
  // Typing indicators lapse on their own: draw again when the first one ends, whether or not an event comes.
  const [, setNow] = useState(0)
  const lapse = Math.min(...Object.values(state.typing[room.id] ?? {}).filter((until) => until > Date.now()))
  useEffect(() => {
    if (!Number.isFinite(lapse)) return
    const timer = setTimeout(() => setNow(Date.now()), Math.max(0, lapse - Date.now()) + 50)
    return () => clearTimeout(timer)
  }, [lapse])

  const list = useRef<HTMLDivElement>(null)
  const pinned = useRef(true)
  const count = messages.length + drafts.reduce((n, d) => n + d.text.length, 0) + pending.length + notices.length
  useLayoutEffect(() => {
    const el = list.current
    if (el !== null && pinned.current) el.scrollTop = el.scrollHeight
  }, [count])

  const onScroll = () => {
    const el = list.current
    if (el === null) return
    pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40
    if (el.scrollTop < 80 && history?.hasOlder === true) {
      const before = el.scrollHeight
      void workspace.loadOlder(room.id).then(() => {
        // Keep the reader's place when older messages are added above.
        requestAnimationFrame(() => {
          el.scrollTop += el.scrollHeight - before
        })
      })
    }
  }

  const members = workspace.people
  let lastDay = ""
  return (
    <div className={side === null ? "room-view" : "room-view with-thread"}>
      <section className="timeline" aria-label={`Room ${room.name}`}>
        <header className="room-header">
          <h1>{room.kind === "public" ? `# ${room.name}` : room.name}</h1>
          {room.topic !== "" && <p className="topic">{room.topic}</p>}
          {!room.joined && room.kind === "public" && (
            <button
              className="primary"
              onClick={() => void attempt(setError, () => workspace.joinRoom(room.id))}
            >
              Join
            </button>
          )}
          <button
            className="link"
            aria-pressed={side === "pins"}
            onClick={() => setSide(side === "pins" ? null : "pins")}
          >
            Pins
          </button>
          <button
            className="link"
            aria-pressed={side === "tasks"}
            onClick={() => setSide(side === "tasks" ? null : "tasks")}
          >
            Tasks
          </button>
          <RoomActions room={room} onError={setError} />
        </header>
        <div className="messages" ref={list} onScroll={onScroll} role="log" aria-live="polite" aria-label="Messages">
          {history?.hasOlder === true && <p className="older">Scroll up for older messages</p>}
          {messages.map((m) => {
            const d = day(m.createdAt)
            const separator = d !== lastDay
            lastDay = d
            return (
              <div key={m.id}>
                {separator && <div className="day" role="separator">{d}</div>}
                <MessageItem message={m} onThread={() => setThread(m.id)} />
                {notices.filter((n) => n.messageId === m.id).map((n) => <NoticeItem key={n.id} notice={n} />)}
              </div>
            )
          })}
          {notices.filter((n) => n.messageId === null || !messages.some((m) => m.id === n.messageId)).map((n) => (
            <NoticeItem key={n.id} notice={n} />
          ))}
          {pending.map((p) => <PendingItem key={p.clientMessageId} pending={p} />)}
          {drafts.map((d) => <DraftItem key={d.runId} draft={d} />)}
        </div>
        {typing.length > 0 && <p className="typing" aria-live="polite">{typing.join(", ")} typing…</p>}
        {error !== null && <p className="error" role="alert">{error}</p>}
        {room.joined && !room.archived && <Composer room={room} threadId={null} members={members} />}
        {room.archived && <p className="hint">This room is archived.</p>}
      </section>
      {thread !== null && <ThreadPanel room={room} threadId={thread} onClose={() => setThread(null)} />}
      {side === "pins" && <PinsPanel room={room} onClose={() => setSide(null)} />}
      {side === "tasks" && (
        <SidePanel title="Tasks" onClose={() => setSide(null)}>
          <TasksPanel room={room} />
        </SidePanel>
      )}
    </div>
  )
}

const MessageItem = (
  { message, onThread }: { readonly message: Message; readonly onThread?: (() => void) | undefined }
) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const [editing, setEditing] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const mine = message.authorKind === "user" && message.authorId === state.me?.id
  const deleted = message.deletedAt !== null
  const room = state.rooms[message.roomId]
  const canPin = room !== undefined && room.joined && !room.archived && workspace.role !== "guest"
  const react = (emoji: string, on: boolean) =>
    void attempt(setError, () => workspace.react(message.roomId, message.id, emoji, on))
  return (
    <article className={message.authorKind === "teammate" ? "message teammate" : "message"} aria-label="Message">
      <header>
        {message.authorKind === "user" && (
          <Avatar path={workspace.avatarOf(message.authorId)} name={message.authorName} />
        )}
        <strong className="author">{message.authorName}</strong>
        {message.authorKind === "teammate" && <span className="tag">teammate</span>}
        <time dateTime={message.createdAt.toISOString()}>{time(message.createdAt)}</time>
        {message.editedAt !== null && !deleted && <span className="edited">(edited)</span>}
      </header>
      {deleted
        ? <p className="deleted">This message was deleted.</p>
        : editing
        ? (
          <EditBox
            text={message.text}
            onCancel={() => setEditing(false)}
            onSave={(text) =>
              void attempt(setError, async () => {
                await workspace.edit(message.roomId, message.id, text)
                setEditing(false)
              })}
          />
        )
        : message.text !== "" && <p className="text">{message.text}</p>}
      {!deleted && <Attachments roomId={message.roomId} files={message.attachments} />}
      {!deleted && (
        <div className="reactions">
          {message.reactions.map((r) => (
            <button
              key={r.emoji}
              className={r.me ? "reaction mine" : "reaction"}
              aria-pressed={r.me}
              aria-label={`${r.emoji} ${r.count}`}
              onClick={() => react(r.emoji, !r.me)}
            >
              {r.emoji} {r.count}
            </button>
          ))}
          {onThread !== undefined && message.replyCount > 0 && (
            <button className="link replies" onClick={onThread}>
              {`${message.replyCount} ${message.replyCount === 1 ? "reply" : "replies"}`}
            </button>
          )}
          <span className="actions">
            {QUICK_REACTIONS.filter((e) => !message.reactions.some((r) => r.emoji === e)).map((e) => (
              <button
                key={e}
                className="icon"
                aria-label={`React ${e}`}
                onClick={() => react(e, true)}
              >
                {e}
              </button>
            ))}
            {onThread !== undefined && message.replyCount === 0 && (
              <button className="icon" onClick={onThread}>Reply</button>
            )}
            {canPin && (
              <button
                className="icon"
                onClick={() => void attempt(setError, () => workspace.pinMessage(message.roomId, message.id))}
              >
                Pin
              </button>
            )}
            {mine && <button className="icon" onClick={() => setEditing(true)}>Edit</button>}
            {mine && (
              <button
                className="icon"
                onClick={() => {
                  if (window.confirm("Delete this message?")) {
                    void attempt(setError, () => workspace.remove(message.roomId, message.id))
                  }
                }}
              >
                Delete
              </button>
            )}
          </span>
        </div>
      )}
      {error !== null && <p className="error" role="alert">{error}</p>}
    </article>
  )
}

const EditBox = (
  { onCancel, onSave, text }: {
    readonly text: string
    readonly onSave: (text: string) => void
    readonly onCancel: () => void
  }
) => {
  const [value, setValue] = useState(text)
  return (
    <div className="edit">
      <label className="sr-only" htmlFor="edit-text">Edit message</label>
      <textarea
        id="edit-text"
        value={value}
        autoFocus
        onChange={(e) => setValue(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") onCancel()
          if (e.key === "Enter" && !e.shiftKey) {
            e.preventDefault()
            if (value.trim() !== "") onSave(value)
          }
        }}
      />
      <div className="row">
        <button className="primary" onClick={() => onSave(value)} disabled={value.trim() === ""}>Save</button>
        <button onClick={onCancel}>Cancel</button>
      </div>
    </div>
  )
}

const NoticeItem = ({ notice }: { readonly notice: Model.Notice }) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const [error, setError] = useState<string | null>(null)
  const teammate = notice.teammateId
  return (
    <p
      className={`notice ${notice.kind}`}
      role={notice.kind === "failed" || notice.kind === "undelivered" ? "alert" : "note"}
    >
      {notice.text}
      {notice.kind === "unanswered" && teammate !== null && state.openRoomId !== null && (
        <button
          className="link"
          onClick={() => {
            const roomId = state.openRoomId
            if (roomId !== null) void attempt(setError, () => workspace.addToRoom(roomId, teammate))
          }}
        >
          Add to this room
        </button>
      )}
      {error !== null && <span className="error">{error}</span>}
    </p>
  )
}

const PendingItem = ({ pending }: { readonly pending: Model.Pending }) => {
  const state = useAppState()
  const workspace = useWorkspace()
  return (
    <article
      className={`message pending ${pending.status}`}
      aria-label="Message"
      aria-busy={pending.status === "sending"}
    >
      <header>
        <strong className="author">{state.me?.name}</strong>
        <span className="status">{pending.status === "sending" ? "Sending…" : "Not sent"}</span>
      </header>
      {pending.text !== "" && <p className="text">{pending.text}</p>}
      {pending.attachments.length > 0 && (
        <p className="hint">{pending.attachments.map((a) => `📎 ${a.name}`).join("  ")}</p>
      )}
      {pending.status === "failed" && (
        <p className="error" role="alert">
          {pending.error}{" "}
          <button className="link" onClick={() => void workspace.retry(pending.clientMessageId)}>Retry</button>
        </p>
      )}
    </article>
  )
}

const DraftItem = ({ draft }: { readonly draft: Model.Draft }) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const teammate = state.teammates[draft.teammateId]?.teammate
  return (
    <article className="message teammate streaming" aria-label="Reply in progress" aria-busy="true">
      <header>
        <strong className="author">{teammate?.name ?? "Teammate"}</strong>
        <span className="tag">teammate</span>
        <span className="status">{draft.text === "" ? "thinking…" : "writing…"}</span>
        <button className="icon stop" onClick={() => void workspace.interrupt(draft.teammateId)}>Stop</button>
      </header>
      {draft.text !== "" && <p className="text">{draft.text}</p>}
    </article>
  )
}

/** Who a word being typed after `@` may mention. */
const mentionQuery = (text: string, caret: number) => {
  const match = /(?:^|\s)@([\w.-]*)$/.exec(text.slice(0, caret))
  return match === null ? null : match[1] ?? ""
}

const Composer = (
  { members, room, threadId }: {
    readonly room: Room
    readonly threadId: MessageId | null
    readonly members: ReadonlyArray<{ readonly handle: string; readonly name: string; readonly kind: string }>
  }
) => {
  const workspace = useWorkspace()
  const [text, setText] = useState("")
  const [files, setFiles] = useState<ReadonlyArray<Attachment>>([])
  const [uploading, setUploading] = useState(0)
  const [error, setError] = useState<string | null>(null)
  const picker = useRef<HTMLInputElement>(null)
  const [caret, setCaret] = useState(0)
  const [choice, setChoice] = useState(0)
  const input = useRef<HTMLTextAreaElement>(null)
  const query = mentionQuery(text, caret)
  const options = query === null
    ? []
    : members.filter((m) =>
      m.handle.toLowerCase().startsWith(query.toLowerCase()) || m.name.toLowerCase().startsWith(query.toLowerCase())
    ).slice(0, 8)
  useEffect(() => setChoice(0), [query])

  const complete = (handle: string) => {
    const before = text.slice(0, caret).replace(/@([\w.-]*)$/, `@${handle} `)
    const next = before + text.slice(caret)
    setText(next)
    setCaret(before.length)
    requestAnimationFrame(() => {
      input.current?.focus()
      input.current?.setSelectionRange(before.length, before.length)
    })
  }
  const send = () => {
    const value = text.trim()
    if ((value === "" && files.length === 0) || uploading > 0) return
    setText("")
    setFiles([])
    void workspace.send(room.id, value, threadId, files)
  }
  const attach = (picked: FileList | null) => {
    for (const file of Array.from(picked ?? [])) {
      setUploading((n) => n + 1)
      setError(null)
      workspace.upload(room.id, file).then(
        (a) => setFiles((fs) => [...fs, a]),
        (e: unknown) => setError(`${file.name}: ${e instanceof Error ? e.message : "not uploaded"}`)
      ).finally(() => setUploading((n) => n - 1))
    }
  }
  const unattach = (file: Attachment) => {
    setFiles((fs) => fs.filter((f) => f.id !== file.id))
    void workspace.deleteFile(room.id, file.id).catch(() => undefined)
  }
  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (options.length > 0) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault()
        setChoice((c) => (c + (e.key === "ArrowDown" ? 1 : options.length - 1)) % options.length)
        return
      }
      if (e.key === "Tab" || e.key === "Enter") {
        const picked = options[choice]
        if (picked !== undefined) {
          e.preventDefault()
          complete(picked.handle)
          return
        }
      }
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault()
      send()
    }
  }
  const label = threadId === null ? `Message ${room.kind === "public" ? "#" : ""}${room.name}` : "Reply in thread"
  return (
    <div className="composer">
      {options.length > 0 && (
        <ul className="mentions" role="listbox" aria-label="Mention">
          {options.map((m, i) => (
            <li
              key={m.handle}
              role="option"
              aria-selected={i === choice}
              onMouseDown={(e) => {
                e.preventDefault()
                complete(m.handle)
              }}
            >
              @{m.handle} <span className="hint">{m.name}{m.kind === "teammate" ? " · teammate" : ""}</span>
            </li>
          ))}
        </ul>
      )}
      <label className="sr-only" htmlFor={`composer-${threadId ?? room.id}`}>{label}</label>
      <textarea
        id={`composer-${threadId ?? room.id}`}
        ref={input}
        rows={2}
        value={text}
        placeholder={`${label} (Enter to send, Shift+Enter for a new line)`}
        onChange={(e) => {
          setText(e.target.value)
          setCaret(e.target.selectionStart)
          if (e.target.value !== "") workspace.typing(room.id)
        }}
        onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
        onKeyDown={onKeyDown}
      />
      <input
        ref={picker}
        type="file"
        multiple
        hidden
        aria-label="Files to attach"
        onChange={(e) => {
          attach(e.target.files)
          e.target.value = ""
        }}
      />
      <button className="icon attach" aria-label="Attach files" onClick={() => picker.current?.click()}>📎</button>
      <button
        className="primary"
        onClick={send}
        disabled={(text.trim() === "" && files.length === 0) || uploading > 0}
      >
        Send
      </button>
      <Staged files={files} uploading={uploading} onRemove={unattach} />
      {error !== null && <p className="error" role="alert">{error}</p>}
    </div>
  )
}

const ThreadPanel = (
  { onClose, room, threadId }: { readonly room: Room; readonly threadId: MessageId; readonly onClose: () => void }
) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    void attempt(setError, () => workspace.loadThread(room.id, threadId))
  }, [room.id, threadId, workspace])
  const root = state.histories[room.id]?.messages[threadId]
  const thread = Model.replies(state, room.id, threadId)
  const drafts = Object.values(state.drafts).filter((d) => d.roomId === room.id && d.threadId === threadId)
  const pending = state.pending.filter((p) => p.roomId === room.id && p.threadId === threadId)
  return (
    <SidePanel title="Thread" onClose={onClose}>
      <div className="messages" role="log" aria-label="Replies">
        {root !== undefined && <MessageItem message={root} />}
        <p className="day">{thread.length} {thread.length === 1 ? "reply" : "replies"}</p>
        {thread.map((m) => <MessageItem key={m.id} message={m} />)}
        {pending.map((p) => <PendingItem key={p.clientMessageId} pending={p} />)}
        {drafts.map((d) => <DraftItem key={d.runId} draft={d} />)}
      </div>
      {error !== null && <p className="error" role="alert">{error}</p>}
      {room.joined && <Composer room={room} threadId={threadId} members={workspace.people} />}
    </SidePanel>
  )
}

/** The panel beside the timeline (a thread, the pinboard), named by its title. */
const SidePanel = (
  { children, onClose, title }: { readonly title: string; readonly onClose: () => void; readonly children: ReactNode }
) => (
  <aside className="thread" aria-label={title}>
    <header className="room-header">
      <h2>{title}</h2>
      <button className="icon" aria-label={`Close ${title.toLowerCase()}`} onClick={onClose}>✕</button>
    </header>
    {children}
  </aside>
)

/** The room's pinboard: notes and pinned messages, read again whenever a pin event for the room arrives. */
const PinsPanel = ({ onClose, room }: { readonly room: Room; readonly onClose: () => void }) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const load = useCallback(() => workspace.pins(room.id), [workspace, room.id])
  const { error, setError, value: pins } = useLoaded(load, state.pinChanges[room.id] ?? 0)
  const [text, setText] = useState("")
  const canPin = room.joined && !room.archived && workspace.role !== "guest"
  const pin = () => {
    const value = text.trim()
    if (value === "") return
    void attempt(setError, async () => {
      await workspace.pinNote(room.id, value)
      setText("")
    })
  }
  return (
    <SidePanel title="Pins" onClose={onClose}>
      <div className="messages" aria-label="Pinned">
        {pins !== null && pins.length === 0 && <p className="hint">Nothing is pinned here yet.</p>}
        {(pins ?? []).map((p) => <PinItem key={p.id} pin={p} room={room} onError={setError} />)}
      </div>
      {error !== null && <p className="error" role="alert">{error}</p>}
      {canPin && (
        <div className="composer">
          <label className="sr-only" htmlFor={`pin-${room.id}`}>Pin a note</label>
          <textarea
            id={`pin-${room.id}`}
            rows={2}
            value={text}
            placeholder="Pin a note (Enter to pin)"
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey) {
                e.preventDefault()
                pin()
              }
            }}
          />
          <button className="primary" onClick={pin} disabled={text.trim() === ""}>Pin</button>
        </div>
      )}
    </SidePanel>
  )
}

const PinItem = (
  { onError, pin, room }: { readonly pin: Pin; readonly room: Room; readonly onError: (e: string | null) => void }
) => {
  const state = useAppState()
  const workspace = useWorkspace()
  const [editing, setEditing] = useState(false)
  const role = workspace.role
  const may = !room.archived && role !== null && state.me !== null &&
    mayChangePin({ userId: state.me.id, role, isMember: room.joined }, pin)
  return (
    <article className={pin.authorKind === "teammate" ? "message teammate" : "message"} aria-label="Pin">
      <header>
        <strong className="author">{pin.authorName}</strong>
        <span className="tag">{pin.kind === "note" ? "note" : "pinned message"}</span>
        <time dateTime={pin.updatedAt.toISOString()}>{time(pin.updatedAt)}</time>
        {pin.version > 1 && <span className="edited">(edited)</span>}
      </header>
      {editing
        ? (
          <EditBox
            text={pin.text}
            onCancel={() => setEditing(false)}
            onSave={(text) =>
              void attempt(onError, async () => {
                await workspace.editPin(room.id, pin.id, text, pin.version)
                setEditing(false)
              })}
          />
        )
        : <p className="text">{pin.text === "" ? "This message was deleted." : pin.text}</p>}
      {may && !editing && (
        <div className="reactions">
          <span className="actions">
            {pin.kind === "note" && <button className="icon" onClick={() => setEditing(true)}>Edit</button>}
            <button
              className="icon"
              onClick={() => {
                if (window.confirm("Unpin this?")) void attempt(onError, () => workspace.unpin(room.id, pin.id))
              }}
            >
              Unpin
            </button>
          </span>
        </div>
      )}
    </article>
  )
}

/** What one may do with a room, by role: leave it, archive it (its creator or an admin), take it back or delete it (admins). */
const RoomActions = (
  { onError, room }: { readonly room: Room; readonly onError: (e: string | null) => void }
) => {
  const workspace = useWorkspace()
  const state = useAppState()
  const direct = room.kind === "direct"
  const admin = !direct && (workspace.role === "owner" || workspace.role === "admin")
  const creator = room.createdBy === state.me?.id
  const act = (action: () => Promise<unknown>) => void attempt(onError, action)
  return (
    <div className="room-actions">
      {room.joined && (
        <button className="link" onClick={() => act(() => workspace.setMuted(room.id, !room.muted))}>
          {room.muted ? "Unmute" : "Mute"}
        </button>
      )}
      {room.joined && (
        <select
          aria-label="Notify me of"
          value={room.notify}
          onChange={(e) => {
            const level = (["all", "mentions", "none"] as const).find((l) => l === e.target.value)
            if (level !== undefined) act(() => workspace.setNotify(room.id, level))
          }}
        >
          <option value="all">Notify: every message</option>
          <option value="mentions">Notify: mentions</option>
          <option value="none">Notify: nothing</option>
        </select>
      )}
      {room.joined && !room.archived && !direct && (
        <button
          className="link"
          onClick={() => act(() => workspace.leaveRoom(room.id))}
        >
          Leave
        </button>
      )}
      {!room.archived && !direct && (admin || creator) && (
        <button
          className="link"
          onClick={() => {
            if (window.confirm(`Archive #${room.name}? It will take no new messages.`)) {
              act(() => workspace.archiveRoom(room.id))
            }
          }}
        >
          Archive
        </button>
      )}
      {room.archived && admin && (
        <button className="link" onClick={() => act(() => workspace.unarchiveRoom(room.id))}>Unarchive</button>
      )}
      {admin && (
        <button
          className="link danger"
          onClick={() => {
            if (window.confirm(`Delete #${room.name} and all its messages for everyone? This cannot be undone.`)) {
              act(() => workspace.deleteRoom(room.id))
            }
          }}
        >
          Delete
        </button>
      )}
    </div>
  )
}
