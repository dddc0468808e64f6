-- The retention sweep of file contents: orgs holding blobs that no file
-- refers to any more (their room was deleted, or a node stopped between
-- removing the last file and removing its bytes).

CREATE FUNCTION troupe_orgs_with_orphan_blobs(p_limit integer)
  RETURNS TABLE (org_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT DISTINCT b.org_id FROM blobs b
        WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.org_id = b.org_id AND f.sha256 = b.sha256)
        LIMIT p_limit $$;
REVOKE ALL ON FUNCTION troupe_orgs_with_orphan_blobs(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_orgs_with_orphan_blobs(integer) TO troupe_app;
