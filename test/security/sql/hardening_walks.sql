--
-- hardening_walks: structures a user builds to make meshpg's own walks
-- crash or hang, and plans that reach the executor without being planned
-- again under EXPLAIN ANALYZE.  Actors: reader (a consumer with a grant
-- and the default TEMP privilege), the vault domain's team and a
-- superuser.  As in vectors.sql, this file never writes the word the make
-- target looks for.
--
-- The walks are bounded by the size of what was built, never by its number
-- of paths: the diamond cases below ran for minutes (2^depth probes, no
-- interrupt check) before, and finish at once now, well within a
-- statement_timeout of 1 s; a timeout would fail them with 57014.  The
-- stack overflow of a deep chain needs tens of thousands of levels on an
-- 8 MB stack: test/t/045_structure_fuzz.pl provokes it on a server with a
-- small stack; here, chains deep enough to show the walk's answers.
--
RESET ROLE;
SET compute_query_id = off;
SET jit = off;
SET client_min_messages = warning;
\set VERBOSITY terse

-- 1. A deep inheritance chain of the consumer's own temporary tables.  For
-- every relation a query reads, meshpg asks whether it is a product or a
-- child of one: the walk up the chain recursed once per level.  Built in
-- batches, so that no transaction holds a lock per table.
SET ROLE reader;
CREATE TEMP TABLE chain0 (id int, secret text);
DO $$
BEGIN
    FOR i IN 1..3000 LOOP
        EXECUTE format('CREATE TEMP TABLE chain%s () INHERITS (chain%s)', i, i - 1);
        IF i % 500 = 0 THEN
            COMMIT;
        END IF;
    END LOOP;
END $$;
SET statement_timeout = '1s';
INSERT INTO chain3000 VALUES (1, 'mine');
SELECT * FROM chain3000;
SELECT count(*) FROM chain1500;
-- the same after a catalog change, which resets meshpg's cache
RESET ROLE;
SELECT meshpg.set_attribute('reader', 'region', '{EU}');
SET ROLE reader;
SELECT * FROM chain3000;
-- a write reading the chain: lineage looks up the chain too
CREATE TEMP TABLE sink (id int, secret text);
INSERT INTO sink SELECT * FROM chain3000;
-- The DDL guard asks the same question on DROP, here as a superuser.
RESET ROLE;
DROP TABLE chain3000;
SET ROLE reader;
-- dropped leaf first, a batch per transaction
RESET statement_timeout;
DO $$
BEGIN
    FOR i IN REVERSE 2999..0 LOOP
        EXECUTE format('DROP TABLE chain%s', i);
        IF i % 500 = 0 THEN
            COMMIT;
        END IF;
    END LOOP;
END $$;

-- 2. A diamond: each level inherits from both tables of the level below,
-- 2^30 paths from the top to the bottom.  Reads, a write that reads it,
-- and drops, each under a statement_timeout of 1 s.
CREATE TEMP TABLE d0a (id int, secret text);
CREATE TEMP TABLE d0b (id int, secret text);
DO $$
BEGIN
    FOR i IN 1..30 LOOP
        EXECUTE format('CREATE TEMP TABLE d%sa () INHERITS (d%sa, d%sb)', i, i - 1, i - 1);
        EXECUTE format('CREATE TEMP TABLE d%sb () INHERITS (d%sa, d%sb)', i, i - 1, i - 1);
    END LOOP;
END $$;
SET statement_timeout = '1s';
INSERT INTO d30a VALUES (2, 'top');
SELECT * FROM d30a;
SELECT count(*) FROM d0a;
SELECT count(*) FROM d15b;
INSERT INTO sink SELECT * FROM d30b;
CREATE TEMP TABLE d_copy AS SELECT * FROM d30a;
EXPLAIN (COSTS OFF) SELECT * FROM d30b;
RESET ROLE;
DROP TABLE d30a;
SET ROLE reader;
DROP TABLE d0a, d0b CASCADE;
RESET statement_timeout;

