-- Background tasks: a goal given to a teammate, worked on as a durable
-- workflow in several steps (a plan, then one model call per step, then the
-- result), with its progress kept here and announced as task.updated. A task
-- is also a run of its teammate (runs.id = tasks.id), so its tokens count
-- against the org's and the teammate's budgets like a turn's.

CREATE TABLE tasks (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  room_id uuid NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  thread_id uuid REFERENCES messages(id) ON DELETE SET NULL,
  teammate_id uuid NOT NULL REFERENCES teammates(id) ON DELETE CASCADE,
  goal text NOT NULL,
  created_by_kind text NOT NULL CHECK (created_by_kind IN ('user', 'teammate')),
  created_by_id uuid NOT NULL,
  created_by_name text NOT NULL,
  status text NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  cancel_requested boolean NOT NULL DEFAULT false,
  -- [{title, status: pending|running|done, output}] in order, once planned.
  steps jsonb NOT NULL DEFAULT '[]'::jsonb,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  result_message_id uuid REFERENCES messages(id) ON DELETE SET NULL,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX tasks_room ON tasks (room_id, created_at DESC);
CREATE INDEX tasks_teammate ON tasks (teammate_id, created_at DESC);

ALTER TABLE tasks ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON tasks USING (org_id = troupe_current_org()) WITH CHECK (org_id = troupe_current_org());
GRANT SELECT, INSERT, UPDATE, DELETE ON tasks TO troupe_app;
