--
-- adversary_fdw: a foreign-table product, attacked.  vault.people_remote is
-- a postgres_fdw foreign table over vault.fdw_people (a loopback server to
-- this database; the same people as vault.people, in a table of its own so
-- that the remote scan's order does not depend on the files run before),
-- read through a user mapping to a member of the vault team, so the
-- remote server returns every row raw: what the reader gets is what meshpg
-- enforces here.  The remote server must never be handed the
-- reader's own non-leakproof expressions ahead of the row filter (its errors
-- would carry hidden values), and nothing of the hidden rows or masked
-- values may come back through notices, errors, estimates or EXPLAIN.
-- As in vectors.sql, this file never writes the word the make target looks
-- for.
--
RESET ROLE;
SET compute_query_id = off;
\set VERBOSITY terse

CREATE EXTENSION postgres_fdw;
DO $$
BEGIN
    EXECUTE format('CREATE SERVER vault_loop FOREIGN DATA WRAPPER postgres_fdw '
                   'OPTIONS (dbname %L, port %L)',
                   current_database(), current_setting('port'));
END
$$;
CREATE ROLE vault_fdw_login LOGIN IN ROLE vault_team;
CREATE USER MAPPING FOR PUBLIC SERVER vault_loop
       OPTIONS (user 'vault_fdw_login', password_required 'false');
GRANT USAGE ON FOREIGN SERVER vault_loop TO vault_team;

SET ROLE vault_team;
-- the hidden values are spelt in two halves, so this file never writes them
CREATE TABLE vault.fdw_people (id int, name text, ssn text, email text, region text, note text);
INSERT INTO vault.fdw_people
SELECT id, CASE WHEN region = 'US' THEN 'CAN' || 'ARY-ROW-' || name ELSE name END,
       'CAN' || 'ARY-SSN-' || repeat(id::text, 4), 'CAN' || 'ARY-MAIL-' || lower(name) || '@example.com',
       region, 'CAN' || 'ARY-NOTE-' || id
  FROM (VALUES (1, 'Ana', 'EU'), (2, 'Bo', 'EU'), (3, 'Cy', 'US')) AS p(id, name, region);
CREATE FOREIGN TABLE vault.people_remote (id int, name text, ssn text, email text,
                                          region text, note text)
       SERVER vault_loop OPTIONS (schema_name 'vault', table_name 'fdw_people');
SELECT meshpg.register_product('vault', 'people_remote', 'vault.people_remote',
                               description => 'People, from the vault server');
SELECT meshpg.tag_column('vault.people_remote', 'ssn', 'pii.ssn');
SELECT meshpg.tag_column('vault.people_remote', 'email', 'pii.email');
SELECT meshpg.tag_column('vault.people_remote', 'note', 'confidential');
SELECT meshpg.tag_column('vault.people_remote', 'region', 'geo.region');
SELECT meshpg.publish('vault.people_remote', '1.0.0');
SELECT meshpg.grant_access('vault.people_remote', 'reader');
ANALYZE vault.people_remote;
RESET ROLE;

SET ROLE reader;
-- 1. Plain reads: the EU rows, masked.
SELECT * FROM vault.people_remote ORDER BY id;
SELECT p FROM vault.people_remote p ORDER BY id;
SELECT row_to_json(p) FROM vault.people_remote p ORDER BY id;
COPY vault.people_remote TO STDOUT;
COPY (SELECT name, ssn FROM vault.people_remote) TO STDOUT;

-- 2. Leaky functions and operators see only visible rows and masked values.
SELECT id FROM vault.people_remote WHERE f_leak(name) ORDER BY id;
SELECT id FROM vault.people_remote WHERE f_leak(ssn) AND f_leak(note) ORDER BY id;
SELECT id FROM vault.people_remote WHERE name <<< 'zzz' ORDER BY id;
SELECT a.id FROM vault.people_remote a JOIN vault.people_remote b
    ON a.id = b.id AND f_leak(b.name) ORDER BY 1;

-- 3. Built-in expressions postgres_fdw could ship: their errors run here,
-- on visible rows only (a hidden name would be in the message).
SELECT id FROM vault.people_remote WHERE name::int = 1;
SELECT id FROM vault.people_remote WHERE ssn::int = 1;
SELECT id FROM vault.people_remote WHERE 1 / (CASE WHEN strpos(name, 'ROW') > 0 THEN 0 ELSE 1 END) = 1
 ORDER BY id;
