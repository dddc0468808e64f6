-- Avatars: a person's picture, stored through the file storage like any
-- upload (content addressed, under the person rather than an org: people
-- span orgs). The row keeps the content's sha256 and its recognised image
-- type; no avatar is NULL.

ALTER TABLE users ADD COLUMN avatar_sha text CHECK (avatar_sha ~ '^[0-9a-f]{64}$');
ALTER TABLE users ADD COLUMN avatar_type text;
ALTER TABLE users ADD CONSTRAINT users_avatar_both CHECK ((avatar_sha IS NULL) = (avatar_type IS NULL));
GRANT SELECT (avatar_sha, avatar_type), UPDATE (avatar_sha, avatar_type) ON users TO troupe_app;

-- Whether two people share an org (or are the same person): who may see
-- someone's avatar. Memberships of other orgs are hidden from the app role.
CREATE FUNCTION troupe_shares_org(p_viewer uuid, p_user uuid)
  RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT p_viewer = p_user OR EXISTS (
    SELECT 1 FROM org_members a JOIN org_members b ON b.org_id = a.org_id
    WHERE a.user_id = p_viewer AND b.user_id = p_user) $$;
REVOKE ALL ON FUNCTION troupe_shares_org(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_shares_org(uuid, uuid) TO troupe_app;
