-- The gateway's outbox queues deliveries for every message the log carries,
-- most of them in rooms with no bridge. As one statement outside any
-- transaction (instead of a transaction bound to the org: four statements), a
-- message in an unbridged room costs the outbox one cheap statement. The org is
-- named by the caller (the log's own org of the messages) and every table is
-- narrowed to it explicitly.
CREATE FUNCTION troupe_channel_enqueue(p_org uuid, p_messages jsonb)
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
    WHERE a.enabled
      AND NOT EXISTS (SELECT 1 FROM channel_inbound i WHERE i.message_id = m.id AND i.account_id = a.id)
    ON CONFLICT (message_id, bridge_id) DO NOTHING
    RETURNING 1)
  SELECT count(*)::integer FROM queued
$$;

REVOKE ALL ON FUNCTION troupe_channel_enqueue(uuid, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_channel_enqueue(uuid, jsonb) TO troupe_app;
