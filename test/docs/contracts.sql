-- doc/contracts.md: domains ledger and isonote, each with published
-- products, and a consumer of ledger.accounts.
CREATE ROLE ledger_team NOLOGIN;
CREATE ROLE isonote_team NOLOGIN;
CREATE ROLE regress_reader LOGIN;
SELECT meshpg.create_domain('ledger', 'ledger_team');
SELECT meshpg.create_domain('isonote', 'isonote_team');
SET ROLE ledger_team;
CREATE TABLE ledger.entries (id bigint NOT NULL, ref varchar(10), amount numeric(12,2));
CREATE TABLE ledger.accounts (id bigint NOT NULL, owner text, balance numeric(12,2));
SELECT meshpg.register_product('ledger', 'entries', 'ledger.entries', description => 'Ledger entries');
SELECT meshpg.register_product('ledger', 'accounts', 'ledger.accounts', description => 'Accounts');
SELECT meshpg.publish('ledger.entries', '1.0.0');
SELECT meshpg.publish('ledger.accounts', '1.0.0');
SELECT meshpg.grant_access('ledger.accounts', 'regress_reader');
RESET ROLE;
SET ROLE isonote_team;
CREATE TABLE isonote.items (id int NOT NULL, label varchar(10));
SELECT meshpg.register_product('isonote', 'items', 'isonote.items', description => 'Items');
SELECT meshpg.publish('isonote.items', '1.0.0');
ALTER TABLE isonote.items ADD COLUMN note text;      -- a compatible change: 1.1.0
RESET ROLE;
