--
-- privacy: differential-privacy policies.  The noise's distribution
-- (property test), the rewrite of a reader's query, contribution bounding,
-- the budget, the noise interval, and the refusals.
-- (Attacks: test/security/sql/adversary_dp.sql.)
--

-- 1. The noise.  meshpg.dp_noise_sample draws from the same samplers the
-- noisy aggregates use (superusers only).  Each check has a fixed
-- tolerance far outside sampling error (> 5 standard deviations) and fails
-- when the scale is wrong by 10% (> 10 standard deviations away).

-- Laplace(b = 2): mean 0, E|X| = b, variance 2b^2; Kolmogorov-Smirnov
-- distance to its CDF below 0.013 (p < 1e-7 for n = 50000).
CREATE TEMP TABLE lap AS
SELECT x FROM meshpg.dp_noise_sample('laplace', 0.5, 1, 50000) AS x;
SELECT abs(avg(x)) < 0.07 AS mean_ok,
       abs(avg(abs(x)) / 2 - 1) < 0.05 AS scale_ok,
       abs(var_pop(x) / 8 - 1) < 0.1 AS variance_ok
  FROM lap;
SELECT max(abs(i::float8 / 50000 -
               CASE WHEN x < 0 THEN 0.5 * exp(x / 2) ELSE 1 - 0.5 * exp(-x / 2) END)) < 0.013
       AS ks_ok
  FROM (SELECT x, row_number() OVER (ORDER BY x) AS i FROM lap) s;
-- the same checks fail for a scale 10% off
SELECT abs(avg(abs(x)) / 2.2 - 1) < 0.05 AS wrong_scale_passes FROM lap;

-- Two-sided geometric, epsilon/sensitivity = 0.5: P(X = k) =
-- (1 - a) / (1 + a) a^|k|, a = exp(-0.5).  Chi-square over k = -6..6 and
-- the two tails (14 cells, 13 degrees of freedom): below 60 (p < 1e-6).
CREATE TEMP TABLE geo AS
SELECT x::bigint AS x FROM meshpg.dp_noise_sample('geometric', 0.5, 1, 50000) AS x;
SELECT bool_and(x = round(x)) AS integers FROM geo;
CREATE FUNCTION pg_temp.geo_chi2(eps float8) RETURNS float8 LANGUAGE sql AS $$
    WITH cells AS (
        SELECT CASE WHEN x < -6 THEN -7 WHEN x > 6 THEN 7 ELSE x END AS c, count(*) AS n
          FROM geo GROUP BY 1),
    expected AS (
        SELECT c,
               50000 * CASE WHEN abs(c) = 7
                            THEN exp(-eps * 7) / (1 + exp(-eps))
                            ELSE (1 - exp(-eps)) / (1 + exp(-eps)) * exp(-eps * abs(c)) END AS e
          FROM generate_series(-7, 7) AS c)
    SELECT sum((coalesce(n, 0) - e) ^ 2 / e) FROM expected LEFT JOIN cells USING (c)
$$;
SELECT pg_temp.geo_chi2(0.5) < 60 AS chi2_ok,
       pg_temp.geo_chi2(0.45) < 60 AS wrong_scale_passes,
       pg_temp.geo_chi2(0.55) < 60 AS wrong_scale_passes2;
SELECT abs(var_pop(x) / (2 * exp(-0.5) / (1 - exp(-0.5)) ^ 2) - 1) < 0.1 AS variance_ok FROM geo;

-- Test only: a reader may not draw noise detached from any value.
CREATE ROLE regress_dp_nobody;
SET ROLE regress_dp_nobody;
SELECT expect_error($$ SELECT meshpg.dp_noise_sample('laplace', 1, 1, 10) $$);
RESET ROLE;
SELECT expect_error($$ SELECT meshpg.dp_noise_sample('gauss', 1, 1, 10) $$);
SELECT expect_error($$ SELECT meshpg.dp_noise_sample('laplace', 0, 1, 10) $$);
-- the rewrite's own functions refuse to run outside it
SELECT expect_error($$ SELECT meshpg.dp_admit(1, 1) $$);
SELECT expect_error($$ SELECT meshpg.dp_interval(1) $$);

