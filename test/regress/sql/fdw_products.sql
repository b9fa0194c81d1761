--
-- fdw_products: a foreign table registered as a data product, governed here
-- on top of what its source allows.  A loopback postgres_fdw server (to this
-- same database) stands for the domain's own server; the source table is
-- an ordinary table the mapped role reads raw, so what the consumer gets is
-- exactly what meshpg enforces locally.
--
SET compute_query_id = off;
CREATE EXTENSION postgres_fdw;
DO $$
BEGIN
    EXECUTE format('CREATE SERVER fdw_loop FOREIGN DATA WRAPPER postgres_fdw '
                   'OPTIONS (dbname %L, port %L)',
                   current_database(), current_setting('port'));
END
$$;
CREATE ROLE regress_fdw_source LOGIN;
CREATE SCHEMA fdw_src;
CREATE TABLE fdw_src.orders (id int PRIMARY KEY, region text, email text, note text, amount numeric);
INSERT INTO fdw_src.orders
SELECT g, CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US' END, 'buyer' || g || '@shop.example',
       CASE WHEN g % 2 = 0 THEN 'visible ' || g ELSE 'hidden ' || g END, g * 10
  FROM generate_series(1, 10) g;
GRANT USAGE ON SCHEMA fdw_src TO regress_fdw_source;
GRANT SELECT ON fdw_src.orders TO regress_fdw_source;
-- Every local role connects as regress_fdw_source (trust: no password).
CREATE USER MAPPING FOR PUBLIC SERVER fdw_loop
       OPTIONS (user 'regress_fdw_source', password_required 'false');

CREATE ROLE regress_fed_team;
CREATE ROLE regress_fed_dev IN ROLE regress_fed_team;
SELECT meshpg.create_domain('fed', 'regress_fed_team', 'Federated orders');
GRANT USAGE ON FOREIGN SERVER fdw_loop TO regress_fed_team;
SET ROLE regress_gov;
SELECT meshpg.create_tag('fed.email');
SELECT meshpg.create_masking_policy('fed_mask_email', 'email', tag => 'fed.email');
SELECT meshpg.set_attribute('regress_analyst', 'fed_region', '{EU}');
RESET ROLE;

-- The domain team registers a foreign table like any relation of its schema.
SET ROLE regress_fed_dev;
CREATE FOREIGN TABLE fed.orders (id int, region text, email text, note text, amount numeric)
       SERVER fdw_loop OPTIONS (schema_name 'fdw_src', table_name 'orders');
SELECT meshpg.register_product('fed', 'orders', 'fed.orders', description => 'Orders from the shop server');
SELECT product, relation, kind, state FROM meshpg.products WHERE domain = 'fed';
SELECT meshpg.tag_column('fed.orders', 'email', 'fed.email');
SELECT meshpg.create_row_policy('fed_own_region',
       'region = ANY (meshpg.attribute(''fed_region''))', product => 'fed.orders',
       exempt_purposes => '{fraud-review}');
SELECT meshpg.publish('fed.orders', '1.0.0');
SELECT meshpg.grant_access('fed.orders', 'regress_analyst', purpose => 'fraud-review');
RESET ROLE;

-- Bad input.
CREATE FOREIGN TABLE public.fed_outside (id int) SERVER fdw_loop
       OPTIONS (schema_name 'fdw_src', table_name 'orders');
SET ROLE regress_fed_dev;
SELECT expect_error($$ SELECT meshpg.register_product('fed', 'outside', 'public.fed_outside') $$);
SELECT expect_error($$ SELECT meshpg.register_product('fed', 'orders_again', 'fed.orders') $$);
SELECT expect_error($$ SELECT meshpg.register_product('fed', 'seq', 'fed.no_such_table') $$);
RESET ROLE;
DROP FOREIGN TABLE public.fed_outside;

-- Consumers hold no SQL privilege on it: without meshpg, PostgreSQL refuses.
SELECT has_table_privilege('regress_analyst', 'fed.orders', 'SELECT') AS analyst_has_sql_select;
SELECT relacl FROM pg_class WHERE oid = 'fed.orders'::regclass;

