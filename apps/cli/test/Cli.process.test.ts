/**
 * The troupe command as a real process against a real server process: sign
 * in, list, post, and follow a room's stream across a server restart (the
 * stream resumes after the last event it printed: nothing missed, nothing
 * twice); upload, list and download a file; give a teammate a task and
 * follow it to the end; export the org and a person, and erase the person; manage webhooks
 * and channel accounts and tail an account's traffic; wrong input, wrong passwords and an absent server
 * give their exit codes and a plain message.
 */
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import * as TroupeClient from "@troupe/client/TroupeClient"
import * as FakeOpenAI from "@troupe/llm/testing/FakeOpenAI"
import { freePort, startNode, stopGracefully } from "@troupe/server/testing/NodeProcess"
import * as Database from "@troupe/store/Database"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../bin/troupe.js", import.meta.url))
const configDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "troupe-cli-"))
const PASSWORD = "correct horse battery"

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** A running `troupe`: what it has printed so far, and its end. */
interface Running {
  readonly child: ChildProcess
  /** Resolves once the process has printed `lines` lines on stdout. */
  readonly printed: (lines: number) => Effect.Effect<ReadonlyArray<string>>
  /** Resolves once stdout matches `pattern`. */
  readonly shows: (pattern: RegExp) => Effect.Effect<string>
  readonly finished: Effect.Effect<Ran>
}

/**
 * Starts `troupe args…` with its own config directory, collecting its output from the start.
 * `input` is written to its stdin, which is then closed; with `null` stdin stays open for the test.
 */
const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}, input: string | null = ""): Running => {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { PATH: process.env["PATH"] ?? "", HOME: configDir, TROUPE_CONFIG_DIR: configDir, ...env },
    stdio: ["pipe", "pipe", "pipe"]
  })
  if (input !== null) child.stdin?.end(input)
  let stdout = ""
  let stderr = ""
  let exit: number | null | undefined = undefined
  const waiters = new Set<() => void>()
  const notify = () => {
    for (const w of [...waiters]) w()
  }
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString()
    notify()
  })
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()))
  child.once("close", (code) => {
    exit = code
    notify()
  })
  const until = <A>(ready: () => A | undefined) =>
    Effect.async<A>((resume) => {
      const check = () => {
        const value = ready()
        if (value === undefined) return
        waiters.delete(check)
        resume(Effect.succeed(value))
      }
      waiters.add(check)
      check()
      return Effect.sync(() => waiters.delete(check))
    })
  const lines = () => stdout.split("\n").filter((l) => l !== "")
  return {
    child,
    printed: (n) => until(() => (lines().length >= n ? lines() : undefined)),
    shows: (pattern) => until(() => (pattern.test(stdout) ? stdout : undefined)),
    finished: until(() => (exit === undefined ? undefined : { code: exit, stdout, stderr }))
  }
}

const troupe = (args: ReadonlyArray<string>, env: Record<string, string> = {}, input = "") =>
  start(args, env, input).finished

