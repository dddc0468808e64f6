-- The text of uploaded files (plain text, Markdown, PDF, DOCX), extracted off
-- the request path: searchable with the file's name, and what a teammate's
-- read_file tool reads. `text_status` is pending until a node has read the
-- file: ready (text found), none (a type without text, or no text in it) or
-- failed (unreadable, too slow or too large to read).

ALTER TABLE files ADD COLUMN text_status text NOT NULL DEFAULT 'pending'
  CHECK (text_status IN ('pending', 'ready', 'none', 'failed'));
ALTER TABLE files ADD COLUMN text text;
ALTER TABLE files ADD COLUMN search tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('english', regexp_replace(name, '[._-]+', ' ', 'g')), 'A') ||
  setweight(to_tsvector('english', coalesce(text, '')), 'B')) STORED;
CREATE INDEX files_search ON files USING gin (search);
CREATE INDEX files_pending ON files (created_at) WHERE text_status = 'pending';

-- A node's extraction worker, after a restart: files of any org still waiting to be read.
CREATE FUNCTION troupe_pending_file_texts(p_limit integer)
  RETURNS TABLE (org_id uuid, id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT f.org_id, f.id FROM files f WHERE f.text_status = 'pending' ORDER BY f.created_at LIMIT p_limit $$;
REVOKE ALL ON FUNCTION troupe_pending_file_texts(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_pending_file_texts(integer) TO troupe_app;
