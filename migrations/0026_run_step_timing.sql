-- A run step's own duration (the model call's, from request to its last
-- chunk; the tool's, from call to result) and, for a tool call the teammate
-- got wrong (unknown tool, invalid arguments), what was wrong. Steps recorded
-- before this migration have neither.
ALTER TABLE run_steps ADD COLUMN duration_ms integer CHECK (duration_ms >= 0);
ALTER TABLE run_steps ADD COLUMN error text;
