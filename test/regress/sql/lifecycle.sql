--
-- lifecycle: draft -> published -> deprecated -> retired.
--
SET ROLE regress_pay_dev;
-- Publishing needs a description.
SELECT expect_error($$ SELECT meshpg.publish('payments.region_volume') $$);
SELECT meshpg.publish('payments.transactions', version => '1.0.0');
SELECT meshpg.publish('payments.payouts');              -- keeps its 1.0.0
SELECT meshpg.publish('payments.daily_volume', '0.9.0');
SELECT product, state, version, published_at IS NOT NULL AS has_published_at
  FROM meshpg.products ORDER BY product;

-- The interface is recorded at publish.
SELECT column_name, published_type, published_nullable, published_position
  FROM meshpg.product_columns WHERE product = 'payments.transactions' ORDER BY published_position;

-- Republishing needs a greater version, or bumps the minor one.
SELECT expect_error($$ SELECT meshpg.publish('payments.transactions', '1.0.0') $$);
SELECT expect_error($$ SELECT meshpg.publish('payments.transactions', '0.9.9') $$);
SELECT expect_error($$ SELECT meshpg.publish('payments.transactions', '1.0.0-rc.1') $$);
SELECT expect_error($$ SELECT meshpg.publish('payments.transactions', 'v2') $$);
-- A new major version is a new relation (meshpg.publish_version, contract_versions).
SELECT expect_error($$ SELECT meshpg.publish('payments.transactions', '2.0.0') $$);
SELECT meshpg.publish('payments.transactions');
SELECT meshpg.publish('payments.transactions', '1.1.1');
SELECT meshpg.publish('payments.transactions', '1.2.0-rc.9');
SELECT meshpg.publish('payments.transactions', '1.2.0-rc.10');     -- numeric identifiers compare as numbers
SELECT expect_error($$ SELECT meshpg.publish('payments.transactions', '1.2.0-rc.2') $$);
SELECT expect_error($$ SELECT meshpg.publish('payments.transactions', '1.2.0-rc.10+build.7') $$);  -- build metadata does not count
SELECT expect_error($$ SELECT meshpg.publish('payments.transactions', '1.2.0-rc..1') $$);
SELECT expect_error($$ SELECT meshpg.publish('payments.transactions', '1.2.0+a+b') $$);
SELECT meshpg.publish('payments.transactions');                    -- a pre-release becomes its release
SELECT version FROM meshpg.products WHERE product = 'payments.transactions';

-- Deprecation needs a published product, a sunset from today on, and a
-- published successor other than itself.
SELECT expect_error($$ SELECT meshpg.deprecate('payments.region_volume', current_date + 30) $$);
SELECT expect_error($$ SELECT meshpg.deprecate('payments.daily_volume', NULL) $$);
-- (dates in messages depend on the day the suite runs)
SELECT regexp_replace(expect_error($$ SELECT meshpg.deprecate('payments.daily_volume', current_date - 1) $$),
                      '\d\d-\d\d-\d{4}', 'YESTERDAY');
SELECT expect_error($$ SELECT meshpg.deprecate('payments.daily_volume', 'infinity') $$);
SELECT expect_error($$ SELECT meshpg.deprecate('payments.daily_volume', current_date + 30, successor => 'payments.daily_volume') $$);
SELECT expect_error($$ SELECT meshpg.deprecate('payments.daily_volume', current_date + 30, successor => 'payments.region_volume') $$);
SELECT expect_error($$ SELECT meshpg.deprecate('payments.daily_volume', current_date + 30, successor => 'payments.nothing') $$);
SELECT meshpg.deprecate('payments.daily_volume', current_date + 30, successor => 'payments.transactions');
SELECT product, state, sunset - current_date AS days_left, successor
  FROM meshpg.products WHERE product = 'payments.daily_volume';
SELECT expect_error($$ SELECT meshpg.publish('payments.daily_volume', '1.0.0') $$);
SELECT expect_error($$ SELECT meshpg.deprecate('payments.daily_volume', current_date + 60) $$);

-- Retirement: only deprecated products, and not before the sunset unless forced.
SELECT expect_error($$ SELECT meshpg.retire('payments.transactions') $$);
SELECT regexp_replace(expect_error($$ SELECT meshpg.retire('payments.daily_volume') $$),
                      '\d\d-\d\d-\d{4}', 'IN-30-DAYS');
SELECT expect_error($$ SELECT meshpg.retire('payments.daily_volume', force => NULL) $$);
SELECT meshpg.retire('payments.daily_volume', force => true);
SELECT state FROM meshpg.products WHERE product = 'payments.daily_volume';
SELECT expect_error($$ SELECT meshpg.retire('payments.daily_volume', force => true) $$);

-- Unregistering: drafts and retired products only.
SELECT expect_error($$ SELECT meshpg.unregister_product('payments.transactions') $$);
SELECT meshpg.unregister_product('payments.daily_volume');
SELECT meshpg.register_product('payments', 'daily_volume', 'payments.daily_volume',
                               description => 'Settled volume per day, again');
SELECT meshpg.unregister_product('payments.daily_volume');
SELECT meshpg.register_product('payments', 'daily_volume', 'payments.daily_volume',
                               description => 'Settled volume per day');

-- Unregistering a table removes the guard meshpg put there.
SELECT meshpg.register_product('payments', 'raw_charges', 'payments.raw_charges');
SELECT relrowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) AS policies
  FROM pg_class c WHERE oid = 'payments.raw_charges'::regclass;
SELECT meshpg.unregister_product('payments.raw_charges');
SELECT relrowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) AS policies
  FROM pg_class c WHERE oid = 'payments.raw_charges'::regclass;
RESET ROLE;

-- Other teams cannot move a product through its lifecycle.
SET ROLE regress_market_dev;
SELECT expect_error($$ SELECT meshpg.publish('payments.region_volume') $$);
SELECT expect_error($$ SELECT meshpg.deprecate('payments.transactions', current_date + 1) $$);
SELECT expect_error($$ SELECT meshpg.unregister_product('payments.region_volume') $$);
SELECT meshpg.publish('marketplace.taskers', '1.0.0');
RESET ROLE;
SELECT product, state, version FROM meshpg.products ORDER BY product;
