/**
 * `troupe chat @teammate`: a conversation in the direct room with a
 * teammate. Each line read from stdin is posted there; the reply is printed
 * token by token as its `message.delta` events arrive, completed from the
 * stored reply (deltas may be dropped, the reply never is). Ctrl-C (SIGINT)
 * during a turn interrupts the turn through the interrupt endpoint; Ctrl-C
 * when idle, a second Ctrl-C, Ctrl-D or the end of stdin leaves. Works the
 * same with lines piped in: each is sent once the previous turn has ended.
 * A dropped connection is resumed after the last event seen (`Follow`).
 */
import { Args, Command } from "@effect/cli"
import type { Delivered } from "@troupe/domain/Event"
import { Console, Deferred, Effect, Queue, Stream } from "effect"
import { randomUUID } from "node:crypto"
import * as Readline from "node:readline"
import { follow } from "./Follow.js"
import { colours, cyan, dim } from "./Output.js"
import { aTeammate, Failure, orgOption, url } from "./Session.js"

/** What the person does: a line to send, Ctrl-C, or the end of input. */
type Input =
  | { readonly _tag: "Line"; readonly text: string }
  | { readonly _tag: "Interrupt" }
  | { readonly _tag: "End" }

type Item =
  | Input
  | { readonly _tag: "Event"; readonly delivered: Delivered }
  | { readonly _tag: "Failed"; readonly failure: Failure }

const interruptInput: Input = { _tag: "Interrupt" }
const endInput: Input = { _tag: "End" }

/** Lines and Ctrl-C from the terminal (or a pipe), as a stream others may add to; the listeners go with the scope. */
const terminal = Effect.gen(function*() {
  const queue = yield* Queue.unbounded<Item>()
  const tty = process.stdin.isTTY === true
  const rl = yield* Effect.acquireRelease(
    Effect.sync(() =>
      Readline.createInterface({ input: process.stdin, ...(tty ? { output: process.stdout } : {}), terminal: tty })
    ),
    (rl) => Effect.sync(() => rl.close())
  )
  rl.setPrompt(dim("› "))
  rl.on("line", (text) => queue.unsafeOffer({ _tag: "Line", text }))
  rl.on("close", () => queue.unsafeOffer(endInput))
  // In a terminal readline takes Ctrl-C itself; a signal (kill -INT, or a pipe's Ctrl-C) comes to the process.
  rl.on("SIGINT", () => queue.unsafeOffer(interruptInput))
  const onSignal = () => queue.unsafeOffer(interruptInput)
  yield* Effect.acquireRelease(
    Effect.sync(() => process.on("SIGINT", onSignal)),
    () => Effect.sync(() => process.off("SIGINT", onSignal))
  )
  return {
    items: Stream.fromQueue(queue),
    offer: (item: Item) => Queue.offer(queue, item),
    prompt: Effect.sync(() => {
      if (tty) rl.prompt()
    })
  }
})

const write = (text: string) => Effect.sync(() => process.stdout.write(text))

