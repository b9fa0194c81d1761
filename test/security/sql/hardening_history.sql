--
-- hardening_history: no read of a product escapes the access history, the
-- ring never drops a read by default, governance bookkeeping does not wait
-- on a consumer's lock, and the activity counters of a filtered product
-- tell a consumer nothing about its hidden rows.
--
-- The hidden row of vault.people is id 3 (region US); reader sees EU only.
--

-- 1. Reads set off by a referential-integrity action run with row security
-- in its no-force mode; they used to be left out of the history.  Only the
-- RI query itself is; whatever it sets off is recorded, with its lineage.
SELECT meshpg.flush_access_history() >= 0 AS flushed_earlier_reads;
-- the reads of this file are those after this
SELECT clock_timestamp() AS hh_start \gset
SET ROLE reader;
CREATE TABLE attack.hh_parent (id int PRIMARY KEY);
CREATE TABLE attack.hh_child (id int REFERENCES attack.hh_parent ON DELETE CASCADE, note text);
CREATE TABLE attack.hh_loot (via text, n bigint, names text);
CREATE FUNCTION attack.hh_peek() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO attack.hh_loot SELECT TG_ARGV[0], count(*), string_agg(name, ',' ORDER BY id)
    FROM vault.people;
  RETURN OLD;
END $$;
CREATE TRIGGER hh_peek BEFORE DELETE ON attack.hh_child
    FOR EACH ROW EXECUTE FUNCTION attack.hh_peek('cascade');
INSERT INTO attack.hh_parent VALUES (1);
INSERT INTO attack.hh_child VALUES (1, 'x');
DELETE FROM attack.hh_parent;
-- masked and filtered, as ever
SELECT via, n, names FROM attack.hh_loot ORDER BY via;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT product, role, command, target, rows FROM meshpg.access_history
 WHERE role = 'reader' AND target = 'attack.hh_loot' ORDER BY read_at, statement;
SELECT source, target, kind FROM meshpg.lineage_edges WHERE target = 'attack.hh_loot';

