-- The messaging gateway: channel accounts (a Slack workspace's bot, a Telegram
-- bot) of an org, bridges from a platform channel or chat to a room, the
-- external people who write there, what came in and what goes out.
--
-- Credentials are stored only encrypted (AES-256-GCM under CHANNEL_KEY, the
-- account id as associated data); the API never returns them. What crosses
-- orgs (a webhook names only its account; the sender works for every org)
-- goes through the SECURITY DEFINER functions at the end.

-- External people (a Slack user, a Telegram sender) author room messages as
-- accounts of their own that cannot log in (no e-mail, no password).
ALTER TABLE users DROP CONSTRAINT users_kind_check;
ALTER TABLE users ADD CONSTRAINT users_kind_check CHECK (kind IN ('person', 'bot', 'external'));

CREATE TABLE channel_accounts (
  id uuid PRIMARY KEY,
  org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('slack', 'telegram')),
  name text NOT NULL,
  enabled boolean NOT NULL DEFAULT true,
  credentials bytea NOT NULL,
  token_hint text NOT NULL,
  bot_user_id text,
  created_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  last_inbound_at timestamptz,
  last_outbound_at timestamptz,
  last_error text,
  last_error_at timestamptz
);
CREATE INDEX channel_accounts_org ON channel_accounts (org_id);

CREATE TABLE channel_bridges (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  account_id uuid NOT NULL REFERENCES channel_accounts (id) ON DELETE CASCADE,
  external_channel text NOT NULL,
  room_id uuid NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (account_id, external_channel)
);
CREATE INDEX channel_bridges_room ON channel_bridges (room_id);

-- One account per external person per org and platform.
CREATE TABLE channel_identities (
  org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('slack', 'telegram')),
  external_user text NOT NULL,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  display_name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, kind, external_user)
);

-- Deliveries received: the provider's id is the idempotency key, so a retried
-- or replayed delivery is stored once.
CREATE TABLE channel_inbound (
  account_id uuid NOT NULL REFERENCES channel_accounts (id) ON DELETE CASCADE,
  provider_id text NOT NULL,
  org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  external_channel text NOT NULL,
  -- The platform's id of the message (a Slack ts), to find the room thread a platform thread replies to.
  external_message_id text,
  message_id uuid REFERENCES messages (id) ON DELETE SET NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (account_id, provider_id)
);
CREATE INDEX channel_inbound_message ON channel_inbound (message_id);
CREATE INDEX channel_inbound_external ON channel_inbound (account_id, external_channel, external_message_id);
CREATE INDEX channel_inbound_recent ON channel_inbound (account_id, received_at DESC);

-- The outbox: one row per room message and bridge, so nothing is sent twice.
CREATE TABLE channel_deliveries (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  account_id uuid NOT NULL REFERENCES channel_accounts (id) ON DELETE CASCADE,
  bridge_id uuid NOT NULL REFERENCES channel_bridges (id) ON DELETE CASCADE,
  message_id uuid NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  -- The room thread the message replies in: sent into the platform thread of its first message.
  thread_id uuid,
  external_channel text NOT NULL,
  author_name text NOT NULL,
  text text NOT NULL,
  -- The message's place in the event log: one destination's deliveries go in this order.
  position bigint NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  external_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  sent_at timestamptz,
  UNIQUE (message_id, bridge_id)
);
CREATE INDEX channel_deliveries_due ON channel_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX channel_deliveries_recent ON channel_deliveries (account_id, created_at DESC);
CREATE INDEX channel_deliveries_external ON channel_deliveries (account_id, external_channel, external_id);
CREATE INDEX channel_deliveries_destination ON channel_deliveries (account_id, external_channel, position)
  WHERE status = 'pending';

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['channel_accounts', 'channel_bridges', 'channel_identities', 'channel_inbound',
    'channel_deliveries'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY org_isolation ON %I USING (org_id = troupe_current_org())
      WITH CHECK (org_id = troupe_current_org())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO troupe_app', t);
  END LOOP;
END $$;

-- A webhook names its account only: which org it belongs to.
CREATE FUNCTION troupe_channel_account_org(p_account uuid)
  RETURNS TABLE (org_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT a.org_id FROM channel_accounts a WHERE a.id = p_account $$;

-- The sender: orgs with deliveries due now (a disabled account's wait until it is enabled).
CREATE FUNCTION troupe_channel_orgs_due(p_limit integer)
  RETURNS TABLE (org_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT DISTINCT d.org_id FROM channel_deliveries d JOIN channel_accounts a ON a.id = d.account_id
        WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND a.enabled LIMIT p_limit $$;

-- Retention (GATEWAY_RETENTION): received deliveries are remembered for
-- de-duplication, finished deliveries kept for the tail, this long; pending
-- deliveries stay until they are sent or fail.
CREATE FUNCTION troupe_channel_prune(p_older interval)
  RETURNS TABLE (deleted bigint)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    WITH i AS (DELETE FROM channel_inbound WHERE received_at < now() - p_older RETURNING 1),
      d AS (DELETE FROM channel_deliveries WHERE status <> 'pending' AND created_at < now() - p_older RETURNING 1)
    SELECT (SELECT count(*) FROM i) + (SELECT count(*) FROM d) $$;

REVOKE ALL ON FUNCTION troupe_channel_account_org(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_channel_account_org(uuid) TO troupe_app;
REVOKE ALL ON FUNCTION troupe_channel_orgs_due(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_channel_orgs_due(integer) TO troupe_app;
REVOKE ALL ON FUNCTION troupe_channel_prune(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_channel_prune(interval) TO troupe_app;

INSERT INTO log_cursors (name, position) SELECT 'gateway', position FROM event_log_state
  ON CONFLICT (name) DO NOTHING;
