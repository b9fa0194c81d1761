--
-- events: mesh events (doc/events.md).  Every change to the mesh emits one
-- CloudEvents event in its transaction: the kinds table, every type with
-- its data, the cursor, who sees what, and bad input.
--
\set VERBOSITY default
-- the kinds table
SELECT type, visibility FROM meshpg.event_types ORDER BY type;

CREATE ROLE regress_ev_team;
CREATE ROLE regress_ev_dev IN ROLE regress_ev_team;
CREATE ROLE regress_ev_reader;
CREATE ROLE regress_ev_other;
GRANT regress_ev_dev TO CURRENT_USER;

-- The outbox and _emit_event are meshpg's: a consumer can neither write
-- nor read the table, nor emit.
SET ROLE regress_ev_other;
SELECT expect_error($$ SELECT count(*) FROM meshpg.cat_event $$);
SELECT expect_error($$ SELECT meshpg._emit_event('meshpg.domain.created', 'x', '{}') $$);
SELECT expect_error($$ INSERT INTO meshpg.cat_event (type, subject, visibility) VALUES ('a', 'b', 'catalog') $$);
SELECT expect_error($$ SELECT meshpg._grant_expiry() $$);
SELECT expect_error($$ SET meshpg.events = off $$);
RESET ROLE;

SELECT coalesce(max(id), 0) AS start FROM meshpg.cat_event \gset

-- _emit_event writes one event in the caller's transaction; its CloudEvent.
SELECT meshpg._emit_event('meshpg.tag.created', 'regress_ev_tag', '{"tag": "regress_ev_tag"}');
SELECT type, subject, data,
       event->>'specversion' AS specversion, event->>'datacontenttype' AS content,
       event->>'id' = id::text AS id_ok,
       event->>'source' = '/meshpg/' || (SELECT system_identifier FROM pg_control_system()) || '/' || current_database() AS source_ok,
       (event->>'time')::timestamptz = time AS time_ok,
       event->>'time' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$' AS time_format,
       event->'data' = data AS data_ok,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(event) k) AS keys
  FROM meshpg.events_since(:start);
-- rolled back: nothing
BEGIN;
SELECT meshpg._emit_event('meshpg.tag.dropped', 'regress_ev_tag', '{}');
ROLLBACK;
-- meshpg.events off (superuser only): nothing
SET meshpg.events = off;
SELECT meshpg._emit_event('meshpg.tag.dropped', 'regress_ev_tag', '{}');
RESET meshpg.events;
SELECT count(*) FROM meshpg.cat_event WHERE id > :start AND type = 'meshpg.tag.dropped';

-- Events are written at commit, numbered in commit order: inside its
-- transaction an event is not in the outbox yet; a subtransaction rolled
-- back takes its events with it, one released hands them up.
BEGIN;
SELECT meshpg._emit_event('meshpg.tag.created', 'regress_ev_tag2', '{"tag": "regress_ev_tag2"}');
SAVEPOINT s;
SELECT meshpg._emit_event('meshpg.tag.created', 'regress_ev_tag3', '{"tag": "regress_ev_tag3"}');
ROLLBACK TO SAVEPOINT s;
SAVEPOINT t;
SELECT meshpg._emit_event('meshpg.tag.created', 'regress_ev_tag4', '{"tag": "regress_ev_tag4"}');
RELEASE SAVEPOINT t;
SELECT count(*) FROM meshpg.cat_event WHERE subject LIKE 'regress_ev_tag_';
COMMIT;
SELECT subject FROM meshpg.events WHERE id > :start ORDER BY id;
DELETE FROM meshpg.cat_event WHERE id > :start;

-- what a role sees of the events after since
CREATE FUNCTION pg_temp.seen(r text, since bigint) RETURNS TABLE (type text, n bigint)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET ROLE %I', r);
    RETURN QUERY SELECT e.type, count(*) FROM meshpg.events_since(since, 10000) e GROUP BY 1;
    RESET ROLE;
END
$$;

