-- Access decided at every delivery.
--
-- Sessions get an id, so the event that ends a logged-out session's streams
-- can name it without naming its secret. Account-level events (a log-out)
-- belong to no org: they are addressed to one person through user_ids.
-- Teammates' memories and core memory blocks record the room they came from,
-- so they are shown only to people who can read that room.

ALTER TABLE sessions ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX sessions_id ON sessions (id);

ALTER TABLE events ALTER COLUMN org_id DROP NOT NULL;

ALTER TABLE memories ADD COLUMN room_id uuid;
UPDATE memories SET room_id = m.room_id FROM messages m WHERE m.id = memories.source_message_id;
ALTER TABLE core_memory ADD COLUMN room_id uuid;

CREATE INDEX api_keys_created_by ON api_keys (org_id, created_by) WHERE revoked_at IS NULL;
