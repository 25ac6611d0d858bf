-- Observability: a message carries the trace context of the span active where it was sent (durably.send, or
-- the ctx.send operation's), so the receiving workflow's recv can link to it, in whichever process it runs.
-- Opaque text, as workflows.trace_context (0006_trace_context.sql); NULL when no observer carried any.
ALTER TABLE __SCHEMA__.messages ADD COLUMN trace_context text;
