--
-- retention: policies bound to a product or a tag, the dry run, runs in
-- batches with their audit trail, legal holds, rights and bad input.
--
SET ROLE regress_gov;
SELECT meshpg.create_domain('logs', 'regress_payments_team');
SELECT meshpg.create_tag('pii.contact');
RESET ROLE;

SET ROLE regress_pay_dev;
CREATE TABLE logs.events (id int PRIMARY KEY, at timestamptz NOT NULL, note text);
INSERT INTO logs.events
SELECT i, now() - (i % 4) * interval '300 days', 'event ' || i FROM generate_series(1, 2000) i;
SELECT meshpg.register_product('logs', 'events', 'logs.events');
CREATE TABLE logs.contacts (id int, seen date, email text, city text);
INSERT INTO logs.contacts
SELECT i, current_date - i, 'c' || i || '@example.com', 'Lyon' FROM generate_series(1, 100) i;
SELECT meshpg.register_product('logs', 'contacts', 'logs.contacts');
SELECT meshpg.tag_column('logs.contacts', 'email', 'pii.contact');
CREATE TABLE logs.metrics (day date NOT NULL, value int) PARTITION BY RANGE (day);
CREATE TABLE logs.metrics_2020 PARTITION OF logs.metrics FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE logs.metrics_2021 PARTITION OF logs.metrics FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE logs.metrics_recent PARTITION OF logs.metrics FOR VALUES FROM ('2022-01-01') TO (MAXVALUE);
INSERT INTO logs.metrics SELECT d, 1 FROM generate_series(date '2020-06-01', date '2023-06-01', interval '1 day') d;
SELECT meshpg.register_product('logs', 'metrics', 'logs.metrics');
CREATE VIEW logs.recent AS SELECT * FROM logs.events;
SELECT meshpg.register_product('logs', 'recent', 'logs.recent');
RESET ROLE;

-- Policies: the domain team binds one to its product, the governance team
-- one to a tag.
SET ROLE regress_pay_dev;
SELECT meshpg.create_retention_policy('events_1y', interval '1 year', 'at', product => 'logs.events');
SELECT meshpg.create_retention_policy('metrics_1y', interval '1 year', 'day', 'drop_partitions',
                                      product => 'logs.metrics');
SELECT expect_error($$ SELECT meshpg.create_retention_policy('contacts_30d', interval '30 days', 'seen', 'anonymise', tag => 'pii.contact', mask => 'email') $$);
RESET ROLE;
SET ROLE regress_gov;
SELECT meshpg.create_retention_policy('contacts_30d', interval '30 days', 'seen', 'anonymise',
                                      tag => 'pii.contact', mask => 'email');
RESET ROLE;
SELECT name, tag, product, keep, time_column, action, columns, mask FROM meshpg.retention_policies ORDER BY 1;

-- Bad input: SQLSTATE, and a hint where there is something to do.
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'at', 'shred', product => 'logs.events') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '-1 day', 'at', product => 'logs.events') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', NULL, 'at', product => 'logs.events') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'at') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'at', tag => 'pii.contact', product => 'logs.events') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'note', product => 'logs.events') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'at', product => 'logs.recent') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'at', 'anonymise', product => 'logs.events', columns => '{note}', mask => 'hash') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'at', 'anonymise', product => 'logs.events') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'at', 'anonymise', product => 'logs.events', columns => '{note}', mask => 'round') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'at', 'drop_partitions', product => 'logs.events') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('events_1y', interval '1 day', 'at', product => 'logs.events') $$);
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'at', product => 'logs.events', mask => 'null') $$);
SELECT expect_error($$ SELECT meshpg.drop_retention_policy('nope') $$);
RESET ROLE;