describe("the troupe command", () => {
  it.live(
    "signs in, lists, posts, follows a room across a server restart, and says what went wrong",
    () =>
      Effect.gen(function*() {
        const database = yield* Database.makeTestDatabase
        const port = yield* freePort
        const env = { PORT: String(port) }
        let node = yield* startNode(database, env, "cli")
        const url = node.url
        const email = `ana.${randomBytes(4).toString("hex")}@example.com`
        const anonymous = yield* TroupeClient.make({ baseUrl: url })
        const ana = yield* anonymous.auth.signup({ payload: { email, password: PASSWORD, name: "Ana" } })
        const api = yield* TroupeClient.make({ baseUrl: url, token: ana.token })
        const org = yield* api.orgs.create({
          payload: { name: "Acme", slug: `acme-${randomBytes(3).toString("hex")}` }
        })

        // Signing up from a terminal: a taken address is the server's message; a new one is signed in at once.
        const taken = yield* troupe(["signup", "--url", url, "--email", email, "--name", "Ana", "--password", PASSWORD])
        expect([taken.code, taken.stderr]).toEqual([
          2,
          expect.stringContaining(`an account for ${email} already exists`)
        ])
        const cy = `cy.${randomBytes(4).toString("hex")}@example.com`
        const signup = yield* troupe(["signup", "--url", url, "--email", cy, "--name", "Cy"], {
          TROUPE_PASSWORD: PASSWORD
        })
        expect([signup.code, signup.stdout]).toEqual([0, expect.stringContaining(`Signed up at ${url} as Cy <${cy}>`)])
        const cysOrgs = yield* troupe(["orgs", "--json"])
        expect([cysOrgs.code, cysOrgs.stdout]).toEqual([0, ""])

        // A wrong password is the server's message and exit code 2; the right one is stored for the user only.
        const wrong = yield* troupe(["login", "--url", url, "--email", email, "--password", "nope nope nope"])
        expect([wrong.code, wrong.stderr]).toEqual([2, expect.stringMatching(/wrong e-?mail or password/i)])
        const login = yield* troupe(["login", "--url", url, "--email", email], { TROUPE_PASSWORD: PASSWORD })
        expect([login.code, login.stdout]).toEqual([0, expect.stringContaining("Signed in")])
        const stored = Path.join(configDir, "credentials.json")
        expect(Fs.statSync(stored).mode & 0o777).toBe(0o600)

        const orgs = yield* troupe(["orgs", "--json"])
        expect(orgs.code).toBe(0)
        expect(orgs.stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([
          { id: org.id, name: "Acme", slug: org.slug, role: "owner" }
        ])
        const rooms = yield* troupe(["rooms"])
        expect(rooms.stdout).toMatch(/^#general\s+public\s+yes\s+0/m)

        // Follow #general from now; three messages, the server restarting after the first.
        const { position } = yield* api.rooms.list({ path: { org: org.id } })
        const follower = start(["tail", "general", "--json", "--count", "3", "--after", position])
        const first = yield* troupe(["say", "#general", "first words"])
        expect([first.code, first.stdout]).toEqual([0, "Posted to #general.\n"])
        yield* follower.printed(1)
        yield* stopGracefully(node.child)
        node = yield* startNode(database, env, "cli-again")
        for (const text of ["second words", "third words"]) {
          expect((yield* troupe(["say", "general", text])).code).toBe(0)
        }
        const tail = yield* follower.finished
        expect(tail.code).toBe(0)
        const events = tail.stdout.trim().split("\n").map((l) => JSON.parse(l))
        expect(events.map((e) => e.event.message.text)).toEqual(["first words", "second words", "third words"])
        expect(new Set(events.map((e) => e.id)).size).toBe(3)

        // A file: uploaded with a message, listed, downloaded byte for byte (never over an existing file).
        const notes = Path.join(configDir, "notes.md")
        Fs.writeFileSync(notes, "# Notes\nship on Friday\n")
        const uploaded = yield* troupe(["upload", "general", notes, "--message", "the notes", "--json"])
        expect(uploaded.code, uploaded.stderr).toBe(0)
        const file = JSON.parse(uploaded.stdout)
        expect(file).toMatchObject({ name: "notes.md", size: 23 })
        const listed = yield* troupe(["files", "general"])
        expect(listed.stdout).toMatch(/^notes\.md\s+23 B\s+text\/plain\s+Ana/m)
        const copy = Path.join(configDir, "copy.md")
        const saved = yield* troupe(["download", "general", file.id, "--out", copy])
        expect(saved.code, saved.stderr).toBe(0)
        expect(Fs.readFileSync(copy, "utf8")).toBe("# Notes\nship on Friday\n")
        const again = yield* troupe(["download", "general", file.id, "--out", copy])
        expect([again.code, again.stderr]).toEqual([1, expect.stringContaining("--out")])

        // A task for a teammate of the room, followed until it ends.
        const general = (yield* api.rooms.list({ path: { org: org.id } })).rooms.find((r) => r.name === "general")
        const rhea = yield* api.teammates.hire({ path: { org: org.id }, payload: { template: "researcher" } })
        yield* api.teammates.addToRoom({ path: { room: general!.id }, payload: { teammateId: rhea.id } })
        const work = yield* troupe(["task", "general", `@${rhea.handle}`, "List three launch risks", "--wait"])
        expect(work.code, work.stderr).toBe(0)
        const progress = work.stdout.trim().split("\n")
        expect(progress[0]).toBe("Rhea: List three launch risks: queued")
        expect(progress.at(-1)).toMatch(/: succeeded \((\d)\/\1 steps\)$/)
        const tasks = yield* troupe(["tasks", "general", "--json"])
        expect(tasks.stdout.trim().split("\n").map((l) => JSON.parse(l).status)).toEqual(["succeeded"])
        // The teammate, its runs (the task is one) and its memory.
        const mates = yield* troupe(["teammates"])
        expect(mates.stdout).toMatch(new RegExp(`^@${rhea.handle}\\s+Rhea\\s+Researcher`, "m"))
        const ran = yield* troupe(["runs", `@${rhea.handle}`, "--json"])
        expect(ran.code, ran.stderr).toBe(0)
        const runLines = ran.stdout.trim().split("\n").map((l) => JSON.parse(l))
        expect(runLines.map((r) => r.status)).toContain("completed")
        expect(runLines.every((r) => r.steps > 0 && r.inputTokens > 0)).toBe(true)
        const remembered = yield* troupe(["memory", `@${rhea.handle}`, "--json"])
        expect(remembered.code, remembered.stderr).toBe(0)
        expect(JSON.parse(remembered.stdout)).toMatchObject({ entries: [] })
        const nobody = yield* troupe(["task", "general", "@nobody", "x"])
        expect([nobody.code, nobody.stderr]).toEqual([2, "troupe: no teammate @nobody in this org\n"])

        // A conversation in the teammate's DM, lines piped in: each reply streamed, then the next line sent.
        const talk = yield* troupe(["chat", `@${rhea.handle}`], {}, "hello there\nremember that we ship on Friday\n")
        expect(talk.code, talk.stderr).toBe(0)
        expect(talk.stdout.trim().split("\n")).toEqual([
          "Rhea: [local model] You said: Ana: hello there",
          "Rhea: [local model] Noted: we ship on Friday."
        ])
        expect(talk.stderr).toContain("Rhea is thinking…")

        // A teammate hired from the catalog, changed from a YAML file and a flag, dismissed.
        const hired = yield* troupe(["teammates", "hire", "editor", "--json"])
        expect([hired.code, JSON.parse(hired.stdout)]).toEqual([0, expect.objectContaining({ handle: "ed" })])
        const settings = Path.join(configDir, "ed.yaml")
        Fs.writeFileSync(settings, "role: Copy editor\nbusyPolicy: queue\ntools: [remember]\n")
        const updated = yield* troupe(["teammates", "update", "@ed", "--file", settings, "--name", "Edna", "--json"])
        expect(updated.code, updated.stderr).toBe(0)
        expect(JSON.parse(updated.stdout)).toMatchObject({
          name: "Edna",
          role: "Copy editor",
          busyPolicy: "queue",
          tools: ["remember"]
        })
        const dismissed = yield* troupe(["teammates", "dismiss", "@ed"])
        expect([dismissed.code, dismissed.stdout]).toEqual([0, expect.stringMatching(/^Dismissed @ed \(Edna/)])
        const ed = (yield* api.teammates.list({ path: { org: org.id } })).find((t) => t.handle === "ed")
        expect(ed).toMatchObject({ dismissed: true, name: "Edna" })
        // Settings that do not fit are usage errors naming the field; nothing is sent.
        const bad = Path.join(configDir, "bad.json")
        Fs.writeFileSync(bad, JSON.stringify({ handle: "max", name: "Max", role: "Helper", busyPolicy: "sometimes" }))
        const unfit = yield* troupe(["teammates", "create", "--file", bad])
        expect([unfit.code, unfit.stderr]).toEqual([1, expect.stringMatching(/^troupe: busyPolicy: /)])

        // An admin verb; an API key with a member's role is refused it by the server.
        const budget = yield* troupe(["budget", "set", "50000"])
        expect([budget.code, budget.stdout]).toEqual([0, "Acme's monthly token budget is 50,000 tokens.\n"])
        expect((yield* api.teammates.usage({ path: { org: org.id } })).monthlyTokenBudget).toBe(50000)
        const key = yield* troupe(["keys", "create", "ci", "--role", "member", "--json"])
        expect(key.code, key.stderr).toBe(0)
        const asMember = yield* troupe(["budget", "set", "10"], { TROUPE_TOKEN: JSON.parse(key.stdout).secret })
        expect([asMember.code, asMember.stderr]).toEqual([2, expect.stringMatching(/^troupe: .*admin/)])
        const notANumber = yield* troupe(["budget", "set", "lots"])
        expect([notANumber.code, notANumber.stderr]).toEqual([1, expect.stringContaining("lots is not a budget")])

        // Usage errors are 1, server errors 2, an unreachable server 3; never a stack trace.
        const missing = yield* troupe(["say", "general"])
        expect(missing.code).toBe(1)
        const unknownRoom = yield* troupe(["say", "nowhere", "hello"])
        expect([unknownRoom.code, unknownRoom.stderr]).toEqual([2, "troupe: no room nowhere you can see\n"])
        const away = yield* troupe(["orgs", "--url", "http://127.0.0.1:1"])
        expect([away.code, away.stderr]).toEqual([3, expect.stringContaining("cannot reach Troupe")])
        for (const r of [missing, unknownRoom, away]) expect(r.stderr).not.toMatch(/\n\s+at /)

        const logout = yield* troupe(["logout"])
        expect(logout.code).toBe(0)
        expect(Fs.existsSync(stored)).toBe(false)
        const after = yield* troupe(["orgs"])
        expect([after.code, after.stderr]).toEqual([1, expect.stringContaining("troupe login")])
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)),
    // Some forty short-lived processes, each starting Node and its TypeScript: slow on a busy machine.
    600_000
  )

  it.live(
    "chat prints a reply token by token as it streams, and Ctrl-C interrupts the turn, not the chat",
    () =>
      Effect.gen(function*() {
        // A model that streams as slowly as a message asks ([[slow:MS]] between chunks).
        const fake = yield* FakeOpenAI.make
        const database = yield* Database.makeTestDatabase
        const node = yield* startNode(database, { OPENAI_BASE_URL: fake.baseURL, OPENAI_API_KEY: "test-key" }, "chat")
        const anonymous = yield* TroupeClient.make({ baseUrl: node.url })
        const email = `bo.${randomBytes(4).toString("hex")}@example.com`
        const bo = yield* anonymous.auth.signup({ payload: { email, password: PASSWORD, name: "Bo" } })
        const api = yield* TroupeClient.make({ baseUrl: node.url, token: bo.token })
        const org = yield* api.orgs.create({
          payload: { name: "Beta", slug: `beta-${randomBytes(3).toString("hex")}` }
        })
        const rhea = yield* api.teammates.hire({ path: { org: org.id }, payload: { template: "researcher" } })

        const chat = start(["chat", "@rhea"], { TROUPE_URL: node.url, TROUPE_TOKEN: bo.token }, null)
        chat.child.stdin?.write("hello\n")
        yield* chat.shows(/^Rhea: echo: Bo: hello\n$/)
        // The first tokens of a slow reply show while its turn runs: Ctrl-C stops the turn, the chat goes on.
        chat.child.stdin?.write("tell me a long story [[slow:4000]]\n")
        yield* chat.shows(/\nRhea: echo/)
        chat.child.kill("SIGINT")
        yield* chat.shows(/\(interrupted\)\n$/)
        chat.child.stdin?.write("quick one\n")
        yield* chat.shows(/Rhea: echo: Bo: quick one\n$/)
        chat.child.stdin?.end()
        const ended = yield* chat.finished
        expect(ended.code, ended.stderr).toBe(0)
        const lines = ended.stdout.trim().split("\n")
        expect(lines).toHaveLength(4)
        expect(lines[1]).toMatch(/^Rhea: echo/)
        expect(lines[1]).not.toContain("long story")
        expect(lines[2]).toBe("(interrupted)")
        const runs = yield* api.teammates.runs({ path: { org: org.id, teammate: rhea.id }, urlParams: {} })
        expect(runs.map((r) => r.status).sort()).toEqual(["completed", "completed", "interrupted"])
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)),
    120_000
  )

  it.live(
    "run agent runs one turn of a kind with no server, printing the streamed reply and its tool calls",
    () =>
      Effect.gen(function*() {
        const nowhere = { TROUPE_URL: "http://127.0.0.1:1" }
        const ran = yield* troupe(
          ["run", "agent", "researcher", "-m", "remember that we ship on Friday", "--json"],
          nowhere
        )
        expect(ran.code, ran.stderr).toBe(0)
        const lines = ran.stdout.trim().split("\n").map((l) => JSON.parse(l))
        expect(lines[0]).toEqual({
          type: "tool",
          name: "remember",
          arguments: JSON.stringify({ fact: "we ship on Friday" }),
          output: "remembered: we ship on Friday"
        })
        const reply = lines.at(-1)
        expect(reply).toMatchObject({ type: "reply", text: "[local model] Noted: we ship on Friday.", model: "local" })
        const deltas = lines.filter((l) => l.type === "delta")
        expect(deltas.length).toBeGreaterThan(1)
        expect(deltas.map((d) => d.text).join("")).toBe(reply.text)
        const unknown = yield* troupe(["run", "agent", "astrologer", "-m", "hi"], nowhere)
        expect([unknown.code, unknown.stderr]).toEqual([
          1,
          expect.stringMatching(/^troupe: no kind astrologer: .*researcher/)
        ])
      }),
    60_000
  )

  it.live(
    "exports the org and a person as JSON lines, and erases the person only when confirmed",
    () =>
      Effect.gen(function*() {
        const database = yield* Database.makeTestDatabase
        const node = yield* startNode(database, {}, "cli-rights")
        const url = node.url
        const anonymous = yield* TroupeClient.make({ baseUrl: url })
        const ana = yield* anonymous.auth.signup({
          payload: { email: `ana.${randomBytes(4).toString("hex")}@example.com`, password: PASSWORD, name: "Ana" }
        })
        const api = yield* TroupeClient.make({ baseUrl: url, token: ana.token })
        const org = yield* api.orgs.create({
          payload: { name: "Acme", slug: `acme-${randomBytes(3).toString("hex")}` }
        })
        const general = (yield* api.rooms.list({ path: { org: org.id } })).rooms.find((r) => r.name === "general")
        // Signed in through the environment, as scripts are.
        const env = { TROUPE_URL: url, TROUPE_TOKEN: ana.token }
        const troupeAsAna = (args: ReadonlyArray<string>) => troupe(args, env)
        // Data rights: the org's export and a person's, then their erasure (asked for, or --yes off a terminal).
        const ben = yield* anonymous.auth.signup({
          payload: { email: `ben.${randomBytes(4).toString("hex")}@example.com`, password: PASSWORD, name: "Ben" }
        })
        yield* api.orgs.addMember({ path: { org: org.id }, payload: { email: ben.user.email } })
        const benApi = yield* TroupeClient.make({ baseUrl: url, token: ben.token })
        yield* benApi.messages.post({ path: { room: general!.id }, payload: { text: "ben was here" } })
        const whole = yield* troupeAsAna(["export"])
        expect(whole.code, whole.stderr).toBe(0)
        const records = whole.stdout.trim().split("\n").map((l) => JSON.parse(l))
        expect(records[0]).toMatchObject({ type: "export", orgId: org.id, userId: null })
        expect(records.at(-1)).toEqual({ type: "end", records: records.length - 2 })
        expect(records.filter((r) => r.type === "message").map((r) => r.text)).toContain("ben was here")
        const bens = Path.join(configDir, "ben.jsonl")
        const his = yield* troupeAsAna(["export", "--user", `@${ben.user.handle}`, "--out", bens])
        expect([his.code, his.stdout], his.stderr).toEqual([0, expect.stringMatching(/^Exported \d+ records of Ben/)])
        const hisRecords = Fs.readFileSync(bens, "utf8").trim().split("\n").map((l) => JSON.parse(l))
        expect(hisRecords.filter((r) => r.type === "message").map((r) => r.text)).toEqual(["ben was here"])
        const unasked = yield* troupeAsAna(["delete-user", `@${ben.user.handle}`])
        expect([unasked.code, unasked.stderr]).toEqual([1, expect.stringContaining("--yes")])
        const erased = yield* troupeAsAna(["delete-user", `@${ben.user.handle}`, "--yes", "--json"])
        expect(erased.code, erased.stderr).toBe(0)
        expect(JSON.parse(erased.stdout)).toMatchObject({ userId: ben.user.id, messages: 1 })
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)),
    120_000
  )

  it.live(
    "manages webhooks and channel accounts, and tails an account's traffic as Telegram messages come in",
    () =>
      Effect.gen(function*() {
        const database = yield* Database.makeTestDatabase
        const node = yield* startNode(database, { CHANNEL_KEY: randomBytes(32).toString("base64") }, "cli-gateway")
        const url = node.url
        const anonymous = yield* TroupeClient.make({ baseUrl: url })
        const ana = yield* anonymous.auth.signup({
          payload: { email: `ana.${randomBytes(4).toString("hex")}@example.com`, password: PASSWORD, name: "Ana" }
        })
        const api = yield* TroupeClient.make({ baseUrl: url, token: ana.token })
        yield* api.orgs.create({ payload: { name: "Acme", slug: `acme-${randomBytes(3).toString("hex")}` } })
        const env = { TROUPE_URL: url, TROUPE_TOKEN: ana.token }
        const troupeAsAna = (args: ReadonlyArray<string>, more: Record<string, string> = {}) =>
          troupe(args, { ...env, ...more })
        const jsonLines = (stdout: string) => stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l))

        // Webhooks: subscribe (the secret printed once), list, refuse what may not be sent to, delete.
        const hookUrl = "https://hooks.example.com/troupe"
        const made = yield* troupeAsAna([
          "webhooks",
          "create",
          "--url",
          hookUrl,
          "--events",
          "message.created,task.updated",
          "--json"
        ])
        expect(made.code, made.stderr).toBe(0)
        const hook = JSON.parse(made.stdout)
        expect(hook).toMatchObject({
          url: hookUrl,
          eventTypes: ["message.created", "task.updated"],
          enabled: true,
          secret: expect.stringMatching(/^whsec_/)
        })
        const listed = yield* troupeAsAna(["webhooks"])
        expect(listed.stdout).toMatch(/^https:\/\/hooks\.example\.com\/troupe\s+message\.created,task\.updated\s+/m)
        expect(listed.stdout).not.toContain(hook.secret)
        const loopback = yield* troupeAsAna([
          "webhooks",
          "create",
          "--url",
          "http://127.0.0.1:9/x",
          "--events",
          "pin.created"
        ])
        expect([loopback.code, loopback.stderr]).toEqual([2, expect.stringMatching(/private or loopback address/)])
        const badEvents = yield* troupeAsAna(["webhooks", "create", "--url", hookUrl, "--events", "typing"])
        expect([badEvents.code, badEvents.stderr]).toEqual([1, expect.stringContaining("--events takes event types")])
        const disabled = yield* troupeAsAna(["webhooks", "update", hook.id, "--enabled", "false", "--json"])
        expect([disabled.code, JSON.parse(disabled.stdout).enabled], disabled.stderr).toEqual([0, false])
        const rotated = yield* troupeAsAna(["webhooks", "rotate", hook.id, "--json"])
        expect(rotated.code, rotated.stderr).toBe(0)
        expect(JSON.parse(rotated.stdout).secret).toMatch(/^whsec_/)
        expect(JSON.parse(rotated.stdout).secret).not.toBe(hook.secret)
        const deleted = yield* troupeAsAna(["webhooks", "delete", hookUrl])
        expect([deleted.code, deleted.stdout]).toEqual([0, expect.stringContaining("Deleted the webhook")])
        expect((yield* troupeAsAna(["webhooks", "list", "--json"])).stdout).toBe("")
        const gone = yield* troupeAsAna(["webhooks", "deliveries", hook.id])
        expect([gone.code, gone.stderr]).toEqual([2, expect.stringContaining("no webhook")])

        // A Telegram bot, bridged to #general; its secrets from the environment, never printed.
        const secrets = { TROUPE_BOT_TOKEN: "123456:cli-bot-token", TROUPE_WEBHOOK_SECRET: "cli-webhook-secret" }
        const missing = yield* troupeAsAna(["channels", "create", "telegram", "Acme bot"])
        expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining("--bot-token")])
        const connected = yield* troupeAsAna(["channels", "create", "telegram", "Acme bot", "--json"], secrets)
        expect(connected.code, connected.stderr).toBe(0)
        const account = JSON.parse(connected.stdout)
        expect(account).toMatchObject({ kind: "telegram", name: "Acme bot", enabled: true })
        expect(connected.stdout).not.toContain(secrets.TROUPE_BOT_TOKEN)
        const chat = `-100${randomBytes(4).readUInt32BE()}`
        const bridged = yield* troupeAsAna(["channels", "bridge", "Acme bot", chat, "#general"])
        expect([bridged.code, bridged.stdout], bridged.stderr).toEqual([0, expect.stringContaining("to #general")])
        const bridges = yield* troupeAsAna(["channels", "bridges", "Acme bot"])
        expect(bridges.stdout).toMatch(new RegExp(`^${chat}\\s+#general\\s+`, "m"))

        /** Telegram delivering a message in the chat to the account's webhook. */
        const deliver = (text: string) =>
          Effect.promise(() =>
            fetch(`${url}/v1/gateway/telegram/${account.id}`, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                "x-telegram-bot-api-secret-token": secrets.TROUPE_WEBHOOK_SECRET
              },
              body: JSON.stringify({
                update_id: randomBytes(4).readUInt32BE(),
                message: {
                  message_id: randomBytes(2).readUInt16BE(),
                  from: { id: 4242, is_bot: false, first_name: "Tanya" },
                  chat: { id: Number(chat), type: "supergroup", title: "Acme" },
                  date: Math.floor(Date.now() / 1000),
                  text
                }
              })
            }).then((r) => r.status)
          )
        expect(yield* deliver("before the tail")).toBe(200)
        // The tail shows the latest record, then follows: the message that comes in after it is printed.
        const follower = start(["channels", "tail", "Acme bot", "--json", "--count", "2", "--every", "1"], env)
        const [before] = yield* follower.printed(1)
        expect(JSON.parse(before ?? "")).toMatchObject({
          direction: "inbound",
          externalChannel: chat,
          status: "received"
        })
        expect(yield* deliver("while tailing")).toBe(200)
        const tailed = yield* follower.finished
        expect(tailed.code, tailed.stderr).toBe(0)
        const records = jsonLines(tailed.stdout)
        expect(records.map((r) => [r.direction, r.externalChannel, r.action, r.status])).toEqual([
          ["inbound", chat, "post", "received"],
          ["inbound", chat, "post", "received"]
        ])
        expect(new Set(records.map((r) => r.messageId)).size).toBe(2)
        const forPeople = yield* troupeAsAna(["channels", "tail", "Acme bot", "--count", "1"])
        expect(forPeople.stdout).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d in  ${chat} post received`))

        const off = yield* troupeAsAna(["channels", "disable", "Acme bot"])
        expect([off.code, off.stdout]).toEqual([0, expect.stringContaining("Disabled Acme bot")])
        expect((yield* troupeAsAna(["channels"])).stdout).toMatch(/^Acme bot\s+telegram\s+disabled\s+/m)
        expect((yield* troupeAsAna(["channels", "delete", "Acme bot"])).code).toBe(0)
        const none = yield* troupeAsAna(["channels", "tail", "Acme bot"])
        expect([none.code, none.stderr]).toEqual([2, expect.stringContaining("no channel account Acme bot")])
        const noKey = yield* troupeAsAna(["keys", "revoke", "nope"])
        expect([noKey.code, noKey.stderr]).toEqual([2, "troupe: no API key nope in this org\n"])
      }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)),
    // About twenty runs of the command, each a process of its own.
    240_000
  )
})
