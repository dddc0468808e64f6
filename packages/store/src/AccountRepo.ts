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
import type { Role } from "@troupe/domain/Org"
import { normalizeEmail, User } from "@troupe/domain/User"
import { Effect, Option, Schema } from "effect"
import { EventLog } from "./EventLog.js"
import { transaction } from "./OrgScope.js"
import { dummyHash, hashPassword, hashSecret, newSecret, verifyPassword } from "./Secrets.js"

interface UserRow {
  readonly id: string
  readonly email: string | null
  readonly name: string
  readonly handle: string
  readonly createdAt: Date
}

const decodeUserId = Schema.decodeSync(UserId)
const decodeOrgId = Schema.decodeSync(OrgId)

/** Maps a `users` row to the public record. */
export const toUser = (row: UserRow): User =>
  new User({
    id: decodeUserId(row.id),
    email: row.email ?? "",
    name: row.name,
    handle: row.handle,
    createdAt: row.createdAt
  })

/** Who a bearer token belongs to. */
export type Principal = Caller

/** How long a session token stays valid. */
export const SESSION_TTL_DAYS = 30

/** Derives a handle candidate from a name or e-mail. */
const handleBase = (name: string, email: string): string => {
  const fromName = name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, ".").replace(/^[.]+|[.]+$/g, "")
  const base = fromName.length >= 2 ? fromName : email.split("@")[0]!.toLowerCase().replace(/[^a-z0-9._-]+/g, "")
  return (base.length >= 2 ? base : `user${base}`).slice(0, 24)
}

/** Accounts, sessions and token authentication. */
export class AccountRepo extends Effect.Service<AccountRepo>()("@troupe/store/AccountRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const log = yield* EventLog

    const uniqueHandle = Effect.fn("AccountRepo.uniqueHandle")(function*(base: string) {
      const taken = yield* sql<{ handle: string }>`SELECT handle FROM users WHERE handle LIKE ${base + "%"}`
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
      const rows = yield* sql<Omit<UserRow, "email">>`INSERT INTO users (email, name, handle, password_hash)
        VALUES (${input.email}, ${input.name}, ${handle}, ${hash})
        ON CONFLICT DO NOTHING
        RETURNING id, name, handle, created_at`
      if (rows.length === 0) return yield* new Conflict({ message: `an account for ${input.email} already exists` })
      const token = yield* issueSession(rows[0]!.id)
      return { user: toUser({ ...rows[0]!, email: input.email }), token }
    })

    const login = Effect.fn("AccountRepo.login")(function*(email: string, password: string) {
      const rows = yield* sql<UserRow & { passwordHash: string | null }>`
        SELECT * FROM troupe_login_lookup(${normalizeEmail(email)})`
      const row = rows[0]
      const ok = yield* verifyPassword(password, row?.passwordHash ?? dummyHash)
      if (!row || !ok) return yield* new Unauthorized({ message: "wrong e-mail or password" })
      const token = yield* issueSession(row.id)
      return { user: toUser(row), token }
    })

    const authenticate = Effect.fn("AccountRepo.authenticate")(function*(token: string) {
      const hash = hashSecret(token)
      if (token.startsWith("trp_k_")) {
        const rows = yield* sql<UserRow & { keyId: string; orgId: string; role: Role }>`
          SELECT * FROM troupe_key_principal(${hash})`
        const row = rows[0]
        if (!row) return yield* new Unauthorized({ message: "unknown or revoked API key" })
        return {
          user: toUser(row),
          credential: { kind: "api_key", id: row.keyId, expiresAt: null },
          apiKey: { orgId: decodeOrgId(row.orgId), role: row.role }
        } satisfies Principal
      }
      const rows = yield* sql<UserRow & { sessionId: string; expiresAt: Date }>`
        SELECT * FROM troupe_session_principal(${hash})`
      const row = rows[0]
      if (!row) return yield* new Unauthorized({ message: "unknown, expired or revoked token" })
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
        const rows = yield* sql<{ id: string; userId: string }>`SELECT * FROM troupe_end_session(${hashSecret(token)})`
        const session = rows[0]
        if (session === undefined) return
        yield* log.append(null, [{
          audience: new Audience({ roomId: null, orgWide: false, userIds: [decodeUserId(session.userId)] }),
          event: new AccessRevoked({
            credential: "session",
            credentialId: session.id,
            reason: "the session logged out"
          })
        }])
      }))
    })

    const findByEmail = Effect.fn("AccountRepo.findByEmail")(function*(email: string) {
      const rows = yield* sql<UserRow>`SELECT * FROM troupe_find_user(${normalizeEmail(email)})`
      return Option.map(Option.fromNullable(rows[0]), toUser)
    })

    /** Creates the bot account an API key acts as. */
    const createBot = Effect.fn("AccountRepo.createBot")(function*(name: string) {
      const handle = yield* uniqueHandle(handleBase(name, "bot@x"))
      const rows = yield* sql<
        Omit<UserRow, "email">
      >`INSERT INTO users (kind, name, handle) VALUES ('bot', ${name}, ${handle})
        RETURNING id, name, handle, created_at`
      return toUser({ ...rows[0]!, email: null })
    })

    return { signup, login, authenticate, logout, findByEmail, createBot } as const
  }),
  dependencies: [EventLog.Default]
}) {}