-- Rights: another domain's team and a consumer can do nothing here.
SET ROLE regress_market_dev;
SELECT expect_error($$ SELECT meshpg.create_retention_policy('x', interval '1 day', 'at', product => 'logs.events') $$);
SELECT expect_error($$ SELECT meshpg.drop_retention_policy('events_1y') $$);
SELECT expect_error($$ SELECT * FROM meshpg.retention_dry_run('logs.events') $$);
SELECT expect_error($$ CALL meshpg.run_retention('logs.events') $$);
SELECT expect_error($$ SELECT meshpg.place_legal_hold('logs.events', 'mine') $$);
RESET ROLE;
SET ROLE regress_analyst;
SELECT expect_error($$ SELECT * FROM meshpg.retention_dry_run('logs.events') $$);
SELECT expect_error($$ SELECT meshpg.drop_retention_policy('contacts_30d') $$);
SELECT expect_error($$ SELECT * FROM meshpg.cat_retention_run $$);
RESET ROLE;

-- The dry run says what the next run would do, and changes nothing.
SET ROLE regress_pay_dev;
SELECT policy, action, time_column, rows, partitions, held, note
  FROM meshpg.retention_dry_run('logs.events') ORDER BY 1;
SELECT policy, action, rows, partitions FROM meshpg.retention_dry_run('logs.metrics');
SELECT policy, action, rows FROM meshpg.retention_dry_run('logs.contacts');
SELECT count(*) FROM logs.events;
RESET ROLE;

-- A legal hold suspends retention; the team that placed it may lift it.
SET ROLE regress_pay_dev;
SELECT meshpg.place_legal_hold('logs.events', 'audit 2026-07');
SELECT expect_error($$ SELECT meshpg.place_legal_hold('logs.events', 'again') $$);
SELECT expect_error($$ SELECT meshpg.place_legal_hold('logs.contacts', ' ') $$);
SELECT policy, rows, held, note FROM meshpg.retention_dry_run('logs.events');
CALL meshpg.run_retention('logs.events');
SELECT count(*) FROM logs.events;
SELECT policy, product, action, rows, batches, status, note FROM meshpg.retention_runs ORDER BY id;
RESET ROLE;
SET ROLE regress_market_dev;
SELECT expect_error($$ SELECT meshpg.lift_legal_hold('logs.events') $$);
SELECT count(*) FROM meshpg.legal_holds;
RESET ROLE;
SET ROLE regress_pay_dev;
SELECT product, reason, placed_by, placed_by_domain FROM meshpg.legal_holds;
SELECT meshpg.lift_legal_hold('logs.events');
SELECT expect_error($$ SELECT meshpg.lift_legal_hold('logs.events') $$);
RESET ROLE;
-- a hold the governance team placed is theirs to lift
SET ROLE regress_gov;
SELECT meshpg.place_legal_hold('logs.metrics', 'regulator request');
RESET ROLE;
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.lift_legal_hold('logs.metrics') $$);
CALL meshpg.run_retention('logs.metrics');
SELECT count(*) FROM logs.metrics;
RESET ROLE;
SET ROLE regress_gov;
SELECT meshpg.lift_legal_hold('logs.metrics');
RESET ROLE;

-- Runs: small batches, each its own transaction; the audit trail says
-- what went.
SET meshpg.retention_batch_size = 100;
SET ROLE regress_pay_dev;
CALL meshpg.run_retention('logs.events');
SELECT count(*), min(at) >= now() - interval '1 year' AS only_recent FROM logs.events;
CALL meshpg.run_retention('logs.metrics');
SELECT relname FROM pg_class WHERE relname LIKE 'metrics\_%' ORDER BY 1;
SELECT count(*) FROM logs.metrics;   -- the partition reaching past the cutoff stays whole
CALL meshpg.run_retention('logs.contacts');
SELECT count(*) FILTER (WHERE email LIKE 'c%@example.com') AS clear,
       count(*) FILTER (WHERE email NOT LIKE 'c%@example.com') AS masked,
       count(*) FILTER (WHERE seen > current_date - 30 AND email NOT LIKE 'c%@example.com') AS masked_too_young
  FROM logs.contacts;
-- a second run finds nothing left to do
CALL meshpg.run_retention('logs.contacts');
SELECT policy, product, action, rows, batches, partitions, status, note
  FROM meshpg.retention_runs ORDER BY id;
