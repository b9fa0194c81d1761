--
-- vectors: one case per attack group of doc/research enforcement.md, run by
-- a consumer whose grant lets it see EU rows with masked ssn, email and
-- note.  Each case shows masked values and filtered rows only, or is
-- refused; the hidden values never appear (the make target checks).
--
SET compute_query_id = off;    -- EXPLAIN VERBOSE stays the same across versions
SET ROLE reader;
SET search_path = attack, public;

-- 1. Leaky functions and operators in WHERE and JOIN see only allowed rows
--    and masked values.
SELECT id, name FROM vault.people WHERE f_leak(ssn) ORDER BY id;
SELECT id FROM vault.people WHERE f_leak(note) AND f_leak(email) ORDER BY id;
SELECT p.id FROM vault.people p JOIN vault.events e ON f_leak(e.detail) AND e.person = p.id;
SELECT id FROM vault.people WHERE name <<< 'zzz' ORDER BY id;

-- 2. Statistics: nothing of a row-filtered product shows; a leaky operator's
--    selectivity estimator gets no histogram.
SELECT count(*) AS stats_rows FROM pg_stats WHERE schemaname = 'vault';
SELECT count(*) AS ext_stats FROM pg_stats_ext WHERE schemaname = 'vault';
EXPLAIN (COSTS OFF) SELECT * FROM vault.people WHERE ssn <<< 'x';
SELECT count(*) FROM pg_statistic;

-- 3. COPY of the relation and of a query.
COPY vault.people TO STDOUT;
COPY vault.people (id, ssn) TO STDOUT;
COPY (SELECT * FROM vault.people) TO STDOUT;
COPY vault.events TO STDOUT;

-- 4. EXPLAIN shows no values; EXPLAIN ANALYZE would count hidden rows.
EXPLAIN (COSTS OFF, VERBOSE) SELECT * FROM vault.people WHERE ssn = 'x';
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM vault.people;

-- 5. Prepared statements and generic plans across roles.
RESET ROLE;
SET plan_cache_mode = force_generic_plan;
PREPARE q(int) AS SELECT id, length(ssn) AS ssn_length, note IS NULL AS no_note
                  FROM vault.people WHERE id <= $1 ORDER BY id;
SET ROLE vault_team;
EXECUTE q(3);          -- the domain team reads raw values (15 characters)
SET ROLE reader;
EXECUTE q(3);          -- the same statement, governed: pseudonyms of 64
RESET ROLE;
SET ROLE reader;
DEALLOCATE q;
RESET plan_cache_mode;

-- 6. Cursors.
BEGIN;
DECLARE c CURSOR FOR SELECT id, ssn, email FROM vault.people ORDER BY id;
FETCH ALL FROM c;
CLOSE c;
DECLARE c2 SCROLL CURSOR WITH HOLD FOR SELECT * FROM vault.people;
COMMIT;
FETCH ALL FROM c2;
FETCH ABSOLUTE 1 FROM c2;
CLOSE c2;

-- 7. CTEs, materialised or not, and nested.
WITH m AS MATERIALIZED (SELECT * FROM vault.people) SELECT id FROM m WHERE f_leak(ssn);
WITH n AS NOT MATERIALIZED (SELECT * FROM vault.people) SELECT id, email FROM n ORDER BY id;
WITH RECURSIVE r(id, ssn) AS (SELECT id, ssn FROM vault.people WHERE id = 1
                              UNION ALL SELECT p.id, p.ssn FROM vault.people p JOIN r ON p.id = r.id + 1)
SELECT id, f_leak(ssn) FROM r;

-- 8. Views: the consumer's own, security_invoker, views of views,
--    materialised views, and a view a superuser owns.
CREATE VIEW attack.v1 AS SELECT * FROM vault.people;
CREATE VIEW attack.v2 WITH (security_invoker) AS SELECT * FROM attack.v1;
CREATE VIEW attack.v3 WITH (security_barrier) AS SELECT * FROM attack.v2 WHERE f_leak(note);
SELECT id, ssn, note FROM attack.v3 ORDER BY id;
CREATE MATERIALIZED VIEW attack.mv AS SELECT * FROM vault.people;
SELECT id, ssn, email, note FROM attack.mv ORDER BY id;
REFRESH MATERIALIZED VIEW attack.mv;
SELECT id, ssn FROM attack.mv ORDER BY id;
RESET ROLE;
CREATE VIEW public.su_view AS SELECT * FROM vault.people;
GRANT SELECT ON public.su_view TO reader;
SET ROLE reader;
SELECT id, ssn, note FROM public.su_view ORDER BY id;
-- the governed view product
SELECT id, name, ssn FROM vault.people_view WHERE f_leak(ssn) ORDER BY id;

