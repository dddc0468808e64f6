/**
 * Teammates as people manage them: the catalog, hiring and changing them,
 * rooms and DMs, their runs and memory (shown only from rooms the reader
 * can read), interrupting a turn, usage, budgets and the org's model policy.
 */
import type { Caller } from "@troupe/domain/Caller"
import { Forbidden, InvalidInput, NotFound, Unavailable } from "@troupe/domain/Errors"
import { type OrgId, RoomId, type TeammateId } from "@troupe/domain/Ids"
import type { CoreBlock, CreateTeammateRequest, UpdateTeammateRequest } from "@troupe/domain/Teammate"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { RunRepo } from "@troupe/store/RunRepo"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import { Catalog, entries } from "@troupe/teammates/Catalog"
import { TeammateEntity } from "@troupe/teammates/TeammateEntity"
import { Effect, Schema } from "effect"
import { Access, type OrgAccess } from "./Access.js"
import { Limits } from "./Limits.js"
import { ModelPolicy } from "./ModelPolicy.js"
import { orUnavailable } from "./Unavailable.js"

const decodeRoomId = Schema.decodeSync(RoomId)

/** The teammate use cases. */
export class Teammates extends Effect.Service<Teammates>()("@troupe/workspace/Teammates", {
  effect: Effect.gen(function*() {
    const teammates = yield* TeammateRepo
    const runs = yield* RunRepo
    const rooms = yield* RoomRepo
    const access = yield* Access
    const limits = yield* Limits
    const catalog = yield* Catalog
    const policy = yield* ModelPolicy
    const entity = yield* TeammateEntity.client

    /** The teammate, if it belongs to the org (404 otherwise, also for ids of other orgs). */
    const found = (orgId: OrgId, id: TeammateId) => orUnavailable(teammates.get(orgId, id))

    /** The rooms whose runs and memories the reader may see. */
    const readable = (a: OrgAccess) => orUnavailable(rooms.readableRoomIds(a.orgId, a.user.id, a.guest))

    /** Token limits are the admins' to set, like the org's budget. */
    const limitsChange = (caller: Caller, orgId: OrgId, limit: number | null | undefined, action: string) =>
      limit === undefined ? Effect.void : Effect.asVoid(access.orgRole(caller, orgId, "admin", action))

    /** Members hire from the catalog, or custom teammates with every field given. */
    const hire = Effect.fn("Teammates.hire")(function*(caller: Caller, orgId: OrgId, input: CreateTeammateRequest) {
      const a = yield* access.orgRole(caller, orgId, "member", "hiring teammates")
      yield* limitsChange(caller, orgId, input.monthlyTokenLimit, "setting a teammate's token limit")
      yield* limits.write(caller, orgId)
      const kind = input.template === undefined ? undefined : catalog.find(input.template)
      if (input.template !== undefined && kind === undefined) {
        return yield* new NotFound({
          resource: "template",
          message: `no catalog template is called "${input.template}"`
        })
      }
      const handle = input.handle ?? kind?.handle
      const name = input.name ?? kind?.name
      const role = input.role ?? kind?.role
      if (handle === undefined || name === undefined || role === undefined) {
        return yield* new InvalidInput({
          message: "a custom teammate needs a handle, a name and a role (or hire a template)"
        })
      }
      const model = yield* orUnavailable(policy.check(orgId, input.model ?? kind?.model))
      return yield* orUnavailable(teammates.create(orgId, a.user.id, {
        handle,
        name,
        role,
        personality: input.personality ?? kind?.personality ?? "",
        instructions: input.instructions ?? kind?.instructions ?? "",
        model,
        tools: input.tools ?? kind?.tools ?? ["remember", "recall"],
        busyPolicy: input.busyPolicy ?? kind?.busyPolicy ?? "queue",
        template: kind?.template ?? null,
        monthlyTokenLimit: input.monthlyTokenLimit ?? null
      }))
    }, Effect.scoped)

    const list = Effect.fn("Teammates.list")(function*(caller: Caller, orgId: OrgId) {
      yield* access.org(caller, orgId)
      return yield* orUnavailable(teammates.list(orgId))
    })

    const get = Effect.fn("Teammates.get")(function*(caller: Caller, orgId: OrgId, id: TeammateId) {
      yield* access.org(caller, orgId)
      return yield* found(orgId, id)
    })

    /** Members change a teammate; its token limit is the admins'. */
    const update = Effect.fn("Teammates.update")(
      function*(caller: Caller, orgId: OrgId, id: TeammateId, patch: UpdateTeammateRequest) {
        yield* access.orgRole(caller, orgId, "member", "changing teammates")
        yield* limitsChange(caller, orgId, patch.monthlyTokenLimit, "changing a teammate's token limit")
        yield* limits.write(caller, orgId)
        const model = patch.model === undefined ? undefined : yield* orUnavailable(policy.check(orgId, patch.model))
        return yield* orUnavailable(teammates.update(orgId, id, {
          ...(patch.name !== undefined ? { name: patch.name } : {}),
          ...(patch.role !== undefined ? { role: patch.role } : {}),
          ...(patch.personality !== undefined ? { personality: patch.personality } : {}),
          ...(patch.instructions !== undefined ? { instructions: patch.instructions } : {}),
          ...(model !== undefined ? { model } : {}),
          ...(patch.tools !== undefined ? { tools: patch.tools } : {}),
          ...(patch.busyPolicy !== undefined ? { busyPolicy: patch.busyPolicy } : {}),
          ...(patch.monthlyTokenLimit !== undefined ? { monthlyTokenLimit: patch.monthlyTokenLimit } : {})
        }))
      },
      Effect.scoped
    )

    const dismiss = Effect.fn("Teammates.dismiss")(function*(caller: Caller, orgId: OrgId, id: TeammateId) {
      yield* access.orgRole(caller, orgId, "admin", "dismissing teammates")
      yield* limits.write(caller, orgId)
      return yield* orUnavailable(teammates.dismiss(orgId, id))
    }, Effect.scoped)

    /** The caller's direct room with a teammate (the same one every time). */
    const openDm = Effect.fn("Teammates.openDm")(function*(caller: Caller, orgId: OrgId, id: TeammateId) {
      const a = yield* access.org(caller, orgId)
      yield* limits.write(caller, orgId)
      const dm = yield* orUnavailable(teammates.openDm(orgId, a.user, id))
      return yield* orUnavailable(rooms.info(orgId, decodeRoomId(dm.roomId)))
    }, Effect.scoped)

    /** Room members (not guests) add teammates to rooms other than direct ones. */
    const addToRoom = Effect.fn("Teammates.addToRoom")(function*(caller: Caller, roomId: RoomId, id: TeammateId) {
      const a = yield* access.contributor(caller, roomId, "add teammates to rooms")
      if (a.room.kind === "direct") {
        return yield* new Forbidden({ message: "direct rooms have a fixed set of participants" })
      }
      yield* limits.write(caller, a.orgId)
      yield* orUnavailable(teammates.addToRoom(a.orgId, roomId, id))
    }, Effect.scoped)

    /** A teammate's latest runs, in rooms the reader can read. */
    const runsOf = Effect.fn("Teammates.runs")(function*(caller: Caller, orgId: OrgId, id: TeammateId, limit: number) {
      const a = yield* access.orgRole(caller, orgId, "member", "reading a teammate's runs")
      yield* found(orgId, id)
      return yield* orUnavailable(runs.list(orgId, id, limit, yield* readable(a)))
    })

    /** Cancels the teammate's running turn; whether one was running. */
    const interrupt = Effect.fn("Teammates.interrupt")(function*(caller: Caller, orgId: OrgId, id: TeammateId) {
      yield* access.orgRole(caller, orgId, "member", "interrupting a teammate")
      yield* found(orgId, id)
      return yield* entity(id).Interrupt({ orgId }).pipe(
        Effect.catchAll(() => Effect.fail(new Unavailable({ message: "the teammate could not be reached; retry" })))
      )
    })

    /** A teammate's memory, from rooms the reader can read (and what people added by hand). */
    const memory = Effect.fn("Teammates.memory")(function*(caller: Caller, orgId: OrgId, id: TeammateId) {
      const a = yield* access.orgRole(caller, orgId, "member", "reading a teammate's memory")
      return yield* orUnavailable(teammates.memory(orgId, id, 100, yield* readable(a)))
    })

    const remember = Effect.fn("Teammates.remember")(
      function*(caller: Caller, orgId: OrgId, id: TeammateId, text: string) {
        yield* access.orgRole(caller, orgId, "member", "editing a teammate's memory")
        yield* found(orgId, id)
        yield* limits.write(caller, orgId)
        return yield* orUnavailable(teammates.remember(orgId, id, text, null))
      },
      Effect.scoped
    )

    const putCore = Effect.fn("Teammates.putCore")(
      function*(caller: Caller, orgId: OrgId, id: TeammateId, block: CoreBlock, text: string) {
        yield* access.orgRole(caller, orgId, "member", "editing a teammate's memory")
        yield* limits.write(caller, orgId)
        yield* orUnavailable(teammates.putCore(orgId, id, block, text, null))
      },
      Effect.scoped
    )

    const forget = Effect.fn("Teammates.forget")(
      function*(caller: Caller, orgId: OrgId, id: TeammateId, memoryId: string) {
        yield* access.orgRole(caller, orgId, "member", "editing a teammate's memory")
        yield* found(orgId, id)
        yield* orUnavailable(teammates.forget(orgId, id, memoryId))
      }
    )

    const usage = Effect.fn("Teammates.usage")(function*(caller: Caller, orgId: OrgId) {
      yield* access.orgRole(caller, orgId, "member", "reading the org's usage")
      return yield* orUnavailable(runs.usage(orgId))
    })

    const budget = Effect.fn("Teammates.budget")(function*(caller: Caller, orgId: OrgId, monthlyTokens: number | null) {
      yield* access.orgRole(caller, orgId, "admin", "setting the token budget")
      yield* orUnavailable(runs.setOrgBudget(orgId, monthlyTokens))
    })

    const modelPolicy = Effect.fn("Teammates.modelPolicy")(function*(caller: Caller, orgId: OrgId) {
      yield* access.org(caller, orgId)
      return yield* orUnavailable(policy.view(orgId))
    })

    const setModelPolicy = Effect.fn("Teammates.setModelPolicy")(
      function*(caller: Caller, orgId: OrgId, models: ReadonlyArray<string> | null) {
        yield* access.orgRole(caller, orgId, "admin", "setting the org's model policy")
        yield* limits.write(caller, orgId)
        return yield* orUnavailable(policy.set(orgId, models))
      },
      Effect.scoped
    )

    return {
      catalog: entries(catalog),
      hire,
      list,
      get,
      update,
      dismiss,
      openDm,
      addToRoom,
      runs: runsOf,
      interrupt,
      memory,
      remember,
      putCore,
      forget,
      usage,
      budget,
      modelPolicy,
      setModelPolicy
    } as const
  }),
  dependencies: [Access.Default, Limits.Default, ModelPolicy.Default]
}) {}
