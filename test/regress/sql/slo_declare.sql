--
-- slo_declare: declaring, altering and dropping SLOs; every bad input.
--
CREATE ROLE regress_slo_team;
CREATE ROLE regress_slo_dev IN ROLE regress_slo_team;
CREATE ROLE regress_slo_gov IN ROLE meshpg_admin;
CREATE ROLE regress_slo_outsider;
SELECT meshpg.create_domain('mart', 'regress_slo_team', 'The mart');

-- The domain team builds as its owner role, so that evaluation (which runs
-- as that role) can read what it built.
SET ROLE regress_slo_team;
CREATE TABLE mart.orders (
    id      int PRIMARY KEY,
    amount  numeric,
    email   text,
    status  text,
    paid_at timestamptz,
    day     date,
    doc     json,
    code    int
);
CREATE VIEW mart.paid_orders AS SELECT * FROM mart.orders WHERE paid_at IS NOT NULL;
INSERT INTO mart.orders (id, amount, email, status, paid_at) VALUES
    (1, 10, 'a@example.com', 'paid', now()), (2, 20, 'b@example.com', 'new', NULL);
RESET ROLE;
SET ROLE regress_slo_dev;
SELECT meshpg.register_product('mart', 'orders', 'mart.orders');
SELECT meshpg.register_product('mart', 'paid_orders', 'mart.paid_orders');

-- One of each kind, with defaults filled in and the spec normalised.
SELECT meshpg.declare_slo('mart.orders', 'fresh', 'freshness',
                          '{"column": "paid_at", "max_age": "90 minutes"}',
                          schedule => '5 minutes');
SELECT meshpg.declare_slo('mart.orders', 'fresh_change', 'freshness', '{"max_age": "1 day"}',
                          compliance_window => '7 days', severity => 'critical');
SELECT meshpg.declare_slo('mart.orders', 'complete', 'completeness',
                          '{"columns": ["amount", "email"], "min_ratio": 0.995, "objective": 0.9}');
SELECT meshpg.declare_slo('mart.orders', 'valid', 'validity',
                          '{"expression": "amount >= 0 AND status IN (''new'', ''paid'')", "min_ratio": 0.99}');
SELECT meshpg.declare_slo('mart.orders', 'unique_email', 'uniqueness', '{"columns": ["email"]}');
SELECT meshpg.declare_slo('mart.orders', 'rows', 'volume',
                          '{"min_rows": 1, "max_rows": 1000000, "max_change_pct": 25.5}');
SELECT meshpg.declare_slo('mart.orders', 'rows_approx', 'volume',
                          '{"min_rows": 1, "approximate": true}');
SELECT meshpg.declare_slo('mart.orders', 'big_orders', 'custom',
                          '{"query": "SELECT count(*) FROM mart.orders WHERE amount > 100", "op": "<", "threshold": 1e3}');
SELECT meshpg.declare_slo('mart.paid_orders', 'fresh', 'freshness',
                          '{"column": "day", "max_age": "2 days"}');
SELECT product, name, kind, spec, compliance_window, severity, schedule
  FROM meshpg.slos ORDER BY product, name;

-- Canonical: the same promise written differently compares equal.
SELECT spec = '{"objective": 0.99, "max_age": "01:30:00", "column": "paid_at"}'::jsonb AS same
  FROM meshpg.slos WHERE product = 'mart.orders' AND name = 'fresh';

-- Declared twice.
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'fresh', 'freshness', '{"max_age": "1 hour"}') $$);

-- Bad input: names, kinds, settings.
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.nothing', 'x', 'volume', '{"min_rows": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'bad name!', 'volume', '{"min_rows": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'latency', '{}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', NULL) $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '[1]') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '{"min_rows": 1}', schedule => '30 seconds') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '{"min_rows": 1}', compliance_window => '0') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '{"min_rows": 1}', severity => 'fatal') $$);

-- Bad input: keys and their types and ranges.
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": ["amount"], "min_ratio": 0.9, "max_ratio": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": ["amount"], "min_ratio": "high"}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": ["amount"], "min_ratio": 1.5}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": ["amount"], "min_ratio": -0.1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": ["amount"], "min_ratio": 0.9, "objective": 0}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": "amount", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": [], "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": ["amount", "amount"], "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": ["nope"], "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": ["ctid"], "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'freshness', '{"column": "amount", "max_age": "1 hour"}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'freshness', '{"column": "paid_at", "max_age": "-1 hour"}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'freshness', '{"column": "paid_at", "max_age": "soon"}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'freshness', '{"column": "paid_at"}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'freshness', '{"column": 7, "max_age": "1 hour"}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.paid_orders', 'x', 'freshness', '{"max_age": "1 hour"}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.paid_orders', 'x', 'volume', '{"min_rows": 1, "approximate": true}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'uniqueness', '{"columns": ["doc"]}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'uniqueness', '{"columns": ["email"], "max_duplicates": 1.5}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '{"approximate": true}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '{"min_rows": 10, "max_rows": 5}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '{"max_rows": -1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '{"min_rows": 2.5}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '{"max_change_pct": 0}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '{"min_rows": 1, "approximate": "yes"}') $$);

