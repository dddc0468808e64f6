/**
 * Built-in teammate tools: Schema-typed parameters, JSON Schema for the
 * model, and handlers. Handlers with side effects run through the run's
 * journal, so a redelivered turn does not act twice.
 */
import { Conflict, Forbidden, InvalidInput, NotFound } from "@troupe/domain/Errors"
import { FileId, MessageId, PinId, TaskId } from "@troupe/domain/Ids"
import { PinText } from "@troupe/domain/Pin"
import { MAX_GOAL_LENGTH } from "@troupe/domain/Task"
import { CoreBlock, type ToolName } from "@troupe/domain/Teammate"
import type { ToolSpec } from "@troupe/llm/LanguageModel"
import { FileRepo } from "@troupe/store/FileRepo"
import { MessageRepo } from "@troupe/store/MessageRepo"
import { PinRepo } from "@troupe/store/PinRepo"
import { RunRepo } from "@troupe/store/RunRepo"
import { stableUuid } from "@troupe/store/Secrets"
import { TaskRepo } from "@troupe/store/TaskRepo"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import { Effect, Either, JSONSchema, Option, Schema } from "effect"
import type { KindTool, ToolContext } from "./Kind.js"
import { TaskWorkflow } from "./TaskWorkflow.js"

const Remember = Schema.Struct({ fact: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(2000)) })
const Recall = Schema.Struct({ query: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)) })
const Search = Schema.Struct({ query: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)) })
const Pin = Schema.Struct({ text: PinText })
const UpdatePin = Schema.Struct({ pinId: PinId, text: PinText })
const HandOff = Schema.Struct({
  handle: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(40)),
  note: Schema.String.pipe(Schema.maxLength(1000))
})
const ReadFile = Schema.Struct({
  file: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(255)).annotations({
    description: "the file's id, or its name, as the conversation shows it"
  })
})
const StartTask = Schema.Struct({
  goal: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(MAX_GOAL_LENGTH)).annotations({
    description: "what to work on, in a sentence or two"
  })
})

/** Most characters of a file's text one read_file call returns. */
const READ_FILE_CHARS = 20_000

const CoreMemory = Schema.Struct({
  block: CoreBlock,
  text: Schema.String.pipe(Schema.maxLength(4000))
})

const descriptions: Record<
  ToolName,
  { readonly description: string; readonly parameters: Schema.Schema.AnyNoContext }
> = {
  remember: { description: "Store a durable fact in your long-term memory.", parameters: Remember },
  recall: { description: "Search your long-term memory for facts matching a query.", parameters: Recall },
  search_messages: { description: "Full-text search of messages in rooms you belong to.", parameters: Search },
  pin_note: { description: "Pin a short note to the room's pinboard.", parameters: Pin },
  update_pin: {
    description: "Replace the text of a note on the room's pinboard, by the pin id shown in your context.",
    parameters: UpdatePin
  },
  hand_off: {
    description: "Hand the conversation to another teammate in this room by @handle, with a note.",
    parameters: HandOff
  },
  update_core_memory: {
    description: "Replace one of your core memory blocks (persona, org or people).",
    parameters: CoreMemory
  },
  start_task: {
    description: "Start working on a longer goal in the background, in steps; the result is posted in this thread " +
      "when done. Use it for work that takes more than one reply.",
    parameters: StartTask
  },
  read_file: {
    description: "Read the text of a file shared in this room (by id or name). Cite the file by name when you use it.",
    parameters: ReadFile
  }
}

/** The arguments each built-in tool takes. */
export const ToolArguments = {
  remember: Remember,
  recall: Recall,
  search_messages: Search,
  pin_note: Pin,
  update_pin: UpdatePin,
  hand_off: HandOff,
  update_core_memory: CoreMemory,
  read_file: ReadFile,
  start_task: StartTask
} satisfies Record<ToolName, Schema.Schema.AnyNoContext>

const invalidArguments = (e: unknown) => `invalid arguments: ${e instanceof Error ? e.message : String(e)}`
const json = (args: string) => Effect.try({ try: (): unknown => JSON.parse(args), catch: invalidArguments })

/** A tool call's arguments (JSON text) decoded by `schema`; what is wrong with them, for the model, otherwise. */
export const parseArguments = <A, I>(schema: Schema.Schema<A, I>, args: string) =>
  Effect.flatMap(json(args), (input) => Effect.mapError(Schema.decodeUnknown(schema)(input), invalidArguments))

/** A kind's own tool call, prepared: its handler's work, or what is wrong with the arguments, for the model. */
export const prepareKindTool = (tool: KindTool, args: string, ctx: ToolContext) =>
  Effect.map(
    Effect.either(json(args)),
    (input) => Either.flatMap(input, (value) => Either.mapLeft(tool.prepare(value, ctx), invalidArguments))
  )

