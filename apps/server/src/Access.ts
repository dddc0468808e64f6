/**
 * Who may do what: resolves the caller's role in an org and access to a
 * room, maps database outages to 503, and applies write rate limits.
 */
import { HttpApp, HttpMiddleware, HttpServerResponse } from "@effect/platform"
import { RateLimiter } from "@effect/experimental"
import type { SqlError } from "@effect/sql/SqlError"
import { isSqlError, isUnavailable } from "@troupe/store/DatabaseError"
import { CurrentUser } from "@troupe/api/Auth"
import { Forbidden, NotFound, RateLimited, Unavailable } from "@troupe/domain/Errors"
import type { OrgId, RoomId } from "@troupe/domain/Ids"
import { type Role, roleAtLeast } from "@troupe/domain/Org"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { Cause, Duration, Effect, Option } from "effect"
import * as OrgShare from "./OrgShare.js"
import { ServerConfig } from "./ServerConfig.js"

/**
 * Turns a database outage into a typed 503 the client may retry. Any other
 * database failure is a fault, not an outage: it becomes a defect (a logged
 * 500), never a 503 that would have clients retry forever.
 */
export const orUnavailable = <A, E, R>(self: Effect.Effect<A, E | SqlError, R>): Effect.Effect<A, Exclude<E, SqlError> | Unavailable, R> =>
  Effect.catchIf(
    self,
    (e): e is SqlError => isSqlError(e),
    (e) =>
      isUnavailable(e)
        ? Effect.zipRight(
          Effect.logWarning("database unavailable", e),
          Effect.fail(new Unavailable({ message: "the database is unavailable; retry shortly" }))
        )
        : Effect.die(e)
  ) as Effect.Effect<A, Exclude<E, SqlError> | Unavailable, R>

/**
 * The safety net under `orUnavailable`: a request that died of a database
 * error some code path did not type (the SQL client and the cluster treat a
 * lost COMMIT as a defect) answers 503, like every other database outage,
 * rather than 500.
 */
export const databaseLossUnavailable = HttpMiddleware.make((app) =>
  Effect.catchAllCause(app, (cause) => {
    const lost = Cause.find(cause, (c) =>
      c._tag === "Die" && isSqlError(c.defect) && isUnavailable(c.defect) ? Option.some(c.defect) : Option.none()
    )
    if (Option.isNone(lost)) return Effect.failCause(cause)
    return Effect.zipRight(
      Effect.logWarning("database unavailable (untyped)", lost.value),
      HttpServerResponse.json(
        { _tag: "Unavailable", message: "the database is unavailable; retry shortly" },
        { status: 503 }
      ).pipe(Effect.orDie)
    )
  })
)

/** Fails with 429 and sets `Retry-After`. */
export const rateLimited = (message: string, delay: Duration.Duration) => {
  const seconds = Math.max(1, Math.ceil(Duration.toSeconds(delay)))
  return Effect.zipRight(
    HttpApp.appendPreResponseHandler((_req, res) => Effect.succeed(HttpServerResponse.setHeader(res, "retry-after", String(seconds)))),
    Effect.fail(new RateLimited({ message, retryAfterSeconds: seconds }))
  )
}

