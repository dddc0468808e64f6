/**
 * The SDK as it is published: built with `packages/client/build.ts`, packed
 * by npm, unpacked into a project of its own beside nothing of this
 * repository but Effect (its peer dependencies). Plain Node runs it against a
 * real server; the TypeScript compiler finds its types (a wrong payload does
 * not compile); a browser bundle of it needs no Node built-ins.
 */
import { describe, expect, layer } from "@effect/vitest"
import { Effect } from "effect"
import { build } from "esbuild"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { baseUrl, email, slug, TestServer } from "./Harness.js"

const run = promisify(execFile)
const repo = fileURLToPath(new URL("../../..", import.meta.url))
const tsc = Path.join(repo, "node_modules/typescript/bin/tsc")

/** Builds and packs the SDK, and unpacks it into a new project; the project's directory, removed afterwards. */
const project = Effect.acquireRelease(
  Effect.promise(async () => {
    const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "troupe-sdk-"))
    const { stdout } = await run(
      process.execPath,
      [
        Path.join(repo, "node_modules/tsx/dist/cli.mjs"),
        Path.join(repo, "packages/client/build.ts"),
        "--out",
        Path.join(work, "package"),
        "--pack"
      ],
      { cwd: repo }
    )
    const tarball = stdout.trim().split("\n").pop() ?? ""
    const app = Path.join(work, "app")
    const modules = Path.join(app, "node_modules")
    Fs.mkdirSync(Path.join(modules, "@troupe"), { recursive: true })
    Fs.mkdirSync(Path.join(modules, "@effect"), { recursive: true })
    await run("tar", ["-xzf", tarball, "-C", Path.join(modules, "@troupe")])
    Fs.renameSync(Path.join(modules, "@troupe", "package"), Path.join(modules, "@troupe", "client"))
    for (const peer of ["effect", "@effect/platform", "@effect/experimental"]) {
      Fs.symlinkSync(Path.join(repo, "node_modules", peer), Path.join(modules, peer), "dir")
    }
    Fs.writeFileSync(Path.join(app, "package.json"), JSON.stringify({ name: "app", type: "module", private: true }))
    return app
  }),
  (app) => Effect.sync(() => Fs.rmSync(Path.dirname(app), { recursive: true, force: true }))
)

const consumer = `
import * as Troupe from "@troupe/client/Troupe"
import { Message } from "@troupe/client/domain/Message"
import { Schema } from "effect"

const [url, email, slug] = process.argv.slice(2)
const troupe = Troupe.create({ baseUrl: url })
await troupe.signup({ email, password: "correct horse battery", name: "Pat" })
const org = await troupe.call((api) => api.orgs.create({ payload: { name: "Packaged", slug } }))
const room = await troupe.call((api) => api.rooms.create({ path: { org: org.id }, payload: { name: "sdk" } }))
const { position } = await troupe.call((api) => api.rooms.list({ path: { org: org.id } }))
const posted = await troupe.call((api) =>
  api.messages.post({ path: { room: room.id }, payload: { text: "hello from a packaged SDK" } })
)
let seen
for await (const delivered of troupe.events({ lastEventId: position })) {
  if (delivered.event.type === "message.created") {
    seen = delivered.event.message
    break
  }
}
const refusal = await troupe
  .call((api) => api.rooms.get({ path: { room: "00000000-0000-4000-8000-000000000000" } }))
  .then(() => null, (e) => ({ tag: e._tag, message: e.message }))
console.log(JSON.stringify({ posted: posted.id, seen: seen.id, text: seen.text, isMessage: Schema.is(Message)(seen), refusal }))
`

const typed = (text: string) => `
import * as Troupe from "@troupe/client/Troupe"
import type { Delivered } from "@troupe/client/domain/Event"
import { RoomId } from "@troupe/client/domain/Ids"

const troupe = Troupe.create({ baseUrl: "http://127.0.0.1:1" })
export const post = () =>
  troupe.call((api) =>
    api.messages.post({ path: { room: RoomId.make("00000000-0000-4000-8000-000000000000") }, payload: { text: ${text} } })
  )
export const texts = async (): Promise<Array<string>> => {
  const found: Array<string> = []
  for await (const delivered of troupe.events()) {
    const event: Delivered["event"] = delivered.event
    if (event.type === "message.created") found.push(event.message.text)
  }
  return found
}
`

const compile = (app: string, file: string, source: string) =>
  Effect.promise(async () => {
    Fs.writeFileSync(Path.join(app, file), source)
    Fs.writeFileSync(
      Path.join(app, `tsconfig.${file}.json`),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          lib: ["es2022", "dom"],
          types: [],
          noEmit: true,
          skipLibCheck: true
        },
        files: [file]
      })
    )
    return run(process.execPath, [tsc, "-p", `tsconfig.${file}.json`], { cwd: app }).then(
      () => "",
      (e: { stdout?: string }) => e.stdout ?? "failed"
    )
  })

describe("the SDK as a package", () => {
  layer(TestServer(), { excludeTestServices: true, timeout: 120_000 })((it) => {
    it.scoped(
      "plain Node runs it against a server; its types compile and catch a wrong payload; it bundles for a browser",
      () =>
        Effect.gen(function*() {
          const app = yield* project
          const url = yield* baseUrl

          Fs.writeFileSync(Path.join(app, "consumer.mjs"), consumer)
          const ran = yield* Effect.promise(() =>
            run(process.execPath, ["consumer.mjs", url, email("pkg"), slug()], { cwd: app })
          )
          const result: unknown = JSON.parse(ran.stdout)
          expect(result).toMatchObject({
            text: "hello from a packaged SDK",
            isMessage: true,
            refusal: { tag: "NotFound" }
          })
          expect(result).toHaveProperty("seen", Reflect.get(Object(result), "posted"))

          expect(yield* compile(app, "good.ts", typed(`"hello"`))).toBe("")
          const wrong = yield* compile(app, "bad.ts", typed("42"))
          expect(wrong).toContain("bad.ts")
          expect(wrong).toMatch(/'number' is not assignable to type 'string'/)

          const bundled = yield* Effect.promise(() =>
            build({
              stdin: {
                contents:
                  `import * as Troupe from "@troupe/client/Troupe"\nexport const troupe = Troupe.create({ baseUrl: "/" })\n`,
                resolveDir: app,
                loader: "js"
              },
              bundle: true,
              platform: "browser",
              format: "esm",
              write: false,
              logLevel: "silent"
            })
          )
          expect(bundled.errors).toEqual([])
          expect(bundled.outputFiles.map((f) => f.text).join("")).not.toMatch(/from\s*"node:/)
        }),
      180_000
    )
  })
})
