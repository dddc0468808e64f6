/**
 * `troupe`: talk to a Troupe server from a terminal. Sign in, list orgs and
 * rooms, post into a room and follow the event stream (resuming after a
 * dropped connection with the last event id); upload, list and download
 * files; give teammates background tasks and follow them; manage the org's
 * outbound webhooks and channel accounts, and follow an account's traffic. Output is for people by
 * default and JSON lines with `--json`. Exit codes: 0 ok, 1 a usage error,
 * 2 an error from the server (its message is printed), 3 the server could
 * not be reached.
 */
import { Args, Command, Options, Prompt, ValidationError } from "@effect/cli"
import { FetchHttpClient } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import * as EventStream from "@troupe/client/EventStream"
import * as TroupeClient from "@troupe/client/TroupeClient"
import { Delivered } from "@troupe/domain/Event"
import { FileInfo } from "@troupe/domain/File"
import { FileId, type OrgId } from "@troupe/domain/Ids"
import { isFinal, Task } from "@troupe/domain/Task"
import type { Session } from "@troupe/domain/User"
import { Console, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import { randomUUID } from "node:crypto"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { keys } from "./ApiKeys.js"
import { channels } from "./Channels.js"
import { chat } from "./Chat.js"
import * as Credentials from "./Credentials.js"
import * as DataRights from "./DataRights.js"
import { follow } from "./Follow.js"
import { members } from "./Members.js"
import { table } from "./Output.js"
import { run } from "./RunAgent.js"
import {
  aTeammate,
  Failure,
  failureOf,
  fetching,
  field,
  json,
  orgOption,
  pickOrg,
  pickRoom,
  roomFor,
  roomName,
  session,
  teammateFor,
  url
} from "./Session.js"
import { teammates } from "./Teammates.js"
import { budget, models, usage } from "./Usage.js"
import { webhooks } from "./Webhooks.js"

/** `--password`, or TROUPE_PASSWORD, or asked for on the terminal. */
const passwordOption = Options.redacted("password").pipe(
  Options.withDescription("your password (default: TROUPE_PASSWORD, or asked for)"),
  Options.optional
)

/**
 * Signs in (or up) at the server `--url` names and stores the session for
 * the user only: `enter` gets an unauthenticated client and the password.
 */
const signIn = <E>(
  input: { url: Option.Option<string>; email: string; password: Option.Option<Redacted.Redacted> },
  enter: (api: TroupeClient.TroupeClient, password: string) => Effect.Effect<Session, E>,
  done: string
) =>
  Effect.gen(function*() {
    const base = Credentials.urlOf(input.url, yield* Credentials.read)
    const password = Option.isSome(input.password)
      ? Redacted.value(input.password.value)
      : process.env["TROUPE_PASSWORD"] ??
        Redacted.value(yield* Prompt.password({ message: `Password for ${input.email}` }))
    const anonymous = yield* TroupeClient.make({ baseUrl: base })
    const signedIn = yield* enter(anonymous, password).pipe(Effect.mapError(failureOf(base)))
    const where = yield* Credentials.write({ url: base, token: signedIn.token, email: signedIn.user.email })
    yield* Console.log(`${done} ${base} as ${signedIn.user.name} <${signedIn.user.email}> (saved in ${where})`)
  })

const login = Command.make(
  "login",
  {
    url,
    email: Options.text("email").pipe(Options.withDescription("your e-mail address")),
    password: passwordOption
  },
  (input) =>
    signIn(input, (api, password) => api.auth.login({ payload: { email: input.email, password } }), "Signed in to")
).pipe(Command.withDescription("sign in and remember the session"))

const signup = Command.make(
  "signup",
  {
    url,
    email: Options.text("email").pipe(Options.withDescription("your e-mail address")),
    name: Options.text("name").pipe(Options.withDescription("your name, as others see it")),
    password: passwordOption
  },
  (input) =>
    signIn(
      input,
      (api, password) => api.auth.signup({ payload: { email: input.email, name: input.name, password } }),
      "Signed up at"
    )
).pipe(Command.withDescription("create an account, sign in and remember the session"))

const logout = Command.make("logout", { url }, (input) =>
  Effect.gen(function*() {
    const stored = yield* Credentials.read
    if (Option.isSome(stored)) {
      const base = Credentials.urlOf(input.url, stored)
      const api = yield* TroupeClient.make({ baseUrl: base, token: stored.value.token })
      yield* api.auth.logout().pipe(Effect.ignore)
    }
    yield* Credentials.remove
    yield* Console.log("Signed out.")
  })).pipe(Command.withDescription("end the stored session and forget it"))

const orgs = Command.make("orgs", { url, json }, (input) =>
  Effect.gen(function*() {
    const s = yield* session(input.url)
    const list = yield* s.api.orgs.list().pipe(Effect.mapError(failureOf(s.url)))
    if (input.json) {
      for (const o of list) yield* Console.log(JSON.stringify({ id: o.id, name: o.name, slug: o.slug, role: o.role }))
      return
    }
    yield* Console.log(table([["SLUG", "NAME", "ROLE", "ID"], ...list.map((o) => [o.slug, o.name, o.role, o.id])]))
  })).pipe(Command.withDescription("the orgs you belong to"))

const rooms = Command.make("rooms", { url, json, org: orgOption }, (input) =>
  Effect.gen(function*() {
    const s = yield* session(input.url)
    const org = yield* pickOrg(yield* s.api.orgs.list().pipe(Effect.mapError(failureOf(s.url))), input.org)
    const { rooms: list } = yield* s.api.rooms.list({ path: { org: org.id } }).pipe(Effect.mapError(failureOf(s.url)))
    if (input.json) {
      for (const r of list) {
        yield* Console.log(
          JSON.stringify({ id: r.id, name: r.name, kind: r.kind, joined: r.joined, unread: r.unreadCount })
        )
      }
      return
    }
    yield* Console.log(table([
      ["ROOM", "KIND", "JOINED", "UNREAD", "ID"],
      ...list.map((r) => [roomName(r), r.kind, r.joined ? "yes" : "no", String(r.unreadCount), r.id])
    ]))
  })).pipe(Command.withDescription("the rooms of an org you can see"))

const say = Command.make(
  "say",
  { url, json, org: orgOption, room: Args.text({ name: "room" }), text: Args.text({ name: "text" }) },
  (input) =>
    Effect.gen(function*() {
      const s = yield* session(input.url)
      const org = yield* pickOrg(yield* s.api.orgs.list().pipe(Effect.mapError(failureOf(s.url))), input.org)
      const { rooms: list } = yield* s.api.rooms.list({ path: { org: org.id } }).pipe(Effect.mapError(failureOf(s.url)))
      const room = yield* pickRoom(list, input.room)
      // One id for every attempt: a retried post is stored once.
      const clientMessageId = randomUUID()
      const posted = yield* s.api.messages.post({
        path: { room: room.id },
        payload: { text: input.text, clientMessageId }
      })
        .pipe(
          Effect.retry({
            times: 3,
            while: (e) => field(e, "_tag") === "RequestError" || field(e, "_tag") === "Unavailable"
          }),
          Effect.mapError(failureOf(s.url))
        )
      yield* Console.log(
        input.json ? JSON.stringify({ id: posted.id, roomId: posted.roomId }) : `Posted to ${roomName(room)}.`
      )
    })
).pipe(Command.withDescription("post a message into a room (by name or id)"))

const encodeDelivered = Schema.encodeSync(Delivered)

/** One event as a line for people. */
const lineOf = (d: Delivered, names: ReadonlyMap<string, string>) => {
  const time = d.at.toTimeString().slice(0, 5)
  const e = d.event
  if (e.type === "message.created") {
    return `${time} ${names.get(e.message.roomId) ?? "?"} ${e.message.authorName}: ${e.message.text}`
  }
  return `${time} ${e.type}`
}

const tail = Command.make(
  "tail",
  {
    url,
    json,
    org: orgOption,
    room: Args.text({ name: "room" }).pipe(Args.optional),
    count: Options.integer("count").pipe(Options.withDescription("stop after this many events"), Options.optional),
    after: Options.text("after").pipe(
      Options.withDescription("start after this event id (a position, as --json prints): nothing since is missed"),
      Options.optional
    )
  },
  (input) =>
    Effect.gen(function*() {
      const s = yield* session(input.url)
      const org = yield* pickOrg(yield* s.api.orgs.list().pipe(Effect.mapError(failureOf(s.url))), input.org)
      const { rooms: list } = yield* s.api.rooms.list({ path: { org: org.id } }).pipe(Effect.mapError(failureOf(s.url)))
      const only = Option.isSome(input.room) ? Option.some(yield* pickRoom(list, input.room.value)) : Option.none()
      const names = new Map(list.map((r) => [r.id, roomName(r)]))
      const inRoom = (d: Delivered): boolean => {
        if (Option.isNone(only)) return d.orgId === null || d.orgId === (org.id satisfies OrgId)
        const e = d.event
        const roomId = "roomId" in e ? e.roomId : "message" in e ? e.message.roomId : "room" in e ? e.room.id : null
        return roomId === only.value.id
      }
      let printed = 0
      const limit = Option.getOrElse(input.count, () => Number.POSITIVE_INFINITY)
      yield* follow(s, Option.getOrUndefined(input.after), (d) => {
        if (d.event.type === "message.delta" || d.event.type === "typing" || !inRoom(d)) return Effect.succeed(true)
        printed++
        return Effect.as(
          Console.log(input.json ? JSON.stringify(encodeDelivered(d)) : lineOf(d, names)),
          printed < limit
        )
      })
    })
).pipe(Command.withDescription("follow the event stream (of one room, or the whole org)"))

const sizeOf = (bytes: number) =>
  bytes < 1024
    ? `${bytes} B`
    : bytes < 1024 * 1024
    ? `${Math.round(bytes / 1024)} KB`
    : `${(bytes / 1048576).toFixed(1)} MB`

const upload = Command.make(
  "upload",
  {
    url,
    json,
    org: orgOption,
    room: Args.text({ name: "room" }),
    file: Args.file({ name: "file", exists: "yes" }),
    message: Options.text("message").pipe(
      Options.withDescription("post this message with the file attached"),
      Options.optional
    )
  },
  (input) =>
    Effect.gen(function*() {
      const s = yield* session(input.url)
      const { room } = yield* roomFor(s, input.org, input.room)
      const bytes = yield* Effect.tryPromise({
        try: () => Fs.readFile(input.file),
        catch: () => new Failure({ message: `cannot read ${input.file}`, code: 1 })
      })
      const form = new FormData()
      form.append("file", new Blob([bytes]), Path.basename(input.file))
      const response = yield* fetching(s.url, () =>
        fetch(`${s.url}/v1/rooms/${room.id}/files`, {
          method: "POST",
          headers: { authorization: `Bearer ${s.token}` },
          body: form
        }))
      const file = yield* Effect.promise(() => response.json()).pipe(
        Effect.flatMap(Schema.decodeUnknown(FileInfo)),
        Effect.mapError(failureOf(s.url))
      )
      if (Option.isSome(input.message)) {
        yield* s.api.messages.post({
          path: { room: room.id },
          payload: { text: input.message.value, attachments: [file.id], clientMessageId: randomUUID() }
        }).pipe(Effect.mapError(failureOf(s.url)))
      }
      yield* Console.log(
        input.json
          ? JSON.stringify({ id: file.id, name: file.name, size: file.size, sha256: file.sha256 })
          : `Uploaded ${file.name} (${sizeOf(file.size)}) to ${roomName(room)}: ${file.id}`
      )
    })
).pipe(Command.withDescription("upload a file into a room's library (and attach it to a message with --message)"))

const files = Command.make(
  "files",
  { url, json, org: orgOption, room: Args.text({ name: "room" }) },
  (input) =>
    Effect.gen(function*() {
      const s = yield* session(input.url)
      const { room } = yield* roomFor(s, input.org, input.room)
      const list = yield* s.api.files.list({ path: { room: room.id }, urlParams: { limit: 200 } }).pipe(
        Effect.mapError(failureOf(s.url))
      )
      if (input.json) {
        for (const f of list) {
          yield* Console.log(JSON.stringify({ id: f.id, name: f.name, size: f.size, contentType: f.contentType }))
        }
        return
      }
      yield* Console.log(table([
        ["NAME", "SIZE", "TYPE", "BY", "ID"],
        ...list.map((f) => [f.name, sizeOf(f.size), f.contentType, f.uploaderName, f.id])
      ]))
    })
).pipe(Command.withDescription("the files of a room, newest first"))

const download = Command.make(
  "download",
  {
    url,
    org: orgOption,
    room: Args.text({ name: "room" }),
    file: Args.text({ name: "file-id" }),
    out: Options.text("out").pipe(
      Options.withDescription("where to write it (default: its name, in this folder; never over a file)"),
      Options.optional
    )
  },
  (input) =>
    Effect.gen(function*() {
      const s = yield* session(input.url)
      const { room } = yield* roomFor(s, input.org, input.room)
      const id = yield* Schema.decodeUnknown(FileId)(input.file).pipe(
        Effect.mapError(() => new Failure({ message: `${input.file} is not a file id`, code: 1 }))
      )
      const info = yield* s.api.files.get({ path: { room: room.id, file: id } }).pipe(Effect.mapError(failureOf(s.url)))
      const target = Option.getOrElse(input.out, () => info.name)
      const response = yield* fetching(s.url, () =>
        fetch(`${s.url}/v1/rooms/${room.id}/files/${id}/content`, { headers: { authorization: `Bearer ${s.token}` } }))
      const bytes = new Uint8Array(
        yield* Effect.promise(() =>
          response.arrayBuffer()
        )
      )
      yield* Effect.tryPromise({
        try: () => Fs.writeFile(target, bytes, { flag: "wx" }),
        catch: () => new Failure({ message: `cannot write ${target} (it may exist already: pass --out)`, code: 1 })
      })
      yield* Console.log(`Saved ${info.name} (${sizeOf(bytes.length)}) as ${target}`)
    })
).pipe(Command.withDescription("download a file of a room"))

/** A task's progress as a line for people. */
const progressOf = (t: Task) => {
  const done = t.steps.filter((step) => step.status === "done").length
  const steps = t.steps.length === 0 ? "" : ` (${done}/${t.steps.length} steps)`
  return `${t.status}${steps}${t.error === null ? "" : `: ${t.error}`}`
}

const task = Command.make(
  "task",
  {
    url,
    json,
    org: orgOption,
    room: Args.text({ name: "room" }),
    teammate: Args.text({ name: "teammate" }),
    goal: Args.text({ name: "goal" }),
    wait: Options.boolean("wait").pipe(
      Options.withDescription("follow the task until it ends (exit 2 unless it succeeded)")
    )
  },
  (input) =>
    Effect.gen(function*() {
      const s = yield* session(input.url)
      const { org, position, room } = yield* roomFor(s, input.org, input.room)
      const mate = yield* teammateFor(s, org, input.teammate)
      const created = yield* s.api.tasks.create({
        path: { room: room.id },
        payload: { teammateId: mate.id, goal: input.goal }
      }).pipe(Effect.mapError(failureOf(s.url)))
      const say = (t: Task) =>
        Console.log(input.json ? JSON.stringify(encodeTask(t)) : `${mate.name}: ${t.goal}: ${progressOf(t)}`)
      yield* say(created)
      if (!input.wait) return
      // Progress from the event stream, from before the task was made: no update is missed.
      const last = yield* Effect.scoped(Effect.gen(function*() {
        const connection = yield* EventStream.connect({ baseUrl: s.url, token: s.token, lastEventId: position })
        return yield* connection.events.pipe(
          Stream.filterMap((d) =>
            (d.event.type === "task.updated" || d.event.type === "task.created") && d.event.task.id === created.id
              ? Option.some(d.event.task)
              : Option.none()
          ),
          Stream.changesWith((a, b) => progressOf(a) === progressOf(b)),
          Stream.tap(say),
          Stream.takeUntil((t) => isFinal(t.status)),
          Stream.runLast
        )
      })).pipe(Effect.mapError(failureOf(s.url)))
      const final = Option.getOrElse(last, () => created)
      if (final.status !== "succeeded") {
        return yield* new Failure({
          message: `the task ${final.status}${final.error === null ? "" : `: ${final.error}`}`,
          code: 2
        })
      }
    })
).pipe(Command.withDescription("give a teammate of a room a goal to work on in the background (--wait to follow it)"))

const tasks = Command.make(
  "tasks",
  { url, json, org: orgOption, room: Args.text({ name: "room" }) },
  (input) =>
    Effect.gen(function*() {
      const s = yield* session(input.url)
      const { room } = yield* roomFor(s, input.org, input.room)
      const list = yield* s.api.tasks.list({ path: { room: room.id }, urlParams: {} }).pipe(
        Effect.mapError(failureOf(s.url))
      )
      if (input.json) {
        for (const t of list) yield* Console.log(JSON.stringify(encodeTask(t)))
        return
      }
      yield* Console.log(
        table([["GOAL", "PROGRESS", "ID"], ...list.map((t) => [t.goal.slice(0, 50), progressOf(t), t.id])])
      )
    })
).pipe(Command.withDescription("the background tasks of a room, newest first"))

const encodeTask = Schema.encodeSync(Task)

const runs = Command.make(
  "runs",
  { url, json, org: orgOption, teammate: Args.text({ name: "teammate" }) },
  (input) =>
    Effect.gen(function*() {
      const { mate, org, s } = yield* aTeammate(input)
      const list = yield* s.api.teammates.runs({ path: { org: org.id, teammate: mate.id }, urlParams: {} }).pipe(
        Effect.mapError(failureOf(s.url))
      )
      if (input.json) {
        for (const r of list) {
          yield* Console.log(JSON.stringify({
            id: r.id,
            status: r.status,
            steps: r.steps.length,
            inputTokens: r.inputTokens,
            outputTokens: r.outputTokens,
            costUsd: r.costUsd
          }))
        }
        return
      }
      yield* Console.log(table([
        ["STARTED", "STATUS", "STEPS", "TOKENS IN/OUT", "COST $", "ID"],
        ...list.map((r) => [
          r.startedAt.toISOString().slice(0, 19).replace("T", " "),
          r.status,
          String(r.steps.length),
          `${r.inputTokens}/${r.outputTokens}`,
          r.costUsd.toFixed(4),
          r.id
        ])
      ]))
    })
).pipe(Command.withDescription("a teammate's recent runs (turns and tasks) with their steps, tokens and cost"))

const memory = Command.make(
  "memory",
  { url, json, org: orgOption, teammate: Args.text({ name: "teammate" }) },
  (input) =>
    Effect.gen(function*() {
      const { mate, org, s } = yield* aTeammate(input)
      const view = yield* s.api.teammates.memory({ path: { org: org.id, teammate: mate.id } }).pipe(
        Effect.mapError(failureOf(s.url))
      )
      if (input.json) {
        yield* Console.log(JSON.stringify({ core: view.core, entries: view.entries.map((e) => e.text) }))
        return
      }
      for (const [block, text] of Object.entries(view.core)) yield* Console.log(`[${block}] ${text}`)
      for (const e of view.entries) yield* Console.log(`- ${e.text}`)
      if (view.entries.length === 0 && Object.keys(view.core).length === 0) yield* Console.log("(nothing remembered)")
    })
).pipe(Command.withDescription("what a teammate remembers: its core blocks and long-term entries"))

const troupe = Command.make("troupe", {}).pipe(
  Command.withDescription("Troupe from a terminal"),
  Command.withSubcommands([
    login,
    signup,
    logout,
    orgs,
    rooms,
    say,
    tail,
    upload,
    files,
    download,
    task,
    tasks,
    teammates,
    chat,
    usage,
    budget,
    models,
    members,
    keys,
    webhooks,
    channels,
    run,
    runs,
    memory,
    DataRights.exportCommand,
    DataRights.deleteUser
  ])
)

const cli = Command.run(troupe, { name: "troupe", version: "0.1.0" })

const program = cli(process.argv).pipe(
  Effect.provide(Layer.merge(NodeContext.layer, FetchHttpClient.layer)),
  Effect.catchAll((error) => {
    if (ValidationError.isValidationError(error)) return Effect.succeed(1)
    const failure = error instanceof Failure ? error : failureOf("the server")(error)
    return Effect.as(Console.error(`troupe: ${failure.message}`), failure.code)
  }),
  Effect.map((code) => (typeof code === "number" ? code : 0))
)

Effect.runPromise(program).then(
  (code) => process.exit(code),
  (defect) => {
    console.error("troupe: unexpected failure", defect)
    process.exit(2)
  }
)
