/**
 * Which models an org's teammates may use: the server's `ALLOWED_MODELS`,
 * narrowed by each org's own list. With no model endpoint every teammate's
 * model is `local`.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { InvalidInput, type NotFound } from "@troupe/domain/Errors"
import type { OrgId } from "@troupe/domain/Ids"
import { ModelPolicyView } from "@troupe/domain/Teammate"
import { LanguageModel } from "@troupe/llm/LanguageModel"
import { ModelConfig, usesEndpoint } from "@troupe/llm/ModelConfig"
import type { RowError } from "@troupe/store/DatabaseError"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { Effect } from "effect"

/** Checks and defaults teammate models, by the server's and the org's lists. */
export class ModelPolicy extends Effect.Service<ModelPolicy>()("@troupe/workspace/ModelPolicy", {
  effect: Effect.gen(function*() {
    const c = yield* ModelConfig
    const model = yield* LanguageModel
    const orgs = yield* OrgRepo
    const local = !usesEndpoint(c) || model.name === "local"
    const server = c.allowed
    const serverAllows = (m: string) => server === null || server.includes(m)
    const serverList = server === null ? "any" : server.join(", ")
    const viewOf = (allowed: ReadonlyArray<string> | null) =>
      new ModelPolicyView({
        allowedModels: allowed,
        serverAllowedModels: server,
        defaultModel: local ? "local" : c.defaultModel,
        local
      })

    /**
     * The model to store for a teammate of the org: the requested one if both
     * lists allow it; with none requested, the default if allowed, else the
     * org's first allowed model.
     */
    const check = (
      orgId: OrgId,
      requested: string | undefined
    ): Effect.Effect<string, InvalidInput | NotFound | SqlError | RowError> =>
      Effect.gen(function*() {
        if (local) return "local"
        const org = yield* orgs.allowedModels(orgId)
        const allows = (m: string) => serverAllows(m) && (org === null || org.includes(m))
        const wanted = requested ??
          (allows(c.defaultModel) ? c.defaultModel : org?.find(serverAllows) ?? c.defaultModel)
        if (!serverAllows(wanted)) {
          return yield* new InvalidInput({
            message: `model "${wanted}" is not allowed on this server; allowed: ${serverList}`
          })
        }
        if (org !== null && !org.includes(wanted)) {
          return yield* new InvalidInput({
            message: `model "${wanted}" is not allowed by the org's model policy; allowed: ${org.join(", ")}`
          })
        }
        return wanted
      })

    /** The org's policy as the API shows it. */
    const view = (orgId: OrgId) => Effect.map(orgs.allowedModels(orgId), viewOf)

    /** Sets the org's list; every model in it must be one the server allows. */
    const set = (orgId: OrgId, models: ReadonlyArray<string> | null) =>
      Effect.gen(function*() {
        const refused = (models ?? []).filter((m) => !serverAllows(m))
        if (refused.length > 0) {
          return yield* new InvalidInput({
            message: `not allowed on this server: ${refused.join(", ")}; the server allows ${serverList}`
          })
        }
        return viewOf(yield* orgs.setAllowedModels(orgId, models))
      })

    return { check, view, set } as const
  })
}) {}
