--
-- newcomer: the errors a new user meets first say what to do (a HINT).
--
CREATE ROLE regress_newcomer_team;
SELECT meshpg.create_domain('newcomer', 'regress_newcomer_team');
SET ROLE regress_newcomer_team;
CREATE TABLE newcomer.customers (id int, email text, country text);
CREATE TABLE newcomer.orders (id int, amount numeric);
SELECT meshpg.register_product('newcomer', 'customers', 'newcomer.customers');
SELECT meshpg.register_product('newcomer', 'orders', 'newcomer.orders');
RESET ROLE;
SELECT meshpg.create_tag('newcomer_pii', 'Personal data');
SELECT meshpg.create_tag('newcomer_pii_strict', 'Personal data, strict');

-- An unknown product: the nearest names, when some are near.
SELECT meshpg.describe('newcomer.customer');
SELECT meshpg.describe('newcomr.order');
-- none near: where to look instead
SELECT meshpg.describe('newcomer.zzzzzzzzzzzz');
-- an unknown domain part is still a product that does not exist
SELECT meshpg.describe('nosuchdomain.customers');

-- An unknown tag: the nearest tags, or how to create one.
SELECT meshpg.tag_column('newcomer.customers', 'email', 'newcomer_pi');
SELECT meshpg.tag_column('newcomer.customers', 'email', 'qqqqqqqqqqqqqqqq');

-- An unknown mask argument: the ones the mask takes.
SELECT meshpg.create_masking_policy('nc_mask', 'partial', product => 'newcomer.customers',
       column_name => 'email', args => '{"keep_lst": 2}');
SELECT meshpg.create_masking_policy('nc_mask', 'date', product => 'newcomer.customers',
       column_name => 'email', args => '{"units": "month"}');
SELECT meshpg.create_masking_policy('nc_mask', 'hash', product => 'newcomer.customers',
       column_name => 'email', args => '{"salt": "x"}');
-- an unknown mask lists the masks
SELECT meshpg.create_masking_policy('nc_mask', 'blur', product => 'newcomer.customers',
       column_name => 'email');
-- nothing was written
SELECT count(*) AS policies FROM meshpg.policies WHERE product = 'newcomer.customers';

-- A database that is not UTF8: the HINT says how to make one.
CREATE DATABASE regress_newcomer_ascii TEMPLATE template0 ENCODING 'SQL_ASCII' LOCALE 'C';
\c regress_newcomer_ascii
CREATE EXTENSION meshpg;
SELECT count(*) AS meshpg_installed FROM pg_extension WHERE extname = 'meshpg';
\c contrib_regression
DROP DATABASE regress_newcomer_ascii;

-- clean up
SELECT meshpg.drop_tag('newcomer_pii');
SELECT meshpg.drop_tag('newcomer_pii_strict');
SET ROLE regress_newcomer_team;
SELECT meshpg.unregister_product('newcomer.customers');
SELECT meshpg.unregister_product('newcomer.orders');
DROP TABLE newcomer.customers, newcomer.orders;
RESET ROLE;
SELECT meshpg.drop_domain('newcomer');
DROP ROLE regress_newcomer_team;