-- 2. A product under a privacy policy.  Visits: 40 customers in Paris and
-- Lyon (10 visits each), one in Nice (a group of one unit), and customer
-- 999 with 1000 visits in Paris (an outsized contributor).
CREATE ROLE regress_dp_team;
CREATE ROLE regress_dp_dev IN ROLE regress_dp_team;
CREATE ROLE regress_dp_reader;
CREATE ROLE regress_dp_reader2;
SELECT meshpg.create_domain('dpdom', 'regress_dp_team');
SET ROLE regress_dp_dev;
CREATE TABLE dpdom.visits (
    id bigint PRIMARY KEY,
    customer_id integer,
    city text,
    amount integer,
    score double precision,
    note text
);
INSERT INTO dpdom.visits
SELECT g, g % 40, CASE WHEN g % 40 < 20 THEN 'Paris' ELSE 'Lyon' END, g % 100, (g % 7) / 7.0, 'n' || g
  FROM generate_series(1, 400) g;
INSERT INTO dpdom.visits VALUES (401, 500, 'Nice', 90, 0.5, 'alone in Nice');
INSERT INTO dpdom.visits
SELECT 1000 + g, 999, 'Paris', 100, 1.0, 'big spender' FROM generate_series(1, 1000) g;
SELECT meshpg.register_product('dpdom', 'visits', 'dpdom.visits');
SELECT meshpg.document_product('dpdom.visits', 'Visits, one row per visit');
SELECT meshpg.publish('dpdom.visits', '1.0.0');
SELECT meshpg.grant_access('dpdom.visits', 'regress_dp_reader');
SELECT meshpg.grant_access('dpdom.visits', 'regress_dp_reader2');

-- Bad policies: nothing is written.
SELECT expect_error($$ SELECT meshpg.create_privacy_policy('dp_bad', 'dpdom.visits', 'nope', 1) $$);
SELECT expect_error($$ SELECT meshpg.create_privacy_policy('dp_bad', 'dpdom.visits', 'customer_id', 0) $$);
SELECT expect_error($$ SELECT meshpg.create_privacy_policy('dp_bad', 'dpdom.visits', 'customer_id', 1,
                                                           bounds => '{"note": [0, 1]}') $$);
SELECT expect_error($$ SELECT meshpg.create_privacy_policy('dp_bad', 'dpdom.visits', 'customer_id', 1,
                                                           bounds => '{"amount": [10, 0]}') $$);
SELECT expect_error($$ SELECT meshpg.create_privacy_policy('dp_bad', 'dpdom.visits', 'customer_id', 1,
                                                           bounds => '{"amount": 5}') $$);
SELECT expect_error($$ SELECT meshpg.create_privacy_policy('dp_bad', 'dpdom.visits', 'customer_id', 1,
                                                           budget_epsilon => 0.5) $$);
SELECT expect_error($$ SELECT meshpg.create_privacy_policy('dp_bad', 'dpdom.visits', 'customer_id', 1,
                                                           delta => 0.5) $$);
SELECT expect_error($$ SELECT meshpg.create_privacy_policy('dp_bad', 'dpdom.visits', 'customer_id', 1,
                                                           budget_window => '0 s') $$);
SELECT expect_error($$ SELECT meshpg.create_privacy_policy('dp_bad', 'dpdom.visits', 'customer_id', NULL) $$);
RESET ROLE;
SELECT count(*) AS bad_policies FROM meshpg.cat_policy WHERE name = 'dp_bad';
-- an outsider may not create one
SET ROLE regress_dp_reader;
SELECT expect_error($$ SELECT meshpg.create_privacy_policy('dp_mine', 'dpdom.visits', 'customer_id', 1) $$);
RESET ROLE;

-- The policy: epsilon 30 per query (large, so that the checks below hold
-- with overwhelming probability), 10 rows per customer, amount in
-- [0, 100], score in [0, 1]; a budget of 12 queries a day.
SET ROLE regress_dp_dev;
SELECT meshpg.create_privacy_policy('dp_visits', 'dpdom.visits', 'customer_id',
    epsilon => 30, delta => 1e-5, max_contributions => 10,
    bounds => '{"amount": [0, 100], "score": [0, 1]}',
    budget_epsilon => 360, budget_window => '1 day');
RESET ROLE;
SELECT name, kind, mask_args FROM meshpg.cat_policy WHERE name = 'dp_visits';

-- The owner's team is exempt: exact answers, nothing spent.
SET ROLE regress_dp_dev;
SELECT city, count(*), sum(amount) FROM dpdom.visits GROUP BY city ORDER BY city;
RESET ROLE;

