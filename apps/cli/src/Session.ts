/**
 * What every `troupe` command stands on: the failure it exits with (and its
 * exit code), the options all commands take, the signed-in session, and
 * finding the org, room or teammate a command names.
 */
import { Options } from "@effect/cli"
import * as TroupeClient from "@troupe/client/TroupeClient"
import type { Org } from "@troupe/domain/Org"
import type { Room } from "@troupe/domain/Room"
import { Data, Effect, Option } from "effect"
import * as Credentials from "./Credentials.js"

/** A failure the command reports and exits with: 1 a usage error, 2 the server's error, 3 the server unreachable. */
export class Failure extends Data.TaggedError("Failure")<{ readonly message: string; readonly code: 1 | 2 | 3 }> {}

/** A property of an unknown value, if it has one. */
export const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && key in value ? Reflect.get(value, key) : undefined

/** The server's errors carry `_tag` and `message`; a request that never got an answer is a connection error. */
export const failureOf = (url: string) => (error: unknown): Failure => {
  if (error instanceof Failure) return error
  const tag = field(error, "_tag")
  if (tag === "RequestError" || (tag === "EventStreamError" && field(error, "status") === undefined)) {
    return new Failure({ message: `cannot reach Troupe at ${url}: is the server running?`, code: 3 })
  }
  const message = field(error, "message")
  return new Failure({
    message: typeof message === "string" ? message : "the server's answer was not understood",
    code: 2
  })
}

/** `--url`: the server to talk to. */
export const url = Options.text("url").pipe(
  Options.withDescription("the Troupe server (default: TROUPE_URL, the stored one, or http://127.0.0.1:8787)"),
  Options.optional
)
/** `--json`: JSON lines for scripts instead of tables for people. */
export const json = Options.boolean("json").pipe(Options.withDescription("print JSON lines for scripts"))
/** `--org`: the org a command works in. */
export const orgOption = Options.text("org").pipe(
  Options.withDescription("the org, by slug or id (default: your first)"),
  Options.optional
)

/** The server and a token to call it with. */
export const session = (flag: Option.Option<string>) =>
  Effect.gen(function*() {
    const stored = yield* Credentials.read
    const base = Credentials.urlOf(flag, stored)
    const token = process.env["TROUPE_TOKEN"] ?? Option.getOrUndefined(Option.map(stored, (s) => s.token))
    if (token === undefined) return yield* new Failure({ message: "not signed in: run `troupe login` first", code: 1 })
    const api = yield* TroupeClient.make({ baseUrl: base, token })
    /** A call to the server, its errors as the command's failures. */
    const call = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.mapError(effect, failureOf(base))
    return { url: base, token, api, call }
  })

/** A signed-in session. */
export type Session = Effect.Effect.Success<ReturnType<typeof session>>

/** The org `wanted` names (slug or id) among `orgs`, or the first. */
export const pickOrg = (orgs: ReadonlyArray<Org>, wanted: Option.Option<string>) =>
  Option.match(wanted, {
    onNone: () => Option.fromNullable(orgs[0]),
    onSome: (w) => Option.fromNullable(orgs.find((o) => o.id === w || o.slug === w))
  }).pipe(
    Effect.mapError(() =>
      new Failure({
        message: Option.isSome(wanted) ? `no org ${wanted.value} among yours` : "you are in no org yet",
        code: 2
      })
    )
  )

/** The org `wanted` names among the caller's. */
export const orgFor = (s: Session, wanted: Option.Option<string>) =>
  Effect.flatMap(s.call(s.api.orgs.list()), (orgs) => pickOrg(orgs, wanted))

/** A room as people write it: `#general`, or a direct room's name. */
export const roomName = (room: Room) => (room.kind === "direct" ? room.name : `#${room.name}`)

