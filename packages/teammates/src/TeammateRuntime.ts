/**
 * The teammate entity's behaviour. One turn runs at a time; triggers that
 * arrive during a turn are handled by the teammate's busy policy:
 * `queue` (each gets its own next turn), `merge` (pending triggers in the
 * same conversation fold into one turn), `interrupt` (the running turn is
 * cancelled and the next starts with the new input) or `reject` (a busy
 * reply at once).
 *
 * The inbox lives in Postgres: the entity's memory is lost on passivation
 * or failover, so it reloads unfinished triggers when it starts. A trigger's
 * cluster message is answered only once the trigger is settled, so after a
 * crash the message is redelivered to the new owner, which resumes.
 */
import { Entity } from "@effect/cluster"
import { Audience, UsageLimitReached } from "@troupe/domain/Event"
import { type MessageId, OrgId, type RoomId, TeammateId } from "@troupe/domain/Ids"
import type { Teammate } from "@troupe/domain/Teammate"
import { EventLog } from "@troupe/store/EventLog"
import { withOrg } from "@troupe/store/OrgScope"
import { RunRepo } from "@troupe/store/RunRepo"
import { TeammateRepo } from "@troupe/store/TeammateRepo"
import {
  Cause,
  Config,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  FiberRef,
  Layer,
  Metric,
  MetricBoundaries,
  Option,
  Queue,
  Schedule,
  Schema,
  Tracer
} from "effect"
import { overLimit } from "./Budget.js"
import { nextBatch, onArrival } from "./BusyPolicy.js"
import { Catalog } from "./Catalog.js"
import { Dispatcher } from "./Dispatcher.js"
import { TurnConfig } from "./ModelLoop.js"
import { TeammateEntity, TriggerOutcome } from "./TeammateEntity.js"
import { estimateCost, Turn, type TurnSettings } from "./Turn.js"

/** Duration of teammate turns on this node, by `outcome` (`ok`, `error`, `interrupted`). */
export const turnDuration = Metric.histogram(
  "troupe_turn_duration_seconds",
  MetricBoundaries.fromIterable([0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300]),
  "Duration of teammate turns run on this node, by outcome."
)

/** Runs `self` untraced and outside the caller's span, for work that outlives the caller. */
const untraced = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.locallyWith(Effect.withTracerEnabled(self, false), FiberRef.currentContext, Context.omit(Tracer.ParentSpan))

const isSettled = Schema.is(TriggerOutcome)

const reasonOf = (cause: Cause.Cause<unknown>) => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    return typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e)
  }
  return "an internal error"
}

/**
 * How long a teammate with nothing to do stays in memory before the cluster
 * passivates it (`TEAMMATE_MAX_IDLE`, default 5 minutes); its next message
 * brings it back from the database.
 */
export const TeammateMaxIdle = Config.duration("TEAMMATE_MAX_IDLE").pipe(Config.withDefault(Duration.minutes(5)))

