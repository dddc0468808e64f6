/**
 * One teammate turn: build the context (history, memory, pins, who is
 * talking), call the model with streaming and tools, publish each delta,
 * journal tool calls, and post the reply as a normal message. Re-running a
 * turn with the same run id (after a crash) posts the reply once and repeats
 * no side effect.
 */
import { SqlClient } from "@effect/sql"
import { MessageDelta } from "@troupe/domain/Event"
import type { MessageId, OrgId, RoomId } from "@troupe/domain/Ids"
import type { Message } from "@troupe/domain/Message"
import type { Pin } from "@troupe/domain/Pin"
import type { RoomMember } from "@troupe/domain/Room"
import type { Teammate } from "@troupe/domain/Teammate"
import { type ChatMessage, LanguageModel, streamWithRetry, type ToolCall } from "@troupe/llm/LanguageModel"
import { EventBus } from "@troupe/realtime/EventBus"
import { MessageRepo } from "@troupe/store/MessageRepo"
import { orgScope } from "@troupe/store/OrgScope"
import { PinRepo } from "@troupe/store/PinRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { RunRepo } from "@troupe/store/RunRepo"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import { Data, Duration, Effect, Either, Option, Schema, Stream } from "effect"
import type { TeammateKind } from "./Kind.js"
import { type HandOffRequest, Tools, toolSpecs } from "./Tools.js"

/** Why a turn could not finish. */
export class TurnFailed
  extends Data.TaggedError("TurnFailed")<{ readonly message: string; readonly cause?: unknown }>
{}

/** What a turn works on. */
export interface TurnInput {
  readonly runId: string
  readonly orgId: OrgId
  readonly teammate: Teammate
  readonly kind: TeammateKind | undefined
  readonly roomId: RoomId
  readonly threadId: MessageId | null
  /** The messages that triggered this turn, oldest first. */
  readonly triggerMessageIds: ReadonlyArray<string>
  /** The latest of them: what the turn's memories and tool calls name as their source. */
  readonly sourceMessageId: string
  /**
   * The log position of the run's latest event (its `run.started` and busy
   * `teammate.updated`): streamed deltas follow it on every stream.
   */
  readonly after: number
}

/** What a turn produced. */
export interface TurnResult {
  readonly reply: Message
  readonly inputTokens: number
  readonly outputTokens: number
  readonly handOffs: ReadonlyArray<HandOffRequest>
}

/** Settings for turns. */
export interface TurnSettings {
  readonly maxModelCalls: number
  readonly modelAttempts: number
  readonly firstChunkTimeout: Duration.Duration
  readonly idleTimeout: Duration.Duration
}

/** USD per million tokens (input, output) for models we know; others count as free. */
const prices: Record<string, readonly [number, number]> = {
  "gpt-4o-mini": [0.15, 0.6],
  "gpt-4o": [2.5, 10],
  "gpt-4.1-mini": [0.4, 1.6],
  "gpt-4.1": [2, 8]
}

/** Estimated cost of a run in USD. */
export const estimateCost = (model: string, inputTokens: number, outputTokens: number) => {
  const [input, output] = prices[model] ?? [0, 0]
  return (inputTokens * input + outputTokens * output) / 1_000_000
}

const encodeDelta = Schema.encodeSync(MessageDelta)

/** "Ana (@ana, org admin)", "Rhea (@rhea, AI teammate)": who is in the room, for the system prompt. */
const describeMember = (m: RoomMember) =>
  `${m.name} (@${m.handle}, ${
    m.kind === "teammate" ? "AI teammate" : m.orgRole === null ? "person" : `org ${m.orgRole}`
  })`

/** How many pins a turn's context shows, oldest first. */
const PINS_IN_CONTEXT = 20

/** "- [note 1b2…, by Ana] text", "- [pinned message, pinned by Ana] text": a pin for the system prompt. */
const describePin = (p: Pin) =>
  p.kind === "note"
    ? `- [note ${p.id}, by ${p.authorName}] ${p.text}`
    : `- [pinned message, pinned by ${p.authorName}] ${p.text}`

