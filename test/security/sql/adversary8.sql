--
-- adversary8: the eighth red-team round: relations built from a tagged
-- column by writes whose lineage used to go unrecorded, registered as
-- products and read by a granted consumer; and a cursor that fails in a
-- savepoint.  Actors: reader (a consumer with a grant), the vault domain's
-- team and the governance team.  As in vectors.sql, this file never writes
-- the word the make target looks for.
--
RESET ROLE;
SET compute_query_id = off;
\set VERBOSITY terse

SET ROLE vault_team;
-- 1. A data-modifying CTE under a SELECT, and one fed by a sibling CTE.
CREATE TABLE vault.adv8_cte (id int, ssn text);
WITH w AS (INSERT INTO vault.adv8_cte SELECT id, ssn FROM vault.people RETURNING 1)
SELECT count(*) FROM w;
CREATE TABLE vault.adv8_cte2 (id int, ssn text);
WITH s AS (SELECT id, ssn FROM vault.people),
     w AS (INSERT INTO vault.adv8_cte2 SELECT * FROM s RETURNING id)
SELECT count(*) FROM w;
-- 2. A data-modifying CTE's RETURNING feeding the statement's own write:
-- the second table derives from the first, which derives from people.
CREATE TABLE vault.adv8_ret_a (id int, ssn text);
CREATE TABLE vault.adv8_ret_b (id int, social text);
WITH w AS (INSERT INTO vault.adv8_ret_a SELECT id, ssn FROM vault.people RETURNING id, ssn)
INSERT INTO vault.adv8_ret_b SELECT id, ssn FROM w;
-- 3. A backfill through a scalar sublink: UPDATE ... SET, and INSERT ... VALUES.
CREATE TABLE vault.adv8_upd (id int, ssn text);
INSERT INTO vault.adv8_upd SELECT g, NULL FROM generate_series(1, 3) g;
UPDATE vault.adv8_upd t SET ssn = (SELECT p.ssn FROM vault.people p WHERE p.id = t.id);
CREATE TABLE vault.adv8_val (id int, ssn text);
INSERT INTO vault.adv8_val VALUES (1, (SELECT ssn FROM vault.people WHERE id = 1));
-- 4. A partitioned product loaded through its partition, one loaded by
-- attaching a table filled before, and an inheritance child.
CREATE TABLE vault.adv8_part (id int, ssn text, region text) PARTITION BY LIST (region);
CREATE TABLE vault.adv8_part_eu PARTITION OF vault.adv8_part FOR VALUES IN ('EU');
INSERT INTO vault.adv8_part_eu SELECT id, ssn, region FROM vault.people WHERE region = 'EU';
CREATE TABLE vault.adv8_part_us (id int, ssn text, region text);
INSERT INTO vault.adv8_part_us SELECT id, ssn, region FROM vault.people WHERE region = 'US';
CREATE TABLE vault.adv8_inh (id int, ssn text);
CREATE TABLE vault.adv8_inh_child () INHERITS (vault.adv8_inh);
INSERT INTO vault.adv8_inh_child SELECT id, ssn FROM vault.people;
DO $$ DECLARE r text; BEGIN
  FOREACH r IN ARRAY ARRAY['cte', 'cte2', 'ret_b', 'upd', 'val', 'part', 'inh'] LOOP
    PERFORM meshpg.register_product('vault', 'adv8_' || r, 'vault.adv8_' || r, description => 'Round eight');
    PERFORM meshpg.publish('vault.adv8_' || r, '1.0.0');
    PERFORM meshpg.grant_access('vault.adv8_' || r, 'reader');
  END LOOP; END $$;
-- attached after registration: the partition's rows join the product
ALTER TABLE vault.adv8_part ATTACH PARTITION vault.adv8_part_us FOR VALUES IN ('US');
RESET ROLE;
SELECT product, column_name, tag FROM meshpg.column_tags
 WHERE product LIKE 'vault.adv8%' AND column_name IN ('ssn', 'social') ORDER BY 1, 2, 3;
SELECT source, target, kind, columns FROM meshpg.lineage_edges
 WHERE target LIKE 'vault.adv8%' ORDER BY 1, 2, 3;

-- 5. The consumer reads every one of them masked.
SET ROLE reader;
SELECT 'cte' AS p, id, ssn FROM vault.adv8_cte
UNION ALL SELECT 'cte2', id, ssn FROM vault.adv8_cte2
UNION ALL SELECT 'ret_b', id, social FROM vault.adv8_ret_b
UNION ALL SELECT 'upd', id, ssn FROM vault.adv8_upd
UNION ALL SELECT 'val', id, ssn FROM vault.adv8_val
UNION ALL SELECT 'part', id, ssn FROM vault.adv8_part
UNION ALL SELECT 'inh', id, ssn FROM vault.adv8_inh
ORDER BY 1, 2;
RESET ROLE;

-- 6. A cursor whose FETCH fails in a savepoint (here and in PL/pgSQL) is
-- recorded incomplete, with the rows it returned before: it used to stay
-- open until commit and be recorded complete.
SELECT meshpg.flush_access_history() >= 0 AS flushed_earlier_reads;
SELECT clock_timestamp() AS adv8_t0 \gset
SET ROLE reader;
-- the second row fetched fails, whichever it is
CREATE TEMP SEQUENCE adv8_s1;
CREATE TEMP SEQUENCE adv8_s2;
BEGIN;
DECLARE c CURSOR FOR SELECT id, 10 / (2 - nextval('adv8_s1')) AS q FROM vault.people;
FETCH 1 FROM c;
SAVEPOINT s;
FETCH 1 FROM c;
ROLLBACK TO s;
CLOSE c;
SELECT count(*) FROM generate_series(1, 5);
COMMIT;
DO $$
DECLARE
  c CURSOR FOR SELECT name, 10 / (2 - nextval('adv8_s2')) AS q FROM vault.people;
  r record;
