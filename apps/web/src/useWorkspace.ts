/** The workspace's state in React, through `useSyncExternalStore`. */
import { createContext, useContext, useSyncExternalStore } from "react"
import type { State } from "./model.js"
import type { Workspace } from "./workspace.js"

export const WorkspaceContext = createContext<Workspace | null>(null)

/** The workspace of this tab. */
export const useWorkspace = (): Workspace => {
  const workspace = useContext(WorkspaceContext)
  if (workspace === null) throw new Error("useWorkspace outside <WorkspaceContext>")
  return workspace
}

/** The current state; the component re-renders when it changes. */
export const useAppState = (): State => {
  const workspace = useWorkspace()
  return useSyncExternalStore(workspace.subscribe, workspace.snapshot)
}
