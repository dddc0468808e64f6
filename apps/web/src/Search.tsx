/**
 * Search across the workspace: the rooms the person can read, best matches
 * first, with the matched words marked, a room filter and more on demand;
 * files whose name or text matches come first.
 */
import type { FileHit } from "@troupe/domain/File"
import type { RoomId } from "@troupe/domain/Ids"
import type { SearchHit } from "@troupe/domain/Message"
import { useEffect, useState } from "react"
import { attempt } from "./App.js"
import { useAppState, useWorkspace } from "./useWorkspace.js"

const PAGE = 20

/** A snippet with its matches (between `<<` and `>>`) marked. */
const Snippet = ({ text }: { readonly text: string }) => (
  <span className="text">
    {text.split(/(<<.*?>>)/).map((part, i) =>
      part.startsWith("<<") && part.endsWith(">>") ? <mark key={i}>{part.slice(2, -2)}</mark> : part
    )}
  </span>
)

export const SearchView = ({ onClose, query }: { readonly query: string; readonly onClose: () => void }) => {
  const workspace = useWorkspace()
  const state = useAppState()
  const [room, setRoom] = useState<RoomId | "">("")
  const [hits, setHits] = useState<ReadonlyArray<SearchHit> | null>(null)
  const [more, setMore] = useState(false)
  const [files, setFiles] = useState<ReadonlyArray<FileHit>>([])
  const [error, setError] = useState<string | null>(null)
  const filter = room === "" ? undefined : room
  useEffect(() => {
    setHits(null)
    void attempt(setError, async () => {
      const first = await workspace.search(query, { room: filter, offset: 0, limit: PAGE })
      setHits(first)
      setMore(first.length === PAGE)
    })
    void attempt(setError, async () => {
      const found = await workspace.searchFiles(query)
      setFiles(filter === undefined ? found : found.filter((f) => f.file.roomId === filter))
    })
  }, [workspace, query, filter])
  const rooms = Object.values(state.rooms).filter((r) => r.joined || r.kind === "public")
    .sort((a, b) => a.name.localeCompare(b.name))
  return (
    <section className="search-view" aria-label="Search results">
      <header className="room-header">
        <h1>Results for “{query}”</h1>
        <label className="sr-only" htmlFor="search-room">In room</label>
        <select
          id="search-room"
          value={room}
          onChange={(e) => setRoom(rooms.find((r) => r.id === e.target.value)?.id ?? "")}
        >
          <option value="">All rooms</option>
          {rooms.map((r) => <option key={r.id} value={r.id}>{r.name}</option>)}
        </select>
        <button className="link" onClick={onClose}>Close</button>
      </header>
      <div className="messages">
        {hits === null && error === null && <p aria-busy="true">Searching…</p>}
        {hits !== null && hits.length === 0 && files.length === 0 && <p className="hint">Nothing matches.</p>}
        {files.length > 0 && (
          <ul className="hits" aria-label="Files">
            {files.map((hit) => (
              <li key={hit.file.id}>
                <button
                  className="hit"
                  onClick={() =>
                    void attempt(setError, async () => {
                      await workspace.openRoom(hit.file.roomId)
                      onClose()
                    })}
                >
                  <span className="meta">
                    📎 <strong>{hit.file.name}</strong> in {state.rooms[hit.file.roomId]?.name ?? "a room"}
                    {" · "}
                    {hit.file.uploaderName}
                  </span>
                  <Snippet text={hit.snippet} />
                </button>
              </li>
            ))}
          </ul>
        )}
        <ul className="hits" aria-label="Matches">
          {(hits ?? []).map((hit) => (
            <li key={hit.message.id}>
              <button
                className="hit"
                onClick={() =>
                  void attempt(setError, async () => {
                    await workspace.openRoom(hit.message.roomId)
                    onClose()
                  })}
              >
                <span className="meta">
                  <strong>{hit.message.authorName}</strong> in {state.rooms[hit.message.roomId]?.name ?? "a room"}
                  {" · "}
                  {hit.message.createdAt.toLocaleString()}
                </span>
                <Snippet text={hit.snippet} />
              </button>
            </li>
          ))}
        </ul>
        {more && hits !== null && (
          <button
            onClick={() =>
              void attempt(setError, async () => {
                const next = await workspace.search(query, { room: filter, offset: hits.length, limit: PAGE })
                setHits([...hits, ...next])
                setMore(next.length === PAGE)
              })}
          >
            More results
          </button>
        )}
        {error !== null && <p className="error" role="alert">{error}</p>}
      </div>
    </section>
  )
}
