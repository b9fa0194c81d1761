--
-- lineage_graph: static lineage from the views and materialized views built
-- on products (column level), runtime lineage from the statements that read
-- products and write a relation, the graph walk, the DOT and OpenLineage
-- exports, and impact analysis.
--
SELECT meshpg.create_domain('lin', 'regress_payments_team', 'Lineage tests');
SET ROLE regress_pay_dev;
CREATE TABLE lin.orders (id int PRIMARY KEY, customer text, amount numeric, region text);
INSERT INTO lin.orders
SELECT g, 'c' || (g % 3), g * 10, CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US' END
  FROM generate_series(1, 6) g;
SELECT meshpg.register_product('lin', 'orders', 'lin.orders', description => 'Orders');
SELECT meshpg.publish('lin.orders', '1.0.0');
SELECT meshpg.grant_access('lin.orders', 'regress_analyst');

-- Static lineage: a view that is not a product, a product view on it, a
-- materialized view with a CTE and a scalar sublink, a join.
CREATE VIEW lin.staging AS SELECT id, upper(customer) AS cust, amount FROM lin.orders;
CREATE VIEW lin.by_customer AS SELECT cust, sum(amount) AS total FROM lin.staging GROUP BY cust;
CREATE MATERIALIZED VIEW lin.by_region AS
  WITH r AS (SELECT region, amount FROM lin.orders)
  SELECT region AS area, (SELECT max(amount) FROM lin.orders) AS top, count(*) AS n
    FROM r GROUP BY region;
CREATE VIEW lin.joined AS
  SELECT o.id, s.cust, o.amount + 1 AS amount_plus FROM lin.orders o JOIN lin.staging s USING (id);
SELECT meshpg.register_product('lin', 'by_customer', 'lin.by_customer', description => 'Totals per customer');
SELECT meshpg.register_product('lin', 'by_region', 'lin.by_region', description => 'Totals per region');

-- Runtime lineage: INSERT ... SELECT, UPDATE ... FROM, MERGE, CREATE TABLE
-- AS, SELECT INTO, REFRESH MATERIALIZED VIEW.
CREATE TABLE lin.archive (order_id int, who text, amount numeric);
INSERT INTO lin.archive SELECT id, customer, amount FROM lin.orders WHERE id <= 2;
UPDATE lin.archive a SET amount = o.amount * 2 FROM lin.orders o WHERE o.id = a.order_id;
MERGE INTO lin.archive a USING lin.orders o ON a.order_id = o.id
  WHEN NOT MATCHED THEN INSERT VALUES (o.id, o.region, o.amount);
CREATE TABLE lin.snapshot AS SELECT id, amount AS value FROM lin.orders;
SELECT id, customer INTO lin.selected FROM lin.orders;
REFRESH MATERIALIZED VIEW lin.by_region;
-- Not lineage: a temporary target, a write that rolls back, a write that
-- reads no product.  A repeated statement adds no duplicate.
CREATE TEMP TABLE scratch AS SELECT * FROM lin.orders;
BEGIN;
CREATE TABLE lin.gone AS SELECT id FROM lin.orders;
ROLLBACK;
INSERT INTO lin.archive VALUES (100, 'x', 1);
INSERT INTO lin.archive SELECT id, customer, amount FROM lin.orders WHERE id = 1;
-- In a function, as an ETL job would.
CREATE FUNCTION lin.load() RETURNS void LANGUAGE plpgsql
AS $$ BEGIN INSERT INTO lin.archive (order_id, amount) SELECT id, amount FROM lin.orders; END $$;
SELECT lin.load();
RESET ROLE;

SELECT source, target, kind, recorded_by
  FROM meshpg.cat_lineage WHERE source::text LIKE 'lin.%' ORDER BY source::text, target::text, kind;
SELECT source, source_column, target, target_column, kind
  FROM meshpg.cat_lineage_column WHERE source::text LIKE 'lin.%' ORDER BY source::text, source_column, target::text, target_column, kind;

-- Every edge, static and runtime; metadata is readable by everyone.
SET ROLE regress_analyst;
SELECT source, target, kind, source_is_product, target_is_product, columns
  FROM meshpg.lineage_edges WHERE source LIKE 'lin.%' ORDER BY 1, 2, 3;