/** Runs turns. */
export class Turn extends Effect.Service<Turn>()("@troupe/teammates/Turn", {
  effect: Effect.gen(function*() {
    const model = yield* LanguageModel
    const messages = yield* MessageRepo
    const rooms = yield* RoomRepo
    const teammates = yield* TeammateRepo
    const pins = yield* PinRepo
    const runs = yield* RunRepo
    const tools = yield* Tools
    const bus = yield* EventBus
    const { withOrg } = orgScope(yield* SqlClient.SqlClient)

    /** The turn's context, read in one transaction. */
    const context = (input: TurnInput) => withOrg(input.orgId)(readContext(input)).pipe(Effect.withSpan("Turn.context"))

    const readContext = Effect.fnUntraced(function*(input: TurnInput) {
      const { teammate } = input
      const room = yield* rooms.info(input.orgId, input.roomId)
      const window = input.kind?.historyWindow ?? 30
      const page = yield* messages.page(room, teammate.id, {
        limit: window,
        threadId: input.threadId ?? undefined
      })
      const history = input.threadId === null
        ? page.messages
        : [yield* messages.get(input.orgId, input.threadId, teammate.id), ...page.messages]
      const latest = history.filter((m) => input.triggerMessageIds.includes(m.id)).map((m) => m.text).join(" ")
      const core = yield* teammates.core(input.orgId, teammate.id)
      const recalled = latest.trim().length > 0
        ? yield* teammates.recall(input.orgId, teammate.id, latest.replace(/@[\w.-]+/g, " ").slice(0, 200), 5).pipe(
          Effect.orElseSucceed(() => [])
        )
        : []
      const pinned = yield* pins.list(input.orgId, input.roomId, PINS_IN_CONTEXT)
      const people = yield* rooms.members(input.orgId, input.roomId)
      const system = [
        `You are ${teammate.name} (@${teammate.handle}), ${teammate.role}, an AI teammate in a team chat room "${room.name}".`,
        teammate.personality && `Personality: ${teammate.personality}`,
        teammate.instructions && `Instructions: ${teammate.instructions}`,
        ...Object.entries(core).map(([block, text]) => `Core memory (${block}): ${text}`),
        recalled.length > 0 &&
        `Things you remember that may be relevant:\n${recalled.map((m) => `- ${m.text}`).join("\n")}`,
        pinned.length > 0 &&
        `Pinned in this room (notes can be changed with update_pin and their id):\n${
          pinned.map(describePin).join("\n")
        }`,
        `People and teammates here: ${people.map(describeMember).join(", ")}.`,
        "Reply to the latest messages addressed to you. Be concise. Write plain text."
      ].filter((line): line is string => typeof line === "string" && line.length > 0).join("\n\n")
      const chat: Array<ChatMessage> = [{ role: "system", content: system }]
      for (const m of history) {
        if (m.deletedAt !== null) continue
        const files = m.attachments.map((a) => `[attached file: ${a.name} (${a.id}), ${a.contentType}]`)
        const content = [m.text, ...files].filter((part) => part !== "").join("\n")
        if (m.authorKind === "teammate" && m.authorId === teammate.id) chat.push({ role: "assistant", content })
        else chat.push({ role: "user", content: `${m.authorName}: ${content}` })
      }
      return { room, chat }
    })

    /**
     * Streams one model call, publishing deltas. A reply that breaks midway
     * with a retryable error is restarted (a `restart` delta tells streams to
     * drop its text); `MODEL_ATTEMPTS` bounds all attempts of the call.
     */
    const callModel = (
      input: TurnInput,
      chat: ReadonlyArray<ChatMessage>,
      settings: TurnSettings,
      offset: { value: number },
      after: number
    ) =>
      Effect.gen(function*() {
        const specs = toolSpecs(input.teammate.tools, input.kind?.extraTools ?? [])
        const request = { model: input.teammate.model, messages: chat, tools: specs }
        const start = offset.value
        const publish = (delta: MessageDelta) =>
          bus.publish({ orgId: input.orgId, roomId: input.roomId, event: encodeDelta(delta), at: Date.now(), after })
        const delta = (text: string, restart: boolean) =>
          new MessageDelta({
            roomId: input.roomId,
            threadId: input.threadId,
            runId: input.runId,
            teammateId: input.teammate.id,
            offset: offset.value,
            text,
            restart
          })
        let text = ""
        const calls: Array<ToolCall> = []
        let usage = { inputTokens: 0, outputTokens: 0 }
        const restart = Effect.suspend(() => {
          text = ""
          calls.length = 0
          usage = { inputTokens: 0, outputTokens: 0 }
          offset.value = start
          return Effect.zipRight(
            Effect.logWarning("model stream broke mid-reply; restarting"),
            publish(delta("", true))
          )
        })
        const outcome = yield* streamWithRetry(model, request, {
          maxAttempts: settings.modelAttempts,
          firstChunkTimeout: settings.firstChunkTimeout,
          idleTimeout: settings.idleTimeout,
          onRestart: restart
        }).pipe(
          Stream.runForEach((chunk) => {
            switch (chunk._tag) {
              case "Delta": {
                const event = delta(chunk.text, false)
                text += chunk.text
                offset.value += chunk.text.length
                return publish(event)
              }
              case "ToolCall":
                return Effect.sync(() => calls.push(chunk.call))
              case "Usage":
                return Effect.sync(() => {
                  usage = { inputTokens: chunk.inputTokens, outputTokens: chunk.outputTokens }
                })
            }
          }),
          Effect.either
        )
        if (Either.isLeft(outcome)) {
          return yield* new TurnFailed({ message: `the model failed: ${outcome.left.message}`, cause: outcome.left })
        }
        return { text, calls, usage }
      })

    /** Runs a whole turn. */
    const run = Effect.fn("Turn.run")(function*(input: TurnInput, settings: TurnSettings) {
      const { chat, room } = yield* context(input)
      const conversation = [...chat]
      const offset = { value: 0 }
      const handOffs: Array<HandOffRequest> = []
      let inputTokens = 0
      let outputTokens = 0
      let finalText = ""
      let after = input.after
      const runRef = { id: input.runId, teammateId: input.teammate.id, roomId: input.roomId }
      for (let call = 0; call < settings.maxModelCalls; call++) {
        const [modelTime, result] = yield* Effect.timed(callModel(input, conversation, settings, offset, after))
        inputTokens += result.usage.inputTokens
        outputTokens += result.usage.outputTokens
        after = yield* runs.step(input.orgId, runRef, {
          kind: "model",
          name: input.teammate.model,
          input: { messages: conversation.length },
          output: { text: result.text, toolCalls: result.calls.map((c) => c.name), ...result.usage },
          durationMs: Duration.toMillis(modelTime)
        })
        finalText += result.text
        if (result.calls.length === 0) break
        conversation.push({ role: "assistant", content: result.text, toolCalls: result.calls })
        for (const [i, c] of result.calls.entries()) {
          const [toolTime, outcome] = yield* Effect.timed(tools.run(
            c,
            `${call}:${i}:${c.name}`,
            input.teammate.tools,
            input.kind?.extraTools ?? [],
            {
              orgId: input.orgId,
              teammateId: input.teammate.id,
              teammateName: input.teammate.name,
              roomId: input.roomId,
              runId: input.runId,
              sourceMessageId: input.sourceMessageId
            }
          ))
          if (outcome.handOff) handOffs.push(outcome.handOff)
          after = yield* runs.step(input.orgId, runRef, {
            kind: "tool",
            name: c.name,
            input: safeJson(c.arguments),
            output: outcome.output,
            durationMs: Duration.toMillis(toolTime),
            error: outcome.error
          })
          conversation.push({ role: "tool", toolCallId: c.id, content: outcome.output })
        }
        if (call === settings.maxModelCalls - 1) finalText += finalText ? "" : "(I ran out of steps before finishing.)"
      }
      const text = finalText.trim().length > 0 ? finalText.trim() : "(no reply)"
      const posted = yield* messages.post(
        room,
        { kind: "teammate", id: input.teammate.id, name: input.teammate.name },
        { text, threadId: input.threadId ?? undefined, clientMessageId: `run:${input.runId}` }
      )
      return { reply: posted.message, inputTokens, outputTokens, handOffs } satisfies TurnResult
    })

    /** Posts a message as the teammate (busy replies, failures, refusals). */
    const say = Effect.fn("Turn.say")(function*(
      orgId: OrgId,
      teammate: Teammate,
      roomId: RoomId,
      threadId: MessageId | null,
      text: string,
      key: string
    ) {
      const room = yield* rooms.info(orgId, roomId)
      const posted = yield* messages.post(
        room,
        { kind: "teammate", id: teammate.id, name: teammate.name },
        { text, threadId: threadId ?? undefined, clientMessageId: key }
      )
      return posted.message
    })

    return { run, say } as const
  }),
  dependencies: [
    Tools.Default,
    MessageRepo.Default,
    RoomRepo.Default,
    TeammateRepo.Default,
    PinRepo.Default,
    RunRepo.Default
  ]
}) {}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return { raw: text }
  }
}

/** The id of the message being answered, if any (exported for the runtime). */
export const lastOf = <A>(items: ReadonlyArray<A>): Option.Option<A> => Option.fromNullable(items[items.length - 1])