/** `troupe chat @teammate`. */
export const chat = Command.make(
  "chat",
  { url, org: orgOption, teammate: Args.text({ name: "teammate" }) },
  (input) =>
    Effect.gen(function*() {
      const { mate, org, s } = yield* aTeammate(input)
      if (mate.dismissed) return yield* new Failure({ message: `@${mate.handle} was dismissed`, code: 2 })
      const dm = yield* s.call(s.api.teammates.openDm({ path: { org: org.id, teammate: mate.id } }))
      const { items, offer, prompt } = yield* terminal
      // The stream, resumed after a dropped connection, feeds the same queue as the terminal.
      const subscribed = yield* Deferred.make<void, Failure>()
      const toQueue = (delivered: Delivered) => Effect.as(offer({ _tag: "Event", delivered }), true)
      yield* follow(s, undefined, toQueue, Deferred.succeed(subscribed, undefined)).pipe(
        Effect.catchAll((failure) =>
          Effect.zipRight(Deferred.fail(subscribed, failure), offer({ _tag: "Failed", failure }))
        ),
        Effect.forkScoped
      )
      // Subscribed before anything is posted: no delta or reply can fall in between.
      yield* Deferred.await(subscribed)

      const state: {
        phase: "idle" | "waiting" | "running"
        runId: string
        printed: string
        open: boolean
        thinking: boolean
        interruptWanted: boolean
        ending: boolean
        pending: Array<string>
      } = {
        /** idle: waiting for a line; waiting: posted, no run yet; running: the teammate's run is under way. */
        phase: "idle",
        runId: "",
        /** The reply's text printed so far. */
        printed: "",
        /** A reply line is open (no newline after it yet). */
        open: false,
        thinking: false,
        interruptWanted: false,
        ending: false,
        pending: []
      }

      const showThinking = Effect.suspend(() => {
        state.thinking = true
        return colours ? write(dim(`${mate.name} is thinking…`)) : Console.error(`${mate.name} is thinking…`)
      })
      const clearThinking = Effect.suspend(() => {
        const was = state.thinking
        state.thinking = false
        return was && colours ? write("\r\u001b[K") : Effect.void
      })
      const closeLine = Effect.suspend(() => {
        const was = state.open
        state.open = false
        state.printed = ""
        return was ? write("\n") : clearThinking
      })
      const startLine = Effect.suspend(() => {
        if (state.open) {
          return Effect.void
        }
        state.open = true
        return Effect.zipRight(clearThinking, write(`${cyan(mate.name)}: `))
      })

      const send = (text: string) =>
        Effect.gen(function*() {
          state.phase = "waiting"
          state.printed = ""
          yield* s.call(
            s.api.messages.post({ path: { room: dm.id }, payload: { text, clientMessageId: randomUUID() } })
          )
          yield* showThinking
        })

      /** Asks the server to cancel the turn; before the run has started, it is asked again when it starts. */
      const interrupt = Effect.gen(function*() {
        state.interruptWanted = true
        if (state.phase !== "running") {
          return
        }
        yield* s.call(s.api.teammates.interrupt({ path: { org: org.id, teammate: mate.id } }))
      })

      /** The turn is over: the next line waiting, or leave, or ask for one. */
      const turnEnded = Effect.gen(function*() {
        state.phase = "idle"
        state.runId = ""
        state.interruptWanted = false
        yield* closeLine
        const next = state.pending.shift()
        if (next !== undefined) {
          yield* send(next)
          return true
        }
        if (state.ending) {
          return false
        }
        yield* prompt
        return true
      })

      const onInput = (i: Input) =>
        Effect.gen(function*() {
          switch (i._tag) {
            case "Line": {
              const text = i.text.trim()
              if (text === "") {
                return true
              }
              if (state.phase === "idle") {
                yield* send(text)
              } else state.pending.push(text)
              return true
            }
            case "End":
              if (state.phase === "idle") {
                return false
              }
              state.ending = true
              return true
            case "Interrupt":
              // Idle, or a second Ctrl-C while the first is under way: leave.
              if (state.phase === "idle" || state.interruptWanted) {
                yield* closeLine
                return false
              }
              state.pending.length = 0
              yield* interrupt
              return true
          }
        })

      const onEvent = (d: Delivered) =>
        Effect.gen(function*() {
          const e = d.event
          switch (e.type) {
            case "run.started":
              if (e.run.teammateId !== mate.id || e.run.roomId !== dm.id || state.phase === "idle") {
                return true
              }
              state.phase = "running"
              state.runId = e.run.id
              if (state.interruptWanted) {
                yield* interrupt
              }
              return true
            case "message.delta":
              if (e.teammateId !== mate.id || e.roomId !== dm.id) {
                return true
              }
              if (e.restart) {
                yield* closeLine
                yield* showThinking
                return true
              }
              yield* startLine
              state.printed += e.text
              yield* write(e.text)
              return true
            case "message.created": {
              const m = e.message
              if (m.roomId !== dm.id || m.authorKind !== "teammate" || m.authorId !== mate.id) {
                return true
              }
              // The stored reply completes what the deltas printed (an ephemeral delta may have been dropped).
              if (state.open && m.text.startsWith(state.printed)) {
                yield* write(m.text.slice(state.printed.length))
              } else {
                yield* closeLine
                yield* startLine
                yield* write(m.text)
              }
              yield* closeLine
              // A reply with no run (a refusal at a limit, a busy answer) ends the wait.
              return state.phase === "waiting" ? yield* turnEnded : true
            }
            case "run.completed":
            case "run.failed":
              if (e.run.id !== state.runId) {
                return true
              }
              if (e.run.status === "interrupted") {
                yield* closeLine
                yield* write(`${dim("(interrupted)")}\n`)
              }
              return yield* turnEnded
            case "access.revoked":
              return yield* new Failure({ message: `the session ended: ${e.reason}`, code: 2 })
            default:
              return true
          }
        })

      yield* prompt
      yield* Stream.runForEachWhile(items, (item) =>
        item._tag === "Event"
          ? onEvent(item.delivered)
          : item._tag === "Failed"
          ? Effect.fail(item.failure)
          : onInput(item))
    }).pipe(Effect.scoped)
).pipe(Command.withDescription(
  "talk with a teammate in your direct room: replies stream as they are written; Ctrl-C stops a reply, Ctrl-D leaves"
))