/** JSON Schema for a tool's parameters, as the model wants it. */
export const jsonSchema = (schema: Schema.Schema.AnyNoContext): Record<string, unknown> =>
  Object.fromEntries(Object.entries(JSONSchema.make(schema)).filter(([key]) => key !== "$schema"))

/** The specs the model sees for a teammate's tools. */
export const toolSpecs = (
  names: ReadonlyArray<ToolName>,
  extra: ReadonlyArray<KindTool>
): ReadonlyArray<ToolSpec> => [
  ...names.map((name) => ({
    name,
    description: descriptions[name].description,
    parameters: jsonSchema(descriptions[name].parameters)
  })),
  ...extra.map((t) => ({ name: t.name, description: t.description, parameters: jsonSchema(t.parameters) }))
]

/** A hand-off the turn must deliver after its reply is posted. */
export interface HandOffRequest {
  readonly handle: string
  readonly note: string
}

/** Runs built-in and kind tools for one turn. */
export class Tools extends Effect.Service<Tools>()("@troupe/teammates/Tools", {
  effect: Effect.gen(function*() {
    const teammates = yield* TeammateRepo
    const messages = yield* MessageRepo
    const pins = yield* PinRepo
    const runs = yield* RunRepo
    const files = yield* FileRepo
    const tasks = yield* TaskRepo

    /**
     * Gives the teammate itself `goal` as a task, its result to go to the
     * thread of the message it is answering. The task's id comes from the
     * call, so a replayed call finds the same task.
     */
    const startTask = (ctx: ToolContext, key: string, goal: string) =>
      Effect.gen(function*() {
        const source = yield* messages.get(ctx.orgId, MessageId.make(ctx.sourceMessageId), ctx.teammateId)
        const id = TaskId.make(stableUuid(`${ctx.runId}:${key}`))
        const task = yield* tasks.create(
          { orgId: ctx.orgId, id: ctx.roomId },
          { kind: "teammate", id: ctx.teammateId, name: ctx.teammateName },
          { id, teammateId: ctx.teammateId, goal, threadId: source.threadId ?? source.id }
        )
        yield* TaskWorkflow.execute({ orgId: ctx.orgId, taskId: task.id }, { discard: true })
        return task.id
      })

    /** What read_file answers: the file's text, headed by what to cite, or why there is none. */
    const readFile = (ctx: ToolContext, ref: string) =>
      Effect.gen(function*() {
        const id = Schema.is(FileId)(ref)
          ? Option.some(ref)
          : Option.map(yield* files.named(ctx.orgId, ctx.roomId, ref), (f) => f.id)
        if (Option.isNone(id)) return `no file named "${ref}" in this room`
        const found = yield* Effect.either(files.text(ctx.orgId, ctx.roomId, id.value))
        if (found._tag === "Left") return `no file ${ref} in this room`
        const { file, text } = found.right
        const cite = `[file: ${file.name} (${file.id})]`
        if (file.textStatus === "pending") return `${cite} is still being read; try again in a moment`
        if (text === null) return `${cite} has no readable text (${file.contentType})`
        const more = text.length > READ_FILE_CHARS ? `\n[… ${text.length - READ_FILE_CHARS} more characters]` : ""
        return `${cite}\n${text.slice(0, READ_FILE_CHARS)}${more}`
      })

    const author = (ctx: ToolContext) => ({ kind: "teammate" as const, id: ctx.teammateId, name: ctx.teammateName })
    /** A refusal the model can read and act on (an unknown pin, an archived room), instead of a failed turn. */
    const refused = <E, R>(effect: Effect.Effect<string, E, R>) =>
      Effect.catchIf(
        effect,
        (e): e is Extract<E, NotFound | Conflict | InvalidInput | Forbidden> =>
          e instanceof NotFound || e instanceof Conflict || e instanceof InvalidInput || e instanceof Forbidden,
        (e) => Effect.succeed(`refused: ${e.message}`)
      )

    /**
     * Runs one tool call. Returns the text the model sees, any hand-off, and
     * what was wrong when the call could not run (unknown tool, bad arguments).
     * `key` identifies the call within the run for the journal.
     */
    const run = Effect.fn("Tools.run")(function*(
      call: { readonly name: string; readonly arguments: string },
      key: string,
      allowed: ReadonlyArray<ToolName>,
      extra: ReadonlyArray<KindTool>,
      ctx: ToolContext
    ) {
      const journal = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        runs.once(ctx.orgId, `${ctx.runId}:${key}`, effect).pipe(Effect.map((r) => r.result))
      const kindTool = extra.find((t) => t.name === call.name)
      if (kindTool) {
        const prepared = yield* prepareKindTool(kindTool, call.arguments, ctx)
        if (Either.isLeft(prepared)) return { output: prepared.left, handOff: null, error: prepared.left }
        const output = yield* journal(prepared.right)
        return { output: JSON.stringify(output), handOff: null, error: null }
      }
      const name = allowed.find((n) => n === call.name)
      if (name === undefined) {
        const unknown = `unknown tool ${call.name}`
        return { output: unknown, handOff: null, error: unknown }
      }
      const none: HandOffRequest | null = null
      const invalid = (e: string) => Effect.succeed({ output: e, handOff: none, error: e })
      switch (name) {
        case "remember":
          return yield* Effect.matchEffect(parseArguments(Remember, call.arguments), {
            onFailure: invalid,
            onSuccess: ({ fact }) =>
              journal(
                teammates.remember(ctx.orgId, ctx.teammateId, fact, {
                  messageId: ctx.sourceMessageId,
                  roomId: ctx.roomId
                })
              ).pipe(
                Effect.as({ output: `remembered: ${fact}`, handOff: null, error: null })
              )
          })
        case "recall":
          return yield* Effect.matchEffect(parseArguments(Recall, call.arguments), {
            onFailure: invalid,
            onSuccess: ({ query }) =>
              teammates.recall(ctx.orgId, ctx.teammateId, query, 5).pipe(
                Effect.map((found) => ({
                  output: found.length === 0 ? "no matching memories" : found.map((m) => `- ${m.text}`).join("\n"),
                  handOff: null,
                  error: null
                }))
              )
          })
        case "search_messages":
          return yield* Effect.matchEffect(parseArguments(Search, call.arguments), {
            onFailure: invalid,
            onSuccess: ({ query }) =>
              messages.search(ctx.orgId, ctx.teammateId, [ctx.roomId], { text: query, limit: 5, offset: 0 }).pipe(
                Effect.map((hits) => ({
                  output: hits.length === 0
                    ? "no matching messages"
                    : hits.map((h) => `- ${h.message.authorName}: ${h.message.text.slice(0, 300)}`).join("\n"),
                  handOff: null,
                  error: null
                }))
              )
          })
        case "pin_note":
          return yield* Effect.matchEffect(parseArguments(Pin, call.arguments), {
            onFailure: invalid,
            onSuccess: ({ text }) =>
              journal(
                pins.create(ctx.orgId, ctx.roomId, author(ctx), { text }).pipe(
                  Effect.map((pin) => `pinned as ${pin.id}: ${text}`),
                  refused
                )
              ).pipe(Effect.map((output) => ({ output: String(output), handOff: null, error: null })))
          })
        case "update_pin":
          return yield* Effect.matchEffect(parseArguments(UpdatePin, call.arguments), {
            onFailure: invalid,
            onSuccess: ({ pinId, text }) =>
              journal(
                // A teammate in the room may edit its notes, as any room member may (docs/access.md).
                pins.edit(ctx.orgId, ctx.roomId, pinId, author(ctx), { text, authorize: () => Effect.void })
                  .pipe(Effect.map((pin) => `pin ${pin.id} is now version ${pin.version}: ${text}`), refused)
              ).pipe(Effect.map((output) => ({ output: String(output), handOff: null, error: null })))
          })
        case "update_core_memory":
          return yield* Effect.matchEffect(parseArguments(CoreMemory, call.arguments), {
            onFailure: invalid,
            onSuccess: ({ block, text }) =>
              journal(teammates.putCore(ctx.orgId, ctx.teammateId, block, text, ctx.roomId)).pipe(
                Effect.as({ output: `core memory ${block} updated`, handOff: null, error: null })
              )
          })
        case "start_task":
          return yield* Effect.matchEffect(parseArguments(StartTask, call.arguments), {
            onFailure: invalid,
            onSuccess: ({ goal }) =>
              journal(startTask(ctx, key, goal)).pipe(
                Effect.map((id) => ({ output: `started task ${String(id)}: ${goal}`, handOff: null, error: null }))
              )
          })
        case "read_file":
          return yield* Effect.matchEffect(parseArguments(ReadFile, call.arguments), {
            onFailure: invalid,
            onSuccess: ({ file }) =>
              Effect.map(readFile(ctx, file.trim()), (output) => ({ output, handOff: null, error: null }))
          })
        case "hand_off":
          return yield* Effect.matchEffect(parseArguments(HandOff, call.arguments), {
            onFailure: invalid,
            onSuccess: ({ handle, note }) =>
              Effect.succeed({
                output: `handing off to @${handle.replace(/^@/, "")}`,
                handOff: { handle: handle.replace(/^@/, "").toLowerCase(), note },
                error: null
              })
          })
      }
    })

    return { run } as const
  }),
  dependencies: [
    TeammateRepo.Default,
    MessageRepo.Default,
    PinRepo.Default,
    RunRepo.Default,
    FileRepo.Default,
    TaskRepo.Default
  ]
}) {}
