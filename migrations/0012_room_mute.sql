-- A person may mute a room they are in: it stays in their list, its unread
-- messages are still counted, and the app does not draw attention to them
-- (mentions still do).

ALTER TABLE room_members ADD COLUMN muted boolean NOT NULL DEFAULT false;
