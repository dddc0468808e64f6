-- Sign-in through an OpenID Connect provider, and e-mail domains per org.
--
-- A sign-in that went to the provider is remembered in Postgres, not in a
-- cookie or a node's memory, so the provider may send the browser back to any
-- node behind the load balancer. Only the SHA-256 of its `state` is stored;
-- the row is taken (deleted) by the first callback that names it, so a state
-- works once. Its nonce and PKCE verifier live only as long as the row.
--
-- After a successful callback the browser gets a one-time code, not a session
-- token: the web app exchanges it (once, shortly) for a session. Only the
-- code's SHA-256 is stored.
--
-- The app role has no grant on either table (row-level security is on with no
-- policy): it reaches them only through the functions below.

CREATE TABLE oidc_logins (
  state_hash bytea PRIMARY KEY,
  nonce text NOT NULL,
  code_verifier text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX oidc_logins_expiry ON oidc_logins (expires_at);
ALTER TABLE oidc_logins ENABLE ROW LEVEL SECURITY;

CREATE TABLE oidc_handoffs (
  code_hash bytea PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX oidc_handoffs_expiry ON oidc_handoffs (expires_at);
ALTER TABLE oidc_handoffs ENABLE ROW LEVEL SECURITY;

-- Remembers a sign-in that goes to the provider; sign-ins and codes that
-- expired more than an hour ago are dropped on the way (nothing grows).
CREATE FUNCTION troupe_oidc_begin(p_state_hash bytea, p_nonce text, p_verifier text, p_ttl interval)
  RETURNS void
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  DELETE FROM oidc_logins WHERE expires_at < now() - interval '1 hour';
  DELETE FROM oidc_handoffs WHERE expires_at < now() - interval '1 hour';
  INSERT INTO oidc_logins (state_hash, nonce, code_verifier, expires_at)
    VALUES (p_state_hash, p_nonce, p_verifier, now() + p_ttl);
END $$;

-- Takes the sign-in a callback's state names: it is gone afterwards, whether
-- or not it had expired (no row: unknown or already used).
CREATE FUNCTION troupe_oidc_take(p_state_hash bytea)
  RETURNS TABLE (nonce text, code_verifier text, expired boolean)
  LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ DELETE FROM oidc_logins l WHERE l.state_hash = p_state_hash
        RETURNING l.nonce, l.code_verifier, l.expires_at <= now() $$;

-- A one-time code for a person who signed in through the provider.
CREATE FUNCTION troupe_oidc_handoff(p_code_hash bytea, p_user uuid, p_ttl interval)
  RETURNS void
  LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ INSERT INTO oidc_handoffs (code_hash, user_id, expires_at) VALUES (p_code_hash, p_user, now() + p_ttl) $$;

-- Uses a one-time code up: the person it was made for (with their address),
-- and whether it had expired. No row: unknown or already used.
CREATE FUNCTION troupe_oidc_use_handoff(p_code_hash bytea)
  RETURNS TABLE (id uuid, email text, name text, handle text, created_at timestamptz, expired boolean)
  LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ WITH used AS (DELETE FROM oidc_handoffs h WHERE h.code_hash = p_code_hash RETURNING h.user_id, h.expires_at)
        SELECT u.id, u.email, u.name, u.handle, u.created_at, used.expires_at <= now()
        FROM used JOIN users u ON u.id = used.user_id $$;

-- E-mail domains per org: people who sign in through the provider with a
-- verified address at one of these domains join the org as members; when the
-- list is not empty, only addresses at these domains may be invited or added.
ALTER TABLE orgs ADD COLUMN allowed_email_domains text[] NOT NULL DEFAULT '{}';
CREATE INDEX orgs_allowed_email_domains ON orgs USING gin (allowed_email_domains);

-- The orgs that take people of an e-mail domain, from outside any org (the
-- person is not a member yet): ids only.
CREATE FUNCTION troupe_orgs_for_domain(p_domain text)
  RETURNS TABLE (id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT o.id FROM orgs o WHERE o.allowed_email_domains @> ARRAY[p_domain] $$;

-- A person's orgs, now with their e-mail domains.
DROP FUNCTION troupe_orgs_of(uuid);
CREATE FUNCTION troupe_orgs_of(p_user uuid)
  RETURNS TABLE (id uuid, name text, slug text, role text, created_at timestamptz, allowed_email_domains text[])
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT o.id, o.name, o.slug, m.role, o.created_at, o.allowed_email_domains
        FROM org_members m JOIN orgs o ON o.id = m.org_id WHERE m.user_id = p_user ORDER BY o.created_at $$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['troupe_oidc_begin(bytea, text, text, interval)', 'troupe_oidc_take(bytea)',
    'troupe_oidc_handoff(bytea, uuid, interval)', 'troupe_oidc_use_handoff(bytea)', 'troupe_orgs_for_domain(text)',
    'troupe_orgs_of(uuid)']
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO troupe_app', f);
  END LOOP;
END $$;
