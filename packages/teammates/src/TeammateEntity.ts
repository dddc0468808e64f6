/**
 * The teammate entity's protocol. Each teammate is an entity keyed by its id;
 * a trigger is a persisted message (it survives the loss of the node that
 * held it) whose primary key is the trigger id, so redelivery is idempotent.
 */
import { ClusterSchema, Entity } from "@effect/cluster"
import { Rpc } from "@effect/rpc"
import { Schema } from "effect"

/** How a trigger was settled. */
export const TriggerOutcome = Schema.Literal("done", "merged", "rejected", "interrupted", "failed", "refused")
/** How a trigger was settled. */
export type TriggerOutcome = typeof TriggerOutcome.Type

/** Act on a recorded trigger. Answers once the trigger is settled. */
export const Trigger = Rpc.make("Trigger", {
  payload: { triggerId: Schema.UUID, orgId: Schema.UUID },
  primaryKey: (p) => p.triggerId,
  success: TriggerOutcome
}).annotate(ClusterSchema.Persisted, true)

/** Cancel the running turn, if any. Answers whether one was cancelled. */
export const Interrupt = Rpc.make("Interrupt", {
  payload: { orgId: Schema.UUID },
  success: Schema.Boolean
})

/** The teammate entity. */
export const TeammateEntity = Entity.make("Teammate", [Trigger, Interrupt])
