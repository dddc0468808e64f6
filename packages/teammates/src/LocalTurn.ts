/**
 * One turn of a teammate kind with no server and no database: the quick
 * check a developer writing a kind needs (`troupe run agent`). The turn is
 * the server's model loop (`ModelLoop`) with the kind's system prompt
 * (`Turn.systemPrompt`) and one message from a person; its memory, core
 * memory and pins live in this process only, and tools that need rooms,
 * messages, files or tasks answer that they are unavailable here.
 */
import { OrgId, RoomId, TeammateId } from "@troupe/domain/Ids"
import { MemoryEntry, type ToolName } from "@troupe/domain/Teammate"
import { LanguageModel, type ToolCall } from "@troupe/llm/LanguageModel"
import { Effect, Either } from "effect"
import { randomUUID } from "node:crypto"
import type { TeammateKind, ToolContext } from "./Kind.js"
import * as ModelLoop from "./ModelLoop.js"
import { parseArguments, prepareKindTool, ToolArguments, toolSpecs } from "./Tools.js"
import { systemPrompt } from "./Turn.js"

/** Built-in tools that need a server: a local turn tells the model so. */
export const unavailableTools: ReadonlyArray<ToolName> = ["search_messages", "read_file", "start_task"]

/** What the teammate keeps during a local turn. */
export interface LocalState {
  readonly memories: Array<string>
  readonly core: Record<string, string>
  readonly pins: Map<string, string>
}

/** A stand-in for the teammate repository's `remember`, for kinds whose own tools write memories. */
export const localMemory = (state: LocalState) => ({
  remember: (_orgId: OrgId, _id: TeammateId, text: string) =>
    Effect.sync(() => {
      state.memories.push(text)
      return new MemoryEntry({
        id: randomUUID(),
        text,
        sourceMessageId: null,
        roomId: null,
        createdAt: new Date()
      })
    })
})

/** A fresh, empty state. */
export const emptyState = (): LocalState => ({ memories: [], core: {}, pins: new Map() })

const none = "00000000-0000-4000-8000-000000000000"
const context: ToolContext = {
  orgId: OrgId.make(none),
  teammateId: TeammateId.make(none),
  teammateName: "",
  roomId: RoomId.make(none),
  runId: none,
  sourceMessageId: none
}

/** Runs one built-in tool against the local state; what the model is told. */
const runBuiltIn = (name: ToolName, args: string, state: LocalState): Effect.Effect<string> => {
  const answer = <A, I>(schema: Parameters<typeof parseArguments<A, I>>[0], f: (input: A) => string) =>
    Effect.match(parseArguments(schema, args), { onFailure: (e) => e, onSuccess: f })
  switch (name) {
    case "remember":
      return answer(ToolArguments.remember, ({ fact }) => {
        state.memories.push(fact)
        return `remembered: ${fact}`
      })
    case "recall":
      return answer(ToolArguments.recall, ({ query }) => {
        const words = query.toLowerCase().split(/\W+/).filter((w) => w.length > 0)
        const found = state.memories.filter((m) => words.some((w) => m.toLowerCase().includes(w)))
        return found.length === 0 ? "no matching memories" : found.map((m) => `- ${m}`).join("\n")
      })
    case "update_core_memory":
      return answer(ToolArguments.update_core_memory, ({ block, text }) => {
        state.core[block] = text
        return `core memory ${block} updated`
      })
    case "pin_note":
      return answer(ToolArguments.pin_note, ({ text }) => {
        const id = `local-pin-${state.pins.size + 1}`
        state.pins.set(id, text)
        return `pinned as ${id}: ${text}`
      })
    case "update_pin":
      return answer(ToolArguments.update_pin, ({ pinId, text }) => {
        if (!state.pins.has(pinId)) return `refused: no pin ${pinId}`
        state.pins.set(pinId, text)
        return `pin ${pinId} is now: ${text}`
      })
    case "hand_off":
      return answer(
        ToolArguments.hand_off,
        ({ handle }) => `handing off to @${handle.replace(/^@/, "")} (not delivered: there is no room in a local run)`
      )
    case "search_messages":
    case "read_file":
    case "start_task":
      return Effect.succeed(`${name} is unavailable in a local run: it needs a Troupe server`)
  }
}

/** What a local turn tells its caller as it goes. */
export interface LocalHooks {
  /** Some text of the reply (`restart`: drop what came before). */
  readonly delta: (text: string, restart: boolean) => Effect.Effect<void>
  /** A tool was called with `call.arguments` and answered `output`. */
  readonly tool: (call: ToolCall, output: string) => Effect.Effect<void>
}

/**
 * Runs one turn of `kind` answering `message` (from `person`) with the
 * model in context; `model` is the model name sent to it.
 */
export const run = (options: {
  readonly kind: TeammateKind
  readonly message: string
  readonly person: string
  readonly model: string
  readonly settings: ModelLoop.TurnSettings
  readonly state: LocalState
  readonly hooks: LocalHooks
}) =>
  Effect.gen(function*() {
    const { kind, state } = options
    const model = yield* LanguageModel
    const system = systemPrompt({
      teammate: kind,
      roomName: "local run",
      core: state.core,
      recalled: state.memories.slice(-5),
      pins: [...state.pins].map(([id, text]) => `- [note ${id}] ${text}`),
      people: [`${options.person} (person)`, `${kind.name} (@${kind.handle}, AI teammate)`]
    })
    return yield* ModelLoop.run(
      model,
      {
        model: options.model,
        messages: [{ role: "system", content: system }, {
          role: "user",
          content: `${options.person}: ${options.message}`
        }],
        tools: toolSpecs(kind.tools, kind.extraTools)
      },
      options.settings,
      {
        delta: (text, _offset, restart) => options.hooks.delta(text, restart),
        modelStep: () => Effect.void,
        tool: (call) => {
          const own = kind.extraTools.find((t) => t.name === call.name)
          if (own !== undefined) {
            return Effect.flatMap(
              prepareKindTool(own, call.arguments, { ...context, teammateName: kind.name }),
              Either.match({
                onLeft: (wrong): Effect.Effect<ModelLoop.ToolAnswer> => Effect.succeed({ output: wrong, error: wrong }),
                onRight: (work) =>
                  Effect.map(work, (out): ModelLoop.ToolAnswer => ({ output: JSON.stringify(out), error: null }))
              })
            )
          }
          const name = kind.tools.find((n) => n === call.name)
          const unknown = `unknown tool ${call.name}`
          return name === undefined
            ? Effect.succeed<ModelLoop.ToolAnswer>({ output: unknown, error: unknown })
            : Effect.map(
              runBuiltIn(name, call.arguments, state),
              (output): ModelLoop.ToolAnswer => ({ output, error: null })
            )
        },
        toolStep: (call, answer) => options.hooks.tool(call, answer.output)
      }
    )
  })
