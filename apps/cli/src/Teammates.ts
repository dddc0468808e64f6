/**
 * `troupe teammates`: the org's teammates (the default), the catalog of
 * kinds to hire, and hiring, creating, changing and dismissing teammates.
 * A teammate's settings come from flags, or from a JSON or YAML file
 * (`--file`) with the API's fields, flags winning over the file.
 */
import { Args, Command, Options } from "@effect/cli"
import { BusyPolicy, CreateTeammateRequest, type Teammate, UpdateTeammateRequest } from "@troupe/domain/Teammate"
import { Console, Effect, Option, ParseResult, Schema } from "effect"
import * as Fs from "node:fs/promises"
import * as Yaml from "yaml"
import { dim, listing } from "./Output.js"
import { anOrg, aTeammate, Failure, given, inGroup, json, orgOption, session, url } from "./Session.js"

const record = (t: Teammate) => ({
  id: t.id,
  handle: t.handle,
  name: t.name,
  role: t.role,
  model: t.model,
  tools: t.tools,
  busyPolicy: t.busyPolicy,
  dismissed: t.dismissed
})

/** One line for people about a teammate that changed. */
const said = (what: string, t: Teammate, asJson: boolean) =>
  Console.log(asJson ? JSON.stringify(record(t)) : `${what} @${t.handle} (${t.name}, ${t.role}) ${dim(t.id)}`)

const list = (input: { url: Option.Option<string>; org: Option.Option<string>; json: boolean }) =>
  Effect.gen(function*() {
    const { org, s } = yield* anOrg(input)
    const mates = yield* s.call(s.api.teammates.list({ path: { org: org.id } }))
    yield* listing(
      input.json,
      input.json ? mates : mates.filter((t) => !t.dismissed),
      ["HANDLE", "NAME", "ROLE", "MODEL", "ID"],
      (t) => [`@${t.handle}`, t.name, t.role, t.model, t.id],
      record
    )
  })

const group = Command.make("teammates", { url, json, org: orgOption }, list)

const listCommand = Command.make("list", { url, json, org: orgOption }, inGroup(group, list)).pipe(
  Command.withDescription("the org's teammates (also `troupe teammates`)")
)

const catalog = Command.make(
  "catalog",
  { url, json },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const s = yield* session(input.url)
      const kinds = yield* s.call(s.api.teammates.catalog())
      yield* listing(
        input.json,
        kinds,
        ["KIND", "NAME", "ROLE", "TOOLS", "SOURCE"],
        (k) => [k.template, `${k.name} (@${k.handle})`, k.role, k.tools.join(","), k.source],
        (k) => ({ kind: k.template, name: k.name, handle: k.handle, role: k.role, tools: k.tools, source: k.source })
      )
    }))
).pipe(Command.withDescription("the kinds of teammate you can hire"))

const hire = Command.make(
  "hire",
  {
    url,
    json,
    org: orgOption,
    kind: Args.text({ name: "kind" }).pipe(Args.withDescription("a kind from `troupe teammates catalog`")),
    handle: Options.text("handle").pipe(Options.withDescription("another handle than the kind's"), Options.optional),
    name: Options.text("name").pipe(Options.withDescription("another name than the kind's"), Options.optional)
  },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { org, s } = yield* anOrg(input)
      const payload = yield* decode(CreateTeammateRequest, {
        template: input.kind,
        ...given("handle", input.handle),
        ...given("name", input.name)
      })
      yield* said("Hired", yield* s.call(s.api.teammates.hire({ path: { org: org.id }, payload })), input.json)
    }))
).pipe(Command.withDescription("hire a teammate of a kind from the catalog"))

// The settings a teammate file or flags may give.
const settings = {
  file: Options.file("file", { exists: "yes" }).pipe(
    Options.withDescription("a JSON or YAML file (.yaml, .yml) with the teammate's fields, as the API takes them"),
    Options.optional
  ),
  name: Options.text("name").pipe(Options.optional),
  role: Options.text("role").pipe(Options.optional),
  personality: Options.text("personality").pipe(Options.optional),
  instructions: Options.text("instructions").pipe(Options.optional),
  model: Options.text("model").pipe(Options.optional),
  tools: Options.text("tools").pipe(
    Options.withDescription("comma-separated: remember, recall, search_messages, pin_note, …"),
    Options.optional
  ),
  busyPolicy: Options.choice("busy-policy", BusyPolicy.literals).pipe(Options.optional),
  monthlyTokenLimit: Options.integer("monthly-token-limit").pipe(Options.optional)
}

type Value<O> = O extends Options.Options<infer A> ? A : never
type Settings = { readonly [K in keyof typeof settings]: Value<(typeof settings)[K]> }

