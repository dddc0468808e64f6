-- Troupe core schema: people, orgs, rooms, messages and the durable event log.
-- Org-scoped tables are isolated by row-level security: queries run as the
-- troupe_app role with troupe.org_id set for the transaction, and see nothing
-- of any other org (nor anything at all without an org).

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'troupe_app') THEN
    CREATE ROLE troupe_app NOLOGIN;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;

DO $$
BEGIN
  EXECUTE format('GRANT troupe_app TO %I', current_user);
EXCEPTION WHEN others THEN NULL;
END $$;

CREATE OR REPLACE FUNCTION troupe_current_org() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT nullif(current_setting('troupe.org_id', true), '')::uuid $$;

CREATE TABLE users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind text NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'bot')),
  email text UNIQUE,
  name text NOT NULL,
  handle text NOT NULL UNIQUE,
  password_hash text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
  token_hash bytea PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE orgs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  slug text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE org_members (
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'guest')),
  joined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE api_keys (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'guest')),
  prefix text NOT NULL,
  secret_hash bytea NOT NULL UNIQUE,
  created_by uuid NOT NULL REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE rooms (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('public', 'private', 'direct')),
  name text NOT NULL,
  topic text NOT NULL DEFAULT '',
  dm_key text,
  created_by uuid NOT NULL REFERENCES users(id),
  created_at timestamptz NOT NULL DEFAULT now(),
  archived_at timestamptz,
  last_seq bigint NOT NULL DEFAULT 0,
  UNIQUE (org_id, dm_key)
);
CREATE INDEX rooms_org ON rooms (org_id);

CREATE TABLE room_members (
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  room_id uuid NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  member_kind text NOT NULL CHECK (member_kind IN ('user', 'teammate')),
  member_id uuid NOT NULL,
  joined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (room_id, member_kind, member_id)
);
CREATE INDEX room_members_member ON room_members (member_id, org_id);

CREATE TABLE messages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  room_id uuid NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  seq bigint NOT NULL,
  thread_id uuid REFERENCES messages(id),
  author_kind text NOT NULL CHECK (author_kind IN ('user', 'teammate')),
  author_id uuid NOT NULL,
  author_name text NOT NULL,
  text text NOT NULL,
  client_message_id text,
  reply_count integer NOT NULL DEFAULT 0,
  last_reply_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  edited_at timestamptz,
  deleted_at timestamptz,
  search tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
  UNIQUE (room_id, seq),
  UNIQUE (org_id, author_id, client_message_id)
);
CREATE INDEX messages_room_top ON messages (room_id, seq) WHERE thread_id IS NULL;
CREATE INDEX messages_thread ON messages (thread_id, seq) WHERE thread_id IS NOT NULL;
CREATE INDEX messages_search ON messages USING gin (search);

CREATE TABLE message_mentions (
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  room_id uuid NOT NULL,
  thread_id uuid,
  seq bigint NOT NULL,
  member_kind text NOT NULL,
  member_id uuid NOT NULL,
  handle text NOT NULL,
  PRIMARY KEY (message_id, member_kind, member_id)
);
CREATE INDEX message_mentions_member ON message_mentions (member_id, room_id, seq);

CREATE TABLE message_edits (
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  text text NOT NULL,
  replaced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_edits_message ON message_edits (message_id, replaced_at);

CREATE TABLE reactions (
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  message_id uuid NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  emoji text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (message_id, user_id, emoji)
);

-- thread_key is the thread root's id, or the nil uuid for the room itself.
CREATE TABLE read_markers (
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  room_id uuid NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  thread_key uuid NOT NULL,
  last_read_seq bigint NOT NULL,
  PRIMARY KEY (user_id, room_id, thread_key)
);

-- The durable event log. Positions are allocated from one counter row inside
-- the writing transaction, as its last statement: the row lock makes commit
-- order equal position order, so positions are contiguous and readers never
-- skip an event that commits late.
CREATE TABLE event_log_state (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  position bigint NOT NULL,
  retained_from bigint NOT NULL,
  history_id uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO event_log_state (position, retained_from) VALUES (0, 1);

CREATE TABLE events (
  position bigint PRIMARY KEY,
  org_id uuid NOT NULL,
  room_id uuid,
  org_wide boolean NOT NULL DEFAULT false,
  user_ids uuid[] NOT NULL DEFAULT '{}',
  type text NOT NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_org_position ON events (org_id, position);
CREATE INDEX events_created ON events (created_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['org_members', 'api_keys', 'rooms', 'room_members', 'messages',
    'message_mentions', 'message_edits', 'reactions', 'read_markers', 'events']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY org_isolation ON %I USING (org_id = troupe_current_org()) WITH CHECK (org_id = troupe_current_org())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO troupe_app', t);
  END LOOP;
END $$;

ALTER TABLE orgs ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON orgs USING (id = troupe_current_org()) WITH CHECK (id = troupe_current_org());
GRANT SELECT, UPDATE ON orgs TO troupe_app;

GRANT SELECT (id, kind, email, name, handle, created_at) ON users TO troupe_app;
GRANT SELECT, UPDATE ON event_log_state TO troupe_app;
