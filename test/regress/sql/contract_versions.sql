--
-- contract_versions: major versions side by side, deprecation warnings once
-- per session, retirement after the sunset with a hint naming the successor.
--
CREATE ROLE regress_reader;
SET ROLE regress_ledger_dev;
CREATE TABLE ledger.accounts (id bigint NOT NULL, owner text, balance numeric(10,2));
INSERT INTO ledger.accounts VALUES (1, 'ana', 10), (2, 'bo', 20);
SELECT meshpg.register_product('ledger', 'accounts', 'ledger.accounts', description => 'Accounts');
SELECT meshpg.document_column('ledger.accounts', 'owner', 'Who holds it');
RESET ROLE;
SELECT meshpg.create_tag('regress.person');
SET ROLE regress_ledger_dev;
SELECT meshpg.tag_column('ledger.accounts', 'owner', 'regress.person');
SELECT meshpg.publish('ledger.accounts', '1.0.0');
SELECT meshpg.grant_access('ledger.accounts', 'regress_reader');

-- v2 changes a type: a new relation, published as the next major version.
CREATE TABLE ledger.accounts_v2 (id bigint NOT NULL, owner text, balance numeric(14,4));
INSERT INTO ledger.accounts_v2 VALUES (1, 'ana', 10), (2, 'bo', 20);
SELECT expect_error($$ SELECT meshpg.publish_version('ledger.accounts', 'ledger.accounts_v2', '2000-01-01') $$);
SELECT expect_error($$ SELECT meshpg.publish_version('ledger.accounts', 'ledger.accounts', '2999-01-01') $$);
SELECT expect_error($$ SELECT meshpg.publish_version('ledger.accounts', 'ledger.accounts_v2', '2999-01-01', '1.5.0') $$);
SELECT meshpg.publish_version('ledger.accounts', 'ledger.accounts_v2', '2999-01-01');
RESET ROLE;

-- The catalog lists the versions and their consumers.
SELECT family, product, major, version, state, relation, sunset,
       successor, consumers
  FROM meshpg.product_versions WHERE family = 'ledger.accounts' ORDER BY major;
-- v2 carried the documentation and tags over, not the grants.
SELECT column_name, description FROM meshpg.product_columns
 WHERE product = 'ledger.accounts@2' AND description IS NOT NULL;
SELECT product, column_name, tag FROM meshpg.column_tags WHERE product LIKE 'ledger.accounts%' ORDER BY 1;
-- Each version has its own contract; a version reference names one version.
SELECT product, version, change, contract->'columns'->2->>'type' AS balance
  FROM meshpg.contracts WHERE product LIKE 'ledger.accounts%' ORDER BY product, version;
SELECT expect_error($$ SELECT meshpg.describe('ledger.accounts@1') $$);
SELECT expect_error($$ SELECT meshpg.describe('ledger.accounts@x') $$);
SELECT expect_error($$ SELECT meshpg.register_product('ledger', 'accounts@3', 'ledger.accounts_v2') $$);
-- v1 is deprecated and keeps serving; its relation is still under contract.
SELECT expect_error($$ ALTER TABLE ledger.accounts DROP COLUMN owner $$);
SET ROLE regress_ledger_dev;
SELECT meshpg.grant_access('ledger.accounts@2', 'regress_reader');
-- A third major version needs the second published; it goes up by one.
CREATE TABLE ledger.accounts_v3 (id bigint NOT NULL, holder text);
SELECT expect_error($$ SELECT meshpg.publish_version('ledger.accounts', 'ledger.accounts_v3', '2999-06-01') $$);
RESET ROLE;

-- Reading a deprecated version warns once per session and product.
SET ROLE regress_reader;
SELECT count(*) FROM ledger.accounts;
SELECT count(*) FROM ledger.accounts;
SELECT count(*) FROM ledger.accounts_v2;
RESET ROLE;

-- After the sunset date, reads stop, naming the successor.  (The sunset is
-- moved into the past behind the functions' back: time does not pass here.)
UPDATE meshpg.cat_product SET sunset = '2000-01-01'
 WHERE name = 'accounts' AND domain_id = (SELECT id FROM meshpg.cat_domain WHERE name = 'ledger');
SET ROLE regress_reader;
SELECT expect_error($$ SELECT count(*) FROM ledger.accounts $$);
SELECT count(*) FROM ledger.accounts_v2;
RESET ROLE;
-- The owning team still reads it (this session was warned already), as it
-- may read retired products.
SET ROLE regress_ledger_dev;
SELECT count(*) FROM ledger.accounts;
-- Retiring it revokes the consumers' grants: PostgreSQL's own privilege
-- check refuses them before meshpg's (see doc/contracts.md).
SELECT meshpg.retire('ledger.accounts');
SELECT meshpg.grant_access('ledger.accounts@2', 'regress_reader');
RESET ROLE;
SET ROLE regress_reader;
SELECT expect_error($$ SELECT count(*) FROM ledger.accounts $$);
RESET ROLE;
-- The next major version follows the newest one.
SET ROLE regress_ledger_dev;
SELECT meshpg.publish_version('ledger.accounts@2', 'ledger.accounts_v3', '2999-06-01');
RESET ROLE;
SELECT product, state, version, sunset, successor FROM meshpg.product_versions
 WHERE family = 'ledger.accounts' ORDER BY major;