/** The teammate entity's behaviour: one instance per teammate, on the runner that holds its shard. */
const behaviour = Effect.gen(function*() {
  const address = yield* Entity.CurrentAddress
  const teammateId = Schema.decodeSync(TeammateId)(address.entityId)
  const runs = yield* RunRepo
  const teammates = yield* TeammateRepo
  const turn = yield* Turn
  const catalog = yield* Catalog
  const dispatcher = yield* Dispatcher
  const log = yield* EventLog
  const settings: TurnSettings = yield* TurnConfig.pipe(Effect.orDie)

  const waiting = new Map<string, Deferred.Deferred<TriggerOutcome>>()
  /** The span that delivered each unsettled trigger: the work it causes joins the sender's trace. */
  const spans = new Map<string, Tracer.AnySpan>()
  const signal = yield* Queue.sliding<void>(1)
  let current: { readonly fiber: Fiber.RuntimeFiber<unknown, unknown> } | null = null
  let started = false

  const settle = (ids: ReadonlyArray<string>, outcome: TriggerOutcome) =>
    Effect.forEach(ids, (id) => {
      const d = waiting.get(id)
      waiting.delete(id)
      spans.delete(id)
      return d ? Deferred.succeed(d, outcome) : Effect.void
    }, { discard: true })

  /**
   * Refuses the trigger, with a message in the room, when the org or the
   * teammate is over its token limit or the org's model policy no longer
   * allows the teammate's model. True when refused.
   */
  const refuse = (
    orgId: OrgId,
    teammate: Teammate,
    trigger: { id: string; roomId: RoomId; threadId: MessageId | null },
    b: Effect.Effect.Success<ReturnType<typeof runs.limits>>
  ) =>
    Effect.gen(function*() {
      const over = overLimit(b)
      const modelRefused = teammate.model !== "local" && b.allowedModels !== null &&
        !b.allowedModels.includes(teammate.model)
      if (over === null && !modelRefused) return false
      if (over !== null) {
        yield* withOrg(orgId)(log.append(orgId, [{
          audience: new Audience({ roomId: trigger.roomId, orgWide: false, userIds: [] }),
          event: new UsageLimitReached({ teammateId, scope: over.scope, limit: over.limit, used: over.used })
        }]))
      }
      yield* turn.say(
        orgId,
        teammate,
        trigger.roomId,
        trigger.threadId,
        over === null
          ? `I can't take this on: my model "${teammate.model}" is not allowed by the org's model policy ` +
            `(allowed: ${(b.allowedModels ?? []).join(", ")}). An admin can give me an allowed model.`
          : over.scope === "org"
          ? `I can't take this on: the org has used its monthly budget of ${over.limit} tokens.`
          : `I can't take this on: I have used my monthly limit of ${over.limit} tokens.`,
        `refused:${trigger.id}`
      )
      return true
    })

  /**
   * The loop outlives the trigger that started it and runs untraced; the
   * work for a trigger runs under the span that delivered it (a root span
   * when the loop found the trigger before its delivery arrived).
   */
  const tracedBy = (triggerId: string) => <A, E, R>(self: Effect.Effect<A, E, R>) => {
    const span = spans.get(triggerId)
    return Effect.withTracerEnabled(span === undefined ? self : Effect.withParentSpan(self, span), true)
  }

  const step = (orgId: OrgId) =>
    Effect.gen(function*() {
      // What to do next, read in one transaction.
      const next = yield* withOrg(orgId)(Effect.gen(function*() {
        const open = yield* runs.open(orgId, teammateId)
        if (open.length === 0) return null
        return {
          open,
          teammate: yield* teammates.get(orgId, teammateId),
          limits: yield* runs.limits(orgId, teammateId)
        }
      }))
      if (next === null) return false
      const { limits, open, teammate } = next
      const batch = nextBatch(teammate.busyPolicy, open)
      const [first] = batch
      if (first === undefined) return false
      if (teammate.dismissed) {
        const ids = open.map((t) => t.id)
        yield* runs.setStatus(orgId, ids, "refused")
        yield* settle(ids, "refused")
        return true
      }
      const ids = batch.map((t) => t.id)
      if (yield* tracedBy(first.id)(refuse(orgId, teammate, first, limits))) {
        yield* runs.setStatus(orgId, ids, "refused")
        yield* settle(ids, "refused")
        return true
      }
      const runId = first.id
      // One transaction; the run's writes come before the first event append,
      // which holds the event log's counter until commit.
      const after = yield* withOrg(orgId)(Effect.zipRight(
        runs.start(orgId, {
          id: runId,
          teammateId,
          roomId: first.roomId,
          threadId: first.threadId,
          triggerIds: ids,
          model: teammate.model
        }),
        teammates.busy(orgId, teammateId, true, open.length - batch.length)
      ))
      const startedAt = Date.now()
      const fiber = yield* turn.run({
        runId,
        orgId,
        teammate,
        kind: teammate.template === null ? undefined : catalog.find(teammate.template),
        roomId: first.roomId,
        threadId: first.threadId,
        triggerMessageIds: batch.map((t) => t.messageId),
        sourceMessageId: (batch[batch.length - 1] ?? first).messageId,
        after
      }, settings).pipe(tracedBy(first.id), Effect.fork)
      current = { fiber }
      const exit = yield* Fiber.await(fiber)
      current = null
      const latencyMs = Date.now() - startedAt
      const outcomeLabel = Exit.isSuccess(exit) ? "ok" : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "error"
      yield* Metric.update(Metric.tagged(turnDuration, "outcome", outcomeLabel), latencyMs / 1000)
      let outcome: TriggerOutcome
      if (Exit.isSuccess(exit)) {
        const r = exit.value
        yield* runs.finish(orgId, runId, {
          status: "completed",
          inputTokens: r.inputTokens,
          outputTokens: r.outputTokens,
          costUsd: estimateCost(teammate.model, r.inputTokens, r.outputTokens),
          latencyMs,
          error: null,
          replyMessageId: r.reply.id,
          triggerStatus: "done"
        })
        if (ids.length > 1) yield* runs.setStatus(orgId, ids.slice(1), "merged")
        for (const h of r.handOffs) {
          yield* dispatcher.handOff(orgId, first.roomId, r.reply, h.handle).pipe(
            tracedBy(first.id),
            Effect.catchAllCause((c) => Effect.logWarning("hand-off failed", c))
          )
        }
        outcome = "done"
      } else if (Cause.isInterruptedOnly(exit.cause)) {
        yield* runs.finish(orgId, runId, {
          status: "interrupted",
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
          latencyMs,
          error: "interrupted",
          replyMessageId: null,
          triggerStatus: "interrupted"
        })
        outcome = "interrupted"
      } else {
        const reason = reasonOf(exit.cause)
        yield* Effect.logWarning(`turn ${runId} failed: ${reason}`)
        const said = yield* turn.say(
          orgId,
          teammate,
          first.roomId,
          first.threadId,
          `Sorry, I couldn't finish that (${reason}). I'm free again; please try once more.`,
          `failed:${runId}`
        ).pipe(Effect.option)
        yield* runs.finish(orgId, runId, {
          status: "failed",
          inputTokens: 0,
          outputTokens: 0,
          costUsd: 0,
          latencyMs,
          error: reason,
          replyMessageId: Option.match(said, { onNone: () => null, onSome: (m) => m.id }),
          triggerStatus: "failed"
        })
        outcome = "failed"
      }
      yield* settle([first.id], outcome)
      yield* settle(ids.slice(1), outcome === "done" ? "merged" : outcome)
      yield* withOrg(orgId)(Effect.gen(function*() {
        const left = yield* runs.open(orgId, teammateId)
        yield* teammates.busy(orgId, teammateId, false, left.length)
      }))
      return true
    })

  const loop = (orgId: OrgId) =>
    Effect.gen(function*() {
      while (true) {
        const worked = yield* step(orgId).pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause)
              ? Effect.failCause(cause)
              : Effect.zipRight(
                Effect.logError("teammate loop error", cause),
                Effect.as(Effect.sleep("1 second"), true)
              )
          )
        )
        if (!worked) yield* Queue.take(signal)
      }
    })

  const ensureLoop = (orgId: OrgId) =>
    Effect.suspend(() => {
      if (started) return Effect.void
      started = true
      return Effect.asVoid(Effect.forkScoped(untraced(loop(orgId))))
    })

  return TeammateEntity.of({
    Trigger: (envelope) =>
      Effect.gen(function*() {
        const orgId = Schema.decodeSync(OrgId)(envelope.payload.orgId)
        const triggerId = envelope.payload.triggerId
        const deferred = waiting.get(triggerId) ?? (yield* Deferred.make<TriggerOutcome>())
        waiting.set(triggerId, deferred)
        const span = yield* Effect.option(Effect.currentParentSpan)
        if (Option.isSome(span)) spans.set(triggerId, span.value)
        const trigger = yield* runs.trigger(orgId, triggerId).pipe(Effect.option)
        if (Option.isNone(trigger)) {
          waiting.delete(triggerId)
          spans.delete(triggerId)
          return "refused" as const
        }
        const status = trigger.value.status
        if (isSettled(status)) {
          waiting.delete(triggerId)
          spans.delete(triggerId)
          return status
        }
        if (current !== null && trigger.value.status === "pending") {
          const teammate = yield* teammates.get(orgId, teammateId)
          const arrival = onArrival(teammate.busyPolicy)
          if (arrival === "reply-busy") {
            yield* runs.setStatus(orgId, [triggerId], "rejected")
            yield* turn.say(
              orgId,
              teammate,
              trigger.value.roomId,
              trigger.value.threadId,
              "I'm busy with another request right now. Please ask again in a moment.",
              `busy:${triggerId}`
            )
            yield* settle([triggerId], "rejected")
          } else if (arrival === "interrupt-running") {
            yield* Fiber.interrupt(current.fiber).pipe(Effect.fork)
          } else {
            const open = yield* runs.open(orgId, teammateId)
            yield* teammates.busy(orgId, teammateId, true, Math.max(0, open.length - 1))
          }
        }
        yield* ensureLoop(orgId)
        yield* Queue.offer(signal, undefined)
        return yield* Deferred.await(deferred)
      }).pipe(
        Effect.retry(Schedule.exponential("200 millis").pipe(Schedule.upTo("30 seconds"))),
        Effect.orDie
      ),
    Interrupt: () =>
      Effect.suspend(() => {
        const running = current
        if (running === null) return Effect.succeed(false)
        return Effect.as(Fiber.interrupt(running.fiber), true)
      })
  })
})

/** Registers the teammate entity's behaviour with the cluster. */
export const TeammateRuntimeLive = Layer.unwrapEffect(Effect.map(
  TeammateMaxIdle,
  (maxIdleTime) => TeammateEntity.toLayer(behaviour, { concurrency: "unbounded", maxIdleTime })
))

/** Everything the runtime needs, given the cluster, the model and the SQL client. */
export const layer = TeammateRuntimeLive.pipe(
  Layer.provide([Turn.Default, RunRepo.Default, TeammateRepo.Default, EventLog.Default, Dispatcher.Default])
)
