-- A person's notification level for a room they are in: `all` messages,
-- `mentions` only, or `none`. NULL is the room kind's default: `all` in
-- direct rooms, `mentions` elsewhere.

ALTER TABLE room_members ADD COLUMN notify text CHECK (notify IN ('all', 'mentions', 'none'));