-- The reader: customer 999 counts for 10 rows, not 1000; Nice (one
-- customer) is not released; values are near the truth of the bounded rows.
SET ROLE regress_dp_reader;
CREATE TEMP TABLE r1 AS
SELECT city, count(*) AS n, sum(amount) AS s, avg(amount) AS a, avg(score) AS sc,
       meshpg.dp_interval(count(*)) AS n_pm, meshpg.dp_interval(sum(amount)) AS s_pm,
       meshpg.dp_interval(avg(amount)) AS a_pm
  FROM dpdom.visits GROUP BY city;
SELECT city,
       abs(n - CASE city WHEN 'Paris' THEN 210 ELSE 200 END) <= 40 AS count_near,
       pg_typeof(n) AS count_type, pg_typeof(s) AS sum_type, pg_typeof(a) AS avg_type,
       n_pm > 0 AND n_pm < 10 AS interval_ok,
       a BETWEEN 0 AND 100 AS avg_in_bounds,
       sc BETWEEN 0 AND 1 AS score_in_bounds
  FROM r1 ORDER BY city;
-- a global aggregate: one row, noisy even when nothing matches
SELECT abs(count(*) - 410) <= 10 AS total_near FROM dpdom.visits;
SELECT count(*) >= 0 AS empty_is_noisy_too FROM dpdom.visits WHERE city = 'Atlantis';
-- filters, HAVING, ORDER BY, LIMIT: post-processing of released values
SELECT city FROM dpdom.visits WHERE amount < 50 GROUP BY city HAVING count(*) > 20 ORDER BY city LIMIT 5;
-- the plan: bounding above the filters, the noisy aggregates, the threshold
EXPLAIN (COSTS OFF) SELECT city, count(*) FROM dpdom.visits WHERE amount < 50 GROUP BY city;

-- Refused (42501), before reading anything.
SELECT expect_error($$ SELECT * FROM dpdom.visits $$);
SELECT expect_error($$ SELECT DISTINCT city FROM dpdom.visits $$);
SELECT expect_error($$ SELECT min(customer_id) FROM dpdom.visits $$);
SELECT expect_error($$ SELECT max(amount) FROM dpdom.visits $$);
SELECT expect_error($$ SELECT count(DISTINCT customer_id) FROM dpdom.visits $$);
SELECT expect_error($$ SELECT sum(id) FROM dpdom.visits $$);
SELECT expect_error($$ SELECT sum(amount * 2) FROM dpdom.visits $$);
SELECT expect_error($$ SELECT count(*) FILTER (WHERE amount > 5) FROM dpdom.visits $$);
SELECT expect_error($$ SELECT count(*) FROM dpdom.visits a JOIN dpdom.visits b USING (id) $$);
SELECT expect_error($$ SELECT count(*) FROM dpdom.visits, generate_series(1, 2) $$);
SELECT expect_error($$ SELECT * FROM (SELECT count(*) FROM dpdom.visits) s $$);
SELECT expect_error($$ WITH s AS (SELECT count(*) FROM dpdom.visits) SELECT * FROM s $$);
SELECT expect_error($$ SELECT (SELECT count(*) FROM dpdom.visits) $$);
SELECT expect_error($$ SELECT count(*) FROM dpdom.visits UNION ALL SELECT 1 $$);
SELECT expect_error($$ SELECT city, count(*) OVER () FROM dpdom.visits $$);
SELECT expect_error($$ SELECT city, count(*) FROM dpdom.visits GROUP BY ROLLUP (city) $$);
SELECT expect_error($$ SELECT count(*) FROM dpdom.visits WHERE id IN (SELECT 1) $$);
SELECT expect_error($$ EXPLAIN ANALYZE SELECT count(*) FROM dpdom.visits $$);
-- the error channel: a condition that fails on one row would reveal it
SELECT expect_error($$ SELECT count(*) FROM dpdom.visits WHERE 1 / (amount - 42) > 0 $$);
SELECT expect_error($$ SELECT count(*) FROM dpdom.visits WHERE note::int > 0 $$);
SELECT expect_error($$ SELECT meshpg.dp_interval(5) FROM dpdom.visits GROUP BY city $$);
RESET ROLE;

-- 3. The budget: 360 a day at 30 a query is 12 queries.  So far the reader
-- ran 4 that spent (refusals and EXPLAIN spend nothing); delta is spent by
-- the query that grouped.
SELECT reader, product, epsilon, delta, pending FROM meshpg.privacy_spends
 WHERE reader = 'regress_dp_reader' ORDER BY spent_at;
