/**
 * Builds `@troupe/client` as a package an outside developer installs: plain
 * JavaScript modules (ES2022, no Node built-ins, so browser bundlers take
 * them too) with type declarations, and the contract it is derived from
 * (`@troupe/api`, `@troupe/domain`) built in as `@troupe/client/api/*` and
 * `@troupe/client/domain/*`. Effect's packages stay peer dependencies, so
 * an app that uses Effect shares one copy with the SDK.
 *
 *   tsx packages/client/build.ts [--out DIR] [--pack]
 *
 * writes the package to `packages/client/dist/package` (or DIR); `--pack`
 * also writes its `npm pack` tarball beside it and prints the tarball's path.
 */
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL(".", import.meta.url))
const repo = Path.resolve(root, "../..")
const argument = (name: string) => {
  const at = process.argv.indexOf(name)
  return at < 0 ? undefined : process.argv[at + 1]
}
const out = Path.resolve(argument("--out") ?? Path.join(root, "dist", "package"))

/** The SDK's own modules, then the contract's, each an entry point of its own. */
const modules = (dir: string) => Fs.readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => f.slice(0, -3)).sort()
const parts = [
  { from: Path.join(root, "src"), to: "", names: modules(Path.join(root, "src")) },
  { from: Path.join(repo, "packages/api/src"), to: "api/", names: modules(Path.join(repo, "packages/api/src")) },
  {
    from: Path.join(repo, "packages/domain/src"),
    to: "domain/",
    names: modules(Path.join(repo, "packages/domain/src"))
  }
]

const readJson = (path: string): Record<string, unknown> => {
  const parsed: unknown = JSON.parse(Fs.readFileSync(path, "utf8"))
  return typeof parsed === "object" && parsed !== null ? Object.fromEntries(Object.entries(parsed)) : {}
}
const own = readJson(Path.join(root, "package.json"))
const dependencies = new Map(Object.entries(own.dependencies ?? {}))
const peers = ["effect", "@effect/platform", "@effect/experimental"]

Fs.rmSync(out, { recursive: true, force: true })
Fs.mkdirSync(out, { recursive: true })

// JavaScript: one module per entry, the code they share in chunks, so a schema class is one class
// whichever entry it is reached through.
await build({
  entryPoints: Object.fromEntries(
    parts.flatMap((p) => p.names.map((n) => [`${p.to}${n}`, Path.join(p.from, `${n}.ts`)]))
  ),
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  chunkNames: "chunks/[name]-[hash]",
  external: peers.flatMap((p) => [p, `${p}/*`]),
  sourcemap: true,
  sourcesContent: true,
  logLevel: "warning"
})

// Declarations: the compiler's, for the SDK and the contract, with the contract's package names
// turned into paths inside this package.
execFileSync(process.execPath, [Path.join(repo, "node_modules/typescript/bin/tsc"), "-b", root], { stdio: "inherit" })
const declarations = (pkg: string) => Path.join(repo, "packages", pkg, "dist", "src")
const placed = [
  { from: declarations("client"), to: "" },
  { from: declarations("api"), to: "api/" },
  { from: declarations("domain"), to: "domain/" }
]
for (const { from, to } of placed) {
  for (const file of Fs.readdirSync(from).filter((f) => f.endsWith(".d.ts"))) {
    const target = Path.join(out, to, file)
    const text = Fs.readFileSync(Path.join(from, file), "utf8")
      .replace(/^\/\/# sourceMappingURL=.*$/m, "")
      .replace(/(["'])@troupe\/(api|domain)\/([A-Za-z]+)\1/g, (_all, quote: string, pkg: string, name: string) => {
        const relative = Path.relative(Path.dirname(target), Path.join(out, pkg, `${name}.js`))
        return `${quote}${relative.startsWith(".") ? relative : `./${relative}`}${quote}`
      })
    Fs.mkdirSync(Path.dirname(target), { recursive: true })
    Fs.writeFileSync(target, text)
  }
}

const subpath = (name: string) => ({ types: `./${name}.d.ts`, default: `./${name}.js` })
const manifest = {
  name: "@troupe/client",
  version: own.version,
  description:
    "The client SDK of Troupe: every endpoint as a typed call, and the event stream followed across reconnections.",
  type: "module",
  sideEffects: false,
  exports: Object.fromEntries([
    ...parts[0].names.map((n) => [`./${n}`, subpath(n)]),
    ["./api/*", subpath("api/*")],
    ["./domain/*", subpath("domain/*")],
    ["./package.json", "./package.json"]
  ]),
  peerDependencies: Object.fromEntries(peers.map((p) => [p, dependencies.get(p) ?? "*"])),
  engines: { node: ">=20" }
}
Fs.writeFileSync(Path.join(out, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`)
Fs.copyFileSync(Path.join(root, "README.md"), Path.join(out, "README.md"))

if (process.argv.includes("--pack")) {
  const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", Path.dirname(out)], { cwd: out })
    .toString().trim().split("\n").pop() ?? ""
  console.log(Path.join(Path.dirname(out), name))
} else {
  console.log(`@troupe/client built into ${Path.relative(process.cwd(), out) || "."}`)
}
