-- bench/stats_setup.sql: the star schema of bench/stats.sh (B4), on top of
-- bench/governance_setup.sql (whose bench_dom.customers is one dimension).
--   :fact     rows of the fact product bench_dom.sales
-- A fact product (sales) and two dimension products (customers, stores),
-- each with the region row policy (the consumer sees EU) and a mask
-- (customers.email and stores.manager: email; sales.card: partial); the
-- same rows in raw.sales / raw.stores for the minimum.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE UNLOGGED TABLE bench.stores_src AS
SELECT g AS id,
       'city-' || (g % 97) AS city,
       (ARRAY['EU', 'US', 'APAC'])[g % 3 + 1] AS region,
       'manager' || g || '@stores.example' AS manager,
       (ARRAY['mall', 'street', 'outlet', 'airport'])[g % 4 + 1] AS kind
  FROM generate_series(1, 1000) g;
CREATE UNLOGGED TABLE bench.sales_src AS
SELECT g::bigint AS id,
       c AS customer_id,
       3 * (c % 332 + 1) + c % 3 AS store_id,   -- a store of the customer's region
       date '2024-01-01' + (g % 366)::int AS day,
       round(((g * 7919) % 100000) / 100.0, 2) AS amount,
       (ARRAY['EU', 'US', 'APAC'])[c % 3 + 1] AS region,
       '4' || lpad(((g * 104729) % 1000000000000000)::text, 15, '0') AS card
  FROM (SELECT g, 1 + (g * 2654435761) % (SELECT count(*) FROM bench_dom.customers) AS c
          FROM generate_series(1::bigint, :fact) g) s;

SET ROLE bench_owner;
CREATE TABLE bench_dom.stores (id int PRIMARY KEY, city text NOT NULL, region text NOT NULL,
                               manager text NOT NULL, kind text NOT NULL);
CREATE TABLE bench_dom.sales (id bigint PRIMARY KEY, customer_id bigint NOT NULL,
                              store_id int NOT NULL, day date NOT NULL, amount numeric NOT NULL,
                              region text NOT NULL, card text NOT NULL);
RESET ROLE;
INSERT INTO bench_dom.stores SELECT * FROM bench.stores_src ORDER BY id;
INSERT INTO bench_dom.sales SELECT * FROM bench.sales_src ORDER BY id;
CREATE INDEX sales_customer ON bench_dom.sales (customer_id);
CREATE INDEX sales_day ON bench_dom.sales (day);
CREATE TABLE raw.stores (LIKE bench_dom.stores INCLUDING ALL);
CREATE TABLE raw.sales (LIKE bench_dom.sales INCLUDING ALL);
INSERT INTO raw.stores SELECT * FROM bench.stores_src ORDER BY id;
INSERT INTO raw.sales SELECT * FROM bench.sales_src ORDER BY id;
CREATE INDEX raw_sales_customer ON raw.sales (customer_id);
CREATE INDEX raw_sales_day ON raw.sales (day);
GRANT SELECT ON raw.stores, raw.sales TO PUBLIC;
DROP TABLE bench.stores_src, bench.sales_src;

SET ROLE bench_owner;
SELECT meshpg.register_product('bench_dom', 'stores', 'bench_dom.stores', description => 'Stores');
SELECT meshpg.register_product('bench_dom', 'sales', 'bench_dom.sales', description => 'Sales');
SELECT meshpg.tag_column('bench_dom.stores', 'region', 'geo.region');
SELECT meshpg.tag_column('bench_dom.stores', 'manager', 'pii.email');
SELECT meshpg.tag_column('bench_dom.sales', 'region', 'geo.region');
SELECT meshpg.create_masking_policy('sales_card', 'partial', product => 'bench_dom.sales',
                                    column_name => 'card', args => '{"keep_last": 4}');
SELECT meshpg.publish('bench_dom.stores', '1.0.0');
SELECT meshpg.publish('bench_dom.sales', '1.0.0');
SELECT meshpg.grant_access('bench_dom.stores', 'bench_consumer');
SELECT meshpg.grant_access('bench_dom.sales', 'bench_consumer');
RESET ROLE;

-- Four more readers of customers, so that with bench_consumer (EU) it has
-- five specialisations: the refresh-cost measure.
SELECT format('CREATE ROLE %I', 'bench_r' || i) FROM generate_series(1, 4) i
\gexec
SELECT meshpg.set_attribute('bench_r1', 'region', '{US}');
SELECT meshpg.set_attribute('bench_r2', 'region', '{APAC}');
SELECT meshpg.set_attribute('bench_r3', 'region', '{EU,US}');
SELECT meshpg.set_attribute('bench_r4', 'region', '{US,APAC}');
SET ROLE bench_owner;
SELECT meshpg.grant_access('bench_dom.customers', ('bench_r' || i)::regrole) FROM generate_series(1, 4) i;
RESET ROLE;

VACUUM (FREEZE, ANALYZE) bench_dom.stores, bench_dom.sales, raw.stores, raw.sales;
SELECT meshpg.refresh_statistics(p) FROM unnest('{bench_dom.customers,bench_dom.stores,bench_dom.sales}'::text[]) p;
CHECKPOINT;
