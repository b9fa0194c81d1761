--
-- slo_evaluate: every kind measured in one pass, the edges (empty, all
-- NULL, NaN and infinity, huge numbers, partitioned and view products),
-- history, status, metrics, rights, and SLO-gated reads.
-- (Uses the roles of slo_declare.)
--
SHOW meshpg.slo_gate;
CREATE ROLE regress_slo_reader;
SELECT meshpg.create_domain('lab', 'regress_slo_team', 'Measurements');

SET ROLE regress_slo_team;
CREATE TABLE lab.items (
    id      int PRIMARY KEY,
    sku     text,
    color   text,
    price   numeric,
    ratio   float8,
    made_at timestamptz
);
-- 100 rows: color NULL on 4, price NULL on 10 and negative on 5, sku with
-- 3 extra copies, made up to 99 minutes ago.
INSERT INTO lab.items
SELECT g,
       'sku-' || CASE WHEN g > 97 THEN 1 ELSE g END,
       CASE WHEN g % 25 = 0 THEN NULL ELSE 'red' END,
       CASE WHEN g % 10 = 0 THEN NULL WHEN g % 20 = 1 THEN -g ELSE g END,
       g / 100.0,
       now() - (g - 1) * interval '1 minute'
  FROM generate_series(1, 100) g;
CREATE TABLE lab.empty (id int, v text, at timestamptz);
CREATE TABLE lab.nulls (id int, v text);
INSERT INTO lab.nulls SELECT g, NULL FROM generate_series(1, 10) g;
CREATE TABLE lab.odd (id int, x float8, n numeric);
INSERT INTO lab.odd VALUES (1, 'NaN', 'NaN'), (2, 'Infinity', 'Infinity'), (3, '-Infinity', 1e300), (4, 0, -1);
CREATE TABLE lab.parts (id int, region text, v int, PRIMARY KEY (id, region)) PARTITION BY LIST (region);
CREATE TABLE lab.parts_eu PARTITION OF lab.parts FOR VALUES IN ('eu');
CREATE TABLE lab.parts_us PARTITION OF lab.parts FOR VALUES IN ('us');
CREATE VIEW lab.red_items AS SELECT id, sku, price, made_at FROM lab.items WHERE color = 'red';
CREATE TABLE lab.secret (v int);
REVOKE ALL ON lab.secret FROM regress_slo_team;
RESET ROLE;

SET ROLE regress_slo_dev;
SELECT meshpg.register_product('lab', 'items', 'lab.items', description => 'Items');
SELECT meshpg.register_product('lab', 'empty', 'lab.empty');
SELECT meshpg.register_product('lab', 'nulls', 'lab.nulls');
SELECT meshpg.register_product('lab', 'odd', 'lab.odd');
SELECT meshpg.register_product('lab', 'parts', 'lab.parts');
SELECT meshpg.register_product('lab', 'red_items', 'lab.red_items');

SELECT meshpg.declare_slo('lab.items', 'fresh', 'freshness', '{"column": "made_at", "max_age": "1 hour"}');
SELECT meshpg.declare_slo('lab.items', 'color_complete', 'completeness', '{"columns": ["color"], "min_ratio": 0.95}');
SELECT meshpg.declare_slo('lab.items', 'both_complete', 'completeness', '{"columns": ["color", "price"], "min_ratio": 0.95}');
SELECT meshpg.declare_slo('lab.items', 'price_valid', 'validity', '{"expression": "price >= 0", "min_ratio": 0.8}');
SELECT meshpg.declare_slo('lab.items', 'ratio_valid', 'validity', '{"expression": "ratio BETWEEN 0 AND 1", "min_ratio": 1}');
SELECT meshpg.declare_slo('lab.items', 'id_unique', 'uniqueness', '{"columns": ["id"]}');
SELECT meshpg.declare_slo('lab.items', 'sku_unique', 'uniqueness', '{"columns": ["sku"]}');
SELECT meshpg.declare_slo('lab.items', 'sku_color_unique', 'uniqueness', '{"columns": ["sku", "color"], "max_duplicates": 3}');
SELECT meshpg.declare_slo('lab.items', 'rows', 'volume', '{"min_rows": 50, "max_rows": 200, "max_change_pct": 10}');
SELECT meshpg.declare_slo('lab.items', 'cheap', 'custom', '{"query": "SELECT avg(price) FROM lab.items", "op": "<=", "threshold": 100}');

