/**
 * Data rights from a terminal, for admins: `troupe export` writes the org's
 * records (or one person's, `--user`) as JSON lines, to stdout or `--out`;
 * `troupe delete-user` erases a person's data from the org, after asking on
 * a terminal (or with `--yes`).
 *
 * They sign in, pick orgs and fail through `Session.ts`, as every other
 * command does.
 */
import { Args, Command, Options, Prompt } from "@effect/cli"
import { UserId } from "@troupe/domain/Ids"
import { Console, Effect, Option, Schema } from "effect"
import { createWriteStream } from "node:fs"
import { Readable, type Writable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { Failure, failureOf, fetching, json, orgOption, pickOrg, session, url } from "./Session.js"

const EndLine = Schema.parseJson(Schema.Struct({ type: Schema.Literal("end"), records: Schema.Number }))

/** The last complete line of `text`, if any. */
const lastLine = (text: string) => text.trimEnd().split("\n").at(-1) ?? ""

/** Progress is shown every this many records, on a terminal. */
const PROGRESS_EVERY = 10_000

/**
 * Passes the export through, keeping its end (to check the last line once
 * it is written) and, when `progress` is on, telling stderr how many records
 * have come so far.
 */
const watching = (keep: { text: string; lines: number }, progress: boolean) =>
  async function*(source: AsyncIterable<Uint8Array>) {
    const decoder = new TextDecoder()
    for await (const chunk of source) {
      const text = decoder.decode(chunk, { stream: true })
      keep.text = (keep.text + text).slice(-4096)
      const before = keep.lines
      keep.lines += text.split("\n").length - 1
      if (progress && Math.floor(keep.lines / PROGRESS_EVERY) > Math.floor(before / PROGRESS_EVERY)) {
        process.stderr.write(`\r${keep.lines} records…`)
      }
      yield chunk
    }
    if (progress && keep.lines >= PROGRESS_EVERY) process.stderr.write("\n")
  }

/** The session, the org and, when `wanted` names one, the person (by @handle, handle or id). */
const target = (input: { url: Option.Option<string>; org: Option.Option<string> }, wanted: Option.Option<string>) =>
  Effect.gen(function*() {
    const s = yield* session(input.url)
    const org = yield* pickOrg(
      yield* s.api.orgs.list().pipe(Effect.mapError(failureOf(s.url))),
      input.org
    )
    if (Option.isNone(wanted)) return { s, org, person: Option.none<{ id: string; label: string }>() }
    const handle = wanted.value.replace(/^@/, "")
    const members = yield* s.api.orgs.members({ path: { org: org.id } }).pipe(
      Effect.mapError(failureOf(s.url))
    )
    const found = members.find((m) => m.kind === "user" && (m.handle === handle || m.id === handle))
    if (found !== undefined) {
      return { s, org, person: Option.some({ id: found.id, label: `${found.name} (@${found.handle})` }) }
    }
    // A former member is known by id only: the server says whether the org holds anything of them.
    if (Schema.is(Schema.UUID)(handle)) return { s, org, person: Option.some({ id: handle, label: handle }) }
    return yield* Effect.fail(new Failure({ message: `no person @${handle} in ${org.name}`, code: 2 }))
  })

/** `troupe export`. */
export const exportCommand = Command.make(
  "export",
  {
    url: url,
    org: orgOption,
    user: Options.text("user").pipe(
      Options.withDescription("only what this person (@handle, handle or id) wrote and what is about them"),
      Options.optional
    ),
    out: Options.text("out").pipe(
      Options.withDescription("write to this file (never over an existing one) instead of stdout"),
      Options.optional
    )
  },
  (input) =>
    Effect.gen(function*() {
      const { org, person, s } = yield* target(input, input.user)
      const query = Option.match(person, { onNone: () => "", onSome: (p) => `?user=${p.id}` })
      const response = yield* fetching(s.url, () =>
        fetch(`${s.url}/v1/orgs/${org.id}/export${query}`, { headers: { authorization: `Bearer ${s.token}` } }))
      const body = response.body
      if (body === null) {
        return yield* Effect.fail(new Failure({ message: "the server sent no export", code: 2 }))
      }
      const out = Option.getOrUndefined(input.out)
      const kept = { text: "", lines: 0 }
      // Progress goes to a terminal only, and never into the lines themselves.
      const progress = process.stderr.isTTY === true && (out !== undefined || process.stdout.isTTY !== true)
      yield* Effect.tryPromise({
        try: () => {
          const sink: Writable = out === undefined ? process.stdout : createWriteStream(out, { flags: "wx" })
          return pipeline(Readable.fromWeb(body), watching(kept, progress), sink, {
            end: out !== undefined
          })
        },
        catch: () =>
          out === undefined
            ? new Failure({ message: `the export from ${s.url} broke off`, code: 2 })
            : new Failure({ message: `cannot write ${out} (it may exist already), or the export broke off`, code: 1 })
      })
      const end = Schema.decodeUnknownOption(EndLine)(lastLine(kept.text))
      if (Option.isNone(end)) {
        return yield* Effect.fail(new Failure({ message: "the export was cut short: no end line", code: 2 }))
      }
      if (out !== undefined) {
        const what = Option.match(person, {
          onNone: () =>
            org.name,
          onSome: (p) => `${p.label} in ${org.name}`
        })
        yield* Console.log(`Exported ${end.value.records} records of ${what} to ${out}`)
      }
    })
).pipe(Command.withDescription("write the org's data, or one person's (--user), as JSON lines (admins)"))

/** Asks on a terminal; elsewhere only `--yes` confirms. */
const confirmed = (yes: boolean, message: string) =>
  yes
    ? Effect.succeed(true)
    : process.stdin.isTTY === true
    ? Prompt.run(Prompt.confirm({ message }))
    : Effect.fail(new Failure({ message: "not a terminal: pass --yes to erase without being asked", code: 1 }))

/** `troupe delete-user`. */
export const deleteUser = Command.make(
  "delete-user",
  {
    url: url,
    json: json,
    org: orgOption,
    user: Args.text({ name: "user" }).pipe(Args.withDescription("the person: @handle, handle or id")),
    yes: Options.boolean("yes").pipe(Options.withDescription("do not ask for confirmation"))
  },
  (input) =>
    Effect.gen(function*() {
      const { org, person, s } = yield* target(input, Option.some(input.user))
      if (Option.isNone(person)) return
      const ok = yield* confirmed(
        input.yes,
        `Erase everything of ${person.value.label} in ${org.name}? Their messages become tombstones; this cannot be undone.`
      )
      if (!ok) return yield* Effect.fail(new Failure({ message: "nothing was erased", code: 1 }))
      const userId = yield* Schema.decodeUnknown(UserId)(person.value.id).pipe(
        Effect.mapError(() => new Failure({ message: `${person.value.id} is not an id`, code: 1 }))
      )
      const report = yield* s.api.dataRights.erase({ path: { org: org.id, user: userId } }).pipe(
        Effect.mapError(failureOf(s.url))
      )
      if (input.json) {
        yield* Console.log(JSON.stringify(report))
        return
      }
      yield* Console.log(
        `Erased ${person.value.label} from ${org.name}: ${report.messages} messages now tombstones, ` +
          `${report.reactions} reactions, ${report.files} files, ${report.memories} memories, ${report.pins} pins, ` +
          `${report.schedules} schedules removed; ${report.tasks} tasks and ${report.runs} runs anonymised; ` +
          `left ${report.rooms} rooms and the org.`
      )
    })
).pipe(Command.withDescription("erase a person's data from the org (admins; asks first unless --yes)"))