-- The consumer: masked and filtered, whatever the remote server would send.
SET ROLE regress_analyst;
SELECT * FROM fed.orders ORDER BY id;
SELECT region, count(*), sum(amount) FROM fed.orders GROUP BY region;
COPY fed.orders TO STDOUT;
COPY fed.orders (id, email) TO STDOUT;
SELECT o FROM fed.orders o WHERE id = 2;
-- The row filter reaches the remote server; the reader's own non-leakproof
-- quals are not sent with it (they run here, above the filtered rows), and
-- its leakproof ones may be.
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM fed.orders WHERE note::int = 1;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM fed.orders WHERE note = 'hidden 1';
SELECT expect_error($$ SELECT id FROM fed.orders WHERE note::int = 1 $$);
SELECT id FROM fed.orders WHERE 1 / (CASE WHEN note LIKE 'hidden%' THEN 0 ELSE 1 END) = 1 ORDER BY id;
-- Joins and aggregates run here too, on filtered rows.
EXPLAIN (VERBOSE, COSTS OFF)
SELECT a.id FROM fed.orders a JOIN fed.orders b ON a.id = b.id + 2 ORDER BY 1;
SELECT a.id FROM fed.orders a JOIN fed.orders b ON a.id = b.id + 2 ORDER BY 1;
-- A masked column: every reference reads the mask.
SELECT count(*) FROM fed.orders WHERE email LIKE 'buyer%';
-- What cannot be governed through a foreign scan is refused.
SELECT expect_error($$ SELECT tableoid::regclass FROM fed.orders $$);
SELECT expect_error($$ SELECT * FROM fed.orders FOR SHARE $$);
SELECT expect_error($$ EXPLAIN ANALYZE SELECT * FROM fed.orders $$);
-- Purposes lift the row policy only as the grant names them.
SET meshpg.purpose = 'fraud-review';
SELECT count(*) FROM fed.orders;
RESET meshpg.purpose;
SELECT count(*) FROM fed.orders;
SELECT expect_error($$ SET meshpg.purpose = 'marketing' $$);
RESET ROLE;
SELECT * FROM meshpg.explain_access('fed.orders', 'regress_analyst');

-- A role with no grant, and a write granted by hand.
SET ROLE regress_analyst2;
SELECT expect_error($$ SELECT * FROM fed.orders $$);
RESET ROLE;
GRANT UPDATE ON fed.orders TO regress_analyst;
SET ROLE regress_analyst;
SELECT expect_error($$ UPDATE fed.orders SET note = 'x' WHERE note::int = 1 $$);
RESET ROLE;
REVOKE UPDATE ON fed.orders FROM regress_analyst;

-- A grant that expires: a plan cached while it held is stopped after.
SET ROLE regress_fed_dev;
SELECT meshpg.grant_access('fed.orders', 'regress_analyst2', expires => now() + interval '1 second');
RESET ROLE;
SET ROLE regress_analyst2;
PREPARE fed_count AS SELECT count(*) FROM fed.orders;
EXECUTE fed_count;
SELECT pg_sleep(1.2);
SELECT split_part(expect_error($$ EXECUTE fed_count $$), E'\n', 1) AS cached_plan;
SELECT split_part(expect_error($$ SELECT count(*) FROM fed.orders $$), E'\n', 2) LIKE
       'DETAIL: The access grant of role "regress_analyst2" expired at %' AS expired;
DEALLOCATE fed_count;
RESET ROLE;
SET ROLE regress_fed_dev;
SELECT meshpg.revoke_access('fed.orders', 'regress_analyst2');
RESET ROLE;

-- The domain team reads raw, and everything is pushed down as usual.
SET ROLE regress_fed_dev;
SELECT count(*), count(DISTINCT region) FROM fed.orders;
EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*) FROM fed.orders WHERE note::int = 1;
RESET ROLE;

-- A partitioned product with a foreign partition: read through the
-- parent, the same protection applies to the partition's remote scan.
CREATE TABLE fdw_src.sales_remote (id int, region text, note text);
INSERT INTO fdw_src.sales_remote
SELECT g, CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US' END,
       CASE WHEN g % 2 = 0 THEN 'visible ' || g ELSE 'hidden ' || g END
  FROM generate_series(6, 10) g;
GRANT SELECT ON fdw_src.sales_remote TO regress_fdw_source;
SET ROLE regress_fed_dev;
CREATE TABLE fed.sales (id int, region text, note text) PARTITION BY RANGE (id);
CREATE TABLE fed.sales_local PARTITION OF fed.sales FOR VALUES FROM (1) TO (6);
INSERT INTO fed.sales_local VALUES (2, 'EU', 'visible 2'), (3, 'US', 'hidden 3');
CREATE FOREIGN TABLE fed.sales_remote PARTITION OF fed.sales FOR VALUES FROM (6) TO (11)
       SERVER fdw_loop OPTIONS (schema_name 'fdw_src', table_name 'sales_remote');
SELECT meshpg.register_product('fed', 'sales', 'fed.sales', description => 'Sales, partly remote');
SELECT meshpg.create_row_policy('fed_sales_region',
       'region = ANY (meshpg.attribute(''fed_region''))', product => 'fed.sales');
SELECT meshpg.publish('fed.sales', '1.0.0');
SELECT meshpg.grant_access('fed.sales', 'regress_analyst');
RESET ROLE;
SET ROLE regress_analyst;
SELECT * FROM fed.sales ORDER BY id;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM fed.sales WHERE note::int = 1;
SELECT expect_error($$ SELECT id FROM fed.sales WHERE id > 5 AND note::int = 1 $$);
SELECT expect_error($$ SELECT count(*) FROM fed.sales_remote $$);
RESET ROLE;

