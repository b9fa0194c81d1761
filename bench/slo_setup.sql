-- bench/slo_setup.sql: the product of bench/slo.sh, :rows rows, and its ten SLOs.
CREATE EXTENSION IF NOT EXISTS meshpg;
CREATE ROLE bench_team;
SELECT meshpg.create_domain('sales', 'bench_team', 'Sales');
SET ROLE bench_team;
CREATE TABLE sales.orders (
    id          bigint PRIMARY KEY,
    customer_id bigint,
    email       text,
    status      text,
    amount      numeric(12, 2),
    paid_at     timestamptz
);
INSERT INTO sales.orders
SELECT g,
       CASE WHEN g % 997 = 0 THEN NULL ELSE g % 100000 END,
       CASE WHEN g % 1009 = 0 THEN NULL ELSE 'user' || g || '@example.com' END,
       CASE WHEN g % 1000 = 3 THEN 'bogus' ELSE (ARRAY['new', 'paid', 'refunded'])[1 + g % 3] END,
       CASE WHEN g % 1013 = 0 THEN -1 ELSE (g % 10000) / 100.0 END,
       now() - (g % 86400) * interval '1 second'
  FROM generate_series(1, :rows) g;
VACUUM ANALYZE sales.orders;
RESET ROLE;
SELECT meshpg.register_product('sales', 'orders', 'sales.orders', description => 'Orders');
-- ten SLOs: two freshness (by column, by last change), three completeness,
-- three validity, uniqueness of the primary key, volume
SELECT meshpg.declare_slo('sales.orders', 'fresh_paid', 'freshness', '{"column": "paid_at", "max_age": "1 hour"}');
SELECT meshpg.declare_slo('sales.orders', 'fresh_change', 'freshness', '{"max_age": "1 day"}');
SELECT meshpg.declare_slo('sales.orders', 'customer_complete', 'completeness', '{"columns": ["customer_id"], "min_ratio": 0.99}');
SELECT meshpg.declare_slo('sales.orders', 'email_complete', 'completeness', '{"columns": ["email"], "min_ratio": 0.99}');
SELECT meshpg.declare_slo('sales.orders', 'row_complete', 'completeness', '{"columns": ["amount", "paid_at", "status"], "min_ratio": 0.99}');
SELECT meshpg.declare_slo('sales.orders', 'amount_valid', 'validity', '{"expression": "amount >= 0", "min_ratio": 0.99}');
SELECT meshpg.declare_slo('sales.orders', 'status_valid', 'validity', '{"expression": "status IN (''new'', ''paid'', ''refunded'')", "min_ratio": 0.99}');
SELECT meshpg.declare_slo('sales.orders', 'paid_valid', 'validity', '{"expression": "paid_at <= now()", "min_ratio": 0.99}');
SELECT meshpg.declare_slo('sales.orders', 'id_unique', 'uniqueness', '{"columns": ["id"]}');
SELECT meshpg.declare_slo('sales.orders', 'rows', 'volume', '{"min_rows": 1000, "max_rows": 100000000}');
-- a change meshpg sees (the load ran before registration)
SET ROLE bench_team;
INSERT INTO sales.orders VALUES (-1, 1, 'late@example.com', 'paid', 1, now());
RESET ROLE;
