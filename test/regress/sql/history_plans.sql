--
-- history_plans: a cached plan's reads are encoded once and reused, so each
-- execution must still record what it was: the role and purpose it ran
-- with, the product's version at the time, its command and target, its own
-- rows, and whether it completed.  Plain statements that follow each other
-- (whose plans may land at the same addresses) must never share records.
SELECT meshpg.create_domain('hplan', 'regress_payments_team', 'Cached plan history tests');
SET ROLE regress_gov;
SELECT meshpg.create_tag('hplan.secret');
SELECT meshpg.create_masking_policy('hplan_redact', 'redact', tag => 'hplan.secret');
RESET ROLE;

SET ROLE regress_pay_dev;
CREATE TABLE hplan.orders (id int PRIMARY KEY, amount numeric, note text);
INSERT INTO hplan.orders SELECT g, g * 10, 'note ' || g FROM generate_series(1, 6) g;
SELECT meshpg.register_product('hplan', 'orders', 'hplan.orders', description => 'Orders');
SELECT meshpg.tag_column('hplan.orders', 'note', 'hplan.secret');
SELECT meshpg.publish('hplan.orders', '1.0.0');
SELECT meshpg.grant_access('hplan.orders', 'regress_analyst', purpose => 'audit');
SELECT meshpg.grant_access('hplan.orders', 'regress_analyst2');
RESET ROLE;
GRANT CREATE ON SCHEMA public TO regress_analyst;

SELECT meshpg.flush_access_history() >= 0 AS flushed_earlier_reads;

-- One prepared statement, executed again and again: each execution counts
-- its own rows, and a failed one is incomplete without marking the next.
SET ROLE regress_analyst;
PREPARE p(int) AS SELECT id, 100 / (id - $1) AS q FROM hplan.orders WHERE id <= 3;
EXECUTE p(10);
EXECUTE p(10);
SELECT expect_error($$ EXECUTE p(2) $$);
EXECUTE p(10);
-- With a purpose, then without.
SET meshpg.purpose = 'audit';
EXECUTE p(10);
RESET meshpg.purpose;
EXECUTE p(10);
-- As another role (the plan may be reused across SET ROLE).
RESET ROLE;
SET ROLE regress_analyst2;
PREPARE p2(int) AS SELECT id FROM hplan.orders WHERE id <= $1;
EXECUTE p2(2);
RESET ROLE;
SET ROLE regress_analyst;
EXECUTE p2(4);
-- The same plan as CREATE TABLE AS (which gives the plan its receiver only
-- once it runs), then as a plain read again.
CREATE TABLE public.hplan_copy AS EXECUTE p2(5);
EXECUTE p2(1);
RESET ROLE;

-- A new version: the next execution records it.
SET ROLE regress_pay_dev;
SELECT meshpg.publish('hplan.orders', '1.1.0');
RESET ROLE;
SET ROLE regress_analyst;
EXECUTE p2(6);
DEALLOCATE p;
DEALLOCATE p2;

-- Plain statements of the same length, one after the other: each records
-- its own columns and masks.
SELECT id FROM hplan.orders WHERE id = 1;
SELECT note FROM hplan.orders WHERE id = 1;
SELECT id FROM hplan.orders WHERE id = 1;
-- A function's cached plan, run three times in one statement.
CREATE FUNCTION pg_temp.amount_of(i int) RETURNS numeric LANGUAGE plpgsql
AS $$ BEGIN RETURN (SELECT amount FROM hplan.orders WHERE id = i); END $$;
SELECT pg_temp.amount_of(g) FROM generate_series(1, 3) g;
-- A SQL function plans its statements once per query, before they run: the
-- purpose it sets differs from call to call, the plan does not.
CREATE FUNCTION pg_temp.read_for(purpose text) RETURNS int LANGUAGE sql
AS $$ SELECT set_config('meshpg.purpose', purpose, false);
      SELECT id FROM hplan.orders WHERE id = 2 $$;
SELECT pg_temp.read_for(p) FROM (VALUES ('audit'), (''), ('audit')) v(p);
RESET meshpg.purpose;
RESET ROLE;
-- One plan, the same current role, two session roles.
PREPARE p3 AS SELECT amount FROM hplan.orders WHERE id = 3;
SET SESSION AUTHORIZATION regress_analyst;
EXECUTE p3;
RESET SESSION AUTHORIZATION;
SET ROLE regress_analyst;
EXECUTE p3;
RESET ROLE;
DEALLOCATE p3;

SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT version, role, session_role = role AS own_session, columns, masks, purpose,
       rows, command, target, complete
  FROM meshpg.access_history
 WHERE product = 'hplan.orders'
 ORDER BY backend_start, statement;

-- Every read was recorded once, with a statement number of its own.
SELECT count(*) AS reads, count(DISTINCT statement) AS statements
  FROM meshpg.access_history WHERE product = 'hplan.orders';

DROP TABLE public.hplan_copy;
REVOKE CREATE ON SCHEMA public FROM regress_analyst;
DELETE FROM meshpg.cat_access_batch WHERE product = 'hplan.orders';
SELECT meshpg.drop_domain('hplan', cascade => true);
