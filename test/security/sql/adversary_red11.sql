--
-- adversary_red11: a red team round against a single server after issue 13
-- (walks, EXPLAIN ANALYZE at executor start, access history, activity
-- counters).  The attacker is reader (default privileges, TEMP, a grant);
-- the hidden row of vault.people is id 3 (region US), reader sees EU only.
--

-- 1. Activity counters through a flattened UNION ALL.  The planner makes
-- each arm a child of a subquery entry, above the product: the counters
-- used to be kept from the reader only when the topmost entry was the
-- product, so seq_tup_read counted the hidden row (6 for 4 rows shown).
SET ROLE reader;
SET stats_fetch_consistency = none;
BEGIN;
SELECT id FROM vault.people UNION ALL SELECT id FROM vault.people ORDER BY 1;
SELECT pg_stat_get_xact_tuples_returned('vault.people'::regclass) AS seq_tup_read,
       pg_stat_get_xact_numscans('vault.people'::regclass) AS scans;
-- through an index, under a UNION ALL of two probes by key
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT id FROM vault.people WHERE id = 3 UNION ALL SELECT id FROM vault.people WHERE id = 1;
SELECT pg_stat_get_xact_tuples_fetched('vault.people'::regclass) AS idx_tup_fetch,
       pg_stat_get_xact_numscans('vault.people_pkey'::regclass) AS idx_scans,
       pg_stat_get_xact_tuples_returned('vault.people_pkey'::regclass) AS idx_tup_read;
-- a partitioned product under a UNION ALL with a constant arm
SELECT * FROM (SELECT id FROM vault.events UNION ALL SELECT 0) s ORDER BY 1;
SELECT pg_stat_get_xact_tuples_returned('vault.events_eu'::regclass) AS eu_read,
       pg_stat_get_xact_tuples_returned('vault.events_us'::regclass) AS us_read;
COMMIT;
RESET ROLE;

-- 2. Reads a rule puts into a referential-integrity action.  The RI
-- query itself (the table it locks or writes) is left out of the access
-- history; a consumer's rule on the table a cascade deletes from used to
-- ride along: a DO ALSO action runs in the RI query's place, and a
-- conditional INSTEAD rule's condition joins the RI query, and neither
-- was recorded.  Both are now.
SELECT meshpg.flush_access_history() >= 0 AS flushed_earlier_reads;
SELECT clock_timestamp() AS rd11_start \gset
SET ROLE reader;
CREATE TABLE attack.rd11_parent (id int PRIMARY KEY);
CREATE TABLE attack.rd11_child (id int REFERENCES attack.rd11_parent ON DELETE CASCADE);
CREATE TABLE attack.rd11_child2 (id int REFERENCES attack.rd11_parent ON DELETE CASCADE);
CREATE TABLE attack.rd11_loot (n bigint, names text);
CREATE RULE rd11_also AS ON DELETE TO attack.rd11_child DO ALSO
    INSERT INTO attack.rd11_loot SELECT count(*), string_agg(name, ',' ORDER BY id) FROM vault.people;
CREATE RULE rd11_cond AS ON DELETE TO attack.rd11_child2
    WHERE (SELECT count(*) FROM vault.people) > 5 DO INSTEAD NOTHING;
INSERT INTO attack.rd11_parent VALUES (1), (2);
INSERT INTO attack.rd11_child VALUES (1);
INSERT INTO attack.rd11_child2 VALUES (2);
DELETE FROM attack.rd11_parent;
-- masked and filtered, as ever
SELECT n, names FROM attack.rd11_loot;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT product, role, command, target FROM meshpg.access_history
 WHERE read_at >= :'rd11_start' ORDER BY target;
SELECT source, target, kind FROM meshpg.lineage_edges WHERE target = 'attack.rd11_loot';