-- Every change to the mesh, each emitting its event.
SET ROLE regress_gov;
SELECT meshpg.create_domain('evshop', 'regress_ev_team', description => 'Shop events');
SELECT meshpg.alter_domain('evshop', description => 'The shop');
SELECT meshpg.create_tag('ev_pii');
SELECT meshpg.create_tag('ev_gone');
SELECT meshpg.drop_tag('ev_gone');
SELECT meshpg.set_attribute('regress_ev_reader', 'region', '{EU}');
SELECT meshpg.unset_attribute('regress_ev_reader', 'region');
SET ROLE regress_ev_dev;
CREATE TABLE evshop.orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric, region text);
ALTER TABLE evshop.orders OWNER TO regress_ev_team;
INSERT INTO evshop.orders SELECT i, 'customer ' || i, i * 10, 'EU' FROM generate_series(1, 5) i;
SELECT meshpg.register_product('evshop', 'orders', 'evshop.orders');
SELECT meshpg.document_product('evshop.orders', 'One row per order');
SELECT meshpg.document_column('evshop.orders', 'amount', 'Order total');
SELECT meshpg.publish('evshop.orders', '1.0.0');
SELECT meshpg.tag_column('evshop.orders', 'customer', 'ev_pii');
SELECT meshpg.untag_column('evshop.orders', 'customer', 'ev_pii');
SELECT meshpg.tag_column('evshop.orders', 'customer', 'ev_pii');
SELECT meshpg.create_masking_policy('ev_customer', 'hash', product => 'evshop.orders', column_name => 'customer');
-- dropped and created again in one transaction: changed
BEGIN;
SELECT meshpg.drop_policy('ev_customer');
SELECT meshpg.create_masking_policy('ev_customer', 'partial', product => 'evshop.orders', column_name => 'customer');
COMMIT;
SELECT meshpg.create_row_policy('ev_region', 'region = ''EU''', product => 'evshop.orders');
SELECT meshpg.drop_policy('ev_region');
SELECT meshpg.grant_access('evshop.orders', 'regress_ev_reader', purpose => 'reporting');
SELECT meshpg.grant_access('evshop.orders', 'regress_ev_reader', purpose => 'reporting',
                           expires => '2100-01-01 00:00:00+00');
SELECT meshpg.revoke_access('evshop.orders', 'regress_ev_reader');
SELECT meshpg.grant_access('evshop.orders', 'regress_ev_reader', purpose => 'audit');
-- a compatible change of the relation: the next minor version
ALTER TABLE evshop.orders ADD COLUMN note text;
-- SLOs: a breach (and its error budget used up), then the recovery
SELECT meshpg.declare_slo('evshop.orders', 'enough', 'volume', '{"min_rows": 10, "objective": 0.5}');
SELECT slo, met, error FROM meshpg.evaluate('evshop.orders');
INSERT INTO evshop.orders SELECT i, 'customer ' || i, i * 10, 'EU' FROM generate_series(6, 12) i;
SELECT slo, met, error FROM meshpg.evaluate('evshop.orders');
-- SLO events: for who may read the product (the grantee, the domain team)
RESET ROLE;
SELECT r, (SELECT count(*) FROM pg_temp.seen(r, :start) WHERE type LIKE 'meshpg.slo.%') AS slo_events
  FROM unnest('{regress_ev_other,regress_ev_reader,regress_ev_dev}'::text[]) r;
SET ROLE regress_ev_dev;
-- a descriptor
SELECT action, object
  FROM meshpg.apply(replace(meshpg.export('evshop.orders'), 'One row per order', 'Orders, one row each'));
-- a new major version
CREATE TABLE evshop.orders_v2 (id int PRIMARY KEY, customer text NOT NULL, amount numeric);
ALTER TABLE evshop.orders_v2 OWNER TO regress_ev_team;
SELECT meshpg.publish_version('evshop.orders', 'evshop.orders_v2', sunset => '2100-01-01');
RESET ROLE;
-- a grant past its expiry, announced once by the worker's task
UPDATE meshpg.cat_grant SET expires_at = '2000-01-01 00:00:00+00'
 WHERE grantee = 'regress_ev_reader'::regrole;
SELECT meshpg._grant_expiry();
SELECT meshpg._grant_expiry();
SET ROLE regress_ev_dev;
SELECT meshpg.retire('evshop.orders', force => true);
SELECT meshpg.unregister_product('evshop.orders');
RESET ROLE;

