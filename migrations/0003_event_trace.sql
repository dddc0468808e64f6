-- The trace context (W3C traceparent) of the span that appended each event,
-- so a node delivering the event can record the delivery in the writer's trace.

ALTER TABLE events ADD COLUMN trace_parent text;