/** Access checks and limits for the current caller. */
export class Access extends Effect.Service<Access>()("@troupe/server/Access", {
  effect: Effect.gen(function*() {
    const orgs = yield* OrgRepo
    const rooms = yield* RoomRepo
    const limiter = yield* RateLimiter.RateLimiter
    const config = yield* ServerConfig
    const share = OrgShare.make(config.orgConcurrentWrites)

    /** The caller's effective role in an org; unknown orgs and orgs the caller is not in are 404. */
    const org = Effect.fn("Access.org")(function*(orgId: OrgId) {
      const { apiKey, user } = yield* CurrentUser
      if (Option.isSome(apiKey) && apiKey.value.orgId !== orgId) return yield* NotFound.of("org", orgId)
      const role = yield* orUnavailable(orgs.roleOf(orgId, user.id))
      if (Option.isNone(role)) return yield* NotFound.of("org", orgId)
      const effective: Role = Option.isSome(apiKey) && !roleAtLeast(apiKey.value.role, role.value)
        ? apiKey.value.role
        : role.value
      return { orgId, role: effective, user, guest: effective === "guest" }
    })

    /** As `org`, and the role must be at least `needed`. */
    const orgRole = Effect.fn("Access.orgRole")(function*(orgId: OrgId, needed: Role, action: string) {
      const access = yield* org(orgId)
      if (!roleAtLeast(access.role, needed)) {
        return yield* new Forbidden({ message: `${action} needs the ${needed} role or higher; you are ${access.role}` })
      }
      return access
    })

    /** Rooms never move between orgs, so their org is cached (bounded). */
    const roomOrgs = new Map<string, OrgId>()
    const orgOfRoom = (roomId: RoomId) =>
      Effect.suspend(() => {
        const known = roomOrgs.get(roomId)
        if (known !== undefined) return Effect.succeed(known)
        return Effect.tap(orUnavailable(rooms.orgOf(roomId)), (orgId) => {
          if (roomOrgs.size >= 50_000) roomOrgs.clear()
          roomOrgs.set(roomId, orgId)
        })
      })

    /** The caller's access to a room; rooms the caller may not see are 404. */
    const room = Effect.fn("Access.room")(function*(roomId: RoomId) {
      const { apiKey, user } = yield* CurrentUser
      const orgId = yield* orgOfRoom(roomId)
      if (Option.isSome(apiKey) && apiKey.value.orgId !== orgId) return yield* NotFound.of("room", roomId)
      const found = yield* orUnavailable(rooms.accessFor(orgId, roomId, user.id))
      if (found.role === null || found.room === null) return yield* NotFound.of("room", roomId)
      const role: Role = Option.isSome(apiKey) && !roleAtLeast(apiKey.value.role, found.role) ? apiKey.value.role : found.role
      const guest = role === "guest"
      if (!found.joined && (found.room.kind !== "public" || guest)) return yield* NotFound.of("room", roomId)
      return { orgId, role, user, guest, room: found.room, isMember: found.joined }
    })

    /** As `room`, and the caller must be a member. */
    const member = Effect.fn("Access.member")(function*(roomId: RoomId, action: string) {
      const access = yield* room(roomId)
      if (!access.isMember) return yield* new Forbidden({ message: `join the room to ${action}` })
      return access
    })

    const consume = (key: string, limit: number, window: Duration.DurationInput) =>
      limiter.consume({ key, limit, window, algorithm: "fixed-window", onExceeded: "fail" }).pipe(
        Effect.map(() => Option.none<Duration.Duration>()),
        Effect.catchAll((e) => Effect.succeed(e.reason === "Exceeded" ? Option.some(e.retryAfter) : Option.none<Duration.Duration>()))
      )

    /**
     * Counts a write against the caller's and the org's rate limits, then
     * takes one of the org's write slots on this node for the rest of the
     * request (waiting while the org has `ORG_CONCURRENT_WRITES` running).
     */
    const write = Effect.fn("Access.write")(function*(orgId: OrgId) {
      const { user } = yield* CurrentUser
      const perUser = yield* consume(`w:u:${user.id}`, config.userWritesPerMinute, "1 minute")
      if (Option.isSome(perUser)) return yield* rateLimited("too many writes; slow down", perUser.value)
      const perOrg = yield* consume(`w:o:${orgId}`, config.orgWritesPerMinute, "1 minute")
      if (Option.isSome(perOrg)) return yield* rateLimited("this org is writing too fast; slow down", perOrg.value)
      yield* share.slot(orgId)
    })

    /** Counts a log-in attempt against the account (strict) and the client address (generous). */
    const login = Effect.fn("Access.login")(function*(email: string, address: string) {
      const limits = [
        [`l:e:${email}`, config.loginsPer15Minutes],
        [`l:a:${address}`, config.loginsPerAddressPer15Minutes]
      ] as const
      for (const [key, limit] of limits) {
        const over = yield* consume(key, limit, "15 minutes")
        if (Option.isSome(over)) return yield* rateLimited("too many log-in attempts; wait and try again", over.value)
      }
    })

    /** Counts a sign-up against the client address, on its own terms (not the log-in limits). */
    const signup = Effect.fn("Access.signup")(function*(address: string) {
      const over = yield* consume(`s:a:${address}`, config.signupsPerAddressPerHour, "1 hour")
      if (Option.isSome(over)) return yield* rateLimited("too many sign-ups from this address; wait and try again", over.value)
    })

    return { org, orgRole, room, member, write, login, signup } as const
  })
}) {}
