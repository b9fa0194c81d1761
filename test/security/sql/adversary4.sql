--
-- adversary4: the fourth red-team round: parallel query, JIT, and the
-- messages (errors, notices) that policy expressions raise.  Races between
-- sessions are in specs/snapshot_races.spec and specs/policy_invalidation.spec.
-- Actors: reader (a consumer with a grant), the vault domain's team and
-- the governance team.  As in vectors.sql, this file never writes the word
-- the make target looks for.
--
RESET ROLE;
SET compute_query_id = off;
\set VERBOSITY terse

-- A product whose policies are the domain team's own code: a custom mask
-- through a PL/pgSQL function, a custom mask with an inline cast, and a
-- row policy through a PL/pgSQL function.  The functions are marked
-- PARALLEL SAFE, as a team would for speed.
SET ROLE vault_team;
CREATE TABLE vault.adv4 (id int, code text, num text, region text, amount numeric);
INSERT INTO vault.adv4
SELECT g, 'CAN' || 'ARY-CODE-' || g, (g * 10)::text,
       CASE WHEN g % 3 = 0 THEN 'CAN' || 'ARY-US ' ELSE 'EU' END, g * 100
  FROM generate_series(1, 12) g;
CREATE FUNCTION vault.adv4_shorten(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$ BEGIN RETURN lower(left(t, 2)) || '~'; END $$;
CREATE FUNCTION vault.adv4_region_ok(r text) RETURNS boolean LANGUAGE plpgsql STABLE PARALLEL SAFE
    AS $$ BEGIN RETURN btrim(r) = ANY (meshpg.attribute('region')); END $$;
SELECT meshpg.register_product('vault', 'adv4', 'vault.adv4', description => 'Round four');
SELECT meshpg.publish('vault.adv4', '1.0.0');
SELECT meshpg.grant_access('vault.adv4', 'reader');
RESET ROLE;
SELECT meshpg.create_tag('adv4.code');
SELECT meshpg.create_tag('adv4.num');
SELECT meshpg.create_tag('adv4.region');
SELECT meshpg.create_masking_policy('adv4_code', 'custom', tag => 'adv4.code',
                                    expression => 'vault.adv4_shorten(value)');
SELECT meshpg.create_masking_policy('adv4_num', 'custom', tag => 'adv4.num',
                                    expression => '(value::int / 100 * 100)::text');
SELECT meshpg.create_row_policy('adv4_region', 'vault.adv4_region_ok(value)', tag => 'adv4.region');
SET ROLE vault_team;
SELECT meshpg.tag_column('vault.adv4', 'code', 'adv4.code');
SELECT meshpg.tag_column('vault.adv4', 'num', 'adv4.num');
SELECT meshpg.tag_column('vault.adv4', 'region', 'adv4.region');
RESET ROLE;

-- The reader's planted functions, in a schema it puts before pg_catalog.
CREATE SCHEMA adv4_plant AUTHORIZATION reader;
SET ROLE reader;
CREATE FUNCTION adv4_plant.lower(text) RETURNS text LANGUAGE plpgsql PARALLEL SAFE AS
    $$ BEGIN RAISE NOTICE 'adv4_plant.lower => %', $1; RETURN $1; END $$;
CREATE FUNCTION adv4_plant.left(text, int) RETURNS text LANGUAGE plpgsql PARALLEL SAFE AS
    $$ BEGIN RAISE NOTICE 'adv4_plant.left => %', $1; RETURN $1; END $$;
CREATE FUNCTION adv4_plant.btrim(text) RETURNS text LANGUAGE plpgsql PARALLEL SAFE AS
    $$ BEGIN RAISE NOTICE 'adv4_plant.btrim => %', $1; RETURN 'EU'; END $$;
RESET ROLE;

-- 1. Parallel workers run a plan they did not build.  The functions a
--    policy calls must resolve names under the policies' search path in
--    the workers too, not under the reader's (which the workers inherit):
--    no planted function is called, the mask holds and hidden rows stay
--    hidden, with and without workers.
SET ROLE reader;
SET search_path = adv4_plant, pg_catalog;
SELECT id, code FROM vault.adv4 ORDER BY id;
SET force_parallel_mode = regress;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT id, code FROM vault.adv4 ORDER BY id;
SELECT count(*), count(DISTINCT code), max(code) FROM vault.adv4;
RESET search_path;
SET search_path = attack, public;

--    Masks and row filters in workers: partial aggregates, Gather Merge
--    ordered by a masked column, a parallel hash join on masked columns:
--    the same answers as without workers.
SELECT ssn, email FROM vault.people ORDER BY ssn;
SELECT count(*), count(DISTINCT ssn), min(ssn), max(note) FROM vault.people;
SELECT a.id, b.id FROM vault.people a JOIN vault.people b ON a.ssn = b.ssn ORDER BY 1, 2;
SELECT region, count(*), sum(amount), string_agg(code, ',' ORDER BY id) AS codes
  FROM vault.adv4 GROUP BY region ORDER BY region;
--    a SECURITY DEFINER function owned by a superuser, run in parallel:
--    the caller (outer user) is still governed
RESET ROLE;
CREATE FUNCTION public.adv4_definer() RETURNS TABLE (id int, code text)
    LANGUAGE sql SECURITY DEFINER STABLE
    AS $$ SELECT id, code FROM vault.adv4 ORDER BY id $$;
GRANT EXECUTE ON FUNCTION public.adv4_definer() TO reader;
SET ROLE reader;
SELECT * FROM public.adv4_definer();

-- 2. JIT-compiled expressions apply the same masks and filters.
SET jit = on;
SET jit_above_cost = 0;
SET jit_inline_above_cost = 0;
SET jit_optimize_above_cost = 0;
SELECT id, code, num FROM vault.adv4 WHERE id < 5 ORDER BY id;
SELECT count(*), count(DISTINCT ssn) FROM vault.people;
RESET jit;
RESET jit_above_cost;
RESET jit_inline_above_cost;
RESET jit_optimize_above_cost;
RESET force_parallel_mode;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
RESET ROLE;

-- 3. Errors a policy raises on a raw value.  A team's custom mask with a
--    cast ("value::int") fails on a value it cannot cast, and the error
--    would print it: the text of errors raised while such a policy is
--    applied is withheld (the SQLSTATE stays), also from the reader's own
--    EXCEPTION block, from a cursor, and from parallel workers.
SET ROLE vault_team;
INSERT INTO vault.adv4 VALUES (13, 'x', 'CAN' || 'ARY-NUM-13', 'EU', 0);
RESET ROLE;
SET ROLE reader;
\set VERBOSITY default
SELECT id, num FROM vault.adv4 ORDER BY id;
\set VERBOSITY terse
DO $$
BEGIN
    PERFORM num FROM vault.adv4;
EXCEPTION WHEN others THEN
    RAISE NOTICE 'caught % %', SQLSTATE, SQLERRM;
END $$;
BEGIN;
DECLARE c CURSOR FOR SELECT id, num FROM vault.adv4 ORDER BY id;
FETCH 2 FROM c;
FETCH ALL FROM c;
ROLLBACK;
SET force_parallel_mode = regress;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SELECT sum(num::int) FROM vault.adv4;
RESET force_parallel_mode;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET parallel_leader_participation;
RESET ROLE;
SET ROLE vault_team;
DELETE FROM vault.adv4 WHERE id = 13;
RESET ROLE;

--    A function a policy calls raises, or reports, a raw value: its
--    messages are withheld, errors and notices alike.
SET ROLE vault_team;
CREATE OR REPLACE FUNCTION vault.adv4_shorten(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
BEGIN
    IF t LIKE '%-7' THEN RAISE NOTICE 'shortening %', t; END IF;
    IF t LIKE '%-8' THEN RAISE EXCEPTION 'cannot shorten %', t USING HINT = t; END IF;
    IF t LIKE '%-10' THEN EXECUTE format('SELECT %L::int', t); END IF;
    RETURN lower(left(t, 2)) || '~';
END $$;
RESET ROLE;
SET ROLE reader;
SELECT id, code FROM vault.adv4 WHERE id = 7;
\set VERBOSITY default
SELECT id, code FROM vault.adv4 WHERE id = 8;
--    dynamic SQL built from the value: not in the context lines either
SELECT id, code FROM vault.adv4 WHERE id = 10;
DO $$
DECLARE
    msg text;
    ctx text;
BEGIN
    PERFORM code FROM vault.adv4 WHERE id = 10;
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, ctx = PG_EXCEPTION_CONTEXT;
    RAISE NOTICE 'caught: % | context: %', msg, ctx;
END $$;
\set VERBOSITY terse
DO $$
BEGIN
    PERFORM code FROM vault.adv4 WHERE id = 8;
EXCEPTION WHEN others THEN
    RAISE NOTICE 'caught % %', SQLSTATE, SQLERRM;
END $$;
RESET ROLE;

--    A row policy with a cast fails on a hidden row's value: withheld too.
SET ROLE vault_team;
CREATE TABLE vault.adv4_rows (id int, level text);
INSERT INTO vault.adv4_rows VALUES (1, '1'), (2, '2'), (3, 'CAN' || 'ARY-LEVEL');
SELECT meshpg.register_product('vault', 'adv4_rows', 'vault.adv4_rows', description => 'Levels');
SELECT meshpg.publish('vault.adv4_rows', '1.0.0');
SELECT meshpg.grant_access('vault.adv4_rows', 'reader');
SELECT meshpg.create_row_policy('adv4_level', 'level::int < 2', product => 'vault.adv4_rows');
RESET ROLE;
SET ROLE reader;
SELECT * FROM vault.adv4_rows;
RESET ROLE;
SET ROLE vault_team;
DELETE FROM vault.adv4_rows WHERE id = 3;
RESET ROLE;
SET ROLE reader;
SELECT * FROM vault.adv4_rows;

--    What is not withheld: errors of plans without such policies (the
--    reader's own cast sees masked values only), constraint violations in
--    the reader's own table (masked values), and cancellations.
SELECT ssn::int FROM vault.people WHERE id = 1;
CREATE TABLE attack.adv4_copy (code text PRIMARY KEY);
INSERT INTO attack.adv4_copy SELECT code FROM vault.adv4 WHERE id = 1;
INSERT INTO attack.adv4_copy SELECT code FROM vault.adv4 WHERE id = 2;
SET statement_timeout = '50ms';
SELECT id FROM vault.adv4, pg_sleep(0.2) WHERE id = 1;
RESET statement_timeout;
DROP TABLE attack.adv4_copy;

-- 4. Debug messages: none of meshpg's, and none with a value, reach a
--    reader who asks for all of them.
SET max_parallel_workers_per_gather = 0;
SET jit = off;
SET client_min_messages = debug5;
SELECT count(*) FROM vault.adv4;
RESET client_min_messages;
RESET max_parallel_workers_per_gather;
RESET jit;
RESET ROLE;

-- 5. A custom mask that asks who reads (meshpg.purpose(), meshpg.attribute(),
--    current_user) is specialised for each reader, as row policies are.
--    The purpose "audit" that reader's grant on vault.people names does not
--    open a mask on another product, whose grant does not name it; and a
--    SECURITY DEFINER function of reader's, called by another role, does
--    not answer for its owner.
SELECT meshpg.create_tag('adv4.purpose');
SELECT meshpg.create_tag('adv4.who');
SELECT meshpg.create_masking_policy('adv4_purpose', 'custom', tag => 'adv4.purpose',
       expression => 'CASE WHEN meshpg.purpose() = ''audit'' THEN value ELSE ''***'' END');
SELECT meshpg.create_masking_policy('adv4_who', 'custom', tag => 'adv4.who',
       expression => 'CASE WHEN current_user = ''reader'' AND ''EU'' = ANY (meshpg.attribute(''region'')) THEN value ELSE ''***'' END');
SET ROLE vault_team;
CREATE TABLE vault.adv4_cp (id int, secret text, who text);
INSERT INTO vault.adv4_cp VALUES (1, 'CAN' || 'ARY-PURPOSE', 'CAN' || 'ARY-WHO');
SELECT meshpg.register_product('vault', 'adv4_cp', 'vault.adv4_cp', description => 'Who reads');
SELECT meshpg.publish('vault.adv4_cp', '1.0.0');
SELECT meshpg.grant_access('vault.adv4_cp', 'reader');
SELECT meshpg.tag_column('vault.adv4_cp', 'secret', 'adv4.purpose');
SELECT meshpg.tag_column('vault.adv4_cp', 'who', 'adv4.who');
RESET ROLE;
SET ROLE reader;
SELECT id, secret, who = '***' AS who_masked FROM vault.adv4_cp;
SET meshpg.purpose = 'audit';
SELECT id, secret, who = '***' AS who_masked FROM vault.adv4_cp;
RESET meshpg.purpose;
CREATE FUNCTION attack.adv4_cp() RETURNS TABLE (id int, secret text, who text)
    LANGUAGE sql SECURITY DEFINER STABLE
    AS $$ SELECT id, secret, who FROM vault.adv4_cp $$;
GRANT EXECUTE ON FUNCTION attack.adv4_cp() TO reader_nogrant;
RESET ROLE;
SET ROLE reader_nogrant;
SELECT * FROM attack.adv4_cp();
RESET ROLE;
--    with a grant on this product that names the purpose, it lifts the mask
SET ROLE vault_team;
SELECT meshpg.grant_access('vault.adv4_cp', 'reader', purpose => 'audit');
RESET ROLE;
SET ROLE reader;
SET meshpg.purpose = 'audit';
SELECT id, secret <> '***' AS secret_shown FROM vault.adv4_cp;
RESET meshpg.purpose;
DROP FUNCTION attack.adv4_cp();
RESET ROLE;

-- clean up
SET ROLE vault_team;
SELECT meshpg.revoke_access('vault.adv4', 'reader');
SELECT meshpg.revoke_access('vault.adv4_rows', 'reader');
SELECT meshpg.revoke_access('vault.adv4_cp', 'reader');
RESET ROLE;
SELECT meshpg.drop_policy('adv4_code');
SELECT meshpg.drop_policy('adv4_num');
SELECT meshpg.drop_policy('adv4_region');
SELECT meshpg.drop_policy('adv4_level');
SELECT meshpg.drop_policy('adv4_purpose');
SELECT meshpg.drop_policy('adv4_who');
DROP FUNCTION public.adv4_definer();
DROP SCHEMA adv4_plant CASCADE;
