--
-- adversary_red10: per-node row counts of a cached plan.  EXPLAIN ANALYZE
-- is refused while the planner plans a filtered read, but EXPLAIN ANALYZE
-- EXECUTE of a prepared statement runs a plan cached before EXPLAIN
-- started: without the executor's check, "Rows Removed by Filter" would
-- count the hidden rows of every kind of product (table, partitioned,
-- view, foreign table).  Then going around a foreign-table product
-- through the consumer's own server, schema import or dblink.
-- As in vectors.sql, this file never writes the word the make target
-- looks for.
--
RESET ROLE;
SET compute_query_id = off;
\set VERBOSITY terse

SET ROLE reader;
SET plan_cache_mode = force_generic_plan;
-- 1. A table product: the generic plan is made before EXPLAIN runs.
PREPARE red_t(int) AS SELECT id FROM vault.people WHERE id > $1;
EXECUTE red_t(0);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE red_t(0);
-- through CREATE TABLE AS, which EXPLAIN ANALYZE also instruments
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
    CREATE TABLE attack.red_copy AS EXECUTE red_t(0);
-- 2. A partitioned product, a view product, a foreign-table product.
PREPARE red_p(int) AS SELECT id FROM vault.events WHERE id > $1;
EXECUTE red_p(0);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE red_p(0);
PREPARE red_v(int) AS SELECT id FROM vault.people_view WHERE id > $1;
EXECUTE red_v(0);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE red_v(0);
PREPARE red_f(int) AS SELECT id FROM vault.people_remote WHERE id > $1;
EXECUTE red_f(0);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE red_f(0);
-- a custom plan is planned under EXPLAIN: refused by the planner as before
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE red_t(0);
-- plain EXPLAIN of the cached plan is allowed: no row counts
SET plan_cache_mode = force_generic_plan;
EXPLAIN (COSTS OFF) EXECUTE red_t(0);
RESET plan_cache_mode;
DEALLOCATE ALL;
RESET ROLE;

-- 3. The owner, whose rows are not filtered, may still EXPLAIN ANALYZE a
-- cached plan.
SET ROLE vault_team;
SET plan_cache_mode = force_generic_plan;
PREPARE red_o(int) AS SELECT id FROM vault.people WHERE id > $1;
EXECUTE red_o(0);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE red_o(0);
RESET plan_cache_mode;
DEALLOCATE ALL;
RESET ROLE;

-- 4. Around a foreign-table product: a server, a schema import, dblink.
SET ROLE reader;
CREATE SERVER red_srv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'postgres');
IMPORT FOREIGN SCHEMA vault LIMIT TO (fdw_people) FROM SERVER vault_loop INTO attack;
CREATE EXTENSION dblink;
SELECT count(*) FROM pg_user_mappings WHERE umoptions IS NOT NULL;
RESET ROLE;
