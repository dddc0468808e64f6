/**
 * A background task as a durable workflow (`@effect/workflow` on the
 * cluster's workflow engine): start, plan, one model call per step, result.
 * Each of those is an activity whose outcome the engine keeps, so when the
 * node running a task dies, another node replays it and only the activity
 * that was in flight runs again; each activity's writes are idempotent
 * (progress by step index, run steps by index, the result message by a key),
 * so nothing is recorded or posted twice.
 *
 * Cancelling sets a flag that is read between steps: the engine's own
 * interrupt does not stop a workflow busy in an activity. Model calls count
 * against the org's and the teammate's token budgets, as turns do: the task
 * is also a run of its teammate, with the same id.
 */
import * as Activity from "@effect/workflow/Activity"
import type { OrgId, TaskId } from "@troupe/domain/Ids"
import type { Task } from "@troupe/domain/Task"
import type { Teammate } from "@troupe/domain/Teammate"
import { type ChatMessage, LanguageModel, withRetry } from "@troupe/llm/LanguageModel"
import { RunRepo } from "@troupe/store/RunRepo"
import { TaskRepo } from "@troupe/store/TaskRepo"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import { Config, Duration, Effect, Layer, Schema, Stream } from "effect"
import { overLimit } from "./Budget.js"
import { TaskWorkflow } from "./TaskWorkflow.js"
import { estimateCost, Turn } from "./Turn.js"

/** What one model call of a task gave: its text, and how long it took. */
interface ModelReply {
  readonly text: string
  readonly durationMs: number
}

/** Task settings, from configuration. */
export const TaskConfig = Config.all({
  /** The most steps a task's plan may have (`TASK_MAX_STEPS`, default 5). */
  maxSteps: Config.integer("TASK_MAX_STEPS").pipe(Config.withDefault(5))
})

/** What an activity that may fail for a reason people should read comes back with. */
const Outcome = Schema.Union(
  Schema.Struct({ ok: Schema.Literal(true), text: Schema.String }),
  Schema.Struct({ ok: Schema.Literal(false), reason: Schema.String })
)
type Outcome = typeof Outcome.Type

const Plan = Schema.Union(
  Schema.Struct({ ok: Schema.Literal(true), steps: Schema.Array(Schema.String) }),
  Schema.Struct({ ok: Schema.Literal(false), reason: Schema.String })
)

/** The plan's step titles from the model's answer: one per line, numbering and bullets dropped. */
export const planSteps = (text: string, goal: string, max: number): ReadonlyArray<string> => {
  const steps = text.split("\n")
    .map((line) => line.replace(/^\s*(?:\d+[.)]|[-*•])\s*/, "").trim())
    .filter((line) => line.length > 0)
    .map((line) => line.slice(0, 300))
    .slice(0, Math.max(1, max))
  return steps.length > 0 ? steps : [goal.slice(0, 300)]
}

