-- A caller's access to a room in one round trip, outside any transaction:
-- their role in the org, whether they joined the room, and the room's columns
-- (null when the org has no such room). It reads only the org, room and user it
-- is given, so it shows nothing of another org. Every room-scoped request
-- starts here; before, the same read needed BEGIN, set_config, SELECT, COMMIT.

CREATE FUNCTION troupe_room_access(p_org uuid, p_room uuid, p_user uuid)
  RETURNS TABLE (role text, joined boolean, id uuid, org_id uuid, kind text, name text, topic text, archived boolean,
    routing text, created_by uuid, created_at timestamptz)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT m.role,
          EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = r.id AND rm.org_id = p_org
            AND rm.member_kind = 'user' AND rm.member_id = p_user),
          r.id, r.org_id, r.kind, r.name, r.topic, (r.archived_at IS NOT NULL), r.routing, r.created_by, r.created_at
        FROM (SELECT 1) one
        LEFT JOIN org_members m ON m.org_id = p_org AND m.user_id = p_user
        LEFT JOIN rooms r ON r.id = p_room AND r.org_id = p_org $$;

REVOKE ALL ON FUNCTION troupe_room_access(uuid, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION troupe_room_access(uuid, uuid, uuid) TO troupe_app;
