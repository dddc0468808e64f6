-- The pinboard: a room's pins are notes or pinned messages, with who pinned
-- them and, for notes, every version of their text. A message is pinned at
-- most once per room. Pins and their versions go with their room (and org).

ALTER TABLE pins ADD COLUMN kind text NOT NULL DEFAULT 'note' CHECK (kind IN ('note', 'message'));
ALTER TABLE pins ADD COLUMN message_id uuid REFERENCES messages (id) ON DELETE CASCADE;
ALTER TABLE pins ADD COLUMN author_name text NOT NULL DEFAULT '';
ALTER TABLE pins ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE pins ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE pins ADD CONSTRAINT pins_author_kind CHECK (author_kind IN ('user', 'teammate'));
ALTER TABLE pins ADD CONSTRAINT pins_message_kind CHECK ((kind = 'message') = (message_id IS NOT NULL));
CREATE UNIQUE INDEX pins_message ON pins (room_id, message_id) WHERE message_id IS NOT NULL;

UPDATE pins p SET updated_at = p.created_at,
  author_name = COALESCE((SELECT u.name FROM users u WHERE u.id = p.author_id),
    (SELECT t.name FROM teammates t WHERE t.id = p.author_id), '');

-- Every version of a pin's text, the first included: who wrote it and when.
-- The pin's current text is its latest version.
CREATE TABLE pin_versions (
  org_id uuid NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
  pin_id uuid NOT NULL REFERENCES pins (id) ON DELETE CASCADE,
  version integer NOT NULL,
  text text NOT NULL,
  editor_kind text NOT NULL CHECK (editor_kind IN ('user', 'teammate')),
  editor_id uuid NOT NULL,
  editor_name text NOT NULL,
  edited_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (pin_id, version)
);

INSERT INTO pin_versions (org_id, pin_id, version, text, editor_kind, editor_id, editor_name, edited_at)
  SELECT p.org_id, p.id, 1, p.text, p.author_kind, p.author_id, p.author_name, p.created_at FROM pins p;

ALTER TABLE pin_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON pin_versions USING (org_id = troupe_current_org())
  WITH CHECK (org_id = troupe_current_org());
GRANT SELECT, INSERT, UPDATE, DELETE ON pin_versions TO troupe_app;