-- What was emitted, in order (times in data vary: shown as present).
SELECT type, subject,
       data || CASE WHEN data ? 'expires_at' AND data->>'expires_at' IS NOT NULL
                    THEN jsonb_build_object('expires_at', 'TIME') ELSE '{}' END AS data
  FROM meshpg.events WHERE id > :start ORDER BY id;
-- every type of the kinds table but those other concerns emit
SELECT type FROM meshpg.event_types
 WHERE type !~ '^meshpg\.(port|access|retention|classification)\.'
EXCEPT SELECT type FROM meshpg.events WHERE id > :start ORDER BY 1;
-- ids increase with commits; one source
SELECT count(DISTINCT event->>'source') AS sources, bool_and(id > :start) AS after_start
  FROM meshpg.events WHERE id > :start;

-- Who sees what: the catalog's own rules (other: no grant; reader: the
-- grantee; dev: the domain team; gov: the governance team).
SELECT t.type, o.n AS other, r.n AS reader, d.n AS dev, g.n AS gov
  FROM (SELECT DISTINCT type FROM meshpg.events WHERE id > :start) t
  LEFT JOIN pg_temp.seen('regress_ev_other', :start) o USING (type)
  LEFT JOIN pg_temp.seen('regress_ev_reader', :start) r USING (type)
  LEFT JOIN pg_temp.seen('regress_ev_dev', :start) d USING (type)
  LEFT JOIN pg_temp.seen('regress_gov', :start) g USING (type)
 ORDER BY 1;
-- a leaky function in the caller's query sees only the events it may see:
-- the catalog's, never the attribute and grant events it may not

CREATE TEMP TABLE peeked (type text);
GRANT INSERT ON peeked TO PUBLIC;
CREATE FUNCTION pg_temp.peek(t text, s text) RETURNS boolean LANGUAGE plpgsql COST 0.0001 AS $$
BEGIN INSERT INTO peeked VALUES (t); RETURN true; END $$;
GRANT regress_ev_other TO CURRENT_USER;
SET ROLE regress_ev_other;
SELECT count(*) FROM meshpg.events
 WHERE id > :start AND (type LIKE 'meshpg.attribute%' OR type LIKE 'meshpg.grant%' OR type LIKE 'meshpg.slo%')
   AND pg_temp.peek(type, subject);
RESET ROLE;
SELECT type, count(*) FROM peeked GROUP BY 1 ORDER BY 1;
SET ROLE regress_ev_other;
SELECT expect_error($$ SELECT meshpg._descriptor_applied('evshop.orders@2', '[]') $$);
RESET ROLE;

-- The domain goes last.
SET ROLE regress_gov;
SELECT meshpg.drop_domain('evshop', cascade => true);
RESET ROLE;
SELECT type, subject, data FROM meshpg.events WHERE id > :start AND type LIKE 'meshpg.domain.dropped';

-- bad input: SQLSTATE and HINT, nothing written
SELECT max(id) AS before FROM meshpg.cat_event \gset
SELECT expect_error($$ SELECT meshpg._emit_event('meshpg.nothing', 'x', '{}') $$);
SELECT expect_error($$ SELECT meshpg._emit_event(NULL, 'x', '{}') $$);
SELECT expect_error($$ SELECT meshpg._emit_event('meshpg.tag.created', NULL, '{}') $$);
SELECT expect_error($$ SELECT meshpg._emit_event('meshpg.tag.created', 'x', '[1]') $$);
SELECT expect_error($$ SELECT meshpg._emit_event('meshpg.tag.created', 'x', '"s"') $$);
SELECT expect_error($$ SELECT * FROM meshpg.events_since(NULL) $$);
SELECT expect_error($$ SELECT * FROM meshpg.events_since(-1) $$);
SELECT expect_error($$ SELECT * FROM meshpg.events_since(0, 0) $$);
SELECT expect_error($$ SELECT * FROM meshpg.events_since(0, 10001) $$);
SELECT expect_error($$ SELECT meshpg._descriptor_applied('nowhere.nothing', '[]') $$);
SELECT count(*) FROM meshpg.cat_event WHERE id > :before;

-- The worker prunes by meshpg.events_retention (0 keeps all).
SHOW meshpg.events_retention;

REVOKE regress_ev_dev, regress_ev_other FROM CURRENT_USER;
DROP ROLE regress_ev_dev, regress_ev_team, regress_ev_reader, regress_ev_other;
