--
-- contract_ddl: a published contract holds against every DDL path, for
-- everyone (superusers included); compatible changes become minor versions.
--
CREATE ROLE regress_ledger_team;
CREATE ROLE regress_ledger_dev IN ROLE regress_ledger_team;
SELECT meshpg.create_domain('ledger', 'regress_ledger_team');
CREATE SCHEMA ledger_archive;
GRANT CREATE ON SCHEMA ledger_archive TO regress_ledger_team;
SET ROLE regress_ledger_dev;
CREATE TYPE ledger.direction AS ENUM ('in', 'out');
CREATE FUNCTION ledger.cents(numeric) RETURNS bigint LANGUAGE sql IMMUTABLE
    AS $$ SELECT ($1 * 100)::bigint $$;
CREATE TABLE ledger.entries (
    id bigint NOT NULL,
    amount numeric(10,2),
    memo varchar(10),
    ref varchar(10),
    fee numeric(6,2),
    dir ledger.direction,
    booked_on date
) PARTITION BY RANGE (booked_on);
CREATE TABLE ledger.entries_2026 PARTITION OF ledger.entries
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO ledger.entries VALUES (1, 12.50, 'coffee', 'R1', 0.10, 'out', '2026-03-01');
CREATE VIEW ledger.totals AS
    SELECT id, ledger.cents(amount) AS cents, memo FROM ledger.entries;
CREATE MATERIALIZED VIEW ledger.daily AS
    SELECT booked_on, sum(amount) AS total FROM ledger.entries GROUP BY booked_on;
SELECT meshpg.register_product('ledger', 'entries', 'ledger.entries', description => 'Ledger entries');
SELECT meshpg.register_product('ledger', 'totals', 'ledger.totals', description => 'Totals in cents');
SELECT meshpg.register_product('ledger', 'daily', 'ledger.daily', description => 'Daily totals');
SELECT meshpg.document_column('ledger.entries', 'memo', 'Free text');
SELECT meshpg.publish('ledger.entries', '1.0.0');
SELECT meshpg.publish('ledger.totals', '1.0.0');
SELECT meshpg.publish('ledger.daily', '1.0.0');

-- The contract of each version is recorded at publish.
SELECT product, version, change, jsonb_path_query_array(contract, '$.columns[*].name') AS columns,
       contract->'columns'->1->>'type' AS amount_type
  FROM meshpg.contracts WHERE product LIKE 'ledger.%' ORDER BY product, version;

-- Breaking changes to a partitioned table, refused for the owning team...
SELECT expect_error($$ ALTER TABLE ledger.entries DROP COLUMN ref $$);
SELECT expect_error($$ ALTER TABLE ledger.entries DROP COLUMN memo CASCADE $$);
SELECT expect_error($$ ALTER TABLE ledger.entries RENAME COLUMN memo TO note $$);
SELECT expect_error($$ ALTER TABLE ledger.entries ALTER COLUMN fee TYPE numeric(5,2) $$);
SELECT expect_error($$ ALTER TABLE ledger.entries ALTER COLUMN fee TYPE numeric(8,3) $$);
SELECT expect_error($$ ALTER TABLE ledger.entries ALTER COLUMN ref TYPE text $$);
SELECT expect_error($$ ALTER TABLE ledger.entries ALTER COLUMN ref TYPE varchar(5) $$);
SELECT expect_error($$ ALTER TABLE ledger.entries ALTER COLUMN id DROP NOT NULL $$);
SELECT expect_error($$ ALTER TABLE ledger.entries RENAME TO entries_old $$);
SELECT expect_error($$ DROP TABLE ledger.entries CASCADE $$);
-- ... and on a partition: PostgreSQL itself keeps partitions in step.
SELECT expect_error($$ ALTER TABLE ledger.entries_2026 DROP COLUMN memo $$);
SELECT expect_error($$ ALTER TABLE ledger.entries_2026 ALTER COLUMN memo TYPE text $$);
SELECT expect_error($$ ALTER TABLE ledger.entries_2026 RENAME COLUMN memo TO note $$);
-- A view: dropped, replaced with other columns or types, renamed.
SELECT expect_error($$ DROP VIEW ledger.totals $$);
SELECT expect_error($$ CREATE OR REPLACE VIEW ledger.totals AS SELECT id, ledger.cents(amount)::int AS cents, memo FROM ledger.entries $$);
SELECT expect_error($$ CREATE OR REPLACE VIEW ledger.totals AS SELECT id, ledger.cents(amount) AS amount_cents, memo FROM ledger.entries $$);
SELECT expect_error($$ CREATE OR REPLACE VIEW ledger.totals (id, cents) AS SELECT id, ledger.cents(amount) FROM ledger.entries $$);
SELECT expect_error($$ ALTER VIEW ledger.totals RENAME COLUMN cents TO c $$);
-- A materialized view.
SELECT expect_error($$ DROP MATERIALIZED VIEW ledger.daily $$);
SELECT expect_error($$ ALTER MATERIALIZED VIEW ledger.daily RENAME COLUMN total TO sum $$);
-- Moving out of the domain.
SELECT expect_error($$ ALTER TABLE ledger.entries SET SCHEMA ledger_archive $$);
SELECT expect_error($$ ALTER VIEW ledger.totals SET SCHEMA ledger_archive $$);
SELECT expect_error($$ ALTER MATERIALIZED VIEW ledger.daily SET SCHEMA ledger_archive $$);
RESET ROLE;
DROP SCHEMA ledger_archive;