-- 3. A domain team's deep chain under a product: the walk still finds the
-- product at the top, and a reader granted the deepest child by hand sees
-- it masked and filtered as the product.
RESET ROLE;
SET ROLE vault_team;
CREATE TABLE vault.deep0 () INHERITS (vault.people);
DO $$
BEGIN
    FOR i IN 1..400 LOOP
        EXECUTE format('CREATE TABLE vault.deep%s () INHERITS (vault.deep%s)', i, i - 1);
    END LOOP;
END $$;
-- copies of a visible row and of a hidden one, ids 41 and 43
INSERT INTO vault.deep400 SELECT id + 40, name, ssn, email, region, note
  FROM ONLY vault.people WHERE id IN (1, 3);
GRANT SELECT ON vault.deep400, vault.deep200 TO reader;
RESET ROLE;
SET ROLE reader;
SET statement_timeout = '1s';
SELECT id, name, ssn, email, region, note FROM vault.deep400;
SELECT count(*) FROM vault.deep200;
SELECT id, name FROM vault.people WHERE id > 40;
RESET statement_timeout;
RESET ROLE;
SET ROLE vault_team;
DROP TABLE vault.deep0 CASCADE;
RESET ROLE;

-- 4. Column derivation through CTEs that each name the one below twice:
-- 2^28 paths from the written column to the product's.  Lineage follows
-- each (query, column) once.
SET ROLE reader;
CREATE TEMP TABLE derived (id int, ssn text);
SELECT 'INSERT INTO derived WITH c0 AS (SELECT id, ssn FROM vault.people), ' ||
       string_agg(format('c%s AS (SELECT a.id, greatest(a.ssn, b.ssn) AS ssn FROM c%s a JOIN c%s b USING (id))',
                         i, i - 1, i - 1), ', ' ORDER BY i) ||
       ' SELECT id, ssn FROM c28' AS q
  FROM generate_series(1, 28) i \gset
SET statement_timeout = '1s';
:q;
SELECT * FROM derived ORDER BY id;
RESET statement_timeout;

-- 5. Views of views of the consumer's own, each reading the one below
-- twice, over the product: meshpg governs each expansion once.  (Deeper,
-- PostgreSQL's own join search grows with the 2^depth relations.)
CREATE TEMP VIEW v0 AS SELECT id, ssn FROM vault.people;
DO $$
BEGIN
    FOR i IN 1..4 LOOP
        EXECUTE format('CREATE TEMP VIEW v%s AS SELECT a.id, greatest(a.ssn, b.ssn) AS ssn FROM v%s a JOIN v%s b USING (id)', i, i - 1, i - 1);
    END LOOP;
END $$;
SET statement_timeout = '2s';
SELECT * FROM v4 ORDER BY id;
RESET statement_timeout;
RESET ROLE;

-- 6. EXPLAIN ANALYZE counts the rows each node removed: refused where rows
-- are filtered for the reader, also for plans that are not planned again.
SET ROLE reader;
PREPARE p(int) AS SELECT id, name FROM vault.people WHERE id = $1;
-- a generic plan, cached by an execution outside EXPLAIN
SET plan_cache_mode = force_generic_plan;
EXECUTE p(1);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(3);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) CREATE TEMP TABLE t_ctas AS EXECUTE p(3);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * INTO TEMP t_into FROM vault.people;
-- a custom plan
SET plan_cache_mode = force_custom_plan;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(3);
-- the default: generic after five executions
SET plan_cache_mode = auto;
EXECUTE p(1);
EXECUTE p(1);
EXECUTE p(1);
EXECUTE p(1);
EXECUTE p(1);
EXECUTE p(1);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(3);
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(3);
-- the plan still runs, and plain EXPLAIN still shows it
EXECUTE p(1);
EXPLAIN (COSTS OFF) EXECUTE p(3);
CREATE TEMP TABLE t_ok AS EXECUTE p(1);
TABLE t_ok;
-- cursors
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) DECLARE c CURSOR FOR SELECT id FROM vault.people;
-- PL/pgSQL: dynamic EXPLAIN of the cached plan, as a query and as a cursor
CREATE FUNCTION pg_temp.ea_query() RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(3)';
END $$;
SELECT * FROM pg_temp.ea_query();
CREATE FUNCTION pg_temp.ea_cursor() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    c refcursor;
    r text;
BEGIN
    OPEN c FOR EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(3)';
    LOOP
        FETCH c INTO r;
        EXIT WHEN NOT FOUND;
        RETURN NEXT r;
    END LOOP;