-- The walk, both ways and bounded.
SELECT * FROM meshpg.lineage('lin.orders');
SELECT * FROM meshpg.lineage('lin.by_customer', 'upstream');
SELECT level, source, target, kind FROM meshpg.lineage('lin.by_customer', 'both', 1);
SELECT level, source, target, kind FROM meshpg.lineage('lin.orders', depth => 1);
SELECT expect_error($$ SELECT * FROM meshpg.lineage('lin.orders', 'sideways') $$);
SELECT expect_error($$ SELECT * FROM meshpg.lineage('lin.orders', NULL) $$);
SELECT expect_error($$ SELECT * FROM meshpg.lineage('lin.orders', depth => 0) $$);
SELECT expect_error($$ SELECT * FROM meshpg.lineage('lin.orders', depth => 101) $$);
SELECT expect_error($$ SELECT * FROM meshpg.lineage('lin.staging') $$);
SELECT expect_error($$ SELECT * FROM meshpg.lineage('orders') $$);
SELECT expect_error($$ SELECT * FROM meshpg.lineage(NULL) $$);

-- Exports: Graphviz DOT, and OpenLineage run events (eventTime left out).
SELECT meshpg.lineage_dot('lin.by_customer', 'upstream');
SELECT meshpg.lineage_dot('lin.orders', 'downstream', 1);
SELECT jsonb_pretty(jsonb_agg(e - 'eventTime' ORDER BY e -> 'job' ->> 'name'))
  FROM jsonb_array_elements(meshpg.lineage_openlineage('lin.by_customer', 'upstream', 2)) e;
SELECT jsonb_array_length(meshpg.lineage_openlineage('lin.orders', 'downstream', 2)) AS events,
       meshpg.lineage_dot() LIKE 'digraph mesh {%' AS whole_mesh;
RESET ROLE;

-- Impact: what derives from a column, and who read it lately.
SET ROLE regress_analyst;
SELECT customer FROM lin.orders WHERE id = 1;
SELECT amount FROM lin.orders WHERE id = 2;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SET ROLE regress_pay_dev;
SELECT kind, name, via, reads FROM meshpg.impact('lin.orders', 'customer', 7);
SELECT kind, name, via, reads FROM meshpg.impact('lin.orders', 'amount');
SELECT kind, name, via, reads FROM meshpg.impact('lin.orders');
SELECT expect_error($$ SELECT * FROM meshpg.impact('lin.orders', 'nope') $$);
SELECT expect_error($$ SELECT * FROM meshpg.impact('lin.orders', 'amount', 0) $$);
SELECT expect_error($$ SELECT * FROM meshpg.impact('lin.orders', 'amount', NULL) $$);
SELECT expect_error($$ SELECT * FROM meshpg.impact('lin.nothing') $$);
RESET ROLE;
SET ROLE regress_gov;
SELECT count(*) AS gov_rows FROM meshpg.impact('lin.orders', 'customer');
RESET ROLE;
-- Who read what is the owning domain's and the governance team's to know.
SET ROLE regress_market_dev;
SELECT expect_error($$ SELECT * FROM meshpg.impact('lin.orders', 'customer') $$);
RESET ROLE;
SET ROLE regress_analyst;
SELECT expect_error($$ SELECT * FROM meshpg.impact('lin.orders', 'customer') $$);
-- Nor can anyone write the lineage by hand.
SELECT expect_error($$ INSERT INTO meshpg.cat_lineage VALUES ('lin.orders', 'lin.orders', 'insert', 'me') $$);
RESET ROLE;

-- A write rolled back to a savepoint leaves no lineage, and the same write
-- done again in the transaction records it.
SET ROLE regress_pay_dev;
CREATE TABLE lin.sub (id int);
BEGIN;
SAVEPOINT s;
INSERT INTO lin.sub SELECT id FROM lin.orders;
ROLLBACK TO SAVEPOINT s;
INSERT INTO lin.sub SELECT id FROM lin.orders;
COMMIT;
RESET ROLE;
SELECT source, target, kind FROM meshpg.cat_lineage WHERE target = 'lin.sub'::regclass;
SELECT source_column, target_column FROM meshpg.cat_lineage_column WHERE target = 'lin.sub'::regclass;
SET ROLE regress_pay_dev;
DROP TABLE lin.sub;
RESET ROLE;

-- A dropped relation leaves the lineage.
SET ROLE regress_pay_dev;
DROP TABLE lin.snapshot;
DROP TABLE lin.selected;
RESET ROLE;
SELECT source, target, kind FROM meshpg.cat_lineage WHERE source::text LIKE 'lin.%' ORDER BY source::text, target::text, kind;
SELECT count(*) AS snapshot_columns FROM meshpg.cat_lineage_column
 WHERE target::text IN ('lin.snapshot', 'lin.selected');
