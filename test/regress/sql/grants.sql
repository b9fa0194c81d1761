--
-- grants: consumers get USAGE on the domain schema and SELECT on the product
-- relation, nothing else; expiry is enforced on every read.
--
SET ROLE regress_pay_dev;
SELECT meshpg.grant_access('payments.transactions', 'regress_analyst',
                           purpose => 'churn analysis');
SELECT meshpg.grant_access('payments.payouts', 'regress_analysts_group',
                           purpose => 'payout audit', expires => now() + interval '1 day');
RESET ROLE;

SELECT has_schema_privilege('regress_analyst', 'payments', 'USAGE') AS schema_usage,
       has_table_privilege('regress_analyst', 'payments.transactions', 'SELECT') AS product_select,
       has_table_privilege('regress_analyst', 'payments.transactions', 'INSERT') AS product_insert,
       has_table_privilege('regress_analyst', 'payments.raw_charges', 'SELECT') AS internal_select,
       has_table_privilege('regress_analyst', 'payments.region_volume', 'SELECT') AS other_select;

SET ROLE regress_analyst;
SELECT id, customer_email, amount, region FROM payments.transactions ORDER BY id;
SELECT expect_error($$ SELECT count(*) FROM payments.raw_charges $$);     -- internal table
SELECT expect_error($$ SELECT count(*) FROM payments.region_volume $$);   -- not granted
SELECT expect_error($$ SELECT count(*) FROM marketplace.taskers $$);      -- other domain
COPY payments.transactions (id, region) TO STDOUT;
SELECT product, grantee, purpose, expires_at IS NOT NULL AS expires, active, granted_by
  FROM meshpg.grants ORDER BY product, grantee;               -- sees its own grants only
RESET ROLE;

-- Access through a role the consumer is a member of.
SET ROLE regress_analyst2;
SELECT count(*) FROM payments.payouts;
SELECT product, grantee, purpose FROM meshpg.grants ORDER BY product;
RESET ROLE;

-- An expired grant no longer reads, though the SQL privilege is still there.
-- (The catalog is changed behind meshpg's back here, as time would.)
UPDATE meshpg.cat_grant SET expires_at = now() - interval '1 minute'
 WHERE grantee = 'regress_analysts_group'::regrole;
SET ROLE regress_analyst2;
SELECT has_table_privilege('payments.payouts', 'SELECT') AS sql_privilege;
-- (expiry times in messages depend on when the suite runs)
SELECT regexp_replace(expect_error($$ SELECT count(*) FROM payments.payouts $$),
                      'expired at [^.]*\.\d+[-+]\d+', 'expired at TIME');
\set VERBOSITY terse
COPY payments.payouts TO STDOUT;
\set VERBOSITY default
SELECT product, active FROM meshpg.grants;
RESET ROLE;
-- Renewing the grant restores access.
SET ROLE regress_pay_dev;
SELECT meshpg.grant_access('payments.payouts', 'regress_analysts_group',
                           purpose => 'payout audit', expires => now() + interval '7 days');
RESET ROLE;
SET ROLE regress_analyst2;
SELECT count(*) FROM payments.payouts;
RESET ROLE;

-- SELECT granted by hand, outside meshpg, does not read a product.
SET ROLE regress_pay_dev;
GRANT USAGE ON SCHEMA payments TO regress_nobody;
GRANT SELECT ON payments.transactions TO regress_nobody;
RESET ROLE;
SET ROLE regress_nobody;
SELECT expect_error($$ SELECT count(*) FROM payments.transactions $$);
RESET ROLE;
-- ... not even through a view the consumer builds on it.
SET ROLE regress_pay_dev;
REVOKE SELECT ON payments.transactions FROM regress_nobody;
REVOKE USAGE ON SCHEMA payments FROM regress_nobody;
RESET ROLE;
CREATE SCHEMA analyst_space AUTHORIZATION regress_analyst;
GRANT USAGE ON SCHEMA analyst_space TO regress_nobody;
SET ROLE regress_analyst;
CREATE VIEW analyst_space.my_view AS SELECT id, amount FROM payments.transactions;
SELECT count(*) FROM analyst_space.my_view;
GRANT SELECT ON analyst_space.my_view TO regress_nobody;
RESET ROLE;
SET ROLE regress_nobody;
-- the view reads with its owner's rights, as SQL privileges always do: the
-- owner holds a grant (so sharing a view shares the data, as in plain SQL)
SELECT count(*) FROM analyst_space.my_view;
RESET ROLE;
-- but once the owner's grant is gone, so is the view's access
SET ROLE regress_pay_dev;
GRANT SELECT ON payments.transactions TO regress_analyst;   -- keep the SQL privilege...
RESET ROLE;
UPDATE meshpg.cat_grant SET expires_at = now() - interval '1 second'
 WHERE grantee = 'regress_analyst'::regrole
   AND product_id = (SELECT id FROM meshpg.cat_product WHERE name = 'transactions');
SET ROLE regress_nobody;
SELECT regexp_replace(expect_error($$ SELECT count(*) FROM analyst_space.my_view $$),
                      'expired at [^.]*\.\d+[-+]\d+', 'expired at TIME');
RESET ROLE;
UPDATE meshpg.cat_grant SET expires_at = NULL WHERE grantee = 'regress_analyst'::regrole;
DROP SCHEMA analyst_space CASCADE;

-- Grants need a served product and sane arguments.
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.grant_access('payments.region_volume', 'regress_analyst') $$);
SELECT expect_error($$ SELECT meshpg.grant_access('payments.transactions', NULL) $$);
SELECT expect_error($$ SELECT meshpg.grant_access('payments.transactions', 'regress_no_such_role') $$);
SELECT expect_error($$ SELECT meshpg.grant_access('payments.transactions', 'regress_analyst', purpose => '') $$);
SELECT expect_error($$ SELECT meshpg.grant_access('payments.transactions', 'regress_analyst', expires => now() - interval '1 day') $$);
SELECT expect_error($$ SELECT meshpg.grant_access('payments.transactions', 'regress_analyst', expires => 'infinity') $$);
SELECT expect_error($$ SELECT meshpg.revoke_access('payments.transactions', 'regress_analyst2') $$);
SELECT expect_error($$ SELECT meshpg.revoke_access('payments.nothing', 'regress_analyst') $$);
RESET ROLE;
SET ROLE regress_market_dev;
SELECT expect_error($$ SELECT meshpg.grant_access('payments.transactions', 'regress_market_dev') $$);
SELECT expect_error($$ SELECT meshpg.revoke_access('payments.transactions', 'regress_analyst') $$);
RESET ROLE;

