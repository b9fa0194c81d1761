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
 WHERE role = 'reader' AND product = 'vault.people'
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS loot_rows FROM attack.hh_loot;

-- A function that runs inside a parallel worker reads on its own: the
-- worker records it (the leader records only the plan it hands out).
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
 WHERE role = 'reader' AND product = 'vault.people' AND command = 'SELECT'
 GROUP BY 1;
