/**
 * Where the command keeps its sign-in: `credentials.json` in the user's
 * config directory (`TROUPE_CONFIG_DIR`, else `$XDG_CONFIG_HOME/troupe`,
 * else `~/.config/troupe`), readable by the user only. `TROUPE_URL` and
 * `TROUPE_TOKEN` (a session token or an API key) override what is stored.
 */
import { Effect, Option, Schema } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** What `troupe login` stores. */
export const Stored = Schema.Struct({ url: Schema.String, token: Schema.String, email: Schema.String })
export type Stored = typeof Stored.Type

/** The server a command talks to when nothing says otherwise. */
export const DEFAULT_URL = "http://127.0.0.1:8787"

const directory = () =>
  process.env["TROUPE_CONFIG_DIR"] ??
    Path.join(process.env["XDG_CONFIG_HOME"] ?? Path.join(Os.homedir(), ".config"), "troupe")

const file = () => Path.join(directory(), "credentials.json")

const decode = Schema.decodeUnknownOption(Schema.parseJson(Stored))

/** The stored sign-in, if any. */
export const read = Effect.sync((): Option.Option<Stored> => {
  try {
    return decode(Fs.readFileSync(file(), "utf8"))
  } catch {
    return Option.none()
  }
})

/** Stores a sign-in, readable and writable by the user only. */
export const write = (stored: Stored) =>
  Effect.sync(() => {
    Fs.mkdirSync(directory(), { recursive: true, mode: 0o700 })
    Fs.writeFileSync(file(), JSON.stringify(stored, null, 2), { mode: 0o600 })
    Fs.chmodSync(file(), 0o600)
    return file()
  })

/** Forgets the stored sign-in. */
export const remove = Effect.sync(() => Fs.rmSync(file(), { force: true }))

/** The server to talk to: `--url`, then `TROUPE_URL`, then the stored one, then the local default. */
export const urlOf = (flag: Option.Option<string>, stored: Option.Option<Stored>) =>
  Option.getOrElse(
    Option.orElse(flag, () =>
      Option.orElse(
        Option.fromNullable(process.env["TROUPE_URL"]),
        () => Option.map(stored, (s) => s.url)
      )),
    () => DEFAULT_URL
  ).replace(/\/+$/, "")
