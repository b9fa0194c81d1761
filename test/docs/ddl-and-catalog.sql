-- doc/ddl-and-catalog.md: domains payments, marketplace and empty.
--   payments.payouts        retired (published once), renamed by the page
--   payments.payout_history a published partitioned table
--   payments.fx_rates       a published view over the internal payments.fx
--   payments.daily_volume   a draft view
--   payments.transactions   published, read by analyst_eu and temp_consumer
--   marketplace.leads       a draft with a column "score"
--   marketplace.scratch     a draft with columns a and b
CREATE ROLE payments_team NOLOGIN;
CREATE ROLE marketplace_team NOLOGIN;
CREATE ROLE empty_team NOLOGIN;
CREATE ROLE analyst_eu LOGIN;
CREATE ROLE temp_consumer LOGIN;
SELECT meshpg.create_domain('payments', 'payments_team');
SELECT meshpg.create_domain('marketplace', 'marketplace_team');
SELECT meshpg.create_domain('empty', 'empty_team');
CREATE SCHEMA elsewhere;
SELECT meshpg.set_attribute('temp_consumer', 'region', '{EU}');
SET ROLE payments_team;
CREATE TABLE payments.payouts (id bigint, tasker_id bigint, amount numeric, paid_on date);
SELECT meshpg.register_product('payments', 'payouts', 'payments.payouts', description => 'Payouts');
SELECT meshpg.publish('payments.payouts', '1.0.0');
SELECT meshpg.deprecate('payments.payouts', sunset => current_date);
SELECT meshpg.retire('payments.payouts');
CREATE TABLE payments.payout_history (id bigint, paid_on date) PARTITION BY RANGE (paid_on);
SELECT meshpg.register_product('payments', 'payout_history', 'payments.payout_history',
       description => 'Payouts, by month');
SELECT meshpg.publish('payments.payout_history', '1.0.0');
CREATE TABLE payments.fx (currency text, rate numeric);
CREATE VIEW payments.fx_rates AS SELECT currency, rate FROM payments.fx;
SELECT meshpg.register_product('payments', 'fx_rates', 'payments.fx_rates', description => 'Exchange rates');
SELECT meshpg.publish('payments.fx_rates', '1.0.0');
CREATE TABLE payments.transactions (id bigint PRIMARY KEY, customer_email text, region text);
INSERT INTO payments.transactions VALUES (1, 'ann@example.com', 'EU'), (2, 'bo@example.com', 'US'),
                                         (3, 'cy@example.com', 'EU');
CREATE VIEW payments.daily_volume AS SELECT count(*) AS n FROM payments.transactions;
SELECT meshpg.register_product('payments', 'daily_volume', 'payments.daily_volume', description => 'Volume');
SELECT meshpg.register_product('payments', 'transactions', 'payments.transactions', description => 'Transactions');
SELECT meshpg.publish('payments.transactions', '1.0.0');
SELECT meshpg.grant_access('payments.transactions', 'analyst_eu');
SELECT meshpg.grant_access('payments.transactions', 'temp_consumer');
RESET ROLE;
SET ROLE marketplace_team;
CREATE TABLE marketplace.leads (id bigint, score int);
SELECT meshpg.register_product('marketplace', 'leads', 'marketplace.leads', description => 'Leads');
CREATE TABLE marketplace.scratch (a int, b int);
SELECT meshpg.register_product('marketplace', 'scratch', 'marketplace.scratch', description => 'Scratch');
RESET ROLE;