SET ROLE regress_dp_reader;
-- a rolled-back transaction has spent all the same
BEGIN;
SELECT count(*) >= 0 AS ran FROM dpdom.visits;
ROLLBACK;
-- a prepared statement spends at each execution
PREPARE q AS SELECT count(*) >= 0 AS ran FROM dpdom.visits;
EXECUTE q;
EXECUTE q;
SELECT count(*) AS spends, sum(epsilon) AS spent FROM meshpg.privacy_spends;
-- 7 spent: five more, then the budget refuses, with what is left and when
-- it is back
EXECUTE q;
EXECUTE q;
EXECUTE q;
EXECUTE q;
EXECUTE q;
SELECT regexp_replace(expect_error($$ EXECUTE q $$), 'back at [^(]*\(', 'back at <time> (');
SELECT regexp_replace(expect_error($$ SELECT city, count(*) FROM dpdom.visits GROUP BY city $$),
                      'back at [^(]*\(', 'back at <time> (');
-- refused before it ran: nothing more was spent
SELECT count(*) AS spends, sum(epsilon) AS spent FROM meshpg.privacy_spends;
DEALLOCATE q;
RESET ROLE;
-- budgets are per reader: the other reader still has its own
SET ROLE regress_dp_reader2;
SELECT abs(count(*) - 410) <= 10 AS total_near FROM dpdom.visits;
SELECT reader, count(*) FROM meshpg.privacy_spends GROUP BY reader;
RESET ROLE;
-- the owner's team sees its product's spends; the governance team all
SET ROLE regress_dp_dev;
SELECT reader, count(*), sum(epsilon) FROM meshpg.privacy_spends GROUP BY reader ORDER BY reader;
RESET ROLE;

-- explain_access says what applies.
SELECT * FROM meshpg.explain_access('dpdom.visits', 'regress_dp_reader') WHERE kind = 'privacy';
SELECT * FROM meshpg.explain_access('dpdom.visits', 'regress_dp_dev') WHERE kind = 'privacy';

-- 4. The ledger: the worker writes the spends from shared memory to
-- meshpg.cat_privacy_ledger (here its task runs at once); the budget counts
-- both, so the reader is still refused.
-- A write that is rolled back (here a savepoint) gives the spends back to
-- shared memory, never loses them.
BEGIN;
SAVEPOINT s;
SELECT meshpg._privacy_flush();
ROLLBACK TO s;
COMMIT;
SELECT pending, count(*), sum(epsilon) FROM meshpg.privacy_spends GROUP BY pending ORDER BY pending;
BEGIN;
SELECT meshpg._privacy_flush();
ROLLBACK;
SELECT pending, count(*), sum(epsilon) FROM meshpg.privacy_spends GROUP BY pending ORDER BY pending;
SELECT meshpg._privacy_flush();
SELECT pending, count(*), sum(epsilon) FROM meshpg.privacy_spends GROUP BY pending ORDER BY pending;
SELECT reader, count(*) FROM meshpg.cat_privacy_ledger GROUP BY reader ORDER BY reader;
SET ROLE regress_dp_reader;
SELECT regexp_replace(expect_error($$ SELECT count(*) FROM dpdom.visits $$), 'back at [^(]*\(', 'back at <time> (');
SELECT expect_error($$ SELECT meshpg._privacy_flush() $$);
RESET ROLE;

-- 5. Descriptors: the policy is exported with its options and applies back
-- unchanged; pg_dump carries the ledger (it is a configuration table).
SELECT p->>'name' AS name, p->>'kind' AS kind, p->'args' AS args
  FROM jsonb_array_elements(meshpg.export('dpdom.visits', 'json')::jsonb->'policies') p;
SELECT * FROM meshpg.plan(meshpg.export('dpdom.visits'));
SELECT 'meshpg.cat_privacy_ledger'::regclass = ANY (extconfig) AS dumped
  FROM pg_extension WHERE extname = 'meshpg';

CREATE TEMP TABLE saved AS SELECT meshpg.export('dpdom.visits') AS body;

-- Dropping the policy: the reader reads rows again (as the grant allows);
-- the descriptor brings it back.
SET ROLE regress_dp_dev;
SELECT meshpg.drop_policy('dp_visits');
RESET ROLE;
SET ROLE regress_dp_reader;
SELECT count(*) AS exact FROM dpdom.visits;
RESET ROLE;
GRANT SELECT ON saved TO regress_dp_dev;
SET ROLE regress_dp_dev;
SELECT * FROM meshpg.apply((SELECT body FROM saved));
SELECT * FROM meshpg.plan((SELECT body FROM saved));
SELECT meshpg.drop_policy('dp_visits');
RESET ROLE;
SET ROLE regress_dp_reader;
SELECT count(*) AS exact FROM dpdom.visits;
RESET ROLE;
