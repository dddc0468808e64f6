-- Generic webhooks of the messaging gateway.
--
-- Out: an org's admins subscribe URLs (endpoints) to event types; the
-- webhooks outbox follows the event log and queues one delivery per event and
-- endpoint (UNIQUE (endpoint, position): an event is queued once per endpoint
-- however often the log is read again), signed with the endpoint's secret
-- (stored encrypted under CHANNEL_KEY, the endpoint id as associated data).
-- Only events every non-guest member of the org may read are queued: org-wide
-- ones, and those of public rooms (checked here, against the room's kind).
--
-- In: a channel account of kind `webhook` takes Standard Webhooks deliveries
-- into its bridged rooms; nothing in a bridged room goes back out through it
-- (outbound subscriptions do that), so the enqueue function skips it.
--
-- Out to the platforms: edits and deletions of bridged room messages.

ALTER TABLE channel_accounts DROP CONSTRAINT channel_accounts_kind_check;
ALTER TABLE channel_accounts ADD CONSTRAINT channel_accounts_kind_check
  CHECK (kind IN ('slack', 'telegram', 'webhook'));
ALTER TABLE channel_identities DROP CONSTRAINT channel_identities_kind_check;
ALTER TABLE channel_identities ADD CONSTRAINT channel_identities_kind_check
  CHECK (kind IN ('slack', 'telegram', 'webhook'));

CREATE TABLE webhook_endpoints (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  url text NOT NULL,
  event_types text[] NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  secret bytea NOT NULL,
  -- After a rotation, deliveries carry a signature with the previous secret
  -- too until `previous_until`, so receivers can switch without losing any.
  previous_secret bytea,
  previous_until timestamptz,
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_success_at timestamptz,
  last_error text,
  last_error_at timestamptz
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id);

-- The outbox. The row's id is the delivery's `webhook-id`, the same on every
-- attempt, so a receiver can de-duplicate; times are the outbox's clock.
CREATE TABLE webhook_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  position bigint NOT NULL,
  event_type text NOT NULL,
  payload text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_status integer,
  last_error text,
  created_at timestamptz NOT NULL,
  sent_at timestamptz,
  UNIQUE (endpoint_id, position)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (endpoint_id, created_at DESC);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_deliveries'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY org_isolation ON %I USING (org_id = troupe_current_org())
      WITH CHECK (org_id = troupe_current_org())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO troupe_app', t);
  END LOOP;
END $$;

-- Queues events of one org for its enabled endpoints subscribed to their
-- type, as one statement outside any transaction (most orgs have no
-- endpoint). The org is named by the caller (the log's org of the events)
-- and every table is narrowed to it. An event of a room goes out only while
-- the room is public.
CREATE FUNCTION troupe_webhook_enqueue(p_org uuid, p_events jsonb, p_now timestamptz)
  RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  WITH queued AS (
    INSERT INTO webhook_deliveries (org_id, endpoint_id, position, event_type, payload, next_attempt_at, created_at)
    SELECT p_org, w.id, e.position, e.type, e.payload, p_now, p_now
    FROM jsonb_to_recordset(p_events) AS e(position bigint, type text, room_id uuid, org_wide boolean, payload text)
    JOIN webhook_endpoints w ON w.org_id = p_org AND w.enabled AND e.type = ANY (w.event_types)
    WHERE e.org_wide
      OR EXISTS (SELECT 1 FROM rooms r WHERE r.id = e.room_id AND r.org_id = p_org AND r.kind = 'public')
    ON CONFLICT (endpoint_id, position) DO NOTHING
    RETURNING 1)
  SELECT count(*)::integer FROM queued
$$;

-- The event types an org's enabled endpoints subscribe to: the outbox builds
-- delivery bodies only for those (most orgs have no endpoint at all).
CREATE FUNCTION troupe_webhook_types(p_org uuid)
  RETURNS TABLE (event_type text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT DISTINCT unnest(w.event_types) FROM webhook_endpoints w WHERE w.org_id = p_org AND w.enabled $$;

-- The sender: orgs with deliveries due at `p_now` to enabled endpoints.
CREATE FUNCTION troupe_webhook_orgs_due(p_now timestamptz, p_limit integer)
  RETURNS TABLE (org_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT DISTINCT d.org_id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= p_now AND w.enabled LIMIT p_limit $$;

-- Retention (GATEWAY_RETENTION, at least a day): a delivery is tried for a
-- day at most, then kept this long for the endpoint's list.
CREATE FUNCTION troupe_webhook_prune(p_before timestamptz)
  RETURNS TABLE (deleted bigint)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    WITH d AS (DELETE FROM webhook_deliveries WHERE created_at < p_before RETURNING 1)
    SELECT count(*) FROM d $$;

-- Edits and deletions of room messages go out too, as deliveries of their
-- own (`update`, `delete`) through the same outbox, in the log's order after
-- the message's `post`. One delivery per bridge and log position: a batch of
-- the log read again queues nothing twice.
ALTER TABLE channel_deliveries ADD COLUMN action text NOT NULL DEFAULT 'post'
  CHECK (action IN ('post', 'update', 'delete'));
ALTER TABLE channel_deliveries DROP CONSTRAINT channel_deliveries_message_id_bridge_id_key;
ALTER TABLE channel_deliveries ADD CONSTRAINT channel_deliveries_bridge_position UNIQUE (bridge_id, position);
CREATE INDEX channel_deliveries_message ON channel_deliveries (message_id, bridge_id);

-- The gateway's enqueue, as 0022 made it, but never for a generic webhook
-- account (it takes deliveries in and has nowhere to send them), and keyed
-- by bridge and log position.
CREATE OR REPLACE FUNCTION troupe_channel_enqueue(p_org uuid, p_messages jsonb)
  RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  WITH queued AS (
    INSERT INTO channel_deliveries (org_id, account_id, bridge_id, message_id, thread_id, external_channel,
      author_name, text, position)
    SELECT p_org, b.account_id, b.id, m.id, m.thread_id, b.external_channel, m.author_name, m.text, m.position
    FROM jsonb_to_recordset(p_messages)
      AS m(id uuid, room_id uuid, thread_id uuid, author_name text, text text, position bigint)
    JOIN channel_bridges b ON b.room_id = m.room_id AND b.org_id = p_org
    JOIN channel_accounts a ON a.id = b.account_id AND a.org_id = p_org
    WHERE a.enabled AND a.kind <> 'webhook'
      AND NOT EXISTS (SELECT 1 FROM channel_inbound i WHERE i.message_id = m.id AND i.account_id = a.id)
    ON CONFLICT (bridge_id, position) DO NOTHING
    RETURNING 1)
  SELECT count(*)::integer FROM queued
$$;

-- Edits and deletions of messages of one org (`p_changes`: id, action
-- `update` or `delete`, author_name, text, position). A post still waiting
-- takes the latest text, or is dropped when the message was deleted (with
-- whatever else waits for it); a message that reached the platform gets an
-- `update` (only when its text changed: a thread root's reply count changing
-- is a `message.updated` too) or a `delete` of what was sent.
CREATE FUNCTION troupe_channel_enqueue_changes(p_org uuid, p_changes jsonb)
  RETURNS integer
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
  WITH c AS (
    SELECT * FROM jsonb_to_recordset(p_changes) AS c(id uuid, action text, author_name text, text text, position bigint)),
  latest AS (
    SELECT DISTINCT ON (id) * FROM c WHERE action = 'update'
      AND NOT EXISTS (SELECT 1 FROM c x WHERE x.id = c.id AND x.action = 'delete')
    ORDER BY id, position DESC),
  retexted AS (
    UPDATE channel_deliveries d SET text = l.text, author_name = l.author_name FROM latest l
    WHERE d.org_id = p_org AND d.message_id = l.id AND d.action = 'post' AND d.status = 'pending'
    RETURNING 1),
  dropped AS (
    UPDATE channel_deliveries d SET status = 'failed', last_error = 'deleted in the room before it was sent'
    WHERE d.org_id = p_org AND d.status = 'pending'
      AND d.message_id IN (SELECT id FROM c WHERE action = 'delete')
    RETURNING 1),
  queued AS (
    INSERT INTO channel_deliveries (org_id, account_id, bridge_id, message_id, thread_id, external_channel,
      author_name, text, position, action)
    SELECT p_org, p.account_id, p.bridge_id, p.message_id, p.thread_id, p.external_channel, c.author_name,
      COALESCE(c.text, ''), c.position, c.action
    FROM c
    JOIN channel_deliveries p ON p.message_id = c.id AND p.org_id = p_org AND p.action = 'post' AND p.status = 'sent'
    JOIN channel_accounts a ON a.id = p.account_id AND a.org_id = p_org AND a.enabled
    WHERE c.action = 'delete' OR c.text IS DISTINCT FROM (
      SELECT l.text FROM channel_deliveries l
      WHERE l.bridge_id = p.bridge_id AND l.message_id = p.message_id AND l.action IN ('post', 'update')
      ORDER BY l.position DESC LIMIT 1)
    ON CONFLICT (bridge_id, position) DO NOTHING
    RETURNING 1)
  SELECT ((SELECT count(*) FROM retexted) + (SELECT count(*) FROM dropped) + (SELECT count(*) FROM queued))::integer
$$;

REVOKE ALL ON FUNCTION troupe_channel_enqueue_changes(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_channel_enqueue_changes(uuid, jsonb) TO troupe_app;
REVOKE ALL ON FUNCTION troupe_webhook_enqueue(uuid, jsonb, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_webhook_enqueue(uuid, jsonb, timestamptz) TO troupe_app;
REVOKE ALL ON FUNCTION troupe_webhook_types(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_webhook_types(uuid) TO troupe_app;
REVOKE ALL ON FUNCTION troupe_webhook_orgs_due(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_webhook_orgs_due(timestamptz, integer) TO troupe_app;
REVOKE ALL ON FUNCTION troupe_webhook_prune(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_webhook_prune(timestamptz) TO troupe_app;

INSERT INTO log_cursors (name, position) SELECT 'webhooks', position FROM event_log_state
  ON CONFLICT (name) DO NOTHING;
