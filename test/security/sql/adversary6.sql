--
-- adversary6: the sixth red-team round: SLOs, lineage, tag propagation and
-- the access history as leak or escalation paths.  Actors: reader (a
-- consumer with a grant), reader_nogrant, the vault domain's team and the
-- governance team.  As in vectors.sql, this file never writes the word the
-- make target looks for.
--
RESET ROLE;
SET compute_query_id = off;
\set VERBOSITY terse

-- 1. Tag propagation through set operations.  The output column of a
-- UNION names its leftmost arm only; the tags of every arm must reach the
-- derived product, else a table the domain team derives holds raw values
-- that no mask covers (the domain team reads its own product unmasked).
SET ROLE vault_team;
CREATE TABLE vault.adv6_union AS
    SELECT name AS u FROM vault.people WHERE id < 3
    UNION ALL SELECT ssn FROM vault.people WHERE id < 3;
CREATE VIEW vault.adv6_setops AS
    SELECT name AS u FROM vault.people
    UNION (SELECT email FROM vault.people INTERSECT SELECT note FROM vault.people ORDER BY 1 LIMIT 5);
CREATE TABLE vault.adv6_rec AS
    WITH RECURSIVE r(n, v) AS (SELECT 1, name FROM vault.people
                               UNION ALL SELECT n + 1, ssn FROM r JOIN vault.people ON true WHERE n < 2)
    SELECT v FROM r;
SELECT meshpg.register_product('vault', 'adv6_union', 'vault.adv6_union', description => 'Round six');
SELECT meshpg.register_product('vault', 'adv6_setops', 'vault.adv6_setops', description => 'Round six');
SELECT meshpg.register_product('vault', 'adv6_rec', 'vault.adv6_rec', description => 'Round six');
SELECT meshpg.publish('vault.adv6_union', '1.0.0');
SELECT meshpg.grant_access('vault.adv6_union', 'reader');
RESET ROLE;
SELECT p.name AS product, ct.column_name, string_agg(t.name, ',' ORDER BY t.name) AS tags
  FROM meshpg.cat_column_tag ct
  JOIN meshpg.cat_product p ON p.id = ct.product_id
  JOIN meshpg.cat_tag t ON t.id = ct.tag_id
 WHERE p.name LIKE 'adv6%' GROUP BY 1, 2 ORDER BY 1, 2;
SET ROLE reader;
SELECT u FROM vault.adv6_union ORDER BY u;          -- names, and the ssn mask
RESET ROLE;

-- 2. A derivation deeper than lineage follows: fail safe, every column the
-- statement reads, rather than none.
SET ROLE vault_team;
DO $$
DECLARE q text := 'SELECT ssn AS x FROM vault.people';
BEGIN
    FOR i IN 1..40 LOOP
        q := format('SELECT x FROM (%s) s%s', q, i);
    END LOOP;
    EXECUTE 'CREATE VIEW vault.adv6_deep AS ' || q;
    EXECUTE 'CREATE TABLE vault.adv6_deep_t AS ' || q;
END $$;
SELECT meshpg.register_product('vault', 'adv6_deep', 'vault.adv6_deep', description => 'Round six');
SELECT meshpg.register_product('vault', 'adv6_deep_t', 'vault.adv6_deep_t', description => 'Round six');
RESET ROLE;
SELECT p.name AS product, ct.column_name, string_agg(t.name, ',' ORDER BY t.name) AS tags
  FROM meshpg.cat_column_tag ct
  JOIN meshpg.cat_product p ON p.id = ct.product_id
  JOIN meshpg.cat_tag t ON t.id = ct.tag_id
 WHERE p.name LIKE 'adv6_deep%' GROUP BY 1, 2 ORDER BY 1, 2;

-- 3. The SLO views filter by what the reader may read; a reader's own
-- cheap function must not see the rows of products it may not read (the
-- views are not declared security_barrier: the planner hook makes them so).
SET ROLE vault_team;
SELECT meshpg.declare_slo('vault.adv6_setops', 'adv6_hidden', 'volume', '{"min_rows": 1}');
SELECT meshpg.declare_slo('vault.adv6_setops', 'adv6_broken', 'validity',
                          '{"expression": "u::int > 0", "min_ratio": 1}');
SELECT slo, value, met FROM meshpg.evaluate('vault.adv6_setops') ORDER BY slo;
SELECT meshpg.declare_slo('vault.adv6_union', 'adv6_broken', 'validity',
                          '{"expression": "u::int > 0", "min_ratio": 1}');
SELECT slo, value, met FROM meshpg.evaluate('vault.adv6_union') ORDER BY slo;
RESET ROLE;
CREATE FUNCTION public.adv6_peek(slo text, v text) RETURNS boolean COST 0.0000001 LANGUAGE plpgsql
    AS $$ BEGIN IF slo LIKE '%adv6%' THEN RAISE NOTICE 'peek => % %', slo, v; END IF; RETURN true; END $$;
SET ROLE reader;
SELECT count(*) FROM meshpg.slo_status WHERE adv6_peek(product || '/' || slo, value::text);
SELECT count(*) FROM meshpg.slo_results WHERE adv6_peek(product || '/' || slo, value::text || detail::text);
SELECT count(*) FROM meshpg.slo_metrics WHERE adv6_peek(product || '/' || slo || '/' || metric, value::text);
-- a measure's error message is the domain's: others read that it failed
SELECT product, slo, error FROM meshpg.slo_results WHERE slo LIKE 'adv6%' ORDER BY 1, 2;
SELECT product, slo, last_error FROM meshpg.slo_status WHERE slo LIKE 'adv6%' ORDER BY 1, 2;
-- and a consumer neither measures nor declares
SELECT * FROM meshpg.evaluate('vault.adv6_union');
SELECT meshpg.declare_slo('vault.adv6_union', 'adv6_mine', 'custom',
                          '{"query": "SELECT 1", "threshold": 1}');
RESET ROLE;

-- 4. The access history: not switched off, flushed or read by a consumer.
SET ROLE reader;
SET meshpg.history = off;
ALTER ROLE reader SET meshpg.history = off;
SELECT meshpg.flush_access_history();
SELECT count(*) FROM meshpg._access_batches;
SELECT count(*) FROM meshpg.cat_access_batch;
SELECT count(*) FROM meshpg.access_history;
SELECT meshpg.declassify('vault.adv6_union', 'u', 'pii.ssn', 'mine now');
RESET ROLE;
SET ROLE vault_team;
SELECT meshpg.declassify('vault.adv6_union', 'u', 'pii.ssn', 'ours');
RESET ROLE;

-- clean up
SET ROLE vault_team;
SELECT meshpg.revoke_access('vault.adv6_union', 'reader');
RESET ROLE;
DROP FUNCTION public.adv6_peek(text, text);
