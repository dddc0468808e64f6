-- Consumers of the event log keep their position here. The teammates' outbox
-- reads every committed message from the log and sends the triggers it
-- causes, so a stored message is answered even when the node that stored it
-- dies before it could tell anyone. Its cursor starts at the log's head when
-- this migration runs, so no message is skipped before it first runs.

CREATE TABLE log_cursors (
  name text PRIMARY KEY,
  position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO log_cursors (name, position) SELECT 'teammates', position FROM event_log_state;
GRANT SELECT, INSERT, UPDATE ON log_cursors TO troupe_app;
