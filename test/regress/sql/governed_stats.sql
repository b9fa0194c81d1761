--
-- governed_stats: statistics of what a reader may see (issue 15).
--
-- A product filtered by region and masked: its readers' plans are
-- estimated from meshpg's governed statistics, per specialisation (readers
-- with the same filter and masks share one set), computed from the rows
-- the filter leaves and the masked values; never from pg_statistic.
--
CREATE ROLE gs_team;
CREATE ROLE gs_eu;
CREATE ROLE gs_eu2;
CREATE ROLE gs_us;
CREATE ROLE gs_exempt;
SELECT meshpg.create_domain('gs', 'gs_team');
SET ROLE gs_team;
CREATE TABLE gs.orders (
    id int PRIMARY KEY,
    region text NOT NULL,
    amount int NOT NULL,
    email text,
    status text
);
INSERT INTO gs.orders
SELECT i, CASE WHEN i % 3 = 0 THEN 'EU' ELSE 'US' END,
       CASE WHEN i % 3 = 0 THEN i % 100 ELSE 1000 + i % 5000 END,
       'user' || i || '@' || CASE WHEN i % 3 = 0 THEN 'eu.example' ELSE 'hidden.example' END,
       CASE WHEN i % 3 = 0 THEN 'open' ELSE 'secret-status' END
  FROM generate_series(1, 30000) i;
CREATE INDEX ON gs.orders (region);
CREATE INDEX ON gs.orders (amount);
SELECT meshpg.register_product('gs', 'orders', 'gs.orders', description => 'Orders');
SELECT meshpg.publish('gs.orders', '1.0.0');
SELECT meshpg.grant_access('gs.orders', r::regrole) FROM unnest('{gs_eu,gs_eu2,gs_us,gs_exempt}'::text[]) r;
RESET ROLE;
SELECT meshpg.create_tag('gs.region');
SELECT meshpg.create_tag('gs.email');
SELECT meshpg.tag_column('gs.orders', 'region', 'gs.region');
SELECT meshpg.tag_column('gs.orders', 'email', 'gs.email');
SELECT meshpg.create_row_policy('gs_own_region', 'value = ANY (meshpg.attribute(''region''))',
                                tag => 'gs.region', exempt_roles => '{gs_exempt}');
SELECT meshpg.create_masking_policy('gs_email', 'email', tag => 'gs.email',
                                    exempt_roles => '{gs_exempt}');
SELECT meshpg.set_attribute('gs_eu', 'region', '{EU}');
SELECT meshpg.set_attribute('gs_eu2', 'region', '{EU}');
SELECT meshpg.set_attribute('gs_us', 'region', '{US}');
ANALYZE gs.orders;

