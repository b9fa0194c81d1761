--
-- aggregation: products read only through aggregates of large enough
-- groups (aggregation policies): the checks, the fold of small groups into
-- a remainder group, composition with row policies and masks, and
-- explain_access.
--
CREATE ROLE regress_agg_team;
CREATE ROLE regress_agg_reader;
CREATE ROLE regress_agg_exempt;
SELECT meshpg.create_domain('agg', 'regress_agg_team');
SET ROLE regress_agg_team;
-- 3 big cities of 100 rows each (20 customers each), 6 small ones of 5 rows
CREATE TABLE agg.trips (id int PRIMARY KEY, customer int, city text, fare int, region text);
INSERT INTO agg.trips
SELECT g, (g - 1) / 5, 'city' || ((g - 1) / 100), g % 7, CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US' END
  FROM generate_series(1, 300) g;
INSERT INTO agg.trips
SELECT 300 + g, 1000 + g, 'small' || ((g - 1) / 5), 10, 'EU' FROM generate_series(1, 30) g;
CREATE TABLE agg.cities (city text, country text);
INSERT INTO agg.cities VALUES ('city0', 'FR'), ('city1', 'FR'), ('city2', 'DE'), ('small0', 'FR');
SELECT meshpg.register_product('agg', 'trips', 'agg.trips', description => 'Trips');
SELECT meshpg.publish('agg.trips', '1.0.0');
SELECT meshpg.grant_access('agg.trips', 'regress_agg_reader');
SELECT meshpg.grant_access('agg.trips', 'regress_agg_exempt');
GRANT USAGE ON SCHEMA agg TO regress_agg_reader;
GRANT SELECT ON agg.cities TO regress_agg_reader;

-- Creating one: the options are checked and stored as its args.
SELECT meshpg.create_aggregation_policy('agg_trips', 20, product => 'agg.trips',
       exempt_roles => '{regress_agg_exempt}');
SELECT expect_error($$ SELECT meshpg.create_aggregation_policy('agg_x', 0, product => 'agg.trips') $$);
SELECT expect_error($$ SELECT meshpg.create_aggregation_policy('agg_x', NULL, product => 'agg.trips') $$);
SELECT expect_error($$ SELECT meshpg.create_aggregation_policy('agg_x', 5, product => 'agg.trips', entity_key => 'nope') $$);
SELECT expect_error($$ SELECT meshpg.create_aggregation_policy('agg_x', 5, product => 'agg.trips', aggregates => '{count,median}') $$);
SELECT expect_error($$ SELECT meshpg.create_aggregation_policy('agg_x', 5, product => 'agg.trips', aggregates => '{}') $$);
SELECT expect_error($$ SELECT meshpg.create_aggregation_policy('agg_x', 5) $$);
RESET ROLE;
SELECT name, kind, product, column_name, mask_args FROM meshpg.policies WHERE name LIKE 'agg%';

SET ROLE regress_agg_reader;
SELECT subject, policy, kind, effect, reason FROM meshpg.explain_access('agg.trips')
 WHERE subject IN ('access', 'rows', 'aggregates');

-- Groups of at least 20 rows; the small ones fold into one remainder
-- group with a NULL key (30 rows: shown).
SELECT city, count(*), sum(fare) FROM agg.trips GROUP BY city ORDER BY 1;
SELECT count(*), sum(fare) FROM agg.trips;
SELECT count(*) FROM agg.trips WHERE id = 5;
-- a remainder too small is suppressed
SELECT city, count(*) FROM agg.trips WHERE id > 310 GROUP BY city ORDER BY 1;
SELECT city, count(*) FROM agg.trips WHERE id > 315 GROUP BY city ORDER BY 1;
-- count(DISTINCT) cannot be merged: small groups suppressed; avg is
-- merged from sums and counts
SELECT city, count(DISTINCT customer), round(avg(fare), 2) FROM agg.trips GROUP BY city ORDER BY 1;
SELECT city, avg(fare) FROM agg.trips GROUP BY city ORDER BY 1;
-- grouping sets: each set's groups fold on their own
SELECT city, region, count(*) FROM agg.trips GROUP BY GROUPING SETS ((city), (region)) ORDER BY 1, 2;
SELECT city, count(*) FROM agg.trips GROUP BY ROLLUP (city) ORDER BY 1;
-- HAVING runs on the groups before they fold: the small ones it keeps
-- still fold into a remainder of at least 20 rows
SELECT city, count(*) FROM agg.trips GROUP BY city HAVING count(*) < 20 ORDER BY 1;
SELECT city, count(*) FROM agg.trips GROUP BY city HAVING count(*) < 6 AND city <> 'small0' ORDER BY 1;
-- ORDER BY and LIMIT see the folded groups only
SELECT city, count(*) FROM agg.trips GROUP BY city ORDER BY 2, 1 LIMIT 1;
-- joins: a row joined many times counts once
SELECT c.country, count(*) FROM agg.trips t JOIN agg.cities c USING (city) GROUP BY c.country ORDER BY 1;
SELECT t.city, count(*) FROM agg.trips t CROSS JOIN generate_series(1, 50) g
 WHERE t.city = 'small1' GROUP BY t.city;
-- subqueries, CTEs, set operations, correlated subqueries
SELECT * FROM (SELECT city, count(*) AS n FROM agg.trips GROUP BY city) s WHERE n < 25 ORDER BY 1;
WITH s AS (SELECT region, sum(fare) AS f FROM agg.trips GROUP BY region) SELECT * FROM s ORDER BY 1;
SELECT city, count(*) FROM agg.trips GROUP BY city UNION ALL SELECT 'other', 0 ORDER BY 1;
SELECT n, (SELECT count(*) FROM agg.trips t WHERE t.customer = n) FROM generate_series(1, 2) n;