-- Bad input: validity expressions.
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "amount + 1", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "random() > 0.5", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "generate_series(1, 3) > 0", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "sum(amount) > 0", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "row_number() OVER () > 0", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "amount > (SELECT 0)", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "nope > 0", "min_ratio": 0.9}') $$);
-- Injection attempts: nothing but one expression is accepted, and
-- identifiers are never pasted into SQL.
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "true) FROM mart.orders; DROP TABLE mart.orders; --", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "true; DROP TABLE mart.orders", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "true FROM pg_authid WHERE rolsuper", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "true UNION SELECT false", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'validity', '{"expression": "true /* */ ) --", "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'completeness', '{"columns": ["amount\" IS NOT NULL); DROP TABLE mart.orders; --"], "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'freshness', '{"column": "paid_at\")::timestamptz FROM pg_authid --", "max_age": "1 hour"}') $$);
-- A column whose name needs quoting is fine: it is quoted, not pasted.
SET ROLE regress_slo_team;
ALTER TABLE mart.orders ADD COLUMN "Odd ""name""" text;
SET ROLE regress_slo_dev;
SELECT meshpg.declare_slo('mart.orders', 'odd', 'completeness', '{"columns": ["Odd \"name\""], "min_ratio": 0}');
SELECT spec FROM meshpg.slos WHERE name = 'odd';

-- Bad input: custom queries.
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "SELECT 1; DROP TABLE mart.orders", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "DELETE FROM mart.orders RETURNING 1", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "WITH d AS (DELETE FROM mart.orders RETURNING 1) SELECT count(*) FROM d", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "SELECT count(*) INTO TEMP t FROM mart.orders", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "SELECT id FROM mart.orders FOR UPDATE", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "SELECT ''a''::text", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "SELECT 1, 2", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "SELECT random()", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "SELECT extract(epoch FROM clock_timestamp())", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "SELECT 1", "op": "=>", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "SELECT 1"}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "SELECT count(*) FROM orders", "threshold": 1}') $$);
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'custom', '{"query": "", "threshold": 1}') $$);

-- Nothing was written by any of that.
SELECT count(*) AS slos FROM meshpg.slos;
SELECT count(*) AS orders_still_there FROM mart.orders;
RESET ROLE;

-- Rights: the domain team and the governance team, no one else.
SET ROLE regress_slo_outsider;
SELECT expect_error($$ SELECT meshpg.declare_slo('mart.orders', 'x', 'volume', '{"min_rows": 1}') $$);
SELECT expect_error($$ SELECT meshpg.alter_slo('mart.orders', 'rows', severity => 'info') $$);
SELECT expect_error($$ SELECT meshpg.drop_slo('mart.orders', 'rows') $$);
SELECT expect_error($$ SELECT * FROM meshpg.evaluate('mart.orders') $$);
SELECT expect_error($$ INSERT INTO meshpg.cat_slo (product_id, name, kind, spec, compliance_window, severity) VALUES (1, 'x', 'volume', '{}', '1 day', 'info') $$);
SELECT expect_error($$ UPDATE meshpg.cat_slo SET last_met = true $$);
SELECT expect_error($$ DELETE FROM meshpg.cat_slo_result $$);
SELECT count(*) > 0 AS declarations_are_public FROM meshpg.slos;
RESET ROLE;
SET ROLE regress_slo_gov;
SELECT meshpg.declare_slo('mart.orders', 'gov_rows', 'volume', '{"max_rows": 10000000}');
SELECT meshpg.drop_slo('mart.orders', 'gov_rows');
RESET ROLE;

-- alter_slo: a new spec replaces the old one whole; NULL keeps a setting;
-- schedule '0' unschedules.
SET ROLE regress_slo_dev;
SELECT meshpg.alter_slo('mart.orders', 'complete', spec => '{"columns": ["amount"], "min_ratio": 0.9}',
                        severity => 'critical');
SELECT meshpg.alter_slo('mart.orders', 'fresh', schedule => '0');
SELECT meshpg.alter_slo('mart.orders', 'rows', schedule => '1 hour', compliance_window => '1 day');
SELECT name, spec, compliance_window, severity, schedule FROM meshpg.slos
 WHERE name IN ('complete', 'fresh', 'rows') AND product = 'mart.orders' ORDER BY name;
SELECT expect_error($$ SELECT meshpg.alter_slo('mart.orders', 'complete', spec => '{"columns": ["nope"], "min_ratio": 0.9}') $$);
SELECT expect_error($$ SELECT meshpg.alter_slo('mart.orders', 'nothing', severity => 'info') $$);
SELECT expect_error($$ SELECT meshpg.alter_slo('mart.orders', 'rows', schedule => '59 seconds') $$);
SELECT spec FROM meshpg.slos WHERE name = 'complete';

-- drop_slo, and the history goes with it.
SELECT meshpg.drop_slo('mart.orders', 'odd');
SELECT expect_error($$ SELECT meshpg.drop_slo('mart.orders', 'odd') $$);

-- Unregistering a product drops its SLOs.
SET ROLE regress_slo_team;
CREATE TABLE mart.scratch (id int);
SET ROLE regress_slo_dev;
SELECT meshpg.register_product('mart', 'scratch', 'mart.scratch');
SELECT meshpg.declare_slo('mart.scratch', 'rows', 'volume', '{"min_rows": 1}');
SELECT meshpg.unregister_product('mart.scratch');
SELECT count(*) FROM meshpg.slos WHERE product = 'mart.scratch';
RESET ROLE;

-- The catalog is dumped with the database.
SELECT c.relname
  FROM pg_extension e, unnest(e.extconfig) AS cfg(oid)
  JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'meshpg' AND c.relname LIKE 'cat_slo%' ORDER BY 1;
