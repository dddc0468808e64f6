/**
 * People and their credentials: accounts, sessions and API-key principals.
 * These tables are global (a person can belong to many orgs), so they are
 * not org-scoped.
 */
import { SqlClient } from "@effect/sql"
import type { Caller } from "@troupe/domain/Caller"
import { Conflict, Unauthorized } from "@troupe/domain/Errors"
import { AccessRevoked, Audience } from "@troupe/domain/Event"
import { OrgId, UserId } from "@troupe/domain/Ids"
import { Role } from "@troupe/domain/Org"
import { normalizeEmail, User } from "@troupe/domain/User"
import { Effect, Option, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import * as Rows from "./internal/Rows.js"
import { transaction } from "./OrgScope.js"
import { dummyHash, hashPassword, hashSecret, newSecret, verifyPassword } from "./Secrets.js"

/** A `users` row as the app may read it (the e-mail only through the functions that answer by e-mail). */
const UserRow = Schema.Struct({
  id: UserId,
  email: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  name: Schema.String,
  handle: Schema.String,
  createdAt: Schema.DateFromSelf
})

/** Maps a `users` row to the public record (bots have no e-mail). */
const toUser = (row: typeof UserRow.Type): User => new User({ ...row, email: row.email ?? "" }, true)

const LoginRow = Schema.Struct({ ...UserRow.fields, passwordHash: Schema.NullOr(Schema.String) })
const KeyPrincipalRow = Schema.Struct({ ...UserRow.fields, keyId: Schema.UUID, orgId: OrgId, role: Role })
const SessionPrincipalRow = Schema.Struct({ ...UserRow.fields, sessionId: Schema.UUID, expiresAt: Schema.DateFromSelf })
const EndedSession = Schema.Struct({ id: Schema.UUID, userId: UserId })

/** Who a bearer token belongs to. */
export type Principal = Caller

/** How long a session token stays valid. */
export const SESSION_TTL_DAYS = 30

/** Derives a handle candidate from a name or e-mail. */
const handleBase = (name: string, email: string): string => {
  const fromName = name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, ".").replace(/^[.]+|[.]+$/g, "")
  const local = email.slice(0, Math.max(0, email.indexOf("@")))
  const base = fromName.length >= 2 ? fromName : local.toLowerCase().replace(/[^a-z0-9._-]+/g, "")
  return (base.length >= 2 ? base : `user${base}`).slice(0, 24)
}

/** Accounts, sessions and token authentication. */
export class AccountRepo extends Effect.Service<AccountRepo>()("@troupe/store/AccountRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const log = yield* EventLog

    const uniqueHandle = Effect.fn("AccountRepo.uniqueHandle")(function*(base: string) {
      const taken = yield* Rows.all("handle", Schema.Struct({ handle: Schema.String }))(
        sql`SELECT handle FROM users WHERE handle LIKE ${base + "%"}`
      )
      const set = new Set(taken.map((r) => r.handle))
      if (!set.has(base)) return base
      for (let i = 2;; i++) if (!set.has(`${base}${i}`)) return `${base}${i}`
    })

    const issueSession = Effect.fn("AccountRepo.issueSession")(function*(userId: string) {
      const token = newSecret("trp_s_")
      yield* sql`INSERT INTO sessions (token_hash, user_id, expires_at)
        VALUES (${hashSecret(token)}, ${userId}, now() + ${`${SESSION_TTL_DAYS} days`}::interval)`
      return token
    })

    const signup = Effect.fn("AccountRepo.signup")(function*(raw: { email: string; password: string; name: string }) {
      const input = { ...raw, email: normalizeEmail(raw.email) }
      const hash = yield* hashPassword(input.password)
      const handle = yield* uniqueHandle(handleBase(input.name, input.email))
      // The app cannot read e-mail addresses: a taken one shows as no row inserted.
      const created = yield* Rows.first("user", UserRow)(sql`INSERT INTO users (email, name, handle, password_hash)
        VALUES (${input.email}, ${input.name}, ${handle}, ${hash})
        ON CONFLICT DO NOTHING
        RETURNING id, name, handle, created_at`)
      if (Option.isNone(created)) {
        return yield* new Conflict({ message: `an account for ${input.email} already exists` })
      }
      const token = yield* issueSession(created.value.id)
      return { user: toUser({ ...created.value, email: input.email }), token }
    })

    const login = Effect.fn("AccountRepo.login")(function*(email: string, password: string) {
      const found = yield* Rows.first("user", LoginRow)(
        sql`SELECT * FROM troupe_login_lookup(${normalizeEmail(email)})`
      )
      const row = Option.getOrNull(found)
      const ok = yield* verifyPassword(password, row?.passwordHash ?? dummyHash)
      if (row === null || !ok) return yield* new Unauthorized({ message: "wrong e-mail or password" })
      const token = yield* issueSession(row.id)
      return { user: toUser(row), token }
    })

    const authenticate = Effect.fn("AccountRepo.authenticate")(function*(token: string) {
      const hash = hashSecret(token)
      if (token.startsWith("trp_k_")) {
        const found = yield* Rows.first("API key", KeyPrincipalRow)(sql`SELECT * FROM troupe_key_principal(${hash})`)
        if (Option.isNone(found)) return yield* new Unauthorized({ message: "unknown or revoked API key" })
        const row = found.value
        return {
          user: toUser(row),
          credential: { kind: "api_key", id: row.keyId, expiresAt: null },
          apiKey: { orgId: row.orgId, role: row.role }
        } satisfies Principal
      }
      const found = yield* Rows.first("session", SessionPrincipalRow)(
        sql`SELECT * FROM troupe_session_principal(${hash})`
      )
      if (Option.isNone(found)) return yield* new Unauthorized({ message: "unknown, expired or revoked token" })
      const row = found.value
      return {
        user: toUser(row),
        credential: { kind: "session", id: row.sessionId, expiresAt: row.expiresAt },
        apiKey: null
      } satisfies Principal
    })

    /**
     * Revokes a session and, in the same transaction, logs the
     * `access.revoked` event that ends the streams it opened on every node.
     */
    const logout = Effect.fn("AccountRepo.logout")(function*(token: string) {
      yield* transaction(sql)(Effect.gen(function*() {
        const ended = yield* Rows.first("session", EndedSession)(
          sql`SELECT * FROM troupe_end_session(${hashSecret(token)})`
        )
        if (Option.isNone(ended)) return
        const session = ended.value
        yield* log.append(null, [{
          audience: new Audience({ roomId: null, orgWide: false, userIds: [session.userId] }),
          event: new AccessRevoked({
            credential: "session",
            credentialId: session.id,
            reason: "the session logged out"
          })
        }])
      }))
    })

    const findByEmail = Effect.fn("AccountRepo.findByEmail")(function*(email: string) {
      const found = yield* Rows.first("user", UserRow)(sql`SELECT * FROM troupe_find_user(${normalizeEmail(email)})`)
      return Option.map(found, toUser)
    })

    /** Creates the bot account an API key acts as. */
    const createBot = Effect.fn("AccountRepo.createBot")(function*(name: string) {
      const handle = yield* uniqueHandle(handleBase(name, "bot@x"))
      const bot = yield* Rows.one("user", UserRow)(
        sql`INSERT INTO users (kind, name, handle) VALUES ('bot', ${name}, ${handle})
        RETURNING id, name, handle, created_at`
      )
      return toUser(bot)
    })

    return { signup, login, authenticate, logout, findByEmail, createBot } as const
  }),
  dependencies: [EventLog.Default]
}) {}
