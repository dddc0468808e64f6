/**
 * Builds the browser app into `dist/`, which the server serves. `npm run dev
 * -w @troupe/web` serves it with hot reload, proxying the API to a server on
 * port 8787.
 */
import react from "@vitejs/plugin-react"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vite"

const api = process.env["TROUPE_URL"] ?? "http://127.0.0.1:8787"

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1500 },
  server: { proxy: { "/v1": api } }
})
