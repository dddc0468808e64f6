/**
 * `troupe run agent KIND --message "…"`: one turn of a teammate kind run in
 * this process, with no server and no database, printing the reply as it
 * streams and every tool call with its answer. KIND is a kind of the
 * built-in catalog, or a TypeScript or JavaScript module exporting kinds made
 * with `defineTeammate` (`FILE` or `FILE#template`). The model is the
 * deterministic local one, or the OpenAI-compatible endpoint when
 * `OPENAI_API_KEY` or `OPENAI_BASE_URL` is set. The turn's memories and pins
 * live in the process; tools that need a server say so to the model.
 */
import { Args, Command, Options } from "@effect/cli"
import type { TeammateKind } from "@troupe/teammates/Kind"
import { Console, Effect, Logger, LogLevel } from "effect"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { dim, yellow } from "./Output.js"
import { Failure, json } from "./Session.js"

const isKind = (value: unknown): value is TeammateKind =>
  typeof value === "object" && value !== null && "template" in value && typeof value.template === "string" &&
  "instructions" in value && "extraTools" in value && Array.isArray(value.extraTools) && "tools" in value &&
  Array.isArray(value.tools)

/** The kinds a module exports. */
const kindsIn = (file: string) =>
  Effect.tryPromise({
    try: (): Promise<Record<string, unknown>> => import(pathToFileURL(Path.resolve(file)).href),
    catch: (e) =>
      new Failure({ message: `cannot load ${file}: ${e instanceof Error ? e.message : String(e)}`, code: 1 })
  }).pipe(Effect.map((module) => Object.values(module).filter(isKind)))

const looksLikeFile = (kind: string) => /[/\\]|\.[cm]?[jt]s(#|$)/.test(kind)

const agent = Command.make(
  "agent",
  {
    json,
    kind: Args.text({ name: "kind" }).pipe(
      Args.withDescription("a catalog kind (researcher, scribe, …, standup-host), or FILE[#template] exporting kinds")
    ),
    message: Options.text("message").pipe(Options.withAlias("m"), Options.withDescription("what the person says")),
    person: Options.text("as").pipe(Options.withDescription("the person's name"), Options.withDefault("You"))
  },
  (input) =>
    Effect.gen(function*() {
      // Loaded here only: the other commands need none of the teammates' runtime.
      const LocalTurn = yield* Effect.promise(() => import("@troupe/teammates/LocalTurn"))
      const Catalog = yield* Effect.promise(() => import("@troupe/teammates/Catalog"))
      const ModelLoop = yield* Effect.promise(() => import("@troupe/teammates/ModelLoop"))
      const ModelConfig = yield* Effect.promise(() => import("@troupe/llm/ModelConfig"))

      const state = LocalTurn.emptyState()
      const kind = yield* Effect.gen(function*() {
        if (looksLikeFile(input.kind)) {
          const [file = "", template] = input.kind.split("#")
          const kinds = yield* kindsIn(file)
          const chosen = template === undefined && kinds.length === 1
            ? kinds[0]
            : kinds.find((k) => k.template === template)
          if (chosen !== undefined) return chosen
          return yield* new Failure({
            message: kinds.length === 0
              ? `${file} exports no teammate kind (make one with defineTeammate)`
              : `${file} exports ${kinds.map((k) => k.template).join(", ")}: name one as ${file}#TEMPLATE`,
            code: 1
          })
        }
        const all = [...Catalog.templates, ...Catalog.codeKinds(LocalTurn.localMemory(state))]
        const found = all.find((k) => k.template === input.kind)
        if (found !== undefined) return found
        return yield* new Failure({
          message: `no kind ${input.kind}: the catalog has ${all.map((k) => k.template).join(", ")}` +
            " (or give a file that exports one)",
          code: 1
        })
      })

      const config = yield* ModelConfig.ModelConfig.pipe(
        Effect.mapError((e) => new Failure({ message: `model settings: ${e.message}`, code: 1 }))
      )
      const settings = yield* ModelLoop.TurnConfig.pipe(
        Effect.mapError((e) => new Failure({ message: `turn settings: ${e.message}`, code: 1 }))
      )
      const endpoint = ModelConfig.usesEndpoint(config)
      const model = kind.model ?? (endpoint ? config.defaultModel : "local")
      const unavailable = kind.tools.filter((t) => LocalTurn.unavailableTools.includes(t))
      if (!input.json) {
        yield* Console.error(dim(
          `${kind.name} (@${kind.handle}, ${kind.role}), ${
            endpoint ? `model ${model}` : "the local model"
          }, no server` +
            (unavailable.length > 0 ? `; without a server these tools only say so: ${unavailable.join(", ")}` : "")
        ))
      }

      let open = false
      const write = (text: string) => Effect.sync(() => process.stdout.write(text))
      const line = (record: unknown) => Console.log(JSON.stringify(record))
      const result = yield* LocalTurn.run({
        kind,
        message: input.message,
        person: input.person,
        model,
        settings,
        state,
        hooks: {
          delta: (text, restart) =>
            input.json
              ? line({ type: "delta", text, restart })
              : Effect.suspend(() => {
                open = text !== "" || (open && !restart)
                return write(restart ? "\n" : text)
              }),
          tool: (call, output) =>
            input.json
              ? line({ type: "tool", name: call.name, arguments: call.arguments, output })
              : Effect.suspend(() => {
                const before = open ? "\n" : ""
                open = false
                return write(`${before}${yellow(`→ ${call.name}`)} ${dim(call.arguments)}\n${dim(`← ${output}`)}\n`)
              })
        }
      }).pipe(
        Effect.provide(ModelConfig.layerConfig),
        Effect.mapError((e) =>
          e._tag === "TurnFailed" ? new Failure({ message: e.message, code: 2 }) : new Failure({
            message: `model settings: ${e.message}`,
            code: 1
          })
        ),
        Logger.withMinimumLogLevel(LogLevel.Warning)
      )
      if (input.json) {
        yield* line({
          type: "reply",
          text: result.text.trim(),
          model,
          inputTokens: result.inputTokens,
          outputTokens: result.outputTokens
        })
      } else {
        if (open) yield* write("\n")
        yield* Console.error(dim(`${result.inputTokens} tokens in, ${result.outputTokens} out`))
      }
    })
).pipe(Command.withDescription(
  "run one turn of a teammate kind here, with no server: the reply as it streams, and its tool calls"
))

/** `troupe run agent …`. */
export const run = Command.make("run", {}).pipe(
  Command.withDescription("run things locally, with no server"),
  Command.withSubcommands([agent])
)
