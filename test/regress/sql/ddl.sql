--
-- ddl: the catalog stays right when the objects it names change.
--
SET ROLE regress_pay_dev;
-- Renaming a published product's relation or one of its columns breaks its
-- consumers' queries: refused (see contract_ddl for the rest of the contract).
SELECT expect_error($$ ALTER TABLE payments.payouts RENAME TO payouts_v1 $$);
SELECT expect_error($$ ALTER TABLE payments.payouts RENAME COLUMN tasker_id TO tasker $$);
-- A draft's relation and columns may be renamed: the catalog follows.
CREATE TABLE payments.payout_drafts (tasker_id bigint, amount numeric);
SELECT meshpg.register_product('payments', 'payout_drafts', 'payments.payout_drafts', description => 'Drafts');
ALTER TABLE payments.payout_drafts RENAME TO payout_drafts_v1;
SELECT product, relation FROM meshpg.products WHERE product = 'payments.payout_drafts';
SELECT meshpg.document_column('payments.payout_drafts', 'tasker_id', 'The Tasker paid');
ALTER TABLE payments.payout_drafts_v1 RENAME COLUMN tasker_id TO tasker;
SELECT column_name, description FROM meshpg.product_columns
 WHERE product = 'payments.payout_drafts' ORDER BY position;
SELECT meshpg.unregister_product('payments.payout_drafts');
DROP TABLE payments.payout_drafts_v1;
-- ... also when the rename reaches a product through its unregistered parent.
CREATE TABLE payments.ledger_base (entry_id bigint, amount numeric);
CREATE TABLE payments.ledger () INHERITS (payments.ledger_base);
SELECT meshpg.register_product('payments', 'ledger', 'payments.ledger', description => 'Ledger');
SELECT meshpg.document_column('payments.ledger', 'amount', 'Booked amount');
ALTER TABLE payments.ledger_base RENAME COLUMN amount TO booked;
SELECT column_name, description FROM meshpg.product_columns WHERE product = 'payments.ledger' ORDER BY position;
SELECT meshpg.unregister_product('payments.ledger');
DROP TABLE payments.ledger, payments.ledger_base;

-- Dropping a published product's relation, or one of its columns, is refused,
-- whatever the path.
SELECT expect_error($$ DROP TABLE payments.transactions CASCADE $$);
SELECT expect_error($$ DROP TABLE payments.payouts CASCADE $$);
SELECT expect_error($$ ALTER TABLE payments.transactions DROP COLUMN customer_email $$);
-- Partitions are the team's data management: they come and go.
CREATE TABLE payments.payouts_2025 PARTITION OF payments.payouts
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
DROP TABLE payments.payouts_2025;
-- A draft's relation may go; the catalog forgets the product.
DROP VIEW payments.daily_volume;
SELECT count(*) FROM meshpg.products WHERE product = 'payments.daily_volume';
-- a cascade from a dependency reaches a published product: refused
CREATE TABLE payments.fx (currency text, rate numeric);
CREATE VIEW payments.fx_rates AS SELECT * FROM payments.fx;
SELECT meshpg.register_product('payments', 'fx_rates', 'payments.fx_rates', description => 'FX rates');
SELECT meshpg.publish('payments.fx_rates', '1.0.0');
SELECT expect_error($$ DROP TABLE payments.fx CASCADE $$);
SELECT count(*) FROM meshpg.products WHERE product = 'payments.fx_rates';
RESET ROLE;
SELECT expect_error($$ DROP OWNED BY regress_payments_team CASCADE $$);
SELECT expect_error($$ DROP SCHEMA payments CASCADE $$);
SELECT count(*) AS products_left FROM meshpg.products WHERE domain = 'payments';

-- A draft's drop cleans the catalog up, documentation included.
SET ROLE regress_market_dev;
CREATE TABLE marketplace.scratch (a int, b int);
SELECT meshpg.register_product('marketplace', 'scratch', 'marketplace.scratch', description => 'tmp');
SELECT meshpg.document_column('marketplace.scratch', 'b', 'doomed');
ALTER TABLE marketplace.scratch DROP COLUMN b;
SELECT column_name, description FROM meshpg.product_columns WHERE product = 'marketplace.scratch';
DROP TABLE marketplace.scratch;
SELECT count(*) FROM meshpg.products WHERE product = 'marketplace.scratch';
RESET ROLE;
SELECT count(*) AS orphans FROM meshpg.cat_column c LEFT JOIN meshpg.cat_product p ON p.id = c.product_id WHERE p.id IS NULL;

-- A product's relation cannot leave its domain's schema.
CREATE SCHEMA elsewhere;
GRANT CREATE ON SCHEMA elsewhere TO regress_payments_team;
SET ROLE regress_pay_dev;
SELECT expect_error($$ ALTER TABLE payments.transactions SET SCHEMA elsewhere $$);
SELECT expect_error($$ ALTER VIEW payments.fx_rates SET SCHEMA elsewhere $$);
RESET ROLE;
DROP SCHEMA elsewhere;

-- A domain's schema is managed through meshpg only.
SELECT expect_error($$ ALTER SCHEMA payments RENAME TO pay $$);
SELECT expect_error($$ ALTER SCHEMA payments OWNER TO regress_market_team $$);
SELECT expect_error($$ DROP SCHEMA marketplace CASCADE $$);
SELECT expect_error($$ REASSIGN OWNED BY regress_market_team TO regress_payments_team $$);

-- The fail-closed guard cannot be removed from a product, even by its owner.
SET ROLE regress_pay_dev;
SELECT expect_error($$ DROP POLICY meshpg_guard ON payments.transactions $$);
SELECT expect_error($$ ALTER POLICY meshpg_guard ON payments.transactions USING (true) $$);
SELECT expect_error($$ ALTER POLICY meshpg_guard ON payments.transactions RENAME TO x $$);
SELECT expect_error($$ ALTER TABLE payments.transactions DISABLE ROW LEVEL SECURITY $$);
-- The owner's own permissive policies keep their meaning: the guard never widens them.
CREATE POLICY only_eu ON payments.transactions FOR SELECT TO regress_analyst USING (region = 'EU');
SELECT meshpg.grant_access('payments.transactions', 'regress_analyst');
RESET ROLE;
SET ROLE regress_analyst;
SELECT id, region FROM payments.transactions ORDER BY id;
RESET ROLE;
SET ROLE regress_pay_dev;
DROP POLICY only_eu ON payments.transactions;
RESET ROLE;
SET ROLE regress_analyst;
SELECT id, region FROM payments.transactions ORDER BY id;
RESET ROLE;

-- A dropped role loses its grants, so no later role can inherit them.
CREATE ROLE regress_temp_consumer;
SET ROLE regress_pay_dev;
SELECT meshpg.grant_access('payments.transactions', 'regress_temp_consumer');
RESET ROLE;
DROP OWNED BY regress_temp_consumer;
DROP ROLE regress_temp_consumer;
SELECT count(*) FROM meshpg.cat_grant g LEFT JOIN pg_roles r ON r.oid = g.grantee WHERE r.oid IS NULL;
