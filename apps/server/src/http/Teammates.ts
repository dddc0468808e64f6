/**
 * Teammates: the catalog, hiring and dismissing, rooms and DMs, runs,
 * interrupting a turn, memory, usage, budgets and the org's model policy.
 */
import { HttpApiBuilder } from "@effect/platform"
import { TroupeApi } from "@troupe/api/Api"
import { Forbidden, InvalidInput, NotFound, Unavailable } from "@troupe/domain/Errors"
import { RoomId } from "@troupe/domain/Ids"
import { Catalog, entries } from "@troupe/teammates/Catalog"
import { TeammateEntity } from "@troupe/teammates/TeammateEntity"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { RunRepo } from "@troupe/store/RunRepo"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import { Effect, Schema } from "effect"
import { Access, orUnavailable } from "../Access.js"
import { ModelPolicy } from "../ModelPolicy.js"

/** The teammates group. */
export const TeammatesLive = HttpApiBuilder.group(TroupeApi, "teammates", (handlers) =>
  Effect.gen(function*() {
    const teammates = yield* TeammateRepo
    const runs = yield* RunRepo
    const rooms = yield* RoomRepo
    const access = yield* Access
    const catalog = yield* Catalog
    const policy = yield* ModelPolicy
    const client = yield* TeammateEntity.client

    /** The teammate, if it belongs to the org (404 otherwise, also for ids of other orgs). */
    const found = (org: Parameters<typeof teammates.get>[0], id: Parameters<typeof teammates.get>[1]) =>
      orUnavailable(teammates.get(org, id))

    return handlers
      .handle("catalog", () => Effect.succeed(entries(catalog)))
      .handle("hire", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.orgRole(path.org, "member", "hiring teammates")
          if (payload.monthlyTokenLimit !== undefined) yield* access.orgRole(path.org, "admin", "setting a teammate's token limit")
          yield* access.write(path.org)
          const kind = payload.template === undefined ? undefined : catalog.find(payload.template)
          if (payload.template !== undefined && kind === undefined) {
            return yield* new NotFound({ resource: "template", message: `no catalog template is called "${payload.template}"` })
          }
          const handle = payload.handle ?? kind?.handle
          const name = payload.name ?? kind?.name
          const role = payload.role ?? kind?.role
          if (handle === undefined || name === undefined || role === undefined) {
            return yield* new InvalidInput({ message: "a custom teammate needs a handle, a name and a role (or hire a template)" })
          }
          const model = yield* orUnavailable(policy.check(path.org, payload.model ?? kind?.model))
          return yield* orUnavailable(teammates.create(path.org, a.user.id, {
            handle,
            name,
            role,
            personality: payload.personality ?? kind?.personality ?? "",
            instructions: payload.instructions ?? kind?.instructions ?? "",
            model,
            tools: payload.tools ?? kind?.tools ?? ["remember", "recall"],
            busyPolicy: payload.busyPolicy ?? kind?.busyPolicy ?? "queue",
            template: kind?.template ?? null,
            monthlyTokenLimit: payload.monthlyTokenLimit ?? null
          }))
        }))
      .handle("list", ({ path }) =>
        Effect.gen(function*() {
          yield* access.org(path.org)
          return yield* orUnavailable(teammates.list(path.org))
        }))
      .handle("get", ({ path }) =>
        Effect.gen(function*() {
          yield* access.org(path.org)
          return yield* found(path.org, path.teammate)
        }))
      .handle("update", ({ path, payload }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "member", "changing teammates")
          if (payload.monthlyTokenLimit !== undefined) yield* access.orgRole(path.org, "admin", "changing a teammate's token limit")
          yield* access.write(path.org)
          const model = payload.model === undefined ? undefined : yield* orUnavailable(policy.check(path.org, payload.model))
          return yield* orUnavailable(teammates.update(path.org, path.teammate, {
            ...(payload.name !== undefined ? { name: payload.name } : {}),
            ...(payload.role !== undefined ? { role: payload.role } : {}),
            ...(payload.personality !== undefined ? { personality: payload.personality } : {}),
            ...(payload.instructions !== undefined ? { instructions: payload.instructions } : {}),
            ...(model !== undefined ? { model } : {}),
            ...(payload.tools !== undefined ? { tools: payload.tools } : {}),
            ...(payload.busyPolicy !== undefined ? { busyPolicy: payload.busyPolicy } : {}),
            ...(payload.monthlyTokenLimit !== undefined ? { monthlyTokenLimit: payload.monthlyTokenLimit } : {})
          }))
        }))
      .handle("dismiss", ({ path }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "admin", "dismissing teammates")
          yield* access.write(path.org)
          return yield* orUnavailable(teammates.dismiss(path.org, path.teammate))
        }))
      .handle("openDm", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.org(path.org)
          yield* access.write(path.org)
          const dm = yield* orUnavailable(teammates.openDm(path.org, a.user, path.teammate))
          return yield* orUnavailable(rooms.info(path.org, Schema.decodeSync(RoomId)(dm.roomId)))
        }))
      .handle("addToRoom", ({ path, payload }) =>
        Effect.gen(function*() {
          const a = yield* access.member(path.room, "add teammates")
          if (a.guest) return yield* new Forbidden({ message: "guests cannot add teammates to rooms" })
          if (a.room.kind === "direct") return yield* new Forbidden({ message: "direct rooms have a fixed set of participants" })
          yield* access.write(a.orgId)
          yield* orUnavailable(teammates.addToRoom(a.orgId, path.room, payload.teammateId))
        }))
      .handle("runs", ({ path, urlParams }) =>
        Effect.gen(function*() {
          const a = yield* access.orgRole(path.org, "member", "reading a teammate's runs")
          yield* found(path.org, path.teammate)
          const readable = yield* orUnavailable(rooms.readableRoomIds(path.org, a.user.id, a.guest))
          return yield* orUnavailable(runs.list(path.org, path.teammate, urlParams.limit ?? 20, readable))
        }))
      .handle("interrupt", ({ path }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "member", "interrupting a teammate")
          yield* found(path.org, path.teammate)
          const interrupted = yield* client(path.teammate).Interrupt({ orgId: path.org }).pipe(
            Effect.catchAll(() => Effect.fail(new Unavailable({ message: "the teammate could not be reached; retry" })))
          )
          return { interrupted }
        }))
      .handle("memory", ({ path }) =>
        Effect.gen(function*() {
          const a = yield* access.orgRole(path.org, "member", "reading a teammate's memory")
          const readable = yield* orUnavailable(rooms.readableRoomIds(path.org, a.user.id, a.guest))
          return yield* orUnavailable(teammates.memory(path.org, path.teammate, 100, readable))
        }))
      .handle("remember", ({ path, payload }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "member", "editing a teammate's memory")
          yield* found(path.org, path.teammate)
          yield* access.write(path.org)
          return yield* orUnavailable(teammates.remember(path.org, path.teammate, payload.text, null))
        }))
      .handle("putCore", ({ path, payload }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "member", "editing a teammate's memory")
          yield* access.write(path.org)
          yield* orUnavailable(teammates.putCore(path.org, path.teammate, path.block, payload.text, null))
        }))
      .handle("forget", ({ path }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "member", "editing a teammate's memory")
          yield* found(path.org, path.teammate)
          yield* orUnavailable(teammates.forget(path.org, path.teammate, path.memory))
        }))
      .handle("usage", ({ path }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "member", "reading the org's usage")
          return yield* orUnavailable(runs.usage(path.org))
        }))
      .handle("budget", ({ path, payload }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "admin", "setting the token budget")
          yield* orUnavailable(runs.setOrgBudget(path.org, payload.monthlyTokens))
        }))
      .handle("modelPolicy", ({ path }) =>
        Effect.gen(function*() {
          yield* access.org(path.org)
          return yield* orUnavailable(policy.view(path.org))
        }))
      .handle("setModelPolicy", ({ path, payload }) =>
        Effect.gen(function*() {
          yield* access.orgRole(path.org, "admin", "setting the org's model policy")
          yield* access.write(path.org)
          return yield* orUnavailable(policy.set(path.org, payload.allowedModels))
        }))
  }))
