/**
 * A person's avatar: their picture once it has loaded (read with the
 * bearer token, so through `fetch`), else their initial.
 */
import { useEffect, useState } from "react"
import { useWorkspace } from "./useWorkspace.js"

export const Avatar = ({ name, path }: { readonly path: string | null; readonly name: string }) => {
  const workspace = useWorkspace()
  const [image, setImage] = useState<string | null>(null)
  useEffect(() => {
    setImage(null)
    if (path === null) return
    let live = true
    workspace.avatarImage(path).then((url) => {
      if (live) setImage(url)
    }, () => undefined)
    return () => {
      live = false
    }
  }, [path, workspace])
  if (image !== null) return <img className="avatar" src={image} alt="" aria-hidden="true" />
  return <span className="avatar initial" aria-hidden="true">{(name.trim()[0] ?? "?").toUpperCase()}</span>
}
