/**
 * Which model teammates use. With `OPENAI_API_KEY` or `OPENAI_BASE_URL` set,
 * the OpenAI-compatible endpoint answers (default model `DEFAULT_MODEL`,
 * `gpt-4o-mini`); otherwise the deterministic local model does, and every
 * teammate's model is `local`. `ALLOWED_MODELS` (comma-separated) restricts
 * what teammates may be given.
 */
import { InvalidInput } from "@troupe/domain/Errors"
import { LanguageModel } from "@troupe/llm/LanguageModel"
import * as LocalModel from "@troupe/llm/LocalModel"
import * as OpenAIModel from "@troupe/llm/OpenAIModel"
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

/** Checks and defaults teammate models. */
export class ModelPolicy extends Context.Tag("@troupe/server/ModelPolicy")<ModelPolicy, {
  /** The model to store for a teammate: the requested one if allowed, else the default. */
  readonly check: (requested: string | undefined) => Effect.Effect<string, InvalidInput>
}>() {}

/** The policy from configuration. */
export const ModelPolicyLive = Layer.effect(ModelPolicy, Effect.gen(function*() {
  const c = yield* ModelConfig
  const model = yield* LanguageModel
  const local = !usesOpenAI(c) || model.name === "local"
  const allowed = c.allowed.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
  return ModelPolicy.of({
    check: (requested) => {
      if (local) return Effect.succeed("local")
      const wanted = requested ?? c.defaultModel
      if (allowed.length > 0 && !allowed.includes(wanted)) {
        return Effect.fail(new InvalidInput({ message: `model "${wanted}" is not allowed here; allowed: ${allowed.join(", ")}` }))
      }
      return Effect.succeed(wanted)
    }
  })
}))