-- One pass measures them all (the uniqueness of id, which the primary key
-- guarantees, costs nothing); freshness by column is within the hour.
SELECT slo, kind, CASE WHEN slo = 'fresh' THEN NULL ELSE value END AS value,
       target, objective, met, error,
       CASE WHEN slo = 'fresh' THEN detail - 'newest' ELSE detail END AS detail
  FROM meshpg.evaluate('lab.items') ORDER BY slo;
-- (the newest row was made when the suite inserted it)
SELECT value >= 0 AND value < 120 AS age_under_two_minutes
  FROM meshpg.evaluate('lab.items') WHERE slo = 'fresh';

-- The scan-based measures are folded into one query: one evaluation adds
-- one scan of the table for all of them (and one for the custom query).
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT seq_scan AS before FROM pg_stat_user_tables WHERE relid = 'lab.items'::regclass \gset
SET ROLE regress_slo_dev;
SELECT count(*) FROM meshpg.evaluate('lab.items');
RESET ROLE;
SELECT pg_stat_force_next_flush();
SELECT seq_scan - :before AS scans FROM pg_stat_user_tables WHERE relid = 'lab.items'::regclass;
SET ROLE regress_slo_dev;

-- Volume against the previous measurement: 100 -> 115 rows is +15%.
SET ROLE regress_slo_team;
INSERT INTO lab.items SELECT g, 'sku-' || g, 'red', 1, 0.5, now() FROM generate_series(101, 115) g;
SET ROLE regress_slo_dev;
SELECT slo, value, met, detail FROM meshpg.evaluate('lab.items') WHERE slo = 'rows';
SELECT slo, value, met, detail FROM meshpg.evaluate('lab.items') WHERE slo = 'rows';

-- Freshness by last change: meshpg saw the INSERT commit; a rolled-back
-- write, or one in a rolled-back savepoint, is not a change.
SELECT meshpg.declare_slo('lab.items', 'changed', 'freshness', '{"max_age": "1 hour"}');
SELECT meshpg.last_change('lab.items') > now() - interval '1 minute' AS tracked;
SELECT slo, met, detail ? 'last_change' AS has_last_change FROM meshpg.evaluate('lab.items') WHERE slo = 'changed';
SELECT meshpg.declare_slo('lab.nulls', 'changed', 'freshness', '{"max_age": "1 hour"}');
SELECT meshpg.last_change('lab.nulls');
SET ROLE regress_slo_team;
BEGIN;
INSERT INTO lab.nulls VALUES (11, NULL);
ROLLBACK;
BEGIN;
SAVEPOINT s;
UPDATE lab.nulls SET v = NULL;
ROLLBACK TO SAVEPOINT s;
DELETE FROM lab.nulls WHERE id = 12345;    -- no row: no change
COMMIT;
SET ROLE regress_slo_dev;
SELECT meshpg.last_change('lab.nulls');
SELECT slo, value, met, error FROM meshpg.evaluate('lab.nulls') WHERE slo = 'changed';
SET ROLE regress_slo_team;
BEGIN;
SAVEPOINT s;
UPDATE lab.nulls SET v = NULL WHERE id = 1;
RELEASE SAVEPOINT s;
COMMIT;
SET ROLE regress_slo_dev;
SELECT meshpg.last_change('lab.nulls') IS NOT NULL AS tracked;
SELECT meshpg.drop_slo('lab.nulls', 'changed');

