--
-- history_access: every read of a product is recorded (columns, masks, row
-- policies, purpose, rows), from any path: plain queries, functions,
-- cursors, prepared statements, COPY, failed statements, read-only
-- transactions; the history is readable only by the governance team and the
-- owning domain; product_usage summarises it; retention purges it.
--
-- Flushing moves the captured reads from shared memory into the table; the
-- background worker does it on a schedule, the tests call it directly.
SELECT meshpg.flush_access_history() >= 0 AS flushed_earlier_reads;

SELECT meshpg.create_domain('hist', 'regress_payments_team', 'Access history tests');
SET ROLE regress_gov;
SELECT meshpg.create_tag('hist.secret');
SELECT meshpg.create_masking_policy('hist_redact_note', 'redact', tag => 'hist.secret');
SELECT meshpg.set_attribute('regress_analyst', 'hist_region', '{EU}');
RESET ROLE;

SET ROLE regress_pay_dev;
CREATE TABLE hist.sales (id int PRIMARY KEY, region text, amount numeric, note text);
INSERT INTO hist.sales
SELECT g, CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US' END, g * 10, 'note ' || g
  FROM generate_series(1, 10) g;
SELECT meshpg.register_product('hist', 'sales', 'hist.sales', description => 'Sales for the history tests');
SELECT meshpg.tag_column('hist.sales', 'note', 'hist.secret');
SELECT meshpg.create_row_policy('hist_own_region',
       'region = ANY (meshpg.attribute(''hist_region''))', product => 'hist.sales');
SELECT meshpg.publish('hist.sales', '1.2.0');
SELECT meshpg.grant_access('hist.sales', 'regress_analyst', purpose => 'audit');
CREATE VIEW hist.sales_eu AS SELECT id, amount FROM hist.sales WHERE region = 'EU';
SELECT meshpg.register_product('hist', 'sales_eu', 'hist.sales_eu', description => 'EU sales');
SELECT meshpg.publish('hist.sales_eu', '1.0.0');
SELECT meshpg.grant_access('hist.sales_eu', 'regress_analyst');
RESET ROLE;

-- What the ring holds now is every other test's reads: flush them away.
SELECT meshpg.flush_access_history() >= 0 AS flushed;

-- A consumer's reads: masked and filtered, with a purpose.
SET ROLE regress_analyst;
SET meshpg.purpose = 'audit';
SELECT id, note FROM hist.sales ORDER BY id;
SELECT count(*) FROM hist.sales;
SELECT sum(amount) FROM hist.sales_eu;
RESET meshpg.purpose;
-- Through a function, a cursor and a prepared statement.
CREATE FUNCTION pg_temp.total() RETURNS numeric LANGUAGE plpgsql
AS $$ BEGIN RETURN (SELECT sum(amount) FROM hist.sales); END $$;
SELECT pg_temp.total();
BEGIN;
DECLARE c CURSOR FOR SELECT region FROM hist.sales ORDER BY id;
FETCH 2 FROM c;
FETCH 1 FROM c;
CLOSE c;
COMMIT;
PREPARE p(int) AS SELECT amount FROM hist.sales WHERE id = $1;
EXECUTE p(2);
EXECUTE p(4);
DEALLOCATE p;
-- COPY of a product runs as a query: recorded too.
COPY hist.sales (id, amount) TO STDOUT;
-- A statement that fails after reading is recorded, as incomplete.
SELECT expect_error($$ SELECT id / (id - 4) FROM hist.sales ORDER BY id $$);
-- A read-only transaction: recorded, never an error.
BEGIN READ ONLY;
SELECT amount FROM hist.sales WHERE id = 6;
COMMIT;
RESET ROLE;
-- A read refused by the permission check never ran: nothing to record.
SET ROLE regress_analyst2;
SELECT expect_error($$ SELECT * FROM hist.sales $$);
RESET ROLE;

-- EXPLAIN without ANALYZE reads nothing.
EXPLAIN (COSTS OFF) SELECT * FROM hist.sales;

SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT product, version, relation, role, columns, masks, row_policies, purpose,
       rows, command, target, complete
  FROM meshpg.access_history
 WHERE product LIKE 'hist.%'
 ORDER BY backend_start, statement, product;

-- Each read carries the session role and a statement number per backend.
SELECT count(DISTINCT session_role) AS session_roles,
       count(*) = count(DISTINCT (backend_pid, backend_start, statement, product)) AS one_row_per_read
  FROM meshpg.access_history WHERE product LIKE 'hist.%';

-- Nothing left to flush, and nothing was dropped.
SELECT meshpg.flush_access_history();
SELECT buffer_size, pending, dropped FROM meshpg.access_history_stats;

