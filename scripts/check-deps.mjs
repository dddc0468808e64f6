// Checks that workspace dependencies point one way, as the README's table
// says, that tsconfig references mirror them exactly, and that there is no cycle.
import { readdirSync, readFileSync } from "node:fs"
import { join, resolve } from "node:path"

const allowed = {
  domain: [],
  api: ["domain"],
  client: ["api", "domain"],
  store: ["domain"],
  realtime: ["domain"],
  llm: ["domain"],
  feed: ["domain", "store", "realtime"],
  teammates: ["domain", "store", "realtime", "llm"],
  workspace: ["domain", "store", "realtime", "llm", "teammates"],
  gateway: ["domain", "store", "realtime", "workspace"],
  server: ["domain", "api", "client", "store", "realtime", "llm", "feed", "teammates", "workspace", "gateway"],
  bench: ["domain", "client", "store", "llm", "gateway", "server"],
  // The browser app; its tests start real server processes.
  web: ["domain", "api", "client", "store", "server"],
  // The troupe command (`run agent` runs a teammate's turn in the process); its tests start a real server process.
  cli: ["domain", "api", "client", "llm", "teammates", "store", "server"]
}

const dirs = ["packages", "apps"].flatMap((top) => readdirSync(top).map((d) => join(top, d)))
const problems = []
const graph = new Map()
for (const dir of dirs) {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
  const name = pkg.name.replace("@troupe/", "")
  const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })
    .filter((d) => d.startsWith("@troupe/")).map((d) => d.replace("@troupe/", ""))
  graph.set(name, deps)
  for (const d of deps) {
    if (!(allowed[name] ?? []).includes(d)) problems.push(`${name} may not depend on ${d}`)
  }
  const ts = JSON.parse(readFileSync(join(dir, "tsconfig.json"), "utf8"))
  const refs = (ts.references ?? []).map((r) => resolve(dir, r.path).split("/").pop()).sort()
  if (JSON.stringify(refs) !== JSON.stringify([...deps].sort())) {
    problems.push(`${name}: tsconfig references [${refs}] do not match dependencies [${[...deps].sort()}]`)
  }
  for (const file of walk(join(dir, "src"))) {
    const text = readFileSync(file, "utf8")
    for (const m of text.matchAll(/from "@troupe\/([a-z]+)/g)) {
      if (m[1] !== name && !deps.includes(m[1])) problems.push(`${file} imports @troupe/${m[1]} without declaring it`)
    }
    if (/from "\.\.\/\.\.\/(packages|apps)/.test(text)) {
      problems.push(`${file} imports another package by relative path`)
    }
  }
}

const visiting = new Set()
const done = new Set()
const visit = (n, path) => {
  if (done.has(n)) return
  if (visiting.has(n)) return problems.push(`dependency cycle: ${[...path, n].join(" -> ")}`)
  visiting.add(n)
  for (const d of graph.get(n) ?? []) visit(d, [...path, n])
  visiting.delete(n)
  done.add(n)
}
for (const n of graph.keys()) visit(n, [])

function* walk(dir) {
  let entries = []
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield* walk(p)
    else if (p.endsWith(".ts")) yield p
  }
}

if (problems.length > 0) {
  console.error(problems.join("\n"))
  process.exit(1)
}
console.log(`dependency check: ${graph.size} workspaces, edges point one way, no cycles`)