-- 9. Functions: SECURITY DEFINER owned by a superuser, SQL inlined or not,
--    PL/pgSQL, set-returning functions in FROM.
RESET ROLE;
CREATE FUNCTION public.definer_people() RETURNS SETOF vault.people
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS $$ SELECT * FROM vault.people $$;
GRANT EXECUTE ON FUNCTION public.definer_people() TO reader;
SET ROLE reader;
SELECT id, ssn, note FROM public.definer_people() ORDER BY id;
CREATE FUNCTION attack.inlined() RETURNS SETOF vault.people
    LANGUAGE sql STABLE AS $$ SELECT * FROM vault.people $$;
SELECT id, ssn FROM attack.inlined() WHERE f_leak(email) ORDER BY id;
CREATE FUNCTION attack.not_inlined() RETURNS SETOF vault.people
    LANGUAGE sql VOLATILE AS $$ SELECT * FROM vault.people $$;
SELECT id, ssn FROM attack.not_inlined() ORDER BY id;
CREATE FUNCTION attack.scalar_sql(int) RETURNS text
    LANGUAGE sql STABLE AS $$ SELECT ssn FROM vault.people WHERE id = $1 $$;
SELECT attack.scalar_sql(1), attack.scalar_sql(3);
CREATE FUNCTION attack.plpgsql_dump() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM vault.people ORDER BY id LOOP
        RETURN NEXT r.ssn || ' ' || r.note || ' ' || r.email;
    END LOOP;
    RETURN NEXT (SELECT string_agg(name, ',') FROM vault.people);
    EXECUTE 'SELECT max(ssn) FROM vault.people' INTO r;
    RETURN NEXT r.max;
END $$;
SELECT * FROM attack.plpgsql_dump();

-- 10. Partitions and children queried directly.
RESET ROLE;
GRANT SELECT ON vault.events_us, vault.events_eu TO reader;   -- by hand, outside meshpg
SET ROLE reader;
SELECT * FROM vault.events_us;
SELECT * FROM vault.events_eu;
SELECT * FROM ONLY vault.events;

-- 11. RETURNING, UPDATE ... SET x = masked, ON CONFLICT, a masked column
--     as an oracle.
SELECT count(*) AS oracle_like FROM vault.people WHERE ssn LIKE 'C%';
SELECT count(*) AS oracle_eq FROM vault.people WHERE note = 'x' OR note < 'D';
RESET ROLE;
GRANT UPDATE (name), INSERT ON vault.people TO reader;        -- by hand, outside meshpg
SET ROLE reader;
UPDATE vault.people SET name = ssn WHERE id = 1 RETURNING id, name, ssn, note;
UPDATE vault.people SET name = 'x' WHERE id = 3 RETURNING *;   -- a hidden row: not there
INSERT INTO vault.people (id, name, region) VALUES (2, 'dup', 'EU')
    ON CONFLICT (id) DO UPDATE SET name = excluded.name || vault.people.ssn RETURNING id, name, ssn;
INSERT INTO vault.people (id, name, region) VALUES (2, 'dup', 'EU')
    ON CONFLICT (id) DO NOTHING RETURNING id, ssn;
RESET ROLE;
REVOKE UPDATE (name), INSERT ON vault.people FROM reader;
UPDATE vault.people SET name = 'Ana' WHERE id = 1;
UPDATE vault.people SET name = 'Bo' WHERE id = 2;
SET ROLE reader;

-- 12. MERGE with the product as the source.
CREATE TABLE attack.loot (id int PRIMARY KEY, ssn text, note text);
MERGE INTO attack.loot l USING vault.people p ON l.id = p.id
    WHEN NOT MATCHED THEN INSERT VALUES (p.id, p.ssn, p.note);
SELECT * FROM attack.loot ORDER BY id;

-- 13. Rules, including the table-to-view _RETURN rule.
CREATE TABLE attack.log (ssn text);
CREATE TABLE attack.trigger_tab (a int);
CREATE RULE steal AS ON INSERT TO attack.trigger_tab DO ALSO
    INSERT INTO attack.log SELECT ssn || note FROM vault.people;
INSERT INTO attack.trigger_tab VALUES (1);
SELECT * FROM attack.log;
CREATE TABLE attack.becomes_view (id int, name text, ssn text, email text, region text, note text);
CREATE RULE "_RETURN" AS ON SELECT TO attack.becomes_view DO INSTEAD SELECT * FROM vault.people;
SELECT id, ssn, note FROM attack.becomes_view ORDER BY id;

-- 14. Triggers reading the product on the consumer's own table.
CREATE FUNCTION attack.trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attack.log SELECT string_agg(ssn || email, ';') FROM vault.people;
    RETURN NEW;
