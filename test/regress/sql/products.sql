--
-- products: registration, documentation, and who may do it.
--
SET ROLE regress_pay_dev;
CREATE TABLE payments.transactions (
    id bigint PRIMARY KEY,
    customer_email text NOT NULL,
    amount numeric(12,2),
    region text,
    settled_at timestamptz
);
INSERT INTO payments.transactions VALUES
    (1, 'ana@example.com', 10.50, 'EU', now()),
    (2, 'bo@example.com', 20.00, 'US', now()),
    (3, 'cy@example.com', 30.25, 'EU', now());
CREATE TABLE payments.payouts (id bigint, tasker_id bigint, amount numeric, paid_on date)
    PARTITION BY RANGE (paid_on);
CREATE TABLE payments.payouts_2026 PARTITION OF payments.payouts
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE payments.raw_charges (id bigint, card_number text);   -- internal, never granted
CREATE VIEW payments.daily_volume AS
    SELECT date_trunc('day', settled_at) AS day, sum(amount) AS volume
      FROM payments.transactions GROUP BY 1;
CREATE MATERIALIZED VIEW payments.region_volume AS
    SELECT region, sum(amount) AS volume FROM payments.transactions GROUP BY 1;
CREATE SEQUENCE payments.seq;
CREATE INDEX transactions_region_idx ON payments.transactions (region);
CREATE TYPE payments.money_pair AS (a numeric, b numeric);

SELECT meshpg.register_product('payments', 'transactions', 'payments.transactions',
                               description => 'Settled card transactions, one row per charge',
                               contacts => '{payments@example.com}');
SELECT meshpg.register_product('payments', 'Payouts', 'payments.payouts',
                               description => 'Payouts to Taskers', version => '1.0.0');
SELECT meshpg.register_product('payments', 'daily_volume', 'payments.daily_volume');
SELECT meshpg.register_product(domain => 'payments', name => 'region_volume',
                               relation => 'payments.region_volume');

SELECT product, domain, name, relation, kind, state, version, description, owner, contacts
  FROM meshpg.products ORDER BY product;

-- Table products carry the fail-closed guard: row security and its policy.
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.polname, p.polpermissive,
       pg_get_expr(p.polqual, p.polrelid) AS qual
  FROM pg_class c LEFT JOIN pg_policy p ON p.polrelid = c.oid
 WHERE c.relnamespace = 'payments'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
 ORDER BY 1;

-- Documenting
SELECT meshpg.document_product('payments.daily_volume', description => 'Settled volume per day');
SELECT meshpg.document_column('payments.transactions', 'amount', 'Charge amount in EUR');
SELECT meshpg.document_column('payments.transactions', 'customer_email', 'E-mail of the paying customer');
SELECT meshpg.document_column('payments.transactions', 'region', 'Sales region: EU, US or APAC');
SELECT meshpg.document_column('payments.transactions', 'region', 'Sales region (EU, US, APAC)');
SELECT column_name, position, type, nullable, description
  FROM meshpg.product_columns WHERE product = 'payments.transactions' ORDER BY position;
SELECT meshpg.document_column('payments.transactions', 'region', NULL);   -- clears
SELECT description FROM meshpg.product_columns
 WHERE product = 'payments.transactions' AND column_name = 'region';
SELECT meshpg.document_column('payments.transactions', 'region', 'Sales region (EU, US, APAC)');

-- Product references are normalised like names.
SELECT meshpg.document_product('PAYMENTS.Transactions', contacts => '{payments@example.com,#pay}');
SELECT contacts FROM meshpg.products WHERE product = 'payments.transactions';

-- Registration errors
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'transactions2', 'payments.transactions') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'transactions', 'payments.raw_charges') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'region_volurne', 'payments.raw_charges') $$);  -- rn vs m
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'payouts_2026', 'payments.payouts_2026') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'seq', 'payments.seq') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'idx', 'payments.transactions_region_idx') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'pair', 'payments.money_pair') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'classes', 'pg_catalog.pg_class') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'ghost', 987654321::regclass) $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'bad version', 'payments.raw_charges') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'raw', 'payments.raw_charges', version => '1.0') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'raw', 'payments.raw_charges', version => '01.0.0') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'raw', 'payments.raw_charges', version => NULL) $$);
SELECT expect_error($$ SELECT meshpg.register_product('nowhere', 'raw', 'payments.raw_charges') $$);
SELECT expect_error($$ SELECT meshpg.register_product(NULL, 'raw', 'payments.raw_charges') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', NULL, 'payments.raw_charges') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'raw', NULL) $$);
SELECT expect_error($$ SELECT meshpg.document_column('payments.transactions', 'no_such_column', 'x') $$);
SELECT expect_error($$ SELECT meshpg.document_column('payments.transactions', NULL, 'x') $$);
SELECT expect_error($$ SELECT meshpg.document_product('payments.nothing', 'x') $$);
SELECT expect_error($$ SELECT meshpg.document_product('transactions', 'x') $$);
SELECT expect_error($$ SELECT meshpg.document_product('a.b.c', 'x') $$);
SELECT expect_error($$ SELECT meshpg.document_product('.transactions', 'x') $$);
SELECT expect_error($$ SELECT meshpg.document_product(NULL, 'x') $$);
RESET ROLE;

-- A relation outside the domain's schema (the team can create one in public).
CREATE TABLE public.stray (a int);
ALTER TABLE public.stray OWNER TO regress_payments_team;
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'stray', 'public.stray') $$);
RESET ROLE;
DROP TABLE public.stray;

-- A member of domain A cannot touch domain B.
SET ROLE regress_market_dev;
CREATE TABLE marketplace.taskers (id bigint PRIMARY KEY, name text, city text, joined_on date, churned_on date);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'raw', 'payments.raw_charges') $$);
SELECT expect_error($$ SELECT meshpg.register_product('payments', 'taskers', 'marketplace.taskers') $$);
SELECT expect_error($$ SELECT meshpg.document_product('payments.transactions', 'hijacked') $$);
SELECT expect_error($$ SELECT meshpg.document_column('payments.transactions', 'amount', 'hijacked') $$);
SELECT meshpg.register_product('marketplace', 'taskers', 'marketplace.taskers',
                               description => 'Taskers and when they joined or churned');
RESET ROLE;
-- ... nor can the governance team, which owns no domain data.
SET ROLE regress_gov;
SELECT expect_error($$ SELECT meshpg.document_product('payments.transactions', 'governed') $$);
RESET ROLE;

-- nothing half-written by all those failures
SELECT product, description FROM meshpg.products ORDER BY product;
SELECT count(*) AS documented FROM meshpg.product_columns WHERE description LIKE '%hijacked%';
