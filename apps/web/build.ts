/**
 * Builds the web app into `dist/`. With `--if-stale`, only when the build is
 * missing or older than its sources (the app's and the packages it bundles),
 * which is what `npm start` runs first.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "vite"

const root = fileURLToPath(new URL(".", import.meta.url))
const repo = Path.resolve(root, "../..")
const sources = [
  Path.join(root, "src"),
  Path.join(root, "public"),
  Path.join(root, "index.html"),
  Path.join(root, "vite.config.ts"),
  ...["domain", "api", "client"].map((p) => Path.join(repo, "packages", p, "src"))
]

const newest = (path: string): number => {
  const stat = Fs.statSync(path, { throwIfNoEntry: false })
  if (stat === undefined) return 0
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...Fs.readdirSync(path).map((name) => newest(Path.join(path, name))))
}

const built = Fs.statSync(Path.join(root, "dist", "index.html"), { throwIfNoEntry: false })?.mtimeMs ?? 0
if (process.argv.includes("--if-stale") && built > Math.max(...sources.map(newest))) {
  process.exit(0)
}
console.log("building the web app…")
await build({ configFile: Path.join(root, "vite.config.ts"), logLevel: "warn" })
console.log(`web app built into ${Path.relative(process.cwd(), Path.join(root, "dist"))}`)