/** Runs one task. */
const work = (config: Config.Config.Success<typeof TaskConfig>) =>
  Effect.fnUntraced(function*({ orgId, taskId }: { readonly orgId: OrgId; readonly taskId: TaskId }) {
    const tasks = yield* TaskRepo
    const runs = yield* RunRepo
    const teammates = yield* TeammateRepo
    const turn = yield* Turn
    const model = yield* LanguageModel

    const load = tasks.get(orgId, taskId).pipe(Effect.orDie)
    const teammateOf = (task: Task) => teammates.get(orgId, task.teammateId).pipe(Effect.orDie)

    /** One model call, retried like a turn's; refused when the org or the teammate is over its token limit. */
    const complete = (teammate: Teammate, messages: ReadonlyArray<ChatMessage>) =>
      Effect.gen(function*() {
        const over = overLimit(yield* runs.limits(orgId, teammate.id).pipe(Effect.orDie))
        if (over !== null) {
          return {
            ok: false as const,
            reason: over.scope === "org"
              ? `the org has used its monthly budget of ${over.limit} tokens`
              : `${teammate.name} has used its monthly limit of ${over.limit} tokens`
          }
        }
        const [took, reply] = yield* withRetry(() => model.stream({ model: teammate.model, messages, tools: [] })).pipe(
          Stream.runFold({ text: "", inputTokens: 0, outputTokens: 0 }, (acc, chunk) =>
            chunk._tag === "Delta"
              ? { ...acc, text: acc.text + chunk.text }
              : chunk._tag === "Usage"
              ? { ...acc, inputTokens: chunk.inputTokens, outputTokens: chunk.outputTokens }
              : acc),
          Effect.either,
          Effect.timed
        )
        if (reply._tag === "Left") return { ok: false as const, reason: `the model failed: ${reply.left.message}` }
        return { ok: true as const, ...reply.right, durationMs: Duration.toMillis(took) }
      })

    const system = (teammate: Teammate, task: Task) =>
      [
        `You are ${teammate.name} (@${teammate.handle}), ${teammate.role}, an AI teammate working on a task in the background.`,
        teammate.instructions && `Instructions: ${teammate.instructions}`,
        `The task, from ${task.createdByName}: ${task.goal}`
      ].filter((line) => line !== "").join("\n\n")

    /** Records a model call as the run's step `index` (again, after a replay, in the same place). */
    const record = (task: Task, index: number, name: string, input: string, reply: ModelReply) =>
      runs.step(orgId, { id: task.id, teammateId: task.teammateId, roomId: task.roomId }, {
        kind: "model",
        name,
        input: { prompt: input },
        output: { text: reply.text },
        durationMs: reply.durationMs
      }, index).pipe(Effect.orDie)

    /** Ends the task and its run, posting `note` (if any) in its room or thread, once. */
    const end = (status: "succeeded" | "failed" | "cancelled", note: string | null, error: string | null) =>
      Effect.gen(function*() {
        const task = yield* load
        const teammate = yield* teammateOf(task)
        const posted = note === null
          ? null
          : yield* turn.say(orgId, teammate, task.roomId, task.threadId, note, `task:${task.id}`).pipe(Effect.orDie)
        const done = yield* tasks.finish(orgId, taskId, {
          status,
          resultMessageId: status === "succeeded" ? posted?.id ?? null : null,
          error
        }).pipe(Effect.orDie)
        yield* runs.finish(orgId, task.id, {
          status: status === "succeeded" ? "completed" : status === "cancelled" ? "interrupted" : "failed",
          inputTokens: done.inputTokens,
          outputTokens: done.outputTokens,
          costUsd: estimateCost(teammate.model, done.inputTokens, done.outputTokens),
          latencyMs: Date.now() - (done.startedAt ?? done.createdAt).getTime(),
          error,
          replyMessageId: posted?.id ?? null,
          triggerStatus: "done"
        }).pipe(Effect.orDie)
      })

    const failed = (reason: string) =>
      Activity.make({
        name: "failed",
        execute: end("failed", `I could not finish the task: ${reason}.`, reason)
      })

    const cancelled = Activity.make({ name: "cancelled", execute: end("cancelled", null, null) })

    // Start: queued → running, with its run; a task cancelled before it started ends here.
    const started = yield* Activity.make({
      name: "start",
      success: Schema.Boolean,
      execute: Effect.gen(function*() {
        const task = yield* load
        if (task.status !== "queued" && task.status !== "running") return false
        if (task.cancelRequested) {
          yield* tasks.finish(orgId, taskId, { status: "cancelled", resultMessageId: null, error: null }).pipe(
            Effect.orDie
          )
          return false
        }
        const teammate = yield* teammateOf(task)
        if (teammate.dismissed) {
          yield* tasks.finish(orgId, taskId, {
            status: "failed",
            resultMessageId: null,
            error: "the teammate was dismissed"
          }).pipe(Effect.orDie)
          return false
        }
        yield* runs.start(orgId, {
          id: task.id,
          teammateId: task.teammateId,
          roomId: task.roomId,
          threadId: task.threadId,
          triggerIds: [],
          model: teammate.model
        }).pipe(Effect.orDie)
        yield* tasks.begin(orgId, taskId).pipe(Effect.orDie)
        return true
      })
    })
    if (!started) return

    // Plan: the steps, from the model.
    const plan = yield* Activity.make({
      name: "plan",
      success: Plan,
      execute: Effect.gen(function*() {
        const task = yield* load
        if (task.steps.length > 0) return { ok: true as const, steps: task.steps.map((s) => s.title) }
        const teammate = yield* teammateOf(task)
        const prompt = `Break the task into at most ${config.maxSteps} short steps, one per line, nothing else.`
        const reply = yield* complete(teammate, [
          { role: "system", content: system(teammate, task) },
          { role: "user", content: `${prompt}\n\nTask: ${task.goal}` }
        ])
        if (!reply.ok) return reply
        const steps = planSteps(reply.text, task.goal, config.maxSteps)
        yield* record(task, 0, teammate.model, prompt, reply)
        yield* tasks.addTokens(orgId, taskId, reply.inputTokens, reply.outputTokens).pipe(Effect.orDie)
        yield* tasks.plan(orgId, taskId, steps).pipe(Effect.orDie)
        return { ok: true as const, steps }
      })
    })
    if (!plan.ok) return yield* failed(plan.reason)

    // The steps, each one model call; the cancel flag is read before each.
    for (let index = 0; index < plan.steps.length; index++) {
      if ((yield* load).cancelRequested) return yield* cancelled
      const outcome: Outcome = yield* Activity.make({
        name: `step/${index}`,
        success: Outcome,
        execute: Effect.gen(function*() {
          const task = yield* load
          const step = task.steps[index]
          if (step?.status === "done" && step.output !== null) return { ok: true as const, text: step.output }
          const teammate = yield* teammateOf(task)
          yield* tasks.progress(orgId, taskId, index, {
            status: "running",
            output: null,
            inputTokens: 0,
            outputTokens: 0
          })
            .pipe(Effect.orDie)
          const done = task.steps.slice(0, index).map((s, i) => `${i + 1}. ${s.title}\n${s.output ?? ""}`).join("\n\n")
          const prompt = `Now do step ${index + 1}: ${plan.steps[index]}. Reply with what this step produced.`
          const reply = yield* complete(teammate, [
            { role: "system", content: system(teammate, task) },
            {
              role: "user",
              content: [
                `The plan:\n${plan.steps.map((s, i) => `${i + 1}. ${s}`).join("\n")}`,
                done && `Done so far:\n${done}`,
                prompt
              ].filter((part) => part !== "").join("\n\n")
            }
          ])
          if (!reply.ok) return reply
          yield* record(task, index + 1, teammate.model, prompt, reply)
          yield* tasks.progress(orgId, taskId, index, {
            status: "done",
            output: reply.text,
            inputTokens: reply.inputTokens,
            outputTokens: reply.outputTokens
          }).pipe(Effect.orDie)
          return { ok: true as const, text: reply.text }
        })
      })
      if (!outcome.ok) return yield* failed(outcome.reason)
    }
    if ((yield* load).cancelRequested) return yield* cancelled

    // The result: the last step's outcome, posted once where the task came from.
    yield* Activity.make({
      name: "result",
      execute: Effect.gen(function*() {
        const task = yield* load
        const last = task.steps[task.steps.length - 1]?.output ?? ""
        yield* end("succeeded", `Task done: ${task.goal}\n\n${last}`.trim(), null)
      })
    })
  })

/** The task workflow's implementation, for nodes that host entities. */
export const layer = Layer.unwrapEffect(Effect.map(TaskConfig, (config) => TaskWorkflow.toLayer(work(config)))).pipe(
  Layer.provide(Turn.Default)
)
