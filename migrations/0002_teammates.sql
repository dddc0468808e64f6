-- Teammates: AI members of an org, their inbox of triggers, runs, memory,
-- pins and usage. All org-scoped and isolated by row-level security.

ALTER TABLE rooms ADD COLUMN routing text NOT NULL DEFAULT 'mentions'
  CHECK (routing IN ('off', 'mentions', 'auto'));
ALTER TABLE orgs ADD COLUMN monthly_token_budget bigint;

CREATE TABLE teammates (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  handle text NOT NULL,
  name text NOT NULL,
  role text NOT NULL,
  personality text NOT NULL DEFAULT '',
  instructions text NOT NULL DEFAULT '',
  model text NOT NULL,
  tools text[] NOT NULL DEFAULT '{}',
  busy_policy text NOT NULL DEFAULT 'queue' CHECK (busy_policy IN ('queue', 'merge', 'interrupt', 'reject')),
  template text,
  monthly_token_limit bigint,
  created_by uuid NOT NULL REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  dismissed_at timestamptz,
  UNIQUE (org_id, handle)
);

-- Each trigger (a mention, a DM, a hand-off, a routing decision) is one row;
-- its id is the cluster message's primary key, so redelivery is idempotent.
CREATE TABLE teammate_triggers (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  teammate_id uuid NOT NULL REFERENCES teammates(id) ON DELETE CASCADE,
  room_id uuid NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  thread_id uuid,
  message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('mention', 'dm', 'handoff', 'routed')),
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'running', 'done', 'merged', 'rejected', 'interrupted', 'failed', 'refused')),
  run_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX teammate_triggers_pending ON teammate_triggers (teammate_id, created_at) WHERE status IN ('pending', 'running');

CREATE TABLE runs (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  teammate_id uuid NOT NULL REFERENCES teammates(id) ON DELETE CASCADE,
  room_id uuid NOT NULL,
  thread_id uuid,
  trigger_ids uuid[] NOT NULL,
  status text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'interrupted', 'refused')),
  model text NOT NULL,
  input_tokens integer NOT NULL DEFAULT 0,
  output_tokens integer NOT NULL DEFAULT 0,
  cost_usd numeric(12, 6) NOT NULL DEFAULT 0,
  latency_ms integer,
  error text,
  reply_message_id uuid,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX runs_teammate ON runs (teammate_id, started_at DESC);
CREATE INDEX runs_org_month ON runs (org_id, started_at);

CREATE TABLE run_steps (
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  run_id uuid NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  idx integer NOT NULL,
  kind text NOT NULL CHECK (kind IN ('model', 'tool')),
  name text NOT NULL,
  input jsonb NOT NULL DEFAULT '{}',
  output jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, idx)
);

-- Tool side effects are journalled by an idempotency key (run, tool call id),
-- so a redelivered turn returns the recorded result instead of acting twice.
CREATE TABLE tool_journal (
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  key text PRIMARY KEY,
  result jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE core_memory (
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  teammate_id uuid NOT NULL REFERENCES teammates(id) ON DELETE CASCADE,
  block text NOT NULL CHECK (block IN ('persona', 'org', 'people')),
  text text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (teammate_id, block)
);

CREATE TABLE memories (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  teammate_id uuid NOT NULL REFERENCES teammates(id) ON DELETE CASCADE,
  text text NOT NULL,
  source_message_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  search tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX memories_search ON memories USING gin (search);
CREATE INDEX memories_teammate ON memories (teammate_id, created_at DESC);

CREATE TABLE pins (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  room_id uuid NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  text text NOT NULL,
  author_kind text NOT NULL,
  author_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pins_room ON pins (room_id, created_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['teammates', 'teammate_triggers', 'runs', 'run_steps', 'tool_journal',
    'core_memory', 'memories', 'pins']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY org_isolation ON %I USING (org_id = troupe_current_org()) WITH CHECK (org_id = troupe_current_org())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO troupe_app', t);
  END LOOP;
END $$;