-- Before any refresh: withheld (the planner's defaults), as before.
SELECT subject, effect, reason FROM meshpg.explain_access('gs.orders', 'gs_eu')
 WHERE subject = 'statistics';
SET ROLE gs_eu;
EXPLAIN (COSTS ON) SELECT * FROM gs.orders WHERE amount < 50;
RESET ROLE;

-- A refresh computes one set per specialisation: EU (two readers), US.
-- The exempt reader keeps PostgreSQL's; the team is exempt as a domain member.
SELECT meshpg.refresh_statistics('gs.orders');
SELECT product, readers, filtered, sample_rows, visible_rows, round(tuples / 1000) AS ktuples, columns
  FROM meshpg.statistic_sets ORDER BY readers DESC;
SELECT subject, effect, reason ~ '^set \d+: 10000 rows$' AS described
  FROM meshpg.explain_access('gs.orders', 'gs_eu') WHERE subject = 'statistics';
SELECT subject, effect, reason FROM meshpg.explain_access('gs.orders', 'gs_exempt')
 WHERE subject = 'statistics';

-- The EU reader's estimates are its own rows': 10000 rows, amounts 0-99.
SET ROLE gs_eu;
EXPLAIN (COSTS ON) SELECT * FROM gs.orders;
EXPLAIN (COSTS ON) SELECT * FROM gs.orders WHERE amount < 50;
-- no EU order has an amount over 1000: the histogram says so, not the index
EXPLAIN (COSTS ON) SELECT * FROM gs.orders WHERE amount > 1000;
-- MCV: only the visible status
EXPLAIN (COSTS ON) SELECT * FROM gs.orders WHERE status = 'secret-status';
EXPLAIN (COSTS ON) SELECT * FROM gs.orders WHERE status = 'open';
-- distinct count of the visible rows
EXPLAIN (COSTS ON) SELECT status, count(*) FROM gs.orders GROUP BY status;
-- the plans run (the indexes are only hypothetical to the estimator)
SELECT count(*), max(amount) FROM gs.orders WHERE amount > 90;
SET enable_seqscan = off;
SELECT count(*), min(email), max(email) FROM gs.orders WHERE amount < 2;
RESET enable_seqscan;
RESET ROLE;

-- The US reader gets its own set.
SET ROLE gs_us;
EXPLAIN (COSTS ON) SELECT * FROM gs.orders WHERE amount < 50;
RESET ROLE;

-- The masked column's statistics are of masked values: no raw address in
-- the set (the email mask keeps the domain only).
SELECT count(*) AS raw_values_kept
  FROM meshpg.cat_stat_column c JOIN meshpg.cat_stat_set s ON s.id = c.set_id
 WHERE c.attnum = 4 AND position('user1' in encode(coalesce(c.stavalues1, '') || coalesce(c.stavalues2, '') || coalesce(c.stavalues3, ''), 'escape')) > 0;
SELECT bool_and(c.masked) AS email_masked
  FROM meshpg.cat_stat_column c WHERE c.attnum = 4;

-- A reader of no kept specialisation: withheld (a new attribute value).
SELECT meshpg.set_attribute('gs_eu2', 'region', '{EU,US}');
SELECT subject, effect FROM meshpg.explain_access('gs.orders', 'gs_eu2')
 WHERE subject = 'statistics';
SET ROLE gs_eu2;
EXPLAIN (COSTS ON) SELECT * FROM gs.orders WHERE amount < 50;
RESET ROLE;

-- A policy change: the readers' specialisation is another one, nothing served
SELECT meshpg.create_masking_policy('gs_status', 'redact', tag => 'gs.email');
SELECT subject, effect FROM meshpg.explain_access('gs.orders', 'gs_eu')
 WHERE subject = 'statistics';
SELECT meshpg.drop_policy('gs_status');
SELECT subject, effect FROM meshpg.explain_access('gs.orders', 'gs_eu')
 WHERE subject = 'statistics';

-- The bound: one specialisation kept, the most shared one (EU); the
-- other falls back to withheld.  A refresh drops the sets no reader has
-- any more.
SELECT meshpg.set_attribute('gs_eu2', 'region', '{EU}');
ALTER SYSTEM SET meshpg.max_stat_specialisations = 1;
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SELECT meshpg.refresh_statistics('gs.orders');
SELECT readers, filtered, visible_rows FROM meshpg.statistic_sets;
SELECT subject, effect FROM meshpg.explain_access('gs.orders', 'gs_us')
 WHERE subject = 'statistics';
ALTER SYSTEM RESET meshpg.max_stat_specialisations;
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);

-- A reader held to aggregates of large groups gets no statistics (most
-- common values and histogram bounds are single values): its set goes at
-- the next refresh, and it plans withheld.
SELECT meshpg.create_aggregation_policy('gs_agg', 10, product => 'gs.orders',
                                        exempt_roles => '{gs_eu,gs_eu2,gs_exempt}');
SELECT subject, effect, reason FROM meshpg.explain_access('gs.orders', 'gs_us')
 WHERE subject = 'statistics';
SELECT meshpg.refresh_statistics('gs.orders');
SELECT readers, visible_rows FROM meshpg.statistic_sets;
SELECT meshpg.drop_policy('gs_agg');
SELECT meshpg.refresh_statistics('gs.orders');

-- Who may refresh: the governance team and the owning domain; and errors.
SET ROLE gs_eu;
SELECT meshpg.refresh_statistics('gs.orders');
SELECT * FROM meshpg.cat_stat_set;
RESET ROLE;
SELECT meshpg.refresh_statistics('gs.nope');
SET ROLE gs_team;
SELECT meshpg.refresh_statistics('gs.orders') >= 1 AS refreshed;
RESET ROLE;