END $$;
SELECT * FROM pg_temp.ea_cursor();
-- PL/pgSQL: a static EXPLAIN ANALYZE, its plan cached by the function
CREATE FUNCTION pg_temp.ea_static() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    FOR r IN EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
             SELECT id FROM vault.people WHERE id = 3 LOOP
        RETURN NEXT r;
    END LOOP;
END $$;
SELECT * FROM pg_temp.ea_static();
SELECT * FROM pg_temp.ea_static();
-- SQL functions
CREATE FUNCTION pg_temp.ea_sql() RETURNS void LANGUAGE sql AS $$
    EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(3)
$$;
SELECT pg_temp.ea_sql();
CREATE FUNCTION pg_temp.ea_sql_select() RETURNS void LANGUAGE sql AS $$
    EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT id FROM vault.people
$$;
SELECT pg_temp.ea_sql_select();
DEALLOCATE p;
RESET plan_cache_mode;
RESET ROLE;

-- The domain team, to whom the row policy does not apply, may.
SET ROLE vault_team;
PREPARE q(int) AS SELECT id, name FROM vault.people WHERE id = $1;
SET plan_cache_mode = force_generic_plan;
EXECUTE q(1);
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE q(3);
DEALLOCATE q;
RESET plan_cache_mode;
RESET ROLE;

-- 7. A lineage graph of diamonds: views that each read both views of the
-- level below, 2^30 paths from the product.  The lineage reports walk it
-- by relation (1.3).
SET ROLE reader;
CREATE VIEW attack.la0 AS SELECT id, ssn FROM vault.people;
CREATE VIEW attack.lb0 AS SELECT id, ssn FROM vault.people;
DO $$
BEGIN
    FOR i IN 1..30 LOOP
        EXECUTE format('CREATE VIEW attack.la%s AS SELECT id, ssn FROM attack.la%s UNION ALL SELECT id, ssn FROM attack.lb%s', i, i - 1, i - 1);
        EXECUTE format('CREATE VIEW attack.lb%s AS SELECT id, ssn FROM attack.la%s UNION ALL SELECT id, ssn FROM attack.lb%s', i, i - 1, i - 1);
    END LOOP;
END $$;
SET statement_timeout = '5s';
SELECT count(*), max(level) FROM meshpg.lineage('vault.people', 'downstream', 100)
 WHERE target LIKE 'attack.l%';
RESET ROLE;
SET ROLE vault_team;
SELECT count(*), max(level) FROM meshpg.lineage('vault.people', 'both', 100)
 WHERE target LIKE 'attack.l%';
SELECT kind, count(*) FROM meshpg.impact('vault.people', 'ssn')
 WHERE name LIKE 'attack.l%' GROUP BY kind ORDER BY kind;
SELECT * FROM meshpg.impact('vault.people', 'ssn') WHERE name LIKE 'attack.l_30.%' ORDER BY name;
RESET statement_timeout;
RESET ROLE;
DROP VIEW attack.la0, attack.lb0 CASCADE;

-- 8. meshpg's cache keeps every relation a walk reached: when an ancestor
-- halfway up gains or loses a product parent, its descendants' answers go
-- with it, in the session that cached them.
CREATE TABLE public.hw_mid (id int NOT NULL, name text NOT NULL, ssn text, email text,
    region text NOT NULL,
    note text CONSTRAINT people_note_check CHECK (note IS NULL OR length(note) < 100));
CREATE TABLE public.hw_leaf () INHERITS (public.hw_mid);
INSERT INTO public.hw_leaf SELECT * FROM ONLY vault.people;
GRANT SELECT ON public.hw_leaf TO reader;
SET ROLE reader;
SELECT count(*) FROM public.hw_leaf;
RESET ROLE;
ALTER TABLE public.hw_mid INHERIT vault.people;
SET ROLE reader;
SELECT id, name, ssn FROM public.hw_leaf ORDER BY id;
RESET ROLE;
ALTER TABLE public.hw_mid NO INHERIT vault.people;
SET ROLE reader;
SELECT count(*) FROM public.hw_leaf;
RESET ROLE;
DROP TABLE public.hw_mid CASCADE;
