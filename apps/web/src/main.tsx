/** Mounts the app. */
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { App } from "./App.js"
import "./styles.css"
import { Workspace } from "./workspace.js"

const workspace = new Workspace()
const root = document.getElementById("root")
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <App workspace={workspace} />
    </StrictMode>
  )
}
void workspace.boot()
