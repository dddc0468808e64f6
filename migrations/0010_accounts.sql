-- Account self-service: a person changes their name, handle or password, or
-- chooses a new password through a link sent to their address when they
-- forgot it.
--
-- A reset link carries a random token; only its SHA-256 is stored. The app
-- role has no grant on the table (and row-level security is on with no
-- policy): it reaches the tokens only through the functions below, and still
-- never reads an e-mail address or a password hash.

CREATE TABLE password_resets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  token_hash bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  -- a newer request replaced this link before it was used
  replaced_at timestamptz
);
-- At most one open link per person.
CREATE UNIQUE INDEX password_resets_open ON password_resets (user_id) WHERE used_at IS NULL AND replaced_at IS NULL;
ALTER TABLE password_resets ENABLE ROW LEVEL SECURITY;

-- A person renames themself or changes their handle: the app may write those two columns.
GRANT UPDATE (name, handle) ON users TO troupe_app;

-- A new reset link for the person with this address, replacing their open
-- one; no row when no person has an account with the address.
CREATE FUNCTION troupe_request_password_reset(p_email text, p_hash bytea, p_ttl interval)
  RETURNS TABLE (user_id uuid, expires_at timestamptz)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_user uuid;
BEGIN
  -- The person's row is locked, so two requests at once leave one open link.
  SELECT u.id INTO v_user FROM users u WHERE u.email = p_email AND u.kind = 'person' FOR UPDATE;
  IF v_user IS NULL THEN RETURN; END IF;
  UPDATE password_resets r SET replaced_at = now()
    WHERE r.user_id = v_user AND r.used_at IS NULL AND r.replaced_at IS NULL;
  RETURN QUERY INSERT INTO password_resets AS r (user_id, token_hash, expires_at)
    VALUES (v_user, p_hash, now() + p_ttl) RETURNING r.user_id, r.expires_at;
END $$;

-- The reset link a token names, locked until the transaction ends: where it
-- stands, never whose it is.
CREATE FUNCTION troupe_password_reset(p_hash bytea)
  RETURNS TABLE (expires_at timestamptz, used_at timestamptz, replaced_at timestamptz, expired boolean)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT r.expires_at, r.used_at, r.replaced_at, r.expires_at <= now() FROM password_resets r
        WHERE r.token_hash = p_hash FOR UPDATE $$;

-- Sets a person's password hash and ends their live sessions but p_keep
-- (none kept when null); answers the sessions it ended. Not SECURITY DEFINER
-- and not granted: only the functions below call it, with their owner's rights.
CREATE FUNCTION troupe_set_password(p_user uuid, p_password_hash text, p_keep uuid)
  RETURNS uuid[]
  LANGUAGE plpgsql VOLATILE SET search_path = public, pg_temp
  AS $$
DECLARE
  v_ended uuid[];
BEGIN
  UPDATE users u SET password_hash = p_password_hash WHERE u.id = p_user;
  WITH ended AS (
    UPDATE sessions s SET revoked_at = now()
    WHERE s.user_id = p_user AND s.id IS DISTINCT FROM p_keep AND s.revoked_at IS NULL AND s.expires_at > now()
    RETURNING s.id
  )
  SELECT coalesce(array_agg(ended.id), '{}') INTO v_ended FROM ended;
  RETURN v_ended;
END $$;
REVOKE ALL ON FUNCTION troupe_set_password(uuid, text, uuid) FROM PUBLIC;

-- Uses an open, unexpired reset link: marks it used, sets the person's new
-- password hash and ends all their sessions. Answers the person (with the
-- address the link was for) and the sessions it ended; no row when the link
-- is not usable.
CREATE FUNCTION troupe_use_password_reset(p_hash bytea, p_password_hash text)
  RETURNS TABLE (id uuid, email text, name text, handle text, created_at timestamptz, ended_sessions uuid[])
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_user uuid;
  v_ended uuid[];
BEGIN
  UPDATE password_resets r SET used_at = now()
    WHERE r.token_hash = p_hash AND r.used_at IS NULL AND r.replaced_at IS NULL AND r.expires_at > now()
    RETURNING r.user_id INTO v_user;
  IF v_user IS NULL THEN RETURN; END IF;
  v_ended := troupe_set_password(v_user, p_password_hash, NULL);
  RETURN QUERY SELECT u.id, u.email, u.name, u.handle, u.created_at, v_ended FROM users u WHERE u.id = v_user;
END $$;

-- The person holding the live session p_session gets a new password hash;
-- their other live sessions end. Answers the sessions it ended; no row when
-- the session is not live.
CREATE FUNCTION troupe_change_password(p_session uuid, p_password_hash text)
  RETURNS TABLE (ended_sessions uuid[])
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE
  v_user uuid;
BEGIN
  SELECT s.user_id INTO v_user FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.id = p_session AND s.revoked_at IS NULL AND s.expires_at > now() AND u.kind = 'person'
    FOR UPDATE OF u;
  IF v_user IS NULL THEN RETURN; END IF;
  RETURN QUERY SELECT troupe_set_password(v_user, p_password_hash, p_session);
END $$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['troupe_request_password_reset(text, bytea, interval)', 'troupe_password_reset(bytea)',
    'troupe_use_password_reset(bytea, text)', 'troupe_change_password(uuid, text)']
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO troupe_app', f);
  END LOOP;
END $$;