-- Revoking takes back SELECT, and USAGE once no grant in the domain is left.
SET ROLE regress_pay_dev;
SELECT meshpg.grant_access('payments.payouts', 'regress_analyst');
SELECT meshpg.revoke_access('payments.transactions', 'regress_analyst');
RESET ROLE;
SELECT has_table_privilege('regress_analyst', 'payments.transactions', 'SELECT') AS product_select,
       has_schema_privilege('regress_analyst', 'payments', 'USAGE') AS schema_usage;
SET ROLE regress_pay_dev;
SELECT meshpg.revoke_access('payments.payouts', 'regress_analyst');
RESET ROLE;
SELECT has_schema_privilege('regress_analyst', 'payments', 'USAGE') AS schema_usage;

-- Retiring a product revokes all its grants.
SET ROLE regress_market_dev;
CREATE TABLE marketplace.cities (id int PRIMARY KEY, name text, launched_on date);
SELECT meshpg.register_product('marketplace', 'cities', 'marketplace.cities', description => 'Cities');
SELECT meshpg.publish('marketplace.cities', '1.0.0');
SELECT meshpg.grant_access('marketplace.cities', 'regress_analyst');
SELECT meshpg.deprecate('marketplace.cities', current_date);
SELECT meshpg.retire('marketplace.cities');
RESET ROLE;
SELECT has_table_privilege('regress_analyst', 'marketplace.cities', 'SELECT') AS product_select,
       (SELECT count(*) FROM meshpg.grants WHERE product = 'marketplace.cities') AS grants;

-- The card shows the grants the caller may see.
SET ROLE regress_pay_dev;
SELECT jsonb_pretty(meshpg.describe('payments.payouts') - 'created_at' - 'updated_at' - 'published_at'
                    #- '{grants,0,expires_at}');
RESET ROLE;
SET ROLE regress_analyst;
SELECT meshpg.describe('payments.payouts') -> 'grants' AS grants_seen_by_outsider;
SELECT expect_error($$ SELECT meshpg.describe('payments.nothing') $$);
SELECT expect_error($$ SELECT meshpg.describe(NULL) $$);
RESET ROLE;
