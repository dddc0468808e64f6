-- Full-text matching under row-level security. The match operator (@@) is not
-- leakproof, so beneath a row-level policy Postgres may not use it as an index
-- condition: a recall whose words are rare read every memory of the org one by
-- one. This function matches with the index, the org's condition written out,
-- and returns only ids and ranks; the caller reads the rows themselves under
-- its policy.
--
-- Ranking reads each candidate's document, so only the p_limit newest matches
-- are ranked: a common word over a large memory costs what the bound allows,
-- not what it matches. The statement is planned for the query at hand
-- (EXECUTE), so a rare word goes through the text index and a common one
-- through the newest memories.
CREATE FUNCTION troupe_recall_candidates(p_teammate uuid, p_query tsquery, p_limit int)
  RETURNS TABLE (id uuid, rank real)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
BEGIN
  RETURN QUERY EXECUTE
    'SELECT c.id, ts_rank(c.search, $2) FROM (
       SELECT m.id, m.search FROM memories m
       WHERE m.org_id = troupe_current_org() AND m.teammate_id = $1 AND m.search @@ $2
       ORDER BY m.created_at DESC LIMIT $3) c'
    USING p_teammate, p_query, p_limit;
END
$$;
