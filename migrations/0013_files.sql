-- Files: uploads into a room's library, optionally attached to a message.
--
-- Bytes are content addressed within an org: a blob is one org's copy of one
-- sha256, stored once however many uploads share it; a file is one upload
-- (its name, types, uploader, room and message). An org's storage is the sum
-- of its blobs' sizes. A blob no file refers to any more is removed, with its
-- bytes, by whoever removed the last file (or by the retention sweep).

CREATE TABLE blobs (
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size bigint NOT NULL CHECK (size >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (org_id, sha256)
);

CREATE TABLE files (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  room_id uuid NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  sha256 text NOT NULL,
  size bigint NOT NULL,
  name text NOT NULL,
  declared_type text NOT NULL,
  content_type text NOT NULL,
  uploader_kind text NOT NULL,
  uploader_id uuid NOT NULL,
  uploader_name text NOT NULL,
  message_id uuid REFERENCES messages(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (org_id, sha256) REFERENCES blobs(org_id, sha256)
);
CREATE INDEX files_room ON files (room_id, created_at DESC);
CREATE INDEX files_blob ON files (org_id, sha256);
CREATE INDEX files_message ON files (message_id) WHERE message_id IS NOT NULL;

-- What a message carries of its attachments (id, name, type, size), kept with the row so a page reads in one query.
ALTER TABLE messages ADD COLUMN attachments jsonb NOT NULL DEFAULT '[]'::jsonb;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['blobs', 'files']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY org_isolation ON %I USING (org_id = troupe_current_org()) WITH CHECK (org_id = troupe_current_org())', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO troupe_app', t);
  END LOOP;
END $$;
