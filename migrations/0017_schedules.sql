-- Schedules: a goal given to a teammate of a room again and again, on a cron
-- expression read in an IANA time zone. Each tick creates one task (tasks
-- carry the schedule and the tick they are for, unique together, so a tick
-- makes one task however many nodes see it due). A tick missed while no node
-- ran fires once when one is back; further missed ticks are skipped.

CREATE TABLE schedules (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  org_id uuid NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  room_id uuid NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  teammate_id uuid NOT NULL REFERENCES teammates(id) ON DELETE CASCADE,
  goal text NOT NULL,
  cron text NOT NULL,
  time_zone text NOT NULL,
  paused boolean NOT NULL DEFAULT false,
  next_run_at timestamptz,
  last_run_at timestamptz,
  created_by_id uuid NOT NULL,
  created_by_name text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schedules_room ON schedules (room_id, created_at);
CREATE INDEX schedules_due ON schedules (next_run_at) WHERE NOT paused;

ALTER TABLE schedules ENABLE ROW LEVEL SECURITY;
CREATE POLICY org_isolation ON schedules USING (org_id = troupe_current_org()) WITH CHECK (org_id = troupe_current_org());
GRANT SELECT, INSERT, UPDATE, DELETE ON schedules TO troupe_app;

ALTER TABLE tasks ADD COLUMN schedule_id uuid REFERENCES schedules(id) ON DELETE SET NULL;
ALTER TABLE tasks ADD COLUMN scheduled_for timestamptz;
CREATE UNIQUE INDEX tasks_schedule_tick ON tasks (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL;

-- The nodes' scheduler: schedules of any org that are due.
CREATE FUNCTION troupe_due_schedules(p_now timestamptz, p_limit integer)
  RETURNS TABLE (org_id uuid, id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT s.org_id, s.id FROM schedules s WHERE NOT s.paused AND s.next_run_at <= p_now
        ORDER BY s.next_run_at LIMIT p_limit $$;

-- Tasks of any org stored but never started (a node stopped between storing a task and starting its workflow).
CREATE FUNCTION troupe_unstarted_tasks(p_before timestamptz, p_limit integer)
  RETURNS TABLE (org_id uuid, id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT t.org_id, t.id FROM tasks t WHERE t.status = 'queued' AND t.created_at < p_before
        ORDER BY t.created_at LIMIT p_limit $$;

DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['troupe_due_schedules(timestamptz, integer)', 'troupe_unstarted_tasks(timestamptz, integer)']
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO troupe_app', f);
  END LOOP;
END $$;