-- Usage: per product, version and column, and per product (column null).
SELECT product, version, column_name, consumers, queries
  FROM meshpg.product_usage WHERE product LIKE 'hist.%'
 ORDER BY product, version, column_name NULLS FIRST;
SELECT expect_error($$ SET meshpg.usage_window = 0 $$);
SET meshpg.usage_window = 1;
SELECT count(*) > 0 AS recent_reads FROM meshpg.product_usage WHERE product = 'hist.sales';
RESET meshpg.usage_window;

-- Who may read the history: the governance team and the owning domain.
SET ROLE regress_gov;
SELECT count(*) > 0 AS gov_sees FROM meshpg.access_history WHERE product = 'hist.sales';
RESET ROLE;
SET ROLE regress_pay_dev;
SELECT count(*) > 0 AS domain_sees FROM meshpg.access_history WHERE product = 'hist.sales';
SELECT count(*) > 0 AS domain_usage FROM meshpg.product_usage WHERE product = 'hist.sales';
RESET ROLE;
SET ROLE regress_market_dev;
SELECT count(*) AS other_domain_sees FROM meshpg.access_history WHERE product LIKE 'hist.%';
SELECT count(*) AS other_domain_usage FROM meshpg.product_usage WHERE product LIKE 'hist.%';
SELECT expect_error($$ SELECT * FROM meshpg.cat_access_batch $$);
SELECT expect_error($$ DELETE FROM meshpg.cat_access_batch $$);
SELECT expect_error($$ SELECT * FROM meshpg._access_batches $$);
RESET ROLE;
SET ROLE regress_analyst;
SELECT count(*) AS consumer_sees FROM meshpg.access_history;
-- The view is a security barrier: a leaky function sees no hidden row.
CREATE FUNCTION pg_temp.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001
AS $$ BEGIN RAISE NOTICE 'saw %', $1; RETURN true; END $$;
SELECT count(*) FROM meshpg.access_history WHERE pg_temp.leak(role);
-- Consumers may not flush, nor turn the history off.
SELECT expect_error($$ SELECT meshpg.flush_access_history() $$);
SELECT expect_error($$ SET meshpg.history = off $$);
SELECT expect_error($$ SET meshpg.history_buffer_size = 10 $$);
SELECT expect_error($$ SET meshpg.history_retention = '1 min' $$);
RESET ROLE;

-- Turned off (superuser only): nothing is captured.
SET meshpg.history = off;
SELECT count(*) FROM hist.sales;
RESET meshpg.history;
SELECT pending FROM meshpg.access_history_stats;

-- Flushing in a read-only transaction is refused.
BEGIN READ ONLY;
SELECT expect_error($$ SELECT meshpg.flush_access_history() $$);
COMMIT;

-- A flush that rolls back loses nothing: the entries stay in the ring.
SELECT count(*) FROM hist.sales;
BEGIN;
SELECT meshpg.flush_access_history();
ROLLBACK;
SELECT pending FROM meshpg.access_history_stats;
SELECT meshpg.flush_access_history();
-- So does one rolled back to a savepoint, whatever the transaction does next.
SELECT count(*) FROM hist.sales;
BEGIN;
SAVEPOINT s;
SELECT meshpg.flush_access_history();
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT pending FROM meshpg.access_history_stats;
SELECT meshpg.flush_access_history();

-- Retention (meshpg.history_retention, 90 days by default) purges at flush:
-- a batch wholly older goes, one that straddles the cutoff keeps its younger
-- reads (the statement number is the age in days here).
INSERT INTO meshpg.cat_access_batch (product_id, product, role, session_role, columns,
       row_policies, command, complete, backend_pid, backend_start, first_read, last_read,
       reads, read_at, rows, statement)
SELECT p.id, 'hist.sales', 'regress_old', 'regress_old', '{id}', '{}', 'SELECT', true, 0, now(),
       now() - max(v.d) * interval '1 day', now() - min(v.d) * interval '1 day', count(*),
       array_agg(now() - v.d * interval '1 day' ORDER BY v.d DESC),
       array_agg(1::bigint ORDER BY v.d DESC), array_agg(v.d::bigint ORDER BY v.d DESC)
  FROM meshpg.cat_product p, (VALUES (1, 10), (2, 400), (2, 91), (2, 89), (3, 95)) v(batch, d)
 WHERE p.name = 'sales' AND p.domain_id = (SELECT id FROM meshpg.cat_domain WHERE name = 'hist')
 GROUP BY p.id, v.batch;
SELECT meshpg.flush_access_history();
SELECT reads, statement, first_read > now() - interval '90 days' AS trimmed
  FROM meshpg.cat_access_batch WHERE role = 'regress_old' ORDER BY reads, statement;
SELECT statement AS days_old FROM meshpg.access_history WHERE role = 'regress_old' ORDER BY 1;
