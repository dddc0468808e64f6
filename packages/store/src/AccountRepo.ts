/**
 * People and their credentials: accounts, sessions and API-key principals.
 * These tables are global (a person can belong to many orgs), so they are
 * not org-scoped.
 */
import { SqlClient } from "@effect/sql"
import type { Caller } from "@troupe/domain/Caller"
import { Conflict, Forbidden, NotFound, Unauthorized } from "@troupe/domain/Errors"
import { AccessRevoked, Audience, UserUpdated } from "@troupe/domain/Event"
import { OrgId, UserId } from "@troupe/domain/Ids"
import { Role } from "@troupe/domain/Org"
import { avatarPath, normalizeEmail, User, UserProfile } from "@troupe/domain/User"
import { Duration, Effect, Option, Schema } from "effect"
import { isSqlError, isUniqueViolation } from "./DatabaseError.js"
import { EventLog } from "./EventLog.js"
import { guestsBeside } from "./internal/Guests.js"
import * as Rows from "./internal/Rows.js"
import { orgScope, transaction } from "./OrgScope.js"
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
const EndedSessions = Schema.Struct({ endedSessions: Schema.Array(Schema.UUID) })
const ResetIssued = Schema.Struct({ userId: UserId, expiresAt: Schema.DateFromSelf })
const ResetState = Schema.Struct({
  expiresAt: Schema.DateFromSelf,
  usedAt: Schema.NullOr(Schema.DateFromSelf),
  replacedAt: Schema.NullOr(Schema.DateFromSelf),
  expired: Schema.Boolean
})
const UsedReset = Schema.Struct({ ...UserRow.fields, endedSessions: Schema.Array(Schema.UUID) })
const Clash = Schema.Struct({ orgName: Schema.String })
const ProfileRow = Schema.Struct({ ...UserRow.fields, avatarSha: Schema.NullOr(Schema.String) })
const AvatarRow = Schema.Struct({ avatarSha: Schema.NullOr(Schema.String), avatarType: Schema.NullOr(Schema.String) })

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
    const { withOrg } = orgScope(sql)
    const log = yield* EventLog

    /**
     * Logs the `access.revoked` events that end the streams of sessions just
     * revoked, on every node. The last statement of the revoking transaction.
     */
    const sessionsEnded = (userId: UserId, sessionIds: ReadonlyArray<string>, reason: string) =>
      log.append(
        null,
        sessionIds.map((id) => ({
          audience: new Audience({ roomId: null, orgWide: false, userIds: [userId] }),
          event: new AccessRevoked({ credential: "session", credentialId: id, reason })
        }))
      )

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
        yield* sessionsEnded(ended.value.userId, [ended.value.id], "the session logged out")
      }))
    })

    /**
     * Sets a new password for `user`, signed in with the session `sessionId`,
     * when `current` is their password now. Their other sessions end (their
     * streams with `access.revoked`); this one stays.
     */
    const changePassword = Effect.fn("AccountRepo.changePassword")(
      function*(user: User, sessionId: string, current: string, next: string) {
        const found = yield* Rows.first("user", LoginRow)(
          sql`SELECT * FROM troupe_login_lookup(${normalizeEmail(user.email)})`
        )
        const row = Option.getOrNull(found)
        const ok = yield* verifyPassword(current, row?.passwordHash ?? dummyHash)
        if (row === null || row.id !== user.id || !ok) {
          return yield* new Forbidden({ message: "the current password is wrong" })
        }
        const hash = yield* hashPassword(next)
        yield* transaction(sql)(Effect.gen(function*() {
          const changed = yield* Rows.first("session", EndedSessions)(
            sql`SELECT * FROM troupe_change_password(${sessionId}, ${hash})`
          )
          if (Option.isNone(changed)) return yield* new Unauthorized({ message: "unknown, expired or revoked token" })
          yield* sessionsEnded(user.id, changed.value.endedSessions, "the password was changed")
        }))
      }
    )

    /**
     * A reset link's token for the person with the account of `email`, valid
     * for `ttl`; it replaces their earlier unused one. None when no person
     * has an account with that address.
     */
    const requestPasswordReset = Effect.fn("AccountRepo.requestPasswordReset")(
      function*(email: string, ttl: Duration.Duration) {
        const token = newSecret("trp_r_")
        const issued = yield* Rows.first("password reset", ResetIssued)(sql`
          SELECT * FROM troupe_request_password_reset(${normalizeEmail(email)}, ${hashSecret(token)},
            ${`${Duration.toMillis(ttl)} milliseconds`}::interval)`)
        return Option.map(issued, (row) => ({ token, expiresAt: row.expiresAt }))
      }
    )

    /**
     * Sets the password of the person a reset link's `token` was made for and
     * uses the link up, ends all their sessions (their streams end with
     * `access.revoked`) and signs them in with a new one. An unknown token is
     * `NotFound`; a used, replaced or expired one a `Conflict`.
     */
    const confirmPasswordReset = Effect.fn("AccountRepo.confirmPasswordReset")(
      function*(token: string, newPassword: string) {
        const tokenHash = hashSecret(token)
        return yield* transaction(sql)(Effect.gen(function*() {
          const found = yield* Rows.first("password reset", ResetState)(
            sql`SELECT * FROM troupe_password_reset(${tokenHash})`
          )
          if (Option.isNone(found)) {
            return yield* new NotFound({
              resource: "password reset",
              message: "this password-reset link is not valid; ask for a new one"
            })
          }
          const state = found.value
          if (state.usedAt !== null) {
            return yield* new Conflict({ message: "this password-reset link was already used; ask for a new one" })
          }
          if (state.replacedAt !== null) {
            return yield* new Conflict({
              message: "a newer password-reset link replaced this one; use the newest, or ask for a new one"
            })
          }
          if (state.expired) {
            return yield* new Conflict({ message: "this password-reset link has expired; ask for a new one" })
          }
          const passwordHash = yield* hashPassword(newPassword)
          const used = yield* Rows.one("password reset", UsedReset)(
            sql`SELECT * FROM troupe_use_password_reset(${tokenHash}, ${passwordHash})`
          )
          const session = yield* issueSession(used.id)
          yield* sessionsEnded(used.id, used.endedSessions, "the password was reset")
          return { user: toUser(used), token: session }
        }))
      }
    )

    /**
     * Changes `user`'s name or handle (what `patch` leaves out stays) and
     * tells every org they belong to with `user.updated`. A handle another
     * person has, or a teammate has in one of their orgs, is a `Conflict`.
     */
    const updateProfile = Effect.fn("AccountRepo.updateProfile")(
      function*(user: User, patch: { readonly name?: string | undefined; readonly handle?: string | undefined }) {
        const { handle, name } = patch
        if (handle === undefined && name === undefined) return user
        const taken = new Conflict({ message: `@${handle} is taken; pick another handle` })
        return yield* transaction(sql)(Effect.gen(function*() {
          if (handle !== undefined) {
            const other = yield* sql`SELECT 1 FROM users WHERE handle = ${handle} AND id <> ${user.id}`
            if (other.length > 0) return yield* taken
          }
          const row = yield* Rows.one("user", ProfileRow)(sql`
            UPDATE users SET name = coalesce(${name ?? null}, name), handle = coalesce(${handle ?? null}, handle)
            WHERE id = ${user.id} RETURNING id, name, handle, created_at, avatar_sha`).pipe(
            // Taken by someone else at the same moment.
            Effect.catchIf((e) => isSqlError(e) && isUniqueViolation(e), () => Effect.fail(taken))
          )
          yield* tellOrgs(row, (orgId) =>
            handle === undefined ? Effect.void : Effect.gen(function*() {
              const clash = yield* Rows.first("teammate", Clash)(sql`
                SELECT o.name AS org_name FROM teammates t JOIN orgs o ON o.id = t.org_id
                WHERE t.org_id = ${orgId} AND t.handle = ${handle} AND t.dismissed_at IS NULL`)
              if (Option.isSome(clash)) {
                return yield* new Conflict({
                  message: `@${handle} is a teammate in ${clash.value.orgName}; pick another handle`
                })
              }
            }))
          return toUser({ ...row, email: user.email })
        }))
      }
    )

    /**
     * Tells every org `row`'s person belongs to of their profile as it now
     * is (`user.updated`: the org's members but guests, the guests who share
     * a room with them, and the person), after `check` passes in each org.
     */
    const tellOrgs = <E, R>(row: typeof ProfileRow.Type, check: (orgId: OrgId) => Effect.Effect<void, E, R>) =>
      Effect.gen(function*() {
        const profile = new UserProfile({
          id: row.id,
          name: row.name,
          handle: row.handle,
          avatar: avatarPath(row.id, row.avatarSha)
        })
        const orgs = yield* Rows.all("membership", Schema.Struct({ orgId: OrgId }))(
          sql`SELECT org_id FROM troupe_memberships(${row.id})`
        )
        for (const { orgId } of orgs) {
          yield* withOrg(orgId)(Effect.gen(function*() {
            yield* check(orgId)
            yield* log.append(orgId, [{
              audience: new Audience({
                roomId: null,
                orgWide: true,
                userIds: [row.id, ...yield* guestsBeside(sql, orgId, row.id)]
              }),
              event: new UserUpdated({ user: profile })
            }])
          }))
        }
        return profile
      })

    /**
     * Sets (or with null, removes) a person's avatar and tells their orgs.
     * Returns the content it replaced, whose bytes the caller may remove.
     */
    const setAvatar = Effect.fn("AccountRepo.setAvatar")(
      function*(userId: UserId, avatar: { readonly sha256: string; readonly type: string } | null) {
        return yield* transaction(sql)(Effect.gen(function*() {
          const before = yield* Rows.one("avatar", AvatarRow)(
            sql`SELECT avatar_sha, avatar_type FROM users WHERE id = ${userId} FOR UPDATE`
          )
          const row = yield* Rows.one("user", ProfileRow)(sql`
            UPDATE users SET avatar_sha = ${avatar?.sha256 ?? null}, avatar_type = ${avatar?.type ?? null}
            WHERE id = ${userId} RETURNING id, name, handle, created_at, avatar_sha`)
          const profile = yield* tellOrgs(row, () => Effect.void)
          return { profile, replaced: before.avatarSha === avatar?.sha256 ? null : before.avatarSha }
        }))
      }
    )

    /** `userId`'s avatar (its content and type), if they have one and `viewerId` shares an org with them. */
    const avatarFor = Effect.fn("AccountRepo.avatarFor")(function*(viewerId: UserId, userId: UserId) {
      const row = yield* Rows.first("avatar", AvatarRow)(sql`
        SELECT avatar_sha, avatar_type FROM users
        WHERE id = ${userId} AND avatar_sha IS NOT NULL AND troupe_shares_org(${viewerId}, ${userId})`)
      return Option.flatMap(row, (r) =>
        r.avatarSha === null || r.avatarType === null
          ? Option.none()
          : Option.some({ sha256: r.avatarSha, type: r.avatarType }))
    })

    const findByEmail = Effect.fn("AccountRepo.findByEmail")(function*(email: string) {
      const found = yield* Rows.first("user", UserRow)(sql`SELECT * FROM troupe_find_user(${normalizeEmail(email)})`)
      return Option.map(found, toUser)
    })

    /**
     * The person an identity provider vouches for by e-mail: their account,
     * made on first sight (with no password: they sign in through the
     * provider). Two first sights at once make one account.
     */
    const personFor = Effect.fn("AccountRepo.personFor")(function*(raw: { email: string; name: string }) {
      const email = normalizeEmail(raw.email)
      const existing = yield* findByEmail(email)
      if (Option.isSome(existing)) return existing.value
      const handle = yield* uniqueHandle(handleBase(raw.name, email))
      yield* sql`INSERT INTO users (email, name, handle) VALUES (${email}, ${raw.name}, ${handle}) ON CONFLICT DO NOTHING`
      const made = yield* findByEmail(email)
      if (Option.isNone(made)) return yield* new Unauthorized({ message: `no account could be made for ${email}` })
      return made.value
    })

    /** A new session for a person who proved who they are some other way (an identity provider). */
    const startSession = Effect.fn("AccountRepo.startSession")(function*(user: User) {
      return { user, token: yield* issueSession(user.id) }
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

    return {
      signup,
      login,
      authenticate,
      logout,
      changePassword,
      requestPasswordReset,
      confirmPasswordReset,
      updateProfile,
      setAvatar,
      avatarFor,
      findByEmail,
      personFor,
      startSession,
      createBot
    } as const
  }),
  dependencies: [EventLog.Default]
}) {}
