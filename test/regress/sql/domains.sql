--
-- domains: create, alter and drop, by the governance team only.
--
SET ROLE regress_gov;
SELECT meshpg.create_domain('Payments', 'regress_payments_team',
                            description => 'Payments and payouts',
                            contacts => '{payments@example.com,#payments}');
SELECT meshpg.create_domain(name => 'marketplace', owner => 'regress_market_team',
                            description => 'Taskers, tasks and cities');
SELECT meshpg.create_domain('scratch', 'regress_market_team');
RESET ROLE;

SELECT name, owner, schema, description, contacts, products FROM meshpg.domains ORDER BY name;

-- The schema belongs to the owner role and grants PUBLIC nothing.
SELECT nspname, nspowner::regrole, nspacl FROM pg_namespace
 WHERE nspname IN ('payments', 'marketplace') ORDER BY 1;
SELECT has_schema_privilege('regress_analyst', 'payments', 'USAGE') AS analyst_usage,
       has_schema_privilege('regress_pay_dev', 'payments', 'CREATE') AS team_create;

-- Only meshpg_admin members and superusers manage domains.
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.create_domain('rogue', 'regress_pay_dev') $$);
SELECT expect_error($$ SELECT meshpg.alter_domain('payments', description => 'mine') $$);
SELECT expect_error($$ SELECT meshpg.drop_domain('marketplace') $$);
RESET ROLE;

SET ROLE regress_gov;
-- duplicates and look-alikes
SELECT expect_error($$ SELECT meshpg.create_domain('payments', 'regress_payments_team') $$);
SELECT expect_error($$ SELECT meshpg.create_domain('PAYMENTS', 'regress_payments_team') $$);
SELECT expect_error($$ SELECT meshpg.create_domain('payrnents', 'regress_payments_team') $$);  -- rn vs m
SELECT expect_error($$ SELECT meshpg.create_domain('paymentѕ', 'regress_payments_team') $$);  -- Cyrillic ѕ
SELECT expect_error($$ SELECT meshpg.create_domain('rnarketplace', 'regress_market_team') $$); -- rn vs m
-- reserved names and existing schemas
SELECT expect_error($$ SELECT meshpg.create_domain('pg_data', 'regress_market_team') $$);
SELECT expect_error($$ SELECT meshpg.create_domain('public', 'regress_market_team') $$);
SELECT expect_error($$ SELECT meshpg.create_domain('meshpg', 'regress_market_team') $$);
RESET ROLE;
CREATE SCHEMA legacy;
SET ROLE regress_gov;
SELECT expect_error($$ SELECT meshpg.create_domain('legacy', 'regress_market_team') $$);
-- bad arguments
SELECT expect_error($$ SELECT meshpg.create_domain(NULL, 'regress_market_team') $$);
SELECT expect_error($$ SELECT meshpg.create_domain('x', NULL) $$);
SELECT expect_error($$ SELECT meshpg.create_domain('x', 'regress_no_such_role') $$);
SELECT expect_error($$ SELECT meshpg.create_domain('x', 'regress_market_team', contacts => '{a,NULL}') $$);
SELECT expect_error($$ SELECT meshpg.create_domain('x', 'regress_market_team', contacts => '{a,""}') $$);
SELECT expect_error($$ SELECT meshpg.create_domain('x', 'regress_market_team', contacts => '{{a},{b}}') $$);
SELECT expect_error($$ SELECT meshpg.alter_domain('nowhere', description => 'x') $$);
SELECT expect_error($$ SELECT meshpg.drop_domain('nowhere') $$);
SELECT expect_error($$ SELECT meshpg.drop_domain('scratch', NULL) $$);
-- nothing half-written
SELECT count(*) AS domains FROM meshpg.domains;
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname IN ('x', 'rogue', 'payrnents', 'legacy');

-- alter: description, contacts, and handing the domain to another team
SELECT meshpg.alter_domain('scratch', description => 'Experiments', contacts => '{lab@example.com}');
SELECT description, contacts FROM meshpg.domains WHERE name = 'scratch';
SELECT meshpg.alter_domain('scratch', description => '');
SELECT description IS NULL AS cleared FROM meshpg.domains WHERE name = 'scratch';
RESET ROLE;
SET ROLE regress_market_dev;
CREATE TABLE scratch.t (a int);
RESET ROLE;
SET ROLE regress_gov;
SELECT meshpg.alter_domain('scratch', owner => 'regress_payments_team');
RESET ROLE;
SELECT owner FROM meshpg.domains WHERE name = 'scratch';
SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'scratch';
SELECT relowner::regrole FROM pg_class WHERE oid = 'scratch.t'::regclass;
SET ROLE regress_gov;

-- drop: a schema that still holds objects needs cascade
SELECT expect_error($$ SELECT meshpg.drop_domain('scratch') $$);
SELECT meshpg.drop_domain('scratch', cascade => true);
SELECT count(*) FROM meshpg.domains WHERE name = 'scratch';
SELECT count(*) FROM pg_namespace WHERE nspname = 'scratch';
-- an empty domain drops without cascade
SELECT meshpg.create_domain('empty', 'regress_market_team');
SELECT meshpg.drop_domain('empty');
RESET ROLE;
DROP SCHEMA legacy;