-- Statistics: ANALYZE samples the remote rows; what the reader may not see,
-- its estimates do not use either, and remote estimates are refused.
INSERT INTO fdw_src.orders
SELECT g, 'US', 'x' || g || '@shop.example', 'popular', 1 FROM generate_series(11, 400) g;
SET ROLE regress_fed_dev;
ANALYZE fed.orders;
RESET ROLE;
CREATE FUNCTION pg_temp.estimate(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::int;
END
$$;
SET ROLE regress_fed_dev;
SELECT pg_temp.estimate($$ SELECT * FROM fed.orders WHERE note = 'popular' $$) > 100 AS owner_sees_the_common_value;
RESET ROLE;
SET ROLE regress_analyst;
SELECT pg_temp.estimate($$ SELECT * FROM fed.orders WHERE note = 'popular' $$) < 10 AS reader_gets_the_default;
SELECT count(*) AS reader_pg_stats FROM pg_stats WHERE schemaname = 'fed' AND tablename = 'orders';
RESET ROLE;
SET ROLE regress_fed_dev;
ALTER FOREIGN TABLE fed.orders OPTIONS (ADD use_remote_estimate 'true');
RESET ROLE;
SET ROLE regress_analyst;
SELECT expect_error($$ SELECT count(*) FROM fed.orders $$);
RESET ROLE;
SET ROLE regress_fed_dev;
SELECT count(*) FROM fed.orders;
ALTER FOREIGN TABLE fed.orders OPTIONS (DROP use_remote_estimate);
RESET ROLE;
DELETE FROM fdw_src.orders WHERE id > 10;

-- Contracts and the DDL guard hold for ALTER and DROP FOREIGN TABLE.
SET ROLE regress_fed_dev;
SELECT expect_error($$ ALTER FOREIGN TABLE fed.orders DROP COLUMN note $$);
SELECT expect_error($$ ALTER FOREIGN TABLE fed.orders RENAME COLUMN note TO remark $$);
SELECT expect_error($$ ALTER FOREIGN TABLE fed.orders ALTER COLUMN id TYPE bigint $$);
SELECT expect_error($$ ALTER FOREIGN TABLE fed.orders RENAME TO orders_old $$);
SELECT expect_error($$ ALTER FOREIGN TABLE fed.orders SET SCHEMA public $$);
SELECT expect_error($$ DROP FOREIGN TABLE fed.orders $$);
ALTER FOREIGN TABLE fed.orders ADD COLUMN source text;
SELECT version FROM meshpg.products WHERE product = 'fed.orders';
SELECT column_name, type, published_type FROM meshpg.product_columns
 WHERE product = 'fed.orders' ORDER BY position;

-- SLOs are measured on the rows the domain team's mapping reads, and the
-- descriptor names the kind, as plan() reads it back.
SELECT meshpg.declare_slo('fed.orders', 'fed_volume', 'volume', '{"min_rows": 3}');
SELECT slo, value, met FROM meshpg.evaluate('fed.orders');
SELECT meshpg.export('fed.orders') LIKE '%physicalType: foreign table%' AS exported_kind;
SELECT count(*) AS changes FROM meshpg.plan(meshpg.export('fed.orders'));

-- IMPORT FOREIGN SCHEMA into the domain schema: internal relations,
-- readable by no consumer, until one is registered.  Dropping a draft
-- product's foreign table unregisters it.
RESET ROLE;
CREATE TABLE fdw_src.customers (id int, name text);
INSERT INTO fdw_src.customers VALUES (1, 'Ana');
GRANT SELECT ON fdw_src.customers TO regress_fdw_source;
SET ROLE regress_fed_dev;
IMPORT FOREIGN SCHEMA fdw_src LIMIT TO (customers) FROM SERVER fdw_loop INTO fed;
SELECT relname, relkind FROM pg_class WHERE relnamespace = 'fed'::regnamespace ORDER BY 1;
SELECT meshpg.register_product('fed', 'customers', 'fed.customers', description => 'Customers');
RESET ROLE;
SET ROLE regress_analyst;
SELECT expect_error($$ SELECT count(*) FROM fed.customers $$);
RESET ROLE;
SET ROLE regress_fed_dev;
DROP FOREIGN TABLE fed.customers;
SELECT count(*) AS customers_products FROM meshpg.products WHERE product = 'fed.customers';

-- Lineage: a view product built on the foreign-table product.
CREATE VIEW fed.orders_eu AS SELECT id, email, amount FROM fed.orders WHERE region = 'EU';
SELECT meshpg.register_product('fed', 'orders_eu', 'fed.orders_eu', description => 'EU orders');
SELECT level, source, target, kind FROM meshpg.lineage('fed.orders') ORDER BY 1, 2, 3;
RESET ROLE;

-- The access history records the consumer's reads, with what applied.
SELECT meshpg.flush_access_history() >= 0 AS flushed;
SET ROLE regress_analyst;
SELECT count(*) FROM fed.orders;
SELECT email FROM fed.orders WHERE id = 2;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT product, relation, role, columns, masks, row_policies, rows
  FROM meshpg.access_history
 WHERE product = 'fed.orders' AND role = 'regress_analyst'
 ORDER BY backend_start, statement DESC LIMIT 2;