-- 3. Buffer usage as an existence oracle.  A probe by key that finds a
-- hidden row reads its heap page; one that finds nothing does not.
-- pg_stat_statements adds up each statement's buffers (and those of the
-- utility statement around it: FETCH), readable by the reader for its own
-- statements: 2 blocks for id 3, 1 for a key that does not exist.
-- Filtered reads now count no buffers, whatever the order of the two
-- libraries.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SET ROLE reader;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
CREATE FUNCTION attack.rd11_blks(pattern text) RETURNS bigint LANGUAGE sql AS
    $$ SELECT coalesce(sum(shared_blks_hit + shared_blks_read + local_blks_hit), 0)::bigint
         FROM pg_stat_statements WHERE query LIKE pattern $$;
-- warm the caches
SELECT id FROM vault.people WHERE id = 1;
SELECT id FROM vault.people WHERE id = 3;
SELECT id FROM vault.people WHERE id = 99;
SELECT attack.rd11_blks('SELECT id FROM vault.people WHERE id = $1') AS b0 \gset
SELECT id FROM vault.people WHERE id = 3;
SELECT attack.rd11_blks('SELECT id FROM vault.people WHERE id = $1') AS b1 \gset
SELECT id FROM vault.people WHERE id = 99;
SELECT attack.rd11_blks('SELECT id FROM vault.people WHERE id = $1') AS b2 \gset
SELECT :b1 - :b0 AS hidden_row_blocks, :b2 - :b1 AS absent_row_blocks;
-- FETCH from a cursor: pg_stat_statements measures the utility statement
BEGIN;
DECLARE rd11_c CURSOR FOR SELECT id FROM vault.people WHERE id = 3;
FETCH ALL FROM rd11_c;
COMMIT;
SELECT attack.rd11_blks('FETCH ALL FROM rd11_c') AS fetch_blocks;
-- a failing probe caught inside a function: the caller's buffers do not move
CREATE FUNCTION attack.rd11_probe(k int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 / (count(*) - count(*))::int FROM vault.people WHERE id = k;
  RETURN 0;
EXCEPTION WHEN division_by_zero THEN RETURN 1;
END $$;
SELECT attack.rd11_probe(3);
SELECT attack.rd11_probe(99);
SELECT attack.rd11_blks('SELECT attack.rd11_probe($1)') AS c0 \gset
SELECT attack.rd11_probe(3);
SELECT attack.rd11_blks('SELECT attack.rd11_probe($1)') AS c1 \gset
SELECT attack.rd11_probe(99);
SELECT attack.rd11_blks('SELECT attack.rd11_probe($1)') AS c2 \gset
SELECT :c1 - :c0 = :c2 - :c1 AS same_blocks_hidden_and_absent;
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET ROLE;

-- 4. A table that inherits from two products.  The walk up finds the
-- first product and governed a direct read of the child as that one only:
-- the second product's redact mask and row filter did not apply to the
-- columns and rows it shares with it (a hand-granted SELECT on the child,
-- as for any partition or child read directly).  Such a read is refused.
SET ROLE vault_team;
CREATE TABLE vault.rd11_a (id int, label text, region text);
CREATE TABLE vault.rd11_b (id int, secret text, region text);
CREATE TABLE vault.rd11_both () INHERITS (vault.rd11_a, vault.rd11_b);
INSERT INTO vault.rd11_both VALUES (1, 'a1', 'EU', upper('canary') || '-MI-1'), (2, 'a2', 'US', upper('canary') || '-MI-ROW-2');
SELECT meshpg.register_product('vault', 'rd11_a', 'vault.rd11_a', description => 'A');
SELECT meshpg.register_product('vault', 'rd11_b', 'vault.rd11_b', description => 'B');
SELECT meshpg.publish('vault.rd11_a', '1.0.0');
SELECT meshpg.publish('vault.rd11_b', '1.0.0');
SELECT meshpg.grant_access('vault.rd11_a', 'reader');
SELECT meshpg.grant_access('vault.rd11_b', 'reader');
SELECT meshpg.tag_column('vault.rd11_b', 'secret', 'confidential');
SELECT meshpg.tag_column('vault.rd11_b', 'region', 'geo.region');
GRANT SELECT ON vault.rd11_both TO reader;
SET ROLE reader;
-- through each product: its own policies
SELECT * FROM vault.rd11_b ORDER BY id;
SELECT id, label FROM vault.rd11_a ORDER BY id;
-- the child directly, also through a view and COPY: refused
SELECT * FROM vault.rd11_both ORDER BY id;
CREATE VIEW attack.rd11_v AS SELECT * FROM vault.rd11_both;
SELECT * FROM attack.rd11_v;
COPY vault.rd11_both TO STDOUT;
RESET ROLE;

-- 5. A row policy that reads a mapping table.  Its subquery runs for the
-- rows the policy is asked about, hidden ones included (a hashed subplan
-- is built when the first row reaches it): the mapping table's scan
-- counter told whether a probe by key met a hidden row.  Every relation a
-- filtered statement reads now counts nothing for it (all but the targets
-- of its writes).  The policy names value inside a correlated EXISTS,
-- which used to fail with an internal error (invalid attnum).
CREATE SCHEMA rd11_maps;
CREATE TABLE rd11_maps.region_map (rolname name, region text);
INSERT INTO rd11_maps.region_map VALUES ('reader', 'EU');
GRANT USAGE ON SCHEMA rd11_maps TO PUBLIC;
GRANT SELECT ON rd11_maps.region_map TO PUBLIC;
SELECT meshpg.create_tag('rd11.mapped');
SELECT meshpg.create_row_policy('rd11_mapped',
       'EXISTS (SELECT 1 FROM rd11_maps.region_map m WHERE m.rolname = current_user AND m.region = value)',
       tag => 'rd11.mapped');
SET ROLE vault_team;
CREATE TABLE vault.rd11_m (id int PRIMARY KEY, region text);
INSERT INTO vault.rd11_m VALUES (1, 'EU'), (2, 'US');
SELECT meshpg.register_product('vault', 'rd11_m', 'vault.rd11_m', description => 'M');
SELECT meshpg.publish('vault.rd11_m', '1.0.0');
SELECT meshpg.grant_access('vault.rd11_m', 'reader');
SELECT meshpg.tag_column('vault.rd11_m', 'region', 'rd11.mapped');
SET ROLE reader;
SET stats_fetch_consistency = none;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT * FROM vault.rd11_m;
BEGIN;
SELECT id FROM vault.rd11_m WHERE id = 2;    -- hidden
SELECT pg_stat_get_xact_numscans('rd11_maps.region_map'::regclass) AS map_scans;
SELECT id FROM vault.rd11_m WHERE id = 99;   -- absent
SELECT pg_stat_get_xact_numscans('rd11_maps.region_map'::regclass) AS map_scans;
-- a join's inner side probed for each row of the product
SELECT m.id FROM vault.rd11_m m JOIN vault.people p ON p.id = m.id WHERE m.id = 2;
SELECT pg_stat_get_xact_numscans('vault.people'::regclass) AS people_scans,
       pg_stat_get_xact_numscans('vault.people_pkey'::regclass) AS pkey_scans;
COMMIT;
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET ROLE;

-- 6. The same oracle from a parallel worker.  A PARALLEL SAFE function run
-- in a worker probes by key; the worker's buffer usage reaches the
-- leader's and pg_stat_statements' totals of the calling statement (one
-- block more for a hidden key than for an absent one).  Filtered
-- statements are now kept out of the totals in workers too, and the
-- executor's EXPLAIN ANALYZE check runs there as well.
SET ROLE reader;
CREATE FUNCTION attack.rd11_wprobe(k int) RETURNS int PARALLEL SAFE LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
  SELECT count(*) INTO n FROM vault.people WHERE id = k;
  RETURN 0;
END $$;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET force_parallel_mode = on;
EXPLAIN (COSTS OFF) SELECT attack.rd11_wprobe(3);
SELECT attack.rd11_wprobe(3);
SELECT attack.rd11_wprobe(99);
SELECT attack.rd11_blks('SELECT attack.rd11_wprobe($1)') AS w0 \gset
SELECT attack.rd11_wprobe(3);
SELECT attack.rd11_blks('SELECT attack.rd11_wprobe($1)') AS w1 \gset
SELECT attack.rd11_wprobe(99);
SELECT attack.rd11_blks('SELECT attack.rd11_wprobe($1)') AS w2 \gset
SELECT :w1 - :w0 = :w2 - :w1 AS same_blocks_hidden_and_absent;
RESET force_parallel_mode;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET ROLE;

-- 7. Function call counts.  With track_functions on (a superuser's
-- choice, often made for monitoring), pg_stat_user_functions and
-- pg_stat_get_xact_function_calls, readable by anyone, count the calls of
-- a PL/pgSQL function a row policy calls, which runs for every row the
-- policy is asked about: a probe by key counted a call for a hidden row
-- and none for an absent one.  Calls made while a filtered plan runs now
-- count nothing.
CREATE FUNCTION rd11_maps.allowed(r text) RETURNS boolean LANGUAGE plpgsql STABLE AS
    $$ BEGIN RETURN r = 'EU'; END $$;
SELECT meshpg.create_tag('rd11.fn');
SELECT meshpg.create_row_policy('rd11_fn', 'rd11_maps.allowed(value)', tag => 'rd11.fn');
SET ROLE vault_team;
CREATE TABLE vault.rd11_f (id int PRIMARY KEY, region text);
INSERT INTO vault.rd11_f VALUES (1, 'EU'), (2, 'US');
SELECT meshpg.register_product('vault', 'rd11_f', 'vault.rd11_f', description => 'F');
SELECT meshpg.publish('vault.rd11_f', '1.0.0');
SELECT meshpg.grant_access('vault.rd11_f', 'reader');
SELECT meshpg.tag_column('vault.rd11_f', 'region', 'rd11.fn');
RESET ROLE;
SET track_functions = 'pl';
SET ROLE reader;
SET stats_fetch_consistency = none;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT * FROM vault.rd11_f;
BEGIN;
SELECT id FROM vault.rd11_f WHERE id = 2;    -- hidden
SELECT coalesce(pg_stat_get_xact_function_calls('rd11_maps.allowed(text)'::regprocedure), 0) AS calls;
SELECT id FROM vault.rd11_f WHERE id = 99;   -- absent
SELECT coalesce(pg_stat_get_xact_function_calls('rd11_maps.allowed(text)'::regprocedure), 0) AS calls;
COMMIT;
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET ROLE;
RESET track_functions;

-- 4b. Read through the second product while the first one filters the
-- reader: the child's rows would come without the first product's row
-- filter.  Refused, saying why (it used to say the parent was no product).
SET ROLE vault_team;
SELECT meshpg.tag_column('vault.rd11_a', 'region', 'geo.region');
SET ROLE reader;
SELECT * FROM vault.rd11_b ORDER BY id;
SELECT id, label FROM vault.rd11_a ORDER BY id;
RESET ROLE;

-- 8. OPEN: the source table behind a foreign-table product on a loopback
-- server.  The remote session reads vault.fdw_people as the user mapping's
-- role, a member of the vault team, for whom nothing is filtered; the row
-- filter travels in its WHERE clause with the reader's key, so its index
-- scan meets a hidden row for a hidden key and none for an absent one.
-- That session's counters are its own (another backend, of a role meshpg
-- does not govern), and pg_stat_get_* are readable by anyone: idx_tup_read
-- of the source table's index moves by one for the hidden key.  meshpg
-- cannot tell in that session whom it reads for.  Keep the source of a
-- foreign-table product on another server, or revoke EXECUTE on the
-- pg_stat_get_* functions from PUBLIC (see doc/enforcement.md).
SET ROLE vault_team;
-- enough rows that the remote planner probes by index
INSERT INTO vault.fdw_people SELECT g, 'filler', 'x', 'x', 'EU', 'x' FROM generate_series(1000, 4000) g;
CREATE INDEX rd11_fdw_people_id ON vault.fdw_people (id);
ANALYZE vault.fdw_people;
RESET ROLE;
SET ROLE reader;
SET stats_fetch_consistency = none;
CREATE FUNCTION attack.rd11_remote_gone() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  -- a closed connection's backend reports its counters as it exits
  PERFORM postgres_fdw_disconnect_all();
  FOR i IN 1 .. 300 LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE usename = 'vault_fdw_login') THEN
      RETURN true;
    END IF;
    PERFORM pg_sleep(0.05);
    PERFORM pg_stat_clear_snapshot();
  END LOOP;
  RETURN false;