-- Superusers too, and cascades from elsewhere: a type a column uses, a
-- function a view column calls, DROP OWNED, DROP SCHEMA.
SELECT current_setting('is_superuser') AS superuser;
SELECT expect_error($$ ALTER TABLE ledger.entries DROP COLUMN ref $$);
SELECT expect_error($$ ALTER TABLE ledger.entries ALTER COLUMN ref TYPE int USING 0 $$);
SELECT expect_error($$ DROP TYPE ledger.direction CASCADE $$);
-- a published column's type keeps its name and schema
SELECT expect_error($$ ALTER TYPE ledger.direction RENAME TO dir $$);
SELECT expect_error($$ ALTER TYPE ledger.direction SET SCHEMA public $$);
SELECT expect_error($$ DROP FUNCTION ledger.cents(numeric) CASCADE $$);
SELECT expect_error($$ DROP OWNED BY regress_ledger_dev CASCADE $$);
SELECT expect_error($$ DROP SCHEMA ledger CASCADE $$);
SELECT expect_error($$ DROP TABLE ledger.entries CASCADE $$);
-- Nothing was lost.
SELECT product, version, state FROM meshpg.products WHERE domain = 'ledger' ORDER BY 1;
SELECT column_name, type FROM meshpg.product_columns WHERE product = 'ledger.entries' ORDER BY position;

-- Compatible changes are accepted, recorded as the next minor version and
-- announced on meshpg_contract (specs/contract_notify.spec checks the announcement).
SET ROLE regress_ledger_dev;
-- (types are compared in a fixed form, whatever the session's search_path)
SET search_path = ledger, public;
ALTER TABLE ledger.entries ADD COLUMN currency char(3);
ALTER TABLE ledger.entries ALTER COLUMN ref TYPE varchar(40);
ALTER TABLE ledger.entries ALTER COLUMN fee TYPE numeric(12,2);
ALTER TABLE ledger.entries ALTER COLUMN ref TYPE varchar;
COMMENT ON COLUMN ledger.entries.memo IS 'What the entry was for';
CREATE OR REPLACE VIEW ledger.totals AS
    SELECT id, ledger.cents(amount) AS cents, memo, booked_on FROM ledger.entries;
-- A change that is not compatible, in a transaction: nothing is recorded.
BEGIN;
ALTER TABLE ledger.entries ADD COLUMN extra int;
ALTER TABLE ledger.entries ALTER COLUMN currency TYPE text;
ROLLBACK;
RESET search_path;
RESET ROLE;
SELECT product, version, change, changes FROM meshpg.contracts
 WHERE product LIKE 'ledger.%' ORDER BY product, recorded_at;
SELECT product, version FROM meshpg.products WHERE domain = 'ledger' ORDER BY 1;
SELECT column_name, type, published_type FROM meshpg.product_columns
 WHERE product = 'ledger.entries' ORDER BY position;
-- The new columns are part of the contract now.
SELECT expect_error($$ ALTER TABLE ledger.entries DROP COLUMN currency $$);

-- Drafts and retired products are not under contract.
SET ROLE regress_ledger_dev;
CREATE TABLE ledger.scratch (a int, b text);
SELECT meshpg.register_product('ledger', 'scratch', 'ledger.scratch', description => 'Scratch');
ALTER TABLE ledger.scratch ALTER COLUMN a TYPE text;
ALTER TABLE ledger.scratch DROP COLUMN b;
DROP TABLE ledger.scratch;
SELECT meshpg.deprecate('ledger.daily', current_date);
SELECT meshpg.retire('ledger.daily');
DROP MATERIALIZED VIEW ledger.daily;
RESET ROLE;
SELECT product FROM meshpg.products WHERE domain = 'ledger' ORDER BY 1;