SELECT id FROM vault.people_remote WHERE to_date(name, 'YYYY') IS NOT NULL;
SELECT count(*) FROM vault.people_remote a JOIN vault.people_remote b ON a.name::int = b.id;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM vault.people_remote WHERE name::int = 1;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id FROM vault.people_remote a JOIN vault.people_remote b ON a.name::int = b.id;

-- 4. Aggregates, sorting and grouping see only what the reader may.
SELECT count(*), string_agg(name, ',' ORDER BY name), max(ssn), max(email), max(note)
  FROM vault.people_remote;
SELECT region, count(*) FROM vault.people_remote GROUP BY region ORDER BY 1;
SELECT DISTINCT name FROM vault.people_remote ORDER BY 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT region, count(*) FROM vault.people_remote GROUP BY region;

-- 5. Other query shapes: CTE, LATERAL, SQL and PL/pgSQL functions, cursors,
-- prepared statements, a view of the reader's own.
WITH c AS MATERIALIZED (SELECT * FROM vault.people_remote) SELECT id, name, ssn FROM c ORDER BY id;
SELECT s.* FROM (VALUES (1), (3)) v(x),
       LATERAL (SELECT name FROM vault.people_remote WHERE id = v.x AND f_leak(name)) s;
CREATE FUNCTION attack.fdw_names() RETURNS SETOF text LANGUAGE sql STABLE
    AS $$ SELECT name FROM vault.people_remote $$;
SELECT * FROM attack.fdw_names() ORDER BY 1;
CREATE FUNCTION attack.fdw_count() RETURNS bigint LANGUAGE plpgsql
    AS $$ BEGIN RETURN (SELECT count(*) FROM vault.people_remote); END $$;
SELECT attack.fdw_count();
BEGIN;
DECLARE c CURSOR FOR SELECT id, name, ssn FROM vault.people_remote ORDER BY id;
FETCH ALL FROM c;
COMMIT;
PREPARE fdw_q(int) AS SELECT name FROM vault.people_remote WHERE id = $1;
EXECUTE fdw_q(1);
EXECUTE fdw_q(3);
CREATE VIEW attack.fdw_v AS SELECT * FROM vault.people_remote WHERE f_leak(name);
SELECT id FROM attack.fdw_v ORDER BY id;

-- 6. What cannot be governed through a foreign scan is refused.
EXPLAIN ANALYZE SELECT * FROM vault.people_remote;
SELECT tableoid, name FROM vault.people_remote;
SELECT name FROM vault.people_remote FOR SHARE;

-- 7. Estimates: no statistic of the hidden rows or masked columns.
SELECT count(*) FROM pg_stats WHERE schemaname = 'vault' AND tablename = 'people_remote';
EXPLAIN SELECT * FROM vault.people_remote WHERE name = 'Cy';
RESET ROLE;
SET ROLE vault_team;
ALTER FOREIGN TABLE vault.people_remote OPTIONS (ADD use_remote_estimate 'true');
RESET ROLE;
SET ROLE reader;
EXPLAIN SELECT * FROM vault.people_remote WHERE name = 'Cy';
RESET ROLE;
SET ROLE vault_team;
ALTER FOREIGN TABLE vault.people_remote OPTIONS (DROP use_remote_estimate);
RESET ROLE;

-- 8. Going around the product: the server, the mapping, the table.
SET ROLE reader;
CREATE FOREIGN TABLE attack.mine (id int, name text) SERVER vault_loop
       OPTIONS (schema_name 'vault', table_name 'fdw_people');
CREATE USER MAPPING FOR reader SERVER vault_loop OPTIONS (user 'vault_fdw_login');
ALTER FOREIGN TABLE vault.people_remote OPTIONS (SET table_name 'people');
ANALYZE vault.people_remote;
SELECT umoptions FROM pg_user_mappings WHERE srvname = 'vault_loop';
RESET ROLE;
SET ROLE reader_nogrant;
SELECT name FROM vault.people_remote;
RESET ROLE;
