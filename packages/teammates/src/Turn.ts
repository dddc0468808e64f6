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
import { type ChatMessage, LanguageModel } from "@troupe/llm/LanguageModel"
import { EventBus } from "@troupe/realtime/EventBus"
import { MessageRepo } from "@troupe/store/MessageRepo"
import { orgScope } from "@troupe/store/OrgScope"
import { PinRepo } from "@troupe/store/PinRepo"
import { RoomRepo } from "@troupe/store/RoomRepo"
import { RunRepo } from "@troupe/store/RunRepo"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import { Effect, Option, Schema } from "effect"
import type { TeammateKind } from "./Kind.js"
import * as ModelLoop from "./ModelLoop.js"
import type { TurnSettings } from "./ModelLoop.js"
import { type HandOffRequest, Tools, toolSpecs } from "./Tools.js"

export { TurnFailed, type TurnSettings } from "./ModelLoop.js"

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

/** What a teammate's system prompt is made of. */
export interface PromptParts {
  readonly teammate: Pick<Teammate, "name" | "handle" | "role" | "personality" | "instructions">
  readonly roomName: string
  /** Core memory blocks by name. */
  readonly core: Readonly<Record<string, string>>
  /** Memories recalled for the latest messages. */
  readonly recalled: ReadonlyArray<string>
  /** The room's pins, each a line. */
  readonly pins: ReadonlyArray<string>
  /** Who is in the room, each described. */
  readonly people: ReadonlyArray<string>
}

/** A teammate's system prompt: who it is, what it remembers, the room's pins and who is there. */
export const systemPrompt = (p: PromptParts) =>
  [
    `You are ${p.teammate.name} (@${p.teammate.handle}), ${p.teammate.role}, an AI teammate in a team chat room "${p.roomName}".`,
    p.teammate.personality && `Personality: ${p.teammate.personality}`,
    p.teammate.instructions && `Instructions: ${p.teammate.instructions}`,
    ...Object.entries(p.core).map(([block, text]) => `Core memory (${block}): ${text}`),
    p.recalled.length > 0 &&
    `Things you remember that may be relevant:\n${p.recalled.map((m) => `- ${m}`).join("\n")}`,
    p.pins.length > 0 &&
    `Pinned in this room (notes can be changed with update_pin and their id):\n${p.pins.join("\n")}`,
    `People and teammates here: ${p.people.join(", ")}.`,
    "Reply to the latest messages addressed to you. Be concise. Write plain text."
  ].filter((line): line is string => typeof line === "string" && line.length > 0).join("\n\n")

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
      const system = systemPrompt({
        teammate,
        roomName: room.name,
        core,
        recalled: recalled.map((m) => m.text),
        pins: pinned.map(describePin),
        people: people.map(describeMember)
      })
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

    /** Runs a whole turn. */
    const run = Effect.fn("Turn.run")(function*(input: TurnInput, settings: TurnSettings) {
      const { chat, room } = yield* context(input)
      const handOffs: Array<HandOffRequest> = []
      // The log position deltas follow: the run's latest event, moved on by each recorded step.
      let after = input.after
      const runRef = { id: input.runId, teammateId: input.teammate.id, roomId: input.roomId }
      const extra = input.kind?.extraTools ?? []
      const result = yield* ModelLoop.run(
        model,
        {
          model: input.teammate.model,
          messages: chat,
          tools: toolSpecs(input.teammate.tools, extra)
        },
        settings,
        {
          delta: (text, offset, restart) =>
            bus.publish({
              orgId: input.orgId,
              roomId: input.roomId,
              event: encodeDelta(
                new MessageDelta({
                  roomId: input.roomId,
                  threadId: input.threadId,
                  runId: input.runId,
                  teammateId: input.teammate.id,
                  offset,
                  text,
                  restart
                })
              ),
              at: Date.now(),
              after
            }),
          modelStep: (messages, r) =>
            Effect.map(
              runs.step(input.orgId, runRef, {
                kind: "model",
                name: input.teammate.model,
                input: { messages },
                output: { text: r.text, toolCalls: r.calls.map((c) => c.name), ...r.usage },
                durationMs: r.durationMs
              }),
              (position) => {
                after = position
              }
            ),
          tool: (c, key) =>
            Effect.map(
              tools.run(c, key, input.teammate.tools, extra, {
                orgId: input.orgId,
                teammateId: input.teammate.id,
                teammateName: input.teammate.name,
                roomId: input.roomId,
                runId: input.runId,
                sourceMessageId: input.sourceMessageId
              }),
              (outcome) => {
                if (outcome.handOff) handOffs.push(outcome.handOff)
                return { output: outcome.output, error: outcome.error }
              }
            ),
          toolStep: (c, answer, durationMs) =>
            Effect.map(
              runs.step(input.orgId, runRef, {
                kind: "tool",
                name: c.name,
                input: safeJson(c.arguments),
                output: answer.output,
                durationMs,
                error: answer.error
              }),
              (position) => {
                after = position
              }
            )
        }
      )
      const text = result.text.trim().length > 0 ? result.text.trim() : "(no reply)"
      const posted = yield* messages.post(
        room,
        { kind: "teammate", id: input.teammate.id, name: input.teammate.name },
        { text, threadId: input.threadId ?? undefined, clientMessageId: `run:${input.runId}` }
      )
      return {
        reply: posted.message,
        inputTokens: result.inputTokens,
        outputTokens: result.outputTokens,
        handOffs
      } satisfies TurnResult
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
