/**
 * Which model answers, from configuration. With `OPENAI_API_KEY` or
 * `OPENAI_BASE_URL` set, the OpenAI-compatible endpoint does (default model
 * `DEFAULT_MODEL`, `gpt-4o-mini`); otherwise the deterministic local model
 * does. `ALLOWED_MODELS` (comma-separated) restricts what teammates may be
 * given on the whole server.
 */
import { Config, type ConfigError, Effect, Layer, Option, Redacted } from "effect"
import type { LanguageModel } from "./LanguageModel.js"
import * as LocalModel from "./LocalModel.js"
import * as OpenAIModel from "./OpenAIModel.js"

/** Model settings. */
export const ModelConfig = Config.all({
  /** The endpoint's key (`OPENAI_API_KEY`). */
  apiKey: Config.option(Config.redacted("OPENAI_API_KEY")),
  /** An OpenAI-compatible endpoint (`OPENAI_BASE_URL`, default OpenAI's when only a key is set). */
  baseUrl: Config.option(Config.string("OPENAI_BASE_URL")),
  /** The model new teammates get (`DEFAULT_MODEL`, default `gpt-4o-mini`). */
  defaultModel: Config.string("DEFAULT_MODEL").pipe(Config.withDefault("gpt-4o-mini")),
  /** The models the server allows, comma-separated (`ALLOWED_MODELS`, default any). */
  allowed: Config.string("ALLOWED_MODELS").pipe(
    Config.withDefault(""),
    Config.map((list) => {
      const models = list.split(",").map((s) => s.trim()).filter((s) => s.length > 0)
      return models.length > 0 ? models : null
    })
  )
})

/** The resolved settings. */
export type ModelConfig = Config.Config.Success<typeof ModelConfig>

/** Whether a model endpoint is configured (otherwise the local model answers). */
export const usesEndpoint = (c: ModelConfig) => Option.isSome(c.apiKey) || Option.isSome(c.baseUrl)

/** The model port from configuration: the endpoint when one is configured, the local model otherwise. */
export const layerConfig: Layer.Layer<LanguageModel, ConfigError.ConfigError> = Layer.unwrapEffect(
  Effect.gen(function*() {
    const c = yield* ModelConfig
    if (!usesEndpoint(c)) {
      yield* Effect.logInfo("no OPENAI_API_KEY or OPENAI_BASE_URL: teammates use the deterministic local model")
      return LocalModel.layer
    }
    return OpenAIModel.layer({
      baseURL: Option.getOrElse(c.baseUrl, () => "https://api.openai.com/v1"),
      apiKey: Option.getOrElse(c.apiKey, () => Redacted.make("not-needed"))
    })
  })
)