BEGIN
  OPEN c;
  FETCH c INTO r;
  BEGIN
    FETCH c INTO r;
  EXCEPTION WHEN division_by_zero THEN
    RAISE NOTICE 'second fetch failed';
  END;
  CLOSE c;
END $$;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT product, role, columns, rows, complete FROM meshpg.access_history
 WHERE product = 'vault.people' AND read_at >= :'adv8_t0' ORDER BY statement;

-- 7. Through tables that are not products: a staging table loaded from the
-- product, then copied on by INSERT ... SELECT, CREATE TABLE AS and a
-- data-modifying CTE, none of which reads a product itself.  A copy of a
-- table that holds no product values records no lineage.
SET ROLE vault_team;
CREATE TABLE vault.adv8_stage1 (id int, ssn text);
INSERT INTO vault.adv8_stage1 SELECT id, ssn FROM vault.people;
CREATE TABLE vault.adv8_stage2 AS SELECT id, ssn AS social FROM vault.adv8_stage1;
CREATE TABLE vault.adv8_chain (id int, tax_id text);
INSERT INTO vault.adv8_chain SELECT id, social FROM vault.adv8_stage2;
CREATE TABLE vault.adv8_chain_cte (id int, tax_id text);
WITH w AS (INSERT INTO vault.adv8_chain_cte SELECT id, ssn FROM vault.adv8_stage1 RETURNING 1)
SELECT count(*) FROM w;
-- A partitioned staging table: loaded through a partition and through its
-- parent, then read through the other.
CREATE TABLE vault.adv8_pstage (id int, ssn text, region text) PARTITION BY LIST (region);
CREATE TABLE vault.adv8_pstage_eu PARTITION OF vault.adv8_pstage FOR VALUES IN ('EU');
CREATE TABLE vault.adv8_pstage_us PARTITION OF vault.adv8_pstage FOR VALUES IN ('US');
INSERT INTO vault.adv8_pstage_eu SELECT id, ssn, region FROM vault.people WHERE region = 'EU';
INSERT INTO vault.adv8_pstage SELECT id, ssn, region FROM vault.people WHERE region = 'US';
CREATE TABLE vault.adv8_from_parent (id int, tax_id text);
INSERT INTO vault.adv8_from_parent SELECT id, ssn FROM vault.adv8_pstage WHERE region = 'EU';
CREATE TABLE vault.adv8_from_child (id int, tax_id text);
INSERT INTO vault.adv8_from_child SELECT id, ssn FROM vault.adv8_pstage_us;
CREATE TABLE vault.adv8_plain (id int, note text);
INSERT INTO vault.adv8_plain VALUES (1, 'plain');
CREATE TABLE vault.adv8_plain2 AS SELECT * FROM vault.adv8_plain;
INSERT INTO vault.adv8_plain2 SELECT * FROM vault.adv8_plain;
DO $$ DECLARE r text; BEGIN
  FOREACH r IN ARRAY ARRAY['chain', 'chain_cte', 'from_parent', 'from_child'] LOOP
    PERFORM meshpg.register_product('vault', 'adv8_' || r, 'vault.adv8_' || r, description => 'Round eight');
    PERFORM meshpg.publish('vault.adv8_' || r, '1.0.0');
    PERFORM meshpg.grant_access('vault.adv8_' || r, 'reader');
  END LOOP; END $$;
RESET ROLE;
SELECT product, column_name, tag FROM meshpg.column_tags
 WHERE product IN ('vault.adv8_chain', 'vault.adv8_chain_cte', 'vault.adv8_from_parent',
                   'vault.adv8_from_child') ORDER BY 1, 2, 3;
SELECT source, target, kind, columns FROM meshpg.lineage_edges
 WHERE target IN ('vault.adv8_stage2', 'vault.adv8_chain', 'vault.adv8_chain_cte',
                  'vault.adv8_plain2') ORDER BY 1, 2, 3;
SET ROLE reader;
SELECT 'chain' AS p, id, tax_id FROM vault.adv8_chain
UNION ALL SELECT 'chain_cte', id, tax_id FROM vault.adv8_chain_cte
UNION ALL SELECT 'from_parent', id, tax_id FROM vault.adv8_from_parent
UNION ALL SELECT 'from_child', id, tax_id FROM vault.adv8_from_child
ORDER BY 1, 2;
RESET ROLE;

-- 8. DELETE ... USING a product: it builds nothing, so it records no
-- lineage (it used to fail, recording an edge of a kind the catalog
-- refuses), and it is in the access history as a DELETE.
SET ROLE vault_team;
CREATE TABLE vault.adv8_del (id int);
INSERT INTO vault.adv8_del VALUES (1), (99);
DELETE FROM vault.adv8_del d USING vault.people p WHERE d.id = p.id;
SELECT id FROM vault.adv8_del;
RESET ROLE;
SELECT count(*) AS edges FROM meshpg.lineage_edges WHERE target = 'vault.adv8_del';
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT product, command, target FROM meshpg.access_history
 WHERE target = 'vault.adv8_del';