END $$;
CREATE TRIGGER t BEFORE INSERT ON attack.trigger_tab FOR EACH ROW EXECUTE FUNCTION attack.trig();
DELETE FROM attack.log;
INSERT INTO attack.trigger_tab VALUES (2);
SELECT * FROM attack.log;

-- 15. Parallel query.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET force_parallel_mode = on;
SELECT id, ssn, email FROM vault.people ORDER BY id;
SELECT count(*), max(ssn) FROM vault.people;
RESET force_parallel_mode;
RESET max_parallel_workers_per_gather;
RESET min_parallel_table_scan_size;
RESET parallel_tuple_cost;
RESET parallel_setup_cost;

-- 16. Roles and settings: SET ROLE, row_security, meshpg settings, RESET ALL.
SET row_security = off;
SELECT id FROM vault.people;
RESET row_security;
SET meshpg.confusable_check = off;
SET meshpg.purpose = 'marketing';
SET meshpg.purpose = 'audit';         -- the grant names it: accepted, lifts nothing here
SELECT id, ssn FROM vault.people ORDER BY id;
RESET ALL;
SET compute_query_id = off;
SET search_path = attack, public;
SELECT id, ssn FROM vault.people ORDER BY id;
SET SESSION AUTHORIZATION vault_team;
-- A fresh session loads the policies with the reader's search_path in
-- place: a planted operator must not be picked up by a policy.
\c
SET compute_query_id = off;
SET ROLE reader;
CREATE FUNCTION attack.always(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR attack.= (LEFTARG = text, RIGHTARG = text, FUNCTION = attack.always);
CREATE FUNCTION attack.always_any(text, text[]) RETURNS boolean LANGUAGE sql AS 'SELECT true';
SET search_path = attack, pg_catalog, public;
SELECT id, region FROM vault.people ORDER BY id;
SELECT count(*) FROM vault.events;
RESET search_path;
SET search_path = attack, public;

-- 17. LOAD and preload settings.
RESET SESSION AUTHORIZATION;
SET ROLE reader;
LOAD 'meshpg';
SET session_preload_libraries = 'meshpg';

-- 18. TABLESAMPLE and FOR UPDATE/SHARE.
SELECT id, ssn FROM vault.people TABLESAMPLE SYSTEM (100) WHERE f_leak(note) ORDER BY id;
SELECT id, ssn FROM vault.people FOR SHARE;

-- 19. System columns and whole-row references.
SELECT tableoid::regclass, id FROM vault.people ORDER BY id;
SELECT p FROM vault.people p ORDER BY id;
SELECT row_to_json(p) FROM vault.people p ORDER BY id;
SELECT p::text FROM vault.people p ORDER BY id;
SELECT to_jsonb(p) - 'id' FROM vault.people p ORDER BY id;
SELECT (p).ssn, (p.*).note FROM vault.people p ORDER BY id;
SELECT jsonb_agg(v) FROM vault.people_view v;

-- 20. Error messages never print hidden values.
RESET ROLE;
GRANT INSERT ON vault.people TO reader;
SET ROLE reader;
INSERT INTO vault.people (id, name, ssn, region) VALUES (10, 'x', (SELECT ssn FROM vault.people WHERE id = 1), 'EU');
INSERT INTO vault.people (id, name, region) VALUES (1, 'x', 'EU');
INSERT INTO vault.people (id, name, region, note) VALUES (11, 'x', 'EU', repeat('z', 200));
RESET ROLE;
DELETE FROM vault.people WHERE id = 10;
REVOKE INSERT ON vault.people FROM reader;
SET ROLE reader;

-- 21. What pg_dump does as a consumer: COPY (case 3) and, with --inserts,
--     a cursor over SELECT (case 6); with row security off it is refused.
BEGIN;
SET LOCAL row_security = off;
DECLARE d CURSOR FOR SELECT * FROM ONLY vault.people;
ROLLBACK;

-- 22. Publications: only the owning domain may publish its tables.
CREATE PUBLICATION steal FOR TABLE vault.people;

-- 23. Roles that read everything still need a meshpg grant.
RESET ROLE;
GRANT pg_read_all_data TO reader_nogrant;
SET ROLE reader_nogrant;
SELECT id FROM vault.people;
COPY vault.people TO STDOUT;
SELECT id FROM vault.events_us;
SELECT id FROM vault.people_view;
RESET ROLE;
REVOKE pg_read_all_data FROM reader_nogrant;
SET ROLE reader;

-- 24. Aggregates as an inference oracle see masked values only.
SELECT max(ssn), min(note), count(DISTINCT ssn), string_agg(email, ',' ORDER BY email)
  FROM vault.people;
SELECT count(*) FROM vault.people WHERE ssn LIKE 'C%' OR note LIKE 'C%' OR email LIKE 'C%';
SELECT region, count(*) FROM vault.people GROUP BY region;

RESET ROLE;