-- Refused at planning: rows, other aggregates, expressions, windows.
SELECT expect_error($$ SELECT * FROM agg.trips $$);
SELECT expect_error($$ SELECT city FROM agg.trips $$);
SELECT expect_error($$ SELECT DISTINCT city FROM agg.trips $$);
SELECT expect_error($$ SELECT max(fare) FROM agg.trips $$);
SELECT expect_error($$ SELECT string_agg(city, ',') FROM agg.trips $$);
SELECT expect_error($$ SELECT sum(CASE WHEN id = 5 THEN fare END) FROM agg.trips $$);
SELECT expect_error($$ SELECT sum(fare) FILTER (WHERE id = 5) FROM agg.trips $$);
SELECT expect_error($$ SELECT city, count(*), rank() OVER (ORDER BY count(*)) FROM agg.trips GROUP BY city $$);
SELECT expect_error($$ SELECT city, (SELECT 1) FROM agg.trips GROUP BY city $$);
SELECT expect_error($$ SELECT count(*) FROM (SELECT * FROM agg.trips) s $$);
SELECT expect_error($$ WITH s AS (SELECT fare FROM agg.trips) SELECT sum(fare) FROM s $$);
SELECT expect_error($$ SELECT generate_series(1, count(*)) FROM agg.trips $$);
SELECT expect_error($$ SELECT count(*) FROM agg.trips t, LATERAL (SELECT t.fare) l $$);
COPY agg.trips TO STDOUT;
SELECT expect_error($$ EXPLAIN ANALYZE SELECT count(*) FROM agg.trips $$);
RESET ROLE;
CREATE FUNCTION public.agg_peek(int) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
SET ROLE regress_agg_reader;
SELECT expect_error($$ SELECT count(*) FROM agg.trips WHERE public.agg_peek(fare) $$);
RESET ROLE;

-- An entity key: groups count distinct customers (20 per big city, 5 per
-- small one; the remainder's 30 customers are counted from their union).
SET ROLE regress_agg_team;
SELECT meshpg.drop_policy('agg_trips');
SELECT meshpg.create_aggregation_policy('agg_trips_cust', 20, product => 'agg.trips',
       entity_key => 'customer', aggregates => '{count,sum,min,max}',
       exempt_roles => '{regress_agg_exempt}');
RESET ROLE;
SET ROLE regress_agg_reader;
SELECT subject, policy, kind, effect, reason FROM meshpg.explain_access('agg.trips') WHERE subject = 'aggregates';
SELECT city, count(*), min(fare), max(fare) FROM agg.trips GROUP BY city ORDER BY 1;
-- a customer per row but the same few customers: one group of 25 rows of 5
SELECT count(*) FROM agg.trips WHERE customer IN (0, 1, 2, 3, 4);
SELECT expect_error($$ SELECT avg(fare) FROM agg.trips $$);
RESET ROLE;

-- Composition: rows filtered first, then groups counted.
SET ROLE regress_agg_team;
SELECT meshpg.create_row_policy('agg_eu', 'region = ''EU''', product => 'agg.trips',
       exempt_roles => '{regress_agg_exempt}');
SELECT meshpg.create_masking_policy('agg_fare', 'null', product => 'agg.trips', column_name => 'fare',
       exempt_roles => '{regress_agg_exempt}');
RESET ROLE;
SET ROLE regress_agg_reader;
SELECT city, count(*), sum(fare) FROM agg.trips GROUP BY city ORDER BY 1;
RESET ROLE;

-- Exempt: rows as usual.
SET ROLE regress_agg_exempt;
SELECT count(*) FROM (SELECT * FROM agg.trips) s;
SELECT city, count(*) FROM agg.trips WHERE city LIKE 'small%' GROUP BY city ORDER BY 1 LIMIT 2;
RESET ROLE;

-- A plan made for the exempt role is not reused by the reader.
GRANT regress_agg_exempt, regress_agg_reader TO regress_agg_team;
SET ROLE regress_agg_exempt;
PREPARE agg_q AS SELECT city, count(*) FROM agg.trips GROUP BY city ORDER BY 1;
EXECUTE agg_q;
SET ROLE regress_agg_reader;
EXECUTE agg_q;
RESET ROLE;
DEALLOCATE agg_q;

-- The access history names the policies that applied, with their kind.
SELECT meshpg.flush_access_history() >= 0 AS flushed_earlier;
SET ROLE regress_agg_reader;
SELECT city, count(*), sum(fare) FROM agg.trips GROUP BY city ORDER BY 1;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT DISTINCT masks::text, row_policies FROM meshpg.access_history
 WHERE product = 'agg.trips' AND role = 'regress_agg_reader' AND 'agg_eu' = ANY (row_policies)
 ORDER BY 1, 2;

-- pg_stats shows nothing of an aggregate-only product to the reader.
ANALYZE agg.trips;
SET ROLE regress_agg_reader;
SELECT count(*) FROM pg_stats WHERE schemaname = 'agg' AND tablename = 'trips';
RESET ROLE;

-- A descriptor carries the policies and applies them back.
SET ROLE regress_agg_team;
SELECT meshpg.export('agg.trips', 'json') AS d \gset
SELECT p->>'name', p->>'kind', p->'args' FROM jsonb_array_elements((:'d')::jsonb->'policies') p ORDER BY 1;
SELECT meshpg.drop_policy('agg_trips_cust');
SELECT action, object FROM meshpg.apply(:'d') WHERE action LIKE '%policy%';
SELECT name, kind, mask_args FROM meshpg.policies WHERE product = 'agg.trips' ORDER BY 1;
RESET ROLE;
