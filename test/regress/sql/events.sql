--
-- events: mesh events (doc/events.md).  Every change to the mesh emits one
-- CloudEvents event in its transaction: the outbox, the cursor, who sees
-- what, and bad input.
--
\set VERBOSITY default
-- the kinds table
SELECT type, visibility FROM meshpg.event_types ORDER BY type;

-- The outbox, the cursor and _emit_event are meshpg's: a consumer can
-- neither write nor read the table.
SET ROLE regress_analyst;
SELECT expect_error($$ SELECT count(*) FROM meshpg.cat_event $$);
SELECT expect_error($$ SELECT meshpg._emit_event('meshpg.domain.created', 'x', '{}') $$);
SELECT expect_error($$ INSERT INTO meshpg.cat_event (type, subject, visibility) VALUES ('a', 'b', 'catalog') $$);
RESET ROLE;

-- _emit_event writes one event in the caller's transaction.
SELECT coalesce(max(id), 0) AS start FROM meshpg.cat_event \gset
SELECT meshpg._emit_event('meshpg.tag.created', 'regress_ev_tag', '{"tag": "regress_ev_tag"}');
SELECT type, subject, data,
       event->>'specversion' AS specversion, event->>'datacontenttype' AS content,
       event->>'id' = id::text AS id_ok,
       event->>'source' = '/meshpg/' || (SELECT system_identifier FROM pg_control_system()) || '/' || current_database() AS source_ok,
       (event->>'time')::timestamptz = time AS time_ok,
       event->'data' = data AS data_ok
  FROM meshpg.events_since(:start);
-- rolled back: nothing
BEGIN;
SELECT meshpg._emit_event('meshpg.tag.dropped', 'regress_ev_tag', '{}');
ROLLBACK;
SELECT count(*) FROM meshpg.events WHERE id > :start AND type = 'meshpg.tag.dropped';
-- meshpg.events off (superuser only): nothing
SET meshpg.events = off;
SELECT meshpg._emit_event('meshpg.tag.dropped', 'regress_ev_tag', '{}');
RESET meshpg.events;
SELECT count(*) FROM meshpg.events WHERE id > :start AND type = 'meshpg.tag.dropped';
SET ROLE regress_analyst;
SELECT expect_error($$ SET meshpg.events = off $$);
RESET ROLE;

-- bad input: SQLSTATE and HINT, nothing written
SELECT expect_error($$ SELECT meshpg._emit_event('meshpg.nothing', 'x', '{}') $$);
SELECT expect_error($$ SELECT meshpg._emit_event(NULL, 'x', '{}') $$);
SELECT expect_error($$ SELECT meshpg._emit_event('meshpg.tag.created', NULL, '{}') $$);
SELECT expect_error($$ SELECT meshpg._emit_event('meshpg.tag.created', 'x', '[1]') $$);
SELECT expect_error($$ SELECT meshpg._emit_event('meshpg.tag.created', 'x', '"s"') $$);
SELECT expect_error($$ SELECT * FROM meshpg.events_since(NULL) $$);
SELECT expect_error($$ SELECT * FROM meshpg.events_since(0, 0) $$);
SELECT expect_error($$ SELECT * FROM meshpg.events_since(0, 10001) $$);
SELECT count(*) FROM meshpg.cat_event WHERE id > :start;