/** Reads a teammate file: YAML for `.yaml` and `.yml`, JSON otherwise. */
const readFile = (path: string) =>
  Effect.tryPromise({
    try: () => Fs.readFile(path, "utf8"),
    catch: () => new Failure({ message: `cannot read ${path}`, code: 1 })
  }).pipe(
    Effect.flatMap((text) =>
      Effect.try({
        try: (): unknown => (/\.ya?ml$/i.test(path) ? Yaml.parse(text) : JSON.parse(text)),
        catch: (e) =>
          new Failure({ message: `${path} is not ${/\.ya?ml$/i.test(path) ? "YAML" : "JSON"}: ${String(e)}`, code: 1 })
      })
    ),
    Effect.filterOrFail(
      (value): value is object => typeof value === "object" && value !== null && !Array.isArray(value),
      () => new Failure({ message: `${path} should hold one object with the teammate's fields`, code: 1 })
    )
  )

/** The file's fields with the flags given over them. */
const fieldsOf = (input: Settings) =>
  Effect.gen(function*() {
    const fromFile = Option.isSome(input.file) ? yield* readFile(input.file.value) : {}
    const flags: Record<string, unknown> = {}
    for (const key of ["name", "role", "personality", "instructions", "model", "busyPolicy"] as const) {
      const value = input[key]
      if (Option.isSome(value)) flags[key] = value.value
    }
    if (Option.isSome(input.tools)) flags["tools"] = input.tools.value.split(",").map((t) => t.trim()).filter(Boolean)
    if (Option.isSome(input.monthlyTokenLimit)) flags["monthlyTokenLimit"] = input.monthlyTokenLimit.value
    return { ...fromFile, ...flags }
  })

/** Checks a request before it is sent: a field that does not fit is a usage error naming it. */
const decode = <A, I>(schema: Schema.Schema<A, I>, value: unknown) =>
  Schema.decodeUnknown(schema, { onExcessProperty: "error" })(value).pipe(
    Effect.mapError((e) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(e)[0]
      const where = issue === undefined || issue.path.length === 0 ? "" : `${issue.path.join(".")}: `
      return new Failure({ message: `${where}${issue?.message ?? "not a teammate's settings"}`, code: 1 })
    })
  )

const create = Command.make(
  "create",
  {
    url,
    json,
    org: orgOption,
    handle: Options.text("handle").pipe(Options.optional),
    ...settings
  },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const fields = yield* fieldsOf(input)
      const payload = yield* decode(CreateTeammateRequest, { ...fields, ...given("handle", input.handle) })
      if (payload.handle === undefined || payload.name === undefined || payload.role === undefined) {
        return yield* new Failure({
          message: "a custom teammate needs a handle, a name and a role (in --file or as flags)",
          code: 1
        })
      }
      const { org, s } = yield* anOrg(input)
      yield* said("Created", yield* s.call(s.api.teammates.hire({ path: { org: org.id }, payload })), input.json)
    }))
).pipe(Command.withDescription("make a custom teammate from a file (--file teammate.json|yaml) and flags"))

const update = Command.make(
  "update",
  { url, json, org: orgOption, teammate: Args.text({ name: "teammate" }), ...settings },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const fields = yield* fieldsOf(input)
      if (Object.keys(fields).length === 0) {
        return yield* new Failure({ message: "nothing to change: give --file or a setting's flag", code: 1 })
      }
      const payload = yield* decode(UpdateTeammateRequest, fields)
      const { mate, org, s } = yield* aTeammate(input)
      const changed = yield* s.call(s.api.teammates.update({ path: { org: org.id, teammate: mate.id }, payload }))
      yield* said("Updated", changed, input.json)
    }))
).pipe(Command.withDescription("change a teammate's settings (from --file, or flags)"))

const dismiss = Command.make(
  "dismiss",
  { url, json, org: orgOption, teammate: Args.text({ name: "teammate" }) },
  inGroup(group, (input) =>
    Effect.gen(function*() {
      const { mate, org, s } = yield* aTeammate(input)
      const gone = yield* s.call(s.api.teammates.dismiss({ path: { org: org.id, teammate: mate.id } }))
      yield* said("Dismissed", gone, input.json)
    }))
).pipe(Command.withDescription("dismiss a teammate: it stops answering; its messages and runs stay"))

/** `troupe teammates [list|catalog|hire|create|update|dismiss]`. */
export const teammates = group.pipe(
  Command.withDescription("the org's teammates; hire, create, update and dismiss them"),
  Command.withSubcommands([listCommand, catalog, hire, create, update, dismiss])
)
