-- Deleting an org. An owner's delete closes the org at once, in one
-- transaction (its members, API keys and open invitations go, so nobody can
-- reach it; `deleted_at` is set), then purges it: its files' bytes, its events
-- and the org row, whose removal cascades to every org-scoped table. A purge
-- cut short (a node stopping midway) is finished by the retention sweep, which
-- finds closed orgs here.

ALTER TABLE orgs ADD COLUMN deleted_at timestamptz;

-- Closed orgs still to purge, oldest first: the retention sweep's work list.
CREATE FUNCTION troupe_closed_orgs(p_limit integer)
  RETURNS TABLE (org_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT id FROM orgs WHERE deleted_at IS NOT NULL ORDER BY deleted_at LIMIT p_limit $$;
REVOKE ALL ON FUNCTION troupe_closed_orgs(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_closed_orgs(integer) TO troupe_app;

-- Removes a closed org's events and its row (cascading to everything the org
-- holds), then the accounts that existed only for it: its API keys' bots and
-- the external identities its channels mapped. Its file bytes must be gone
-- first: the caller removes them through the blob store. Returns whether a
-- closed org was purged. An org that is not closed is left alone.
CREATE FUNCTION troupe_purge_org(p_org uuid)
  RETURNS boolean
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
DECLARE own uuid[];
BEGIN
  PERFORM 1 FROM orgs WHERE id = p_org AND deleted_at IS NOT NULL FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  SELECT coalesce(array_agg(user_id), '{}') INTO own FROM (
    SELECT user_id FROM api_keys WHERE org_id = p_org
    UNION SELECT user_id FROM channel_identities WHERE org_id = p_org) o;
  DELETE FROM events WHERE org_id = p_org;
  UPDATE orgs SET default_room_id = NULL WHERE id = p_org;
  DELETE FROM orgs WHERE id = p_org;
  DELETE FROM users u WHERE u.id = ANY (own) AND u.kind IN ('bot', 'external')
    AND NOT EXISTS (SELECT 1 FROM org_members m WHERE m.user_id = u.id);
  RETURN true;
END $$;
REVOKE ALL ON FUNCTION troupe_purge_org(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_purge_org(uuid) TO troupe_app;
