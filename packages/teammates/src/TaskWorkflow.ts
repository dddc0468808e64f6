/**
 * The background task workflow's definition: its name and payload, one
 * execution per task. Starting a task (`TaskWorkflow.execute`) needs only
 * this; the implementation, for nodes that host entities, is `TaskRunner`.
 */
import * as Workflow from "@effect/workflow/Workflow"
import { OrgId, TaskId } from "@troupe/domain/Ids"

/** The workflow: one execution per task (its id is the idempotency key). */
export const TaskWorkflow = Workflow.make({
  name: "TeammateTask",
  payload: { orgId: OrgId, taskId: TaskId },
  idempotencyKey: (p) => p.taskId
})