-- Edges: an empty relation, an all-NULL column.
SELECT meshpg.declare_slo('lab.empty', 'fresh', 'freshness', '{"column": "at", "max_age": "1 hour"}');
SELECT meshpg.declare_slo('lab.empty', 'complete', 'completeness', '{"columns": ["v"], "min_ratio": 0.99}');
SELECT meshpg.declare_slo('lab.empty', 'valid', 'validity', '{"expression": "v <> ''''", "min_ratio": 0.99}');
SELECT meshpg.declare_slo('lab.empty', 'unique', 'uniqueness', '{"columns": ["v"]}');
SELECT meshpg.declare_slo('lab.empty', 'rows', 'volume', '{"min_rows": 1}');
SELECT meshpg.declare_slo('lab.empty', 'custom', 'custom', '{"query": "SELECT max(id) FROM lab.empty", "threshold": 0}');
SELECT slo, value, target, met, error, detail FROM meshpg.evaluate('lab.empty') ORDER BY slo;
SELECT meshpg.declare_slo('lab.nulls', 'complete', 'completeness', '{"columns": ["v"], "min_ratio": 0.5}');
SELECT meshpg.declare_slo('lab.nulls', 'valid', 'validity', '{"expression": "v = ''x''", "min_ratio": 0.5}');
SELECT meshpg.declare_slo('lab.nulls', 'unique', 'uniqueness', '{"columns": ["v"]}');
SELECT slo, value, met, detail FROM meshpg.evaluate('lab.nulls') ORDER BY slo;

-- Edges: NaN, infinities and numbers no float holds.
SELECT meshpg.declare_slo('lab.odd', 'x_valid', 'validity', '{"expression": "x >= 0", "min_ratio": 0.5}');
SELECT meshpg.declare_slo('lab.odd', 'nan', 'custom', '{"query": "SELECT ''NaN''::float8", "op": ">=", "threshold": 0}');
SELECT meshpg.declare_slo('lab.odd', 'nan_ne', 'custom', '{"query": "SELECT ''NaN''::numeric", "op": "<>", "threshold": 0}');
SELECT meshpg.declare_slo('lab.odd', 'inf', 'custom', '{"query": "SELECT ''Infinity''::float8", "op": ">", "threshold": 1e308}');
SELECT meshpg.declare_slo('lab.odd', 'huge', 'custom', '{"query": "SELECT 1e400::numeric * 10", "op": ">", "threshold": 1e400}');
SELECT meshpg.declare_slo('lab.odd', 'tiny', 'custom', '{"query": "SELECT min(n) FROM lab.odd", "op": "=", "threshold": -1}');
SELECT slo,
       CASE WHEN length(value::text) > 20 THEN length(value::text) || ' digits' ELSE value::text END AS value,
       CASE WHEN length(target::text) > 20 THEN length(target::text) || ' digits' ELSE target::text END AS target,
       met, error, detail
  FROM meshpg.evaluate('lab.odd') ORDER BY slo;

-- A failing check is recorded as an error, and the others go on: a
-- division by zero on some row sinks only its own SLO, and a custom query
-- the domain may not run fails alone.
SELECT meshpg.declare_slo('lab.odd', 'div', 'validity', '{"expression": "1 / (id - 4) > 0", "min_ratio": 0.5}');
SELECT meshpg.declare_slo('lab.odd', 'secret', 'custom', '{"query": "SELECT count(*) FROM lab.secret", "threshold": 0}');
SELECT slo, value, met, error FROM meshpg.evaluate('lab.odd') WHERE slo IN ('div', 'secret', 'x_valid') ORDER BY slo;

-- A partitioned product: writes to a partition count for the product, a
-- primary key on the partitioned table guarantees uniqueness, approximate
-- volume reads the statistics of the partitions.
SELECT meshpg.declare_slo('lab.parts', 'changed', 'freshness', '{"max_age": "1 hour"}');
SELECT meshpg.declare_slo('lab.parts', 'unique', 'uniqueness', '{"columns": ["id", "region"]}');
SELECT meshpg.declare_slo('lab.parts', 'v_complete', 'completeness', '{"columns": ["v"], "min_ratio": 0.6}');
SELECT meshpg.declare_slo('lab.parts', 'rows', 'volume', '{"min_rows": 1}');
SELECT meshpg.declare_slo('lab.parts', 'rows_approx', 'volume', '{"min_rows": 1, "approximate": true}');
SELECT slo, value, met, error, detail FROM meshpg.evaluate('lab.parts') ORDER BY slo;
SET ROLE regress_slo_team;
INSERT INTO lab.parts_eu SELECT g, 'eu', CASE WHEN g % 2 = 0 THEN g END FROM generate_series(1, 30) g;
INSERT INTO lab.parts SELECT g, 'us', g FROM generate_series(1, 20) g;
ANALYZE lab.parts;
SET ROLE regress_slo_dev;
SELECT slo, CASE WHEN slo = 'changed' THEN value < 60 END AS within_a_minute,
       CASE WHEN slo <> 'changed' THEN value END AS value,
       met, error, detail - 'last_change' AS detail
  FROM meshpg.evaluate('lab.parts') ORDER BY slo;

-- A view product: measured through the view, like any reader.
SELECT meshpg.declare_slo('lab.red_items', 'fresh', 'freshness', '{"column": "made_at", "max_age": "3 hours"}');
SELECT meshpg.declare_slo('lab.red_items', 'price_complete', 'completeness', '{"columns": ["price"], "min_ratio": 0.9}');
SELECT meshpg.declare_slo('lab.red_items', 'sku_unique', 'uniqueness', '{"columns": ["sku"]}');
SELECT slo, value, met, error, detail - 'newest' AS detail FROM meshpg.evaluate('lab.red_items') WHERE slo <> 'fresh' ORDER BY slo;
SELECT slo, met FROM meshpg.evaluate('lab.red_items') WHERE slo = 'fresh';

-- Evaluation runs with the domain's rights, whoever asks: a row policy
-- that the domain is exempt from, but the governance team is not, does not
-- thin what the governance team's evaluation measures (115 rows, 96 with a
-- color); nor does a purpose the caller set.
RESET ROLE;
SET ROLE regress_slo_gov;
SELECT meshpg.create_row_policy('cheap_only', 'price < 10', product => 'lab.items');
SELECT slo, value FROM meshpg.evaluate('lab.items') WHERE slo IN ('rows', 'color_complete') ORDER BY slo;
SELECT meshpg.drop_policy('cheap_only');
SELECT current_user AS back_to;
RESET ROLE;

-- History, status, metrics.
SELECT slo, count(*) AS results, count(*) FILTER (WHERE met) AS met,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors
  FROM meshpg.slo_results WHERE product = 'lab.items' GROUP BY slo ORDER BY slo;
SELECT slo, kind, severity, met, runs, errors, attainment, attainment_objective,
       error_budget_remaining, last_breach IS NOT NULL AS breached_once, last_error
  FROM meshpg.slo_status WHERE product = 'lab.items' ORDER BY slo;
SELECT metric, count(*) FROM meshpg.slo_metrics WHERE product = 'lab.items' GROUP BY metric ORDER BY metric;
SELECT metric, value FROM meshpg.slo_metrics
 WHERE product = 'lab.items' AND slo = 'color_complete' AND metric <> 'meshpg_slo_last_measured_age_seconds'
 ORDER BY metric;

-- Who sees measurements: those who may read the product.  An error
-- message can quote data the reader's masks would hide: only the domain
-- and governance teams read it.
SET ROLE regress_slo_dev;
SELECT meshpg.publish('lab.items');
SELECT meshpg.grant_access('lab.items', 'regress_slo_reader');
SELECT meshpg.declare_slo('lab.items', 'sku_numeric', 'validity', '{"expression": "sku::int > 0", "min_ratio": 1}');
SELECT slo, met, error FROM meshpg.evaluate('lab.items', slos => '{sku_numeric}');
SELECT slo, last_error FROM meshpg.slo_status WHERE last_error IS NOT NULL;
RESET ROLE;
SET ROLE regress_slo_reader;
SELECT DISTINCT product FROM meshpg.slo_status ORDER BY 1;
SELECT count(*) > 0 AS sees_history FROM meshpg.slo_results;
SELECT slo, last_error FROM meshpg.slo_status WHERE last_error IS NOT NULL;
SELECT slo, error FROM meshpg.slo_results WHERE error IS NOT NULL;
SELECT expect_error($$ SELECT * FROM meshpg.evaluate('lab.items') $$);
RESET ROLE;
SET ROLE regress_slo_dev;
SELECT meshpg.drop_slo('lab.items', 'sku_numeric');
RESET ROLE;
SET ROLE regress_slo_outsider;
SELECT count(*) AS outsider_status FROM meshpg.slo_status;
SELECT count(*) AS outsider_history FROM meshpg.slo_results;
SELECT count(*) AS outsider_metrics FROM meshpg.slo_metrics;
RESET ROLE;

-- SLO-gated reads.  lab.items breaches both_complete (0.88 < 0.95) as
-- last measured; sku_unique breaches too, but only freshness and
-- completeness gate reads.  Freshness by last change is judged live.
\set VERBOSITY terse
SET ROLE regress_slo_reader;
SELECT count(*) FROM lab.items;                 -- gate off: nothing
SET meshpg.slo_gate = warn;
SELECT count(*) FROM lab.items;
SET meshpg.slo_gate = error;
SELECT count(*) FROM lab.items;
SELECT expect_error($$ SELECT count(*) FROM lab.items $$);
RESET ROLE;
RESET meshpg.slo_gate;    -- (a gate on in this session would stop the team's UPDATE too)
-- The team fixes the data and evaluates: the gate opens, in every session.
SET ROLE regress_slo_team;
UPDATE lab.items SET price = 0 WHERE price IS NULL;
UPDATE lab.items SET color = 'blue' WHERE color IS NULL;
SET ROLE regress_slo_dev;
SELECT slo, met FROM meshpg.evaluate('lab.items') WHERE slo IN ('both_complete', 'color_complete') ORDER BY slo;
SET ROLE regress_slo_reader;
SET meshpg.slo_gate = error;
SELECT count(*) FROM lab.items;
-- Freshness by last change goes stale without any evaluation.
SET ROLE regress_slo_dev;
SELECT meshpg.alter_slo('lab.items', 'changed', spec => '{"max_age": "1 second"}');
SELECT pg_sleep(1.2);
SET ROLE regress_slo_reader;
SELECT count(*) FROM lab.items;
SET meshpg.slo_gate = warn;
SELECT count(*) FROM lab.items;
RESET meshpg.slo_gate;
SELECT count(*) FROM lab.items;
RESET ROLE;
\set VERBOSITY default

-- Sampling: ratio and volume measures are estimated from the sample, with
-- their margin; the newest row and duplicates are never guessed from one.
-- (Last: sampled results vary, and they go to the history.)
SET ROLE regress_slo_dev;
SELECT slo, value IS NOT NULL AS measured, error, detail->>'sampled' AS sampled,
       detail ? 'margin_95' AS margin
  FROM meshpg.evaluate('lab.items', sample_percent => 50) ORDER BY slo;
SELECT expect_error($$ SELECT * FROM meshpg.evaluate('lab.items', sample_percent => 0) $$);
SELECT expect_error($$ SELECT * FROM meshpg.evaluate('lab.items', sample_percent => 101) $$);
SELECT expect_error($$ SELECT * FROM meshpg.evaluate('lab.red_items', sample_percent => 10) $$);
SELECT count(*) FROM meshpg.evaluate('lab.items', sample_percent => 100);

-- Evaluating some SLOs only.
SET ROLE regress_slo_dev;
SELECT slo, value FROM meshpg.evaluate('lab.items', slos => '{rows, id_unique}') ORDER BY slo;
SELECT expect_error($$ SELECT * FROM meshpg.evaluate('lab.items', slos => '{rows, nope}') $$);
SELECT expect_error($$ SELECT * FROM meshpg.evaluate('lab.items', slos => '{}') $$);
SELECT expect_error($$ SELECT * FROM meshpg.evaluate('lab.items', slos => '{NULL}') $$);

-- Changes seen by other paths: COPY FROM, TRUNCATE, REFRESH MATERIALIZED
-- VIEW; an EXPLAIN without ANALYZE changes nothing.
SET ROLE regress_slo_team;
CREATE TABLE lab.copied (id int);
CREATE TABLE lab.truncated (id int);
CREATE MATERIALIZED VIEW lab.mv AS SELECT count(*) AS n FROM lab.items;
SET ROLE regress_slo_dev;
SELECT meshpg.register_product('lab', 'copied', 'lab.copied');
SELECT meshpg.register_product('lab', 'truncated', 'lab.truncated');
SELECT meshpg.register_product('lab', 'mv', 'lab.mv');
SET ROLE regress_slo_team;
EXPLAIN (COSTS OFF) INSERT INTO lab.copied VALUES (1);
SELECT meshpg.last_change(p) IS NOT NULL AS tracked FROM unnest('{lab.copied, lab.truncated, lab.mv}'::text[]) p;
COPY lab.copied FROM STDIN;
1
2
\.
TRUNCATE lab.truncated;
REFRESH MATERIALIZED VIEW lab.mv;
SELECT meshpg.last_change(p) IS NOT NULL AS tracked FROM unnest('{lab.copied, lab.truncated, lab.mv}'::text[]) p;
RESET ROLE;

-- Evaluating a product without SLOs returns nothing.
SELECT count(*) FROM meshpg.evaluate('shop.paid_orders') WHERE false;
SELECT expect_error($$ SELECT * FROM meshpg.evaluate('lab.nothing') $$);
RESET ROLE;

-- The one pass counts with meshpg._slo_tally: {rows, rows where each
-- condition is true}; NULL is not true; no rows gives {}; in parallel, the
-- workers' counts add up; only booleans are counted.
SELECT meshpg._slo_tally(g % 3 = 0, CASE WHEN g % 2 = 0 THEN NULL ELSE true END, false)
  FROM generate_series(1, 10) g;
SELECT meshpg._slo_tally(true) FROM generate_series(1, 10) g WHERE false;
CREATE TABLE lab.tally AS SELECT g FROM generate_series(1, 200000) g;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
EXPLAIN (COSTS OFF) SELECT meshpg._slo_tally(g % 7 = 0, g > 100000) FROM lab.tally;
SELECT meshpg._slo_tally(g % 7 = 0, g > 100000) = ARRAY[count(*), count(*) FILTER (WHERE g % 7 = 0),
       count(*) FILTER (WHERE g > 100000)] AS same FROM lab.tally;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE lab.tally;
SELECT expect_error($$ SELECT meshpg._slo_tally(1) $$);
