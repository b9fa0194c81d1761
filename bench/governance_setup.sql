-- bench/governance_setup.sql: the world for bench/governance.sh.
--   :rows     rows of the product (ids 1..rows; region EU when id % 3 = 0)
--
-- Three copies of the same rows, loaded the same way:
--   bench_dom.customers   the meshpg product: a row policy on the tagged
--                         region column (consumer attribute region = {EU}),
--                         email masked through a tag ('email'), card masked
--                         by a product-bound policy ('partial', keep_last 4)
--   raw.customers         the same table, no governance, readable by all
--   hw.customers          the hand-written equivalent: native RLS reading a
--                         mapping table, behind a security_barrier view
--                         (hw.customers_v) with CASE masks
-- Roles: bench_owner (the domain's owner, exempt), bench_consumer (granted
-- the product, region {EU}); both LOGIN for pgbench.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION meshpg;
CREATE ROLE bench_owner LOGIN;
CREATE ROLE bench_consumer LOGIN;
CREATE ROLE hw_admin NOLOGIN;

-- The rows, once; every copy is loaded from here in id order.
CREATE SCHEMA bench;
CREATE UNLOGGED TABLE bench.src AS
SELECT g::bigint AS id,
       'user' || g || '@example.com' AS email,
       '4' || lpad(((g::bigint * 7919) % 1000000000000000)::text, 15, '0') AS card,
       (ARRAY['EU', 'US', 'APAC'])[g % 3 + 1] AS region,
       round(((g * 37) % 100000) / 100.0, 2) AS amount,
       'Customer ' || g AS name,
       timestamptz '2024-01-01' + (g % 100000) * interval '5 minutes' AS created_at
  FROM generate_series(1, :rows) g;

-- meshpg: the product.
SELECT meshpg.create_domain('bench_dom', 'bench_owner', description => 'Benchmark domain');
SET ROLE bench_owner;
CREATE TABLE bench_dom.customers (
    id         bigint PRIMARY KEY,
    email      text NOT NULL,
    card       text NOT NULL,
    region     text NOT NULL,
    amount     numeric NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);
RESET ROLE;
INSERT INTO bench_dom.customers SELECT * FROM bench.src ORDER BY id;

-- raw: the same table without governance.
CREATE SCHEMA raw;
CREATE TABLE raw.customers (LIKE bench_dom.customers INCLUDING ALL);
INSERT INTO raw.customers SELECT * FROM bench.src ORDER BY id;
GRANT USAGE ON SCHEMA raw TO PUBLIC;
GRANT SELECT ON raw.customers TO PUBLIC;

-- hw: the hand-written PostgreSQL equivalent.  The view's owner is the
-- table's owner, so RLS is FORCEd for it; policies see the reader as
-- current_user.
CREATE SCHEMA hw AUTHORIZATION hw_admin;
CREATE TABLE hw.customers (LIKE bench_dom.customers INCLUDING ALL);
INSERT INTO hw.customers SELECT * FROM bench.src ORDER BY id;
ALTER TABLE hw.customers OWNER TO hw_admin;
SET ROLE hw_admin;
CREATE TABLE hw.user_regions (role name, region text, PRIMARY KEY (role, region));
INSERT INTO hw.user_regions VALUES
    ('bench_consumer', 'EU'),
    ('bench_owner', 'EU'), ('bench_owner', 'US'), ('bench_owner', 'APAC');
ALTER TABLE hw.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE hw.customers FORCE ROW LEVEL SECURITY;
CREATE POLICY by_region ON hw.customers FOR SELECT
    USING (region IN (SELECT region FROM hw.user_regions WHERE role = current_user));
CREATE VIEW hw.customers_v WITH (security_barrier) AS
SELECT id,
       CASE WHEN pg_has_role('bench_owner', 'USAGE') THEN email
            ELSE regexp_replace(email, '^[^@]*', '*****') END AS email,
       CASE WHEN pg_has_role('bench_owner', 'USAGE') THEN card
            ELSE repeat('*', length(card) - 4) || right(card, 4) END AS card,
       region, amount, name, created_at
  FROM hw.customers;
GRANT USAGE ON SCHEMA hw TO bench_consumer, bench_owner;
GRANT SELECT ON hw.customers_v TO bench_consumer, bench_owner;
RESET ROLE;
DROP TABLE bench.src;

-- meshpg governance: tags and tag-bound policies (governance team), the
-- consumer's attribute, then the domain team's part.
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('geo.region');
SELECT meshpg.create_masking_policy('email_mask', 'email', tag => 'pii.email');
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))',
                                tag => 'geo.region');
SELECT meshpg.set_attribute('bench_consumer', 'region', '{EU}');

SET ROLE bench_owner;
SELECT meshpg.register_product('bench_dom', 'customers', 'bench_dom.customers',
                               description => 'Benchmark customers');
SELECT meshpg.tag_column('bench_dom.customers', 'email', 'pii.email');
SELECT meshpg.tag_column('bench_dom.customers', 'region', 'geo.region');
SELECT meshpg.create_masking_policy('card_last4', 'partial', product => 'bench_dom.customers',
                                    column_name => 'card', args => '{"keep_last": 4}');
SELECT meshpg.publish('bench_dom.customers', '1.0.0');
SELECT meshpg.grant_access('bench_dom.customers', 'bench_consumer');
RESET ROLE;

VACUUM (FREEZE, ANALYZE) bench_dom.customers, raw.customers, hw.customers, hw.user_regions;
CHECKPOINT;
