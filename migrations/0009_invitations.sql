-- Invitations: an admin invites an e-mail address into an org with a role.
-- The link carries a random token; only its SHA-256 is stored. Inviting the
-- same address again replaces the open invitation (one open per address and
-- org). A person accepts once, signed in with the invited address, before it
-- expires and unless it was revoked.

CREATE TABLE invitations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  email text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'member', 'guest')),
  token_hash bytea NOT NULL UNIQUE,
  invited_by uuid NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  accepted_by uuid REFERENCES users (id),
  accepted_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX invitations_org ON invitations (org_id, created_at DESC);
CREATE UNIQUE INDEX invitations_open ON invitations (org_id, email) WHERE accepted_at IS NULL AND revoked_at IS NULL;

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON invitations USING (org_id = troupe_current_org())
  WITH CHECK (org_id = troupe_current_org());
GRANT SELECT, INSERT, UPDATE ON invitations TO troupe_app;

-- The invitation a link's token names, from outside any org (the invited
-- person is not a member yet): the org's name and who invited, nothing else.
CREATE FUNCTION troupe_invitation(p_hash bytea)
  RETURNS TABLE (id uuid, org_id uuid, org_name text, email text, role text, invited_by_name text,
    created_at timestamptz, expires_at timestamptz, accepted_at timestamptz, revoked_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT i.id, i.org_id, o.name, i.email, i.role, u.name, i.created_at, i.expires_at, i.accepted_at, i.revoked_at
        FROM invitations i JOIN orgs o ON o.id = i.org_id JOIN users u ON u.id = i.invited_by
        WHERE i.token_hash = p_hash $$;

REVOKE ALL ON FUNCTION troupe_invitation(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_invitation(bytea) TO troupe_app;
