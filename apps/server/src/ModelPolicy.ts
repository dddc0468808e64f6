/**
 * Which model teammates use. With `OPENAI_API_KEY` or `OPENAI_BASE_URL` set,
 * the OpenAI-compatible endpoint answers (default model `DEFAULT_MODEL`,
 * `gpt-4o-mini`); otherwise the deterministic local model does, and every
 * teammate's model is `local`. `ALLOWED_MODELS` (comma-separated) restricts
 * what teammates may be given on the whole server, and each org may narrow
 * that further with its own list.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { InvalidInput, type NotFound } from "@troupe/domain/Errors"
import type { OrgId } from "@troupe/domain/Ids"
import { ModelPolicyView } from "@troupe/domain/Teammate"
import { LanguageModel } from "@troupe/llm/LanguageModel"
import * as LocalModel from "@troupe/llm/LocalModel"
import * as OpenAIModel from "@troupe/llm/OpenAIModel"
import { OrgRepo } from "@troupe/store/OrgRepo"
import { Config, Context, Effect, Layer, Option, Redacted } from "effect"

/** Model settings. */
export const ModelConfig = Config.all({
  apiKey: Config.option(Config.redacted("OPENAI_API_KEY")),
  baseUrl: Config.option(Config.string("OPENAI_BASE_URL")),
  defaultModel: Config.string("DEFAULT_MODEL").pipe(Config.withDefault("gpt-4o-mini")),
  allowed: Config.string("ALLOWED_MODELS").pipe(Config.withDefault(""))
})

const usesOpenAI = (c: Config.Config.Success<typeof ModelConfig>) => Option.isSome(c.apiKey) || Option.isSome(c.baseUrl)

/** The model port: OpenAI-compatible when configured, local otherwise. */
export const ModelLive = Layer.unwrapEffect(Effect.gen(function*() {
  const c = yield* ModelConfig
  if (!usesOpenAI(c)) {
    yield* Effect.logInfo("no OPENAI_API_KEY or OPENAI_BASE_URL: teammates use the deterministic local model")
    return LocalModel.layer
  }
  return OpenAIModel.layer({
    baseURL: Option.getOrElse(c.baseUrl, () => "https://api.openai.com/v1"),
    apiKey: Option.getOrElse(c.apiKey, () => Redacted.make("not-needed"))
  })
}))

/** Checks and defaults teammate models, by the server's and the org's lists. */
export class ModelPolicy extends Context.Tag("@troupe/server/ModelPolicy")<ModelPolicy, {
  /**
   * The model to store for a teammate of the org: the requested one if both
   * lists allow it; with none requested, the default if allowed, else the
   * org's first allowed model.
   */
  readonly check: (orgId: OrgId, requested: string | undefined) => Effect.Effect<string, InvalidInput | NotFound | SqlError>
  /** The org's policy as the API shows it. */
  readonly view: (orgId: OrgId) => Effect.Effect<ModelPolicyView, NotFound | SqlError>
  /** Sets the org's list; every model in it must be one the server allows. */
  readonly set: (orgId: OrgId, models: ReadonlyArray<string> | null) => Effect.Effect<ModelPolicyView, InvalidInput | NotFound | SqlError>
}>() {}

/** The policy from configuration and each org's list. */
export const ModelPolicyLive = Layer.effect(ModelPolicy, Effect.gen(function*() {
  const c = yield* ModelConfig
  const model = yield* LanguageModel
  const orgs = yield* OrgRepo
  const local = !usesOpenAI(c) || model.name === "local"
  const listed = c.allowed.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  const server = listed.length > 0 ? listed : null
  const serverAllows = (m: string) => server === null || server.includes(m)
  const viewOf = (allowed: ReadonlyArray<string> | null) =>
    new ModelPolicyView({ allowedModels: allowed, serverAllowedModels: server, defaultModel: local ? "local" : c.defaultModel, local })
  return ModelPolicy.of({
    check: (orgId, requested) =>
      Effect.gen(function*() {
        if (local) return "local"
        const org = yield* orgs.allowedModels(orgId)
        const allows = (m: string) => serverAllows(m) && (org === null || org.includes(m))
        const wanted = requested ?? (allows(c.defaultModel) ? c.defaultModel : org?.find(serverAllows) ?? c.defaultModel)
        if (!serverAllows(wanted)) {
          return yield* new InvalidInput({ message: `model "${wanted}" is not allowed on this server; allowed: ${server!.join(", ")}` })
        }
        if (org !== null && !org.includes(wanted)) {
          return yield* new InvalidInput({ message: `model "${wanted}" is not allowed by the org's model policy; allowed: ${org.join(", ")}` })
        }
        return wanted
      }),
    view: (orgId) => Effect.map(orgs.allowedModels(orgId), viewOf),
    set: (orgId, models) =>
      Effect.gen(function*() {
        const refused = (models ?? []).filter((m) => !serverAllows(m))
        if (refused.length > 0) {
          return yield* new InvalidInput({
            message: `not allowed on this server: ${refused.join(", ")}; the server allows ${server!.join(", ")}`
          })
        }
        return viewOf(yield* orgs.setAllowedModels(orgId, models))
      })
  })
}))