/** The room `wanted` names (`#name`, name or id) among `rooms`. */
export const pickRoom = (rooms: ReadonlyArray<Room>, wanted: string) => {
  const name = wanted.replace(/^#/, "")
  return Option.fromNullable(rooms.find((r) => r.id === wanted) ?? rooms.find((r) => r.name === name)).pipe(
    Effect.mapError(() => new Failure({ message: `no room ${wanted} you can see`, code: 2 }))
  )
}

/**
 * The one of `items` that `wanted` names (`matches` says whether an item
 * answers to it): none is exit 2 ("no {what} {wanted} in this org"), several
 * exit 1 (give the id).
 */
export const pickOne = <A>(items: ReadonlyArray<A>, wanted: string, matches: (item: A) => boolean, what: string) => {
  const named = items.filter(matches)
  const found = named[0]
  if (found === undefined) return Effect.fail(new Failure({ message: `no ${what} ${wanted} in this org`, code: 2 }))
  return named.length > 1
    ? Effect.fail(
      new Failure({ message: `${named.length} of the org's ${what}s answer to ${wanted}: give the id`, code: 1 })
    )
    : Effect.succeed(found)
}

/** The org and the room `wanted` names, for a signed-in session. */
export const roomFor = (s: Session, org: Option.Option<string>, wanted: string) =>
  Effect.gen(function*() {
    const chosen = yield* orgFor(s, org)
    const listed = yield* s.call(s.api.rooms.list({ path: { org: chosen.id } }))
    return { org: chosen, room: yield* pickRoom(listed.rooms, wanted), position: listed.position }
  })

/** The org's teammate named `wanted` (`@handle`, handle or id). */
export const teammateFor = (s: Session, org: Org, wanted: string) =>
  Effect.gen(function*() {
    const handle = wanted.replace(/^@/, "")
    const mates = yield* s.call(s.api.teammates.list({ path: { org: org.id } }))
    return yield* Option.fromNullable(mates.find((t) => t.handle === handle || t.id === handle)).pipe(
      Effect.mapError(() => new Failure({ message: `no teammate @${handle} in this org`, code: 2 }))
    )
  })

/** The session, org and teammate a teammate command names. */
export const aTeammate = (input: { url: Option.Option<string>; org: Option.Option<string>; teammate: string }) =>
  Effect.gen(function*() {
    const s = yield* session(input.url)
    const org = yield* orgFor(s, input.org)
    return { s, org, mate: yield* teammateFor(s, org, input.teammate) }
  })

/** The session and org a command works in. */
export const anOrg = (input: { url: Option.Option<string>; org: Option.Option<string> }) =>
  Effect.gen(function*() {
    const s = yield* session(input.url)
    return { s, org: yield* orgFor(s, input.org) }
  })

/** `{ [key]: value }` for a flag that was given, `{}` for one that was not: spread into a request's payload. */
export const given = <K extends string, A>(key: K, flag: Option.Option<A>) => {
  const out: { [P in K]?: A } = {}
  if (Option.isSome(flag)) out[key] = flag.value
  return out
}

/** The options a group of commands (`teammates`, `members`, `keys`, …) takes before its subcommand. */
export interface GroupOptions {
  readonly url: Option.Option<string>
  readonly json: boolean
  readonly org: Option.Option<string>
}

/**
 * A subcommand's handler that also honours what was given to its group before
 * the subcommand's name (`troupe teammates --org acme hire researcher`); what
 * is given to the subcommand itself wins.
 */
export const inGroup = <I extends { readonly url: Option.Option<string> }, A, E, R, R2>(
  group: Effect.Effect<GroupOptions, never, R2>,
  handler: (input: I) => Effect.Effect<A, E, R>
) =>
(input: I) =>
  Effect.flatMap(group, (g) =>
    handler({
      ...input,
      url: Option.orElse(input.url, () => g.url),
      ...("org" in input && Option.isOption(input.org) ? { org: Option.orElse(input.org, () => g.org) } : {}),
      ...("json" in input && typeof input.json === "boolean" ? { json: input.json || g.json } : {})
    }))

/** A request `fetch` makes itself (uploads and downloads: the typed client speaks JSON); its failures as the CLI's. */
export const fetching = (base: string, run: () => Promise<Response>) =>
  Effect.tryPromise({ try: run, catch: () => new Failure({ message: `cannot reach Troupe at ${base}`, code: 3 }) })
    .pipe(
      Effect.flatMap((response) =>
        response.ok ? Effect.succeed(response) : Effect.flatMap(
          Effect.promise(() => response.json().catch(() => ({}))),
          (body: unknown) => Effect.fail(failureOf(base)(body))
        )
      )
    )
