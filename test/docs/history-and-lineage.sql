-- doc/history-and-lineage.md: domain payments with payments.customers
-- (e-mail tagged pii.email, region tagged geo.region, filtered to the
-- reader's region), granted to analyst_eu for fraud-investigation; the
-- governance team's role governance; an ETL role etl_batch.
CREATE ROLE payments_team NOLOGIN;
CREATE ROLE analyst_eu LOGIN;
CREATE ROLE governance LOGIN IN ROLE meshpg_admin;
CREATE ROLE etl_batch LOGIN;
SELECT meshpg.create_domain('payments', 'payments_team');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('geo.region');
SELECT meshpg.create_masking_policy('email_mask', 'email', tag => 'pii.email');
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))',
       tag => 'geo.region');
SELECT meshpg.set_attribute('analyst_eu', 'region', '{EU}');
SET ROLE payments_team;
CREATE TABLE payments.customers (customer_id bigint PRIMARY KEY, card_number text,
                                 email text, region text);
INSERT INTO payments.customers VALUES
    (1, '4111 1111 1111 1111', 'ann@example.com', 'EU'),
    (2, '4242 4242 4242 4242', 'bo@example.com', 'EU'),
    (3, '5555 5555 5555 4444', 'cy@example.com', 'EU'),
    (4, '3782 822463 10005', 'dee@example.com', 'US');
SELECT meshpg.register_product('payments', 'customers', 'payments.customers',
       description => 'Customers, one row each');
SELECT meshpg.tag_column('payments.customers', 'email', 'pii.email');
SELECT meshpg.tag_column('payments.customers', 'region', 'geo.region');
SELECT meshpg.publish('payments.customers', '1.0.0');
SELECT meshpg.grant_access('payments.customers', 'analyst_eu', purpose => 'fraud-investigation');
RESET ROLE;