RESET ROLE;
RESET meshpg.retention_batch_size;

-- Inside a transaction block the run is one transaction: rolled back, it
-- leaves the rows and the audit trail as they were.
SET ROLE regress_pay_dev;
INSERT INTO logs.events VALUES (100000, now() - interval '5 years', 'old');
BEGIN;
CALL meshpg.run_retention('logs.events');
SELECT count(*) FROM logs.events WHERE id = 100000;
ROLLBACK;
SELECT count(*) FROM logs.events WHERE id = 100000;
RESET ROLE;

-- The policies go with their product; the audit trail stays.
SET ROLE regress_pay_dev;
SELECT meshpg.drop_retention_policy('events_1y');
SELECT meshpg.unregister_product('logs.metrics');
RESET ROLE;
SELECT name FROM meshpg.retention_policies ORDER BY 1;
SELECT count(*) > 0 FROM meshpg.retention_runs WHERE product = 'logs.metrics';

-- Every run that ended is an event for the domain team: figures only.
SET ROLE regress_pay_dev;
SELECT subject, data->>'policy' AS policy, data->>'action' AS action, data->>'rows' AS rows,
       data->>'status' AS status, data->'partitions' AS partitions
  FROM meshpg.events WHERE type = 'meshpg.retention.run' ORDER BY id;
RESET ROLE;
SET ROLE regress_analyst;
SELECT count(*) FROM meshpg.events WHERE type = 'meshpg.retention.run';
RESET ROLE;

-- The hand-written equivalent (bench/retention.sh): a PL/pgSQL loop over a
-- query that commits holds its portal across COMMIT; the access history
-- used to crash the backend ending that portal's executor.
CREATE TABLE public.retention_hand (id int, at timestamptz);
INSERT INTO public.retention_hand SELECT i, now() - (i % 2) * interval '2 years' FROM generate_series(1, 100) i;
CREATE PROCEDURE public.retention_hand_delete() LANGUAGE plpgsql AS $$
DECLARE
    batch tid[];
BEGIN
    FOR batch IN SELECT array_agg(ctid) FROM (SELECT ctid, (row_number() OVER () - 1) / 10 AS b
                                                FROM public.retention_hand WHERE at < now() - interval '1 year') s
                  GROUP BY b
    LOOP
        DELETE FROM public.retention_hand WHERE ctid = ANY (batch);
        COMMIT;
    END LOOP;
END
$$;
CALL public.retention_hand_delete();
SELECT count(*) FROM public.retention_hand;
DROP PROCEDURE public.retention_hand_delete();
DROP TABLE public.retention_hand;

-- Descriptors carry a product's own retention policies: export writes
-- them, plan of the export changes nothing, apply converges to a changed
-- section, and a field that is not one of the section's is refused.
SET ROLE regress_pay_dev;
SELECT meshpg.create_retention_policy('contacts_city', interval '60 days', 'seen', 'anonymise',
                                      product => 'logs.contacts', columns => '{city}', mask => 'redact',
                                      args => '{"value": "somewhere"}');
SELECT substr(meshpg.export('logs.contacts'), strpos(meshpg.export('logs.contacts'), 'retention:'));
SELECT * FROM meshpg.plan(meshpg.export('logs.contacts'));
SELECT * FROM meshpg.apply(replace(meshpg.export('logs.contacts'), '60 days', '90 days'));
SELECT name, product, keep, action, columns, mask, mask_args FROM meshpg.retention_policies
 WHERE product = 'logs.contacts';
SELECT expect_error($$ SELECT * FROM meshpg.plan(replace(meshpg.export('logs.contacts'), 'timeColumn', 'timeColum')) $$);
SELECT expect_error($$ SELECT * FROM meshpg.apply(replace(meshpg.export('logs.contacts'), 'action: anonymise', 'action: shred')) $$);
RESET ROLE;
SET ROLE regress_market_dev;
SELECT expect_error($$ SELECT * FROM meshpg.apply(replace(meshpg.export('logs.contacts'), '90 days', '1 day')) $$);
RESET ROLE;