END $$;
SELECT attack.rd11_remote_gone();
SELECT pg_stat_get_tuples_returned('vault.rd11_fdw_people_id'::regclass) AS r0 \gset
SELECT id FROM vault.people_remote WHERE id = 3;    -- hidden
SELECT attack.rd11_remote_gone();
SELECT pg_stat_get_tuples_returned('vault.rd11_fdw_people_id'::regclass) AS r1 \gset
SELECT id FROM vault.people_remote WHERE id = 99;   -- absent
SELECT attack.rd11_remote_gone();
SELECT pg_stat_get_tuples_returned('vault.rd11_fdw_people_id'::regclass) AS r2 \gset
SELECT :r1 - :r0 AS hidden_key_idx_tup_read, :r2 - :r1 AS absent_key_idx_tup_read;
RESET ROLE;

-- 9. TOAST.  A row policy that reads a long value (a LIKE in a function
-- it calls) fetches a hidden row's value from the product's TOAST table,
-- which no plan names: its counters (blocks fetched, its index's scans)
-- told that a probe by key met a hidden row.  The TOAST relation and its
-- index of every relation a filtered statement reads are kept too.
CREATE FUNCTION rd11_maps.allowed_like(r text) RETURNS boolean LANGUAGE plpgsql STABLE AS
    $$ BEGIN RETURN r LIKE 'EU%'; END $$;
SELECT meshpg.create_tag('rd11.like');
SELECT meshpg.create_row_policy('rd11_like', 'rd11_maps.allowed_like(value)', tag => 'rd11.like');
SET ROLE vault_team;
CREATE TABLE vault.rd11_t (id int PRIMARY KEY, region text);
ALTER TABLE vault.rd11_t ALTER region SET STORAGE EXTERNAL;
INSERT INTO vault.rd11_t VALUES (1, 'EU'), (2, 'US' || repeat('x', 5000));
SELECT meshpg.register_product('vault', 'rd11_t', 'vault.rd11_t', description => 'T');
SELECT meshpg.publish('vault.rd11_t', '1.0.0');
SELECT meshpg.grant_access('vault.rd11_t', 'reader');
SELECT meshpg.tag_column('vault.rd11_t', 'region', 'rd11.like');
RESET ROLE;
SET ROLE reader;
SET stats_fetch_consistency = none;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT reltoastrelid AS rd11_toast FROM pg_class WHERE oid = 'vault.rd11_t'::regclass \gset
SELECT indexrelid AS rd11_toast_idx FROM pg_index WHERE indrelid = :rd11_toast \gset
SELECT id, length(region) FROM vault.rd11_t;
BEGIN;
SELECT coalesce(pg_stat_get_xact_blocks_fetched(:rd11_toast), 0) AS tb0,
       coalesce(pg_stat_get_xact_numscans(:rd11_toast_idx), 0) AS ts0 \gset
SELECT id FROM vault.rd11_t WHERE id = 2;    -- hidden
SELECT coalesce(pg_stat_get_xact_blocks_fetched(:rd11_toast), 0) AS tb1,
       coalesce(pg_stat_get_xact_numscans(:rd11_toast_idx), 0) AS ts1 \gset
-- a failing statement in a savepoint, then another: nothing comes back
SAVEPOINT s;
SELECT id, 1 / (id - 1) FROM vault.rd11_t;
ROLLBACK TO s;
SELECT id FROM vault.rd11_t WHERE id = 99;   -- absent
SELECT coalesce(pg_stat_get_xact_blocks_fetched(:rd11_toast), 0) AS tb2,
       coalesce(pg_stat_get_xact_numscans(:rd11_toast_idx), 0) AS ts2 \gset
SELECT :tb1 - :tb0 AS hidden_toast_blocks, :ts1 - :ts0 AS hidden_toast_idx_scans,
       :tb2 - :tb1 AS absent_toast_blocks, :ts2 - :ts1 AS absent_toast_idx_scans;
COMMIT;
RESET enable_seqscan;
RESET enable_bitmapscan;
RESET ROLE;