-- The rest of that class: a default an ON UPDATE SET DEFAULT evaluates, a
-- deferred cascade at COMMIT, a function the planner folds while planning
-- the RI query (an immutable default of ON DELETE SET DEFAULT), a
-- deferred constraint trigger, a WITH HOLD cursor kept at COMMIT, and the
-- maintenance commands that run a consumer's function under a restricted
-- security context (REFRESH MATERIALIZED VIEW, CREATE INDEX, ANALYZE).
SET ROLE reader;
CREATE FUNCTION attack.hh_count(via text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO attack.hh_loot SELECT via, count(*), string_agg(name, ',' ORDER BY id)
    FROM vault.people;
  RETURN 0;
END $$;
CREATE TABLE attack.hh_child2 (
    id int DEFAULT attack.hh_count('set default')
        REFERENCES attack.hh_parent ON UPDATE SET DEFAULT);
INSERT INTO attack.hh_parent VALUES (0), (2);
INSERT INTO attack.hh_child2 VALUES (2);
UPDATE attack.hh_parent SET id = 20 WHERE id = 2;
CREATE TABLE attack.hh_child3 (id int REFERENCES attack.hh_parent ON DELETE CASCADE
                                   DEFERRABLE INITIALLY DEFERRED);
CREATE TRIGGER hh_peek BEFORE DELETE ON attack.hh_child3
    FOR EACH ROW EXECUTE FUNCTION attack.hh_peek('deferred cascade');
INSERT INTO attack.hh_parent VALUES (3);
INSERT INTO attack.hh_child3 VALUES (3);
BEGIN;
DELETE FROM attack.hh_parent WHERE id = 3;
COMMIT;
CREATE FUNCTION attack.hh_folded() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
  RETURN attack.hh_count('planner');
END $$;
CREATE TABLE attack.hh_child4 (id int DEFAULT attack.hh_folded()
                                   REFERENCES attack.hh_parent ON DELETE SET DEFAULT);
INSERT INTO attack.hh_parent VALUES (4);
INSERT INTO attack.hh_child4 VALUES (4);
DELETE FROM attack.hh_parent WHERE id = 4;
SELECT id FROM attack.hh_child4;
CREATE FUNCTION attack.hh_constraint() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM attack.hh_count('deferred trigger');
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER hh_late AFTER INSERT ON attack.hh_parent
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION attack.hh_constraint();
INSERT INTO attack.hh_parent VALUES (5);
DROP TRIGGER hh_late ON attack.hh_parent;
BEGIN;
DECLARE hh_cur CURSOR WITH HOLD FOR SELECT name FROM vault.people ORDER BY id;
COMMIT;
FETCH ALL FROM hh_cur;
CLOSE hh_cur;
CREATE FUNCTION attack.hh_immutable(int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
  RETURN $1 + attack.hh_count('maintenance');
END $$;
CREATE MATERIALIZED VIEW attack.hh_mv AS SELECT attack.hh_immutable(1) AS x WITH NO DATA;
REFRESH MATERIALIZED VIEW attack.hh_mv;
CREATE TABLE attack.hh_indexed (x int);
INSERT INTO attack.hh_indexed VALUES (1);
CREATE INDEX hh_idx ON attack.hh_indexed ((attack.hh_immutable(x)));
ANALYZE attack.hh_indexed;
SELECT via, n, names FROM attack.hh_loot WHERE via <> 'cascade' ORDER BY via;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
-- one recorded read for each way the product was read, none missing
SELECT command, target, count(*) AS reads FROM meshpg.access_history
 WHERE role = 'reader' AND product = 'vault.people' AND read_at >= :'hh_start'
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS loot_rows FROM attack.hh_loot;

-- A function that runs inside a parallel worker reads on its own: the
-- worker records it (the leader records only the plan it hands out).
SELECT clock_timestamp() AS hh_par_start \gset
SET ROLE reader;
CREATE FUNCTION attack.hh_par(int) RETURNS bigint STABLE PARALLEL SAFE LANGUAGE plpgsql AS $$
BEGIN RETURN (SELECT count(*) FROM vault.people WHERE id >= $1); END $$;
CREATE TABLE attack.hh_many AS SELECT g FROM generate_series(1, 3) g;
SET force_parallel_mode = on;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SELECT g, attack.hh_par(g) FROM attack.hh_many ORDER BY g;
RESET force_parallel_mode;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT command, count(*) AS reads, sum(rows) AS rows FROM meshpg.access_history
 WHERE role = 'reader' AND product = 'vault.people' AND read_at >= :'hh_par_start'
 GROUP BY 1;

-- 2. A flood cannot make the history lose reads: a full ring makes the
-- reader wait (meshpg.history_overflow = wait), and only the site can
-- choose to drop (test/t/038_history_backpressure.pl floods a small ring).
SHOW meshpg.history_overflow;
SET ROLE reader;
SET meshpg.history_overflow = drop;
RESET ROLE;
SELECT meshpg.flush_access_history() >= 0 AS flushed;
SELECT dropped AS dropped_before FROM meshpg.access_history_stats \gset
SET ROLE reader;
SET meshpg.purpose = 'audit';
DO $$ DECLARE n bigint; BEGIN
  FOR i IN 1..2000 LOOP SELECT count(*) INTO n FROM vault.people WHERE id = 1; END LOOP;
END $$;
RESET meshpg.purpose;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT dropped = :dropped_before AS none_dropped FROM meshpg.access_history_stats;
SELECT count(*) AS flood_reads FROM meshpg.access_history
 WHERE role = 'reader' AND product = 'vault.people' AND purpose = 'audit'
   AND read_at >= :'hh_start';

-- 3. Governance bookkeeping does not wait on a consumer's lock: tag
-- propagation reads the definitions of the consumer's views from the
-- catalog without locking them (specs/governance_locks.spec holds such a
-- lock in another session).  Propagation through a consumer's materialized
-- view still reaches a product built on it.
SET ROLE reader;
CREATE MATERIALIZED VIEW attack.hh_people_mv AS SELECT id, ssn FROM vault.people;
GRANT USAGE ON SCHEMA attack TO vault_team;
GRANT SELECT ON attack.hh_people_mv TO vault_team;
RESET ROLE;
SET ROLE vault_team;
CREATE VIEW vault.hh_from_mv AS SELECT id, ssn FROM attack.hh_people_mv;
SELECT meshpg.register_product('vault', 'hh_from_mv', 'vault.hh_from_mv',
       description => 'Built on a consumer view') IS NOT NULL AS registered;
RESET ROLE;
SELECT product, column_name, tag FROM meshpg.column_tags
 WHERE product = 'vault.hh_from_mv' ORDER BY 2, 3;

-- 4. The activity counters of a filtered product do not move for the reader
-- its row policy filters: a probe by the hidden row's key (id 3), by a
-- sequential or an index scan, through the table, its partitions or a
-- function reopening it mid-scan, leaves pg_stat_xact_user_tables and the
-- pg_stat_get_* functions at zero; the setting is the superuser's.
SET ROLE reader;
SET meshpg.hide_filtered_activity = off;
BEGIN;
SELECT id FROM vault.people WHERE id = 3;
SET LOCAL enable_seqscan = off;
SELECT id FROM vault.people WHERE id = 3;
SELECT id FROM vault.people WHERE ssn = 'x';
SELECT seq_scan, seq_tup_read, idx_scan, idx_tup_fetch, n_tup_ins
  FROM pg_stat_xact_user_tables WHERE relid = 'vault.people'::regclass;
SELECT c.relname, pg_stat_get_xact_numscans(c.oid) AS scans,
       pg_stat_get_xact_tuples_returned(c.oid) AS returned,
       pg_stat_get_xact_tuples_fetched(c.oid) AS fetched
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = 'vault.people'::regclass ORDER BY 1;
SELECT count(*) FROM vault.events WHERE id = 2;
SELECT relname, seq_scan, seq_tup_read FROM pg_stat_xact_user_tables
 WHERE relname LIKE 'events%' ORDER BY 1;
SELECT id, pg_relation_size('vault.people') > 0 AS sized,
       pg_stat_get_xact_tuples_returned('vault.people'::regclass) AS returned
  FROM vault.people ORDER BY id;
-- through the view product: the table behind it keeps its counters too
SELECT id FROM vault.people_view WHERE id = 3;
SELECT seq_scan, seq_tup_read, idx_scan, idx_tup_fetch
  FROM pg_stat_xact_user_tables WHERE relid = 'vault.people'::regclass;
COMMIT;
-- the consumer's own tables are counted as ever
BEGIN;
SELECT count(*) FROM attack.hh_many;
SELECT seq_scan, seq_tup_read FROM pg_stat_xact_user_tables WHERE relid = 'attack.hh_many'::regclass;
COMMIT;
RESET ROLE;
-- turned off by a superuser, the hidden row is counted again: what it hides
SET meshpg.hide_filtered_activity = off;
SET ROLE reader;
BEGIN;
SELECT id FROM vault.people WHERE id = 3;
SELECT seq_scan, seq_tup_read FROM pg_stat_xact_user_tables WHERE relid = 'vault.people'::regclass;
COMMIT;
RESET ROLE;
RESET meshpg.hide_filtered_activity;

-- The shared counters too, when parallel workers scan for the reader: a
-- worker's copy of the plan has no policy marks, it asks the policies.
SET stats_fetch_consistency = none;
SELECT pg_stat_force_next_flush();    -- what this session counted so far
SELECT seq_tup_read AS hh_seq_before FROM pg_stat_user_tables
 WHERE relid = 'vault.people'::regclass \gset
SET ROLE reader;
SET force_parallel_mode = on;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT id FROM vault.people WHERE id = 3;
SELECT id FROM vault.people WHERE name = 'nobody';
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT seq_tup_read - :hh_seq_before AS hidden_reads_counted FROM pg_stat_user_tables
 WHERE relid = 'vault.people'::regclass;
-- and what they would count with the setting off (a superuser's choice)
SET meshpg.hide_filtered_activity = off;
SET ROLE reader;
SELECT id FROM vault.people WHERE id = 3;
SELECT id FROM vault.people WHERE name = 'nobody';
RESET ROLE;
RESET meshpg.hide_filtered_activity;
SELECT pg_stat_force_next_flush();
SELECT seq_tup_read - :hh_seq_before AS reads_counted_when_off FROM pg_stat_user_tables
 WHERE relid = 'vault.people'::regclass;
RESET force_parallel_mode;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET stats_fetch_consistency;

-- 5. A product that is an inheritance child of its domain's internal table
-- is read through that table with no privilege check of its own: the read
-- is recorded for the product all the same (here by its own domain team).
SET ROLE vault_team;
CREATE TABLE vault.hh_base (id int, kind text);
CREATE TABLE vault.hh_kid (extra int) INHERITS (vault.hh_base);
INSERT INTO vault.hh_base VALUES (1, 'base');
INSERT INTO vault.hh_kid VALUES (2, 'kid', 7);
SELECT meshpg.register_product('vault', 'hh_kid', 'vault.hh_kid',
       description => 'A child table') IS NOT NULL AS registered;
SELECT clock_timestamp() AS hh_kid_start \gset
SELECT id FROM vault.hh_base ORDER BY id;
SELECT count(*) FROM ONLY vault.hh_base;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT product, relation, role, columns, rows FROM meshpg.access_history
 WHERE read_at >= :'hh_kid_start' ORDER BY statement;

-- 5b. The same path for a reader the product's policies apply to: the
-- planner expands the child after meshpg has governed the query, so the
-- child's policies would not run.  The domain team's own SQL grant on its
-- internal table does not open a way around them: the read is refused.
SET ROLE vault_team;
INSERT INTO vault.hh_kid VALUES (3, 'hidden-inherited-kind', 8);
SELECT meshpg.tag_column('vault.hh_kid', 'kind', 'confidential') IS NOT NULL AS tagged;
SELECT meshpg.publish('vault.hh_kid', version => '1.0.0') IS NOT NULL AS published;
SELECT meshpg.grant_access('vault.hh_kid', 'reader') IS NOT NULL AS granted;
GRANT SELECT ON vault.hh_base TO reader;
RESET ROLE;
SET ROLE reader;
SELECT id, kind FROM vault.hh_kid ORDER BY id;
SELECT id, kind FROM vault.hh_base ORDER BY id;
SELECT count(*) FROM vault.hh_base;
SELECT id, kind FROM ONLY vault.hh_base ORDER BY id;
RESET ROLE;
SET ROLE vault_team;
REVOKE SELECT ON vault.hh_base FROM reader;
RESET ROLE;
