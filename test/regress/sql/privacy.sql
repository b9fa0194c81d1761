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
