/**
 * Files in messages: images shown in place, other files as a download, and
 * the composer's row of files waiting to be sent. Bytes are fetched with the
 * session's token and handed to the page as local object URLs.
 */
import type { Attachment } from "@troupe/domain/File"
import type { RoomId } from "@troupe/domain/Ids"
import { useEffect, useState } from "react"
import { useWorkspace } from "./useWorkspace.js"

/** A size for people: bytes, KB or MB. */
export const fileSize = (bytes: number) =>
  bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024
    ? `${Math.round(bytes / 1024)} KB`
    : `${(bytes / 1024 / 1024).toFixed(1)} MB`

const isImage = (a: Attachment) => /^image\/(png|jpeg|gif|webp)$/.test(a.contentType)

const Picture = ({ file, roomId }: { readonly roomId: RoomId; readonly file: Attachment }) => {
  const workspace = useWorkspace()
  const [url, setUrl] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    let made: string | null = null
    workspace.fileUrl(roomId, file.id).then((u) => {
      made = u
      if (live) setUrl(u)
      else URL.revokeObjectURL(u)
    }, () => undefined)
    return () => {
      live = false
      if (made !== null) URL.revokeObjectURL(made)
    }
  }, [roomId, file.id, workspace])
  return url === null
    ? <span className="picture loading" aria-busy="true">{file.name}</span>
    : <img className="picture" src={url} alt={file.name} />
}

const Download = ({ file, roomId }: { readonly roomId: RoomId; readonly file: Attachment }) => {
  const workspace = useWorkspace()
  const [error, setError] = useState<string | null>(null)
  const save = async () => {
    setError(null)
    try {
      const url = await workspace.fileUrl(roomId, file.id)
      const link = document.createElement("a")
      link.href = url
      link.download = file.name
      link.click()
      setTimeout(() => URL.revokeObjectURL(url), 60_000)
    } catch (e) {
      setError(e instanceof Error ? e.message : "the file could not be downloaded")
    }
  }
  return (
    <span className="download">
      <button className="file" onClick={() => void save()} aria-label={`Download ${file.name}`}>
        📎 {file.name} <span className="hint">{fileSize(file.size)}</span>
      </button>
      {error !== null && <span className="error" role="alert">{error}</span>}
    </span>
  )
}

/** A message's files. */
export const Attachments = (
  { files, roomId }: { readonly roomId: RoomId; readonly files: ReadonlyArray<Attachment> }
) =>
  files.length === 0 ? null : (
    <div className="attachments" aria-label="Attachments">
      {files.map((f) =>
        isImage(f) ? <Picture key={f.id} roomId={roomId} file={f} /> : <Download key={f.id} roomId={roomId} file={f} />
      )}
    </div>
  )

/** The files uploaded for the message being written, each removable before sending. */
export const Staged = (
  { files, onRemove, uploading }: {
    readonly files: ReadonlyArray<Attachment>
    readonly uploading: number
    readonly onRemove: (file: Attachment) => void
  }
) =>
  files.length === 0 && uploading === 0 ? null : (
    <ul className="staged" aria-label="Files to send">
      {files.map((f) => (
        <li key={f.id}>
          📎 {f.name} <span className="hint">{fileSize(f.size)}</span>
          <button className="icon" aria-label={`Remove ${f.name}`} onClick={() => onRemove(f)}>✕</button>
        </li>
      ))}
      {uploading > 0 && <li aria-busy="true">Uploading {uploading === 1 ? "a file" : `${uploading} files`}…</li>}
    </ul>
  )
