-- The application logs in as troupe_app, a role that owns no table. Row-level
-- security therefore applies to every statement it runs, and no statement can
-- step out of it (there is no other role to RESET to). The role that runs the
-- migrations (DATABASE_URL) owns the tables and sets troupe_app's password at
-- start-up.
--
-- What crosses orgs (authentication, a person's memberships, the node's event
-- tailer, retention) goes through the narrow SECURITY DEFINER functions below,
-- each answering one question. troupe_app cannot read e-mail addresses or
-- password hashes; it can look one person up by an e-mail it already knows.

DO $$
BEGIN
  ALTER ROLE troupe_app LOGIN;
EXCEPTION WHEN others THEN NULL; -- another database on this server did it at the same moment
END $$;

-- The cluster creates and owns its own tables.
GRANT CREATE ON SCHEMA public TO troupe_app;
DO $$
DECLARE t text;
BEGIN
  FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'cluster\_%' LOOP
    EXECUTE format('ALTER TABLE %I OWNER TO troupe_app', t);
  END LOOP;
END $$;

-- People: no e-mail addresses or password hashes for the app.
REVOKE SELECT ON users FROM troupe_app;
REVOKE SELECT (email) ON users FROM troupe_app;
GRANT SELECT (id, kind, name, handle, created_at) ON users TO troupe_app;
GRANT INSERT (kind, email, name, handle, password_hash) ON users TO troupe_app;
GRANT INSERT (token_hash, user_id, expires_at) ON sessions TO troupe_app;
GRANT INSERT ON orgs TO troupe_app;

-- Account-level events (a log-out) belong to no org: written outside any org, read by nobody under RLS.
DROP POLICY org_isolation ON events;
CREATE POLICY org_isolation ON events USING (org_id = troupe_current_org())
  WITH CHECK (org_id IS NOT DISTINCT FROM troupe_current_org());

CREATE FUNCTION troupe_login_lookup(p_email text)
  RETURNS TABLE (id uuid, email text, name text, handle text, created_at timestamptz, password_hash text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT u.id, u.email, u.name, u.handle, u.created_at, u.password_hash FROM users u
        WHERE u.email = p_email AND u.kind = 'person' $$;

CREATE FUNCTION troupe_find_user(p_email text)
  RETURNS TABLE (id uuid, email text, name text, handle text, created_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT u.id, u.email, u.name, u.handle, u.created_at FROM users u WHERE u.email = p_email $$;

CREATE FUNCTION troupe_session_principal(p_hash bytea)
  RETURNS TABLE (id uuid, email text, name text, handle text, created_at timestamptz, session_id uuid, expires_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT u.id, u.email, u.name, u.handle, u.created_at, s.id, s.expires_at
        FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = p_hash AND s.revoked_at IS NULL AND s.expires_at > now() $$;

CREATE FUNCTION troupe_key_principal(p_hash bytea)
  RETURNS TABLE (id uuid, email text, name text, handle text, created_at timestamptz, key_id uuid, org_id uuid, role text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT u.id, u.email, u.name, u.handle, u.created_at, k.id, k.org_id, k.role
        FROM api_keys k JOIN users u ON u.id = k.user_id
        WHERE k.secret_hash = p_hash AND k.revoked_at IS NULL $$;

CREATE FUNCTION troupe_end_session(p_hash bytea)
  RETURNS TABLE (id uuid, user_id uuid)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ UPDATE sessions s SET revoked_at = now() WHERE s.token_hash = p_hash AND s.revoked_at IS NULL
        RETURNING s.id, s.user_id $$;

CREATE FUNCTION troupe_memberships(p_user uuid)
  RETURNS TABLE (org_id uuid, role text)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT m.org_id, m.role FROM org_members m WHERE m.user_id = p_user $$;

CREATE FUNCTION troupe_orgs_of(p_user uuid)
  RETURNS TABLE (id uuid, name text, slug text, role text, created_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT o.id, o.name, o.slug, m.role, o.created_at
        FROM org_members m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = p_user ORDER BY o.created_at $$;

CREATE FUNCTION troupe_room_ids_of(p_user uuid)
  RETURNS TABLE (room_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT rm.room_id FROM room_members rm WHERE rm.member_kind = 'user' AND rm.member_id = p_user $$;

CREATE FUNCTION troupe_room_org(p_room uuid)
  RETURNS TABLE (org_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT r.org_id FROM rooms r WHERE r.id = p_room $$;

-- The node's tailer: every event after a position.
CREATE FUNCTION troupe_events_after(p_position bigint, p_limit integer)
  RETURNS SETOF events
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT * FROM events e WHERE e.position > p_position ORDER BY e.position LIMIT p_limit $$;

-- Replay for one reader: the events of their orgs and the events naming them.
CREATE FUNCTION troupe_events_for(p_user uuid, p_orgs uuid[], p_after bigint, p_until bigint, p_limit integer)
  RETURNS SETOF events
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT * FROM events e
        WHERE e.position > p_after AND e.position <= p_until AND (e.org_id = ANY(p_orgs) OR p_user = ANY(e.user_ids))
        ORDER BY e.position LIMIT p_limit $$;

-- Retention: deletes events older than the period; returns how many.
CREATE FUNCTION troupe_prune_events(p_retention interval)
  RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  last_old bigint;
  deleted bigint;
BEGIN
  SELECT max(e.position) INTO last_old FROM events e WHERE e.created_at < now() - p_retention;
  IF last_old IS NULL THEN RETURN 0; END IF;
  DELETE FROM events e WHERE e.position <= last_old;
  GET DIAGNOSTICS deleted = ROW_COUNT;
  UPDATE event_log_state SET retained_from = GREATEST(retained_from, last_old + 1);
  RETURN deleted;
END $$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['troupe_login_lookup(text)', 'troupe_find_user(text)', 'troupe_session_principal(bytea)',
    'troupe_key_principal(bytea)', 'troupe_end_session(bytea)', 'troupe_memberships(uuid)', 'troupe_orgs_of(uuid)',
    'troupe_room_ids_of(uuid)', 'troupe_room_org(uuid)', 'troupe_events_after(bigint, integer)',
    'troupe_events_for(uuid, uuid[], bigint, bigint, integer)', 'troupe_prune_events(interval)']
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO troupe_app', f);
  END LOOP;
END $$;
