--
-- access_requests: a consumer asks, the domain team answers, auto-approval
-- rules, expiry, the record of every step and who sees it.  Self-contained
-- after init (its own domains, products and roles).
--
CREATE ROLE regress_ar_team;
CREATE ROLE regress_ar_dev IN ROLE regress_ar_team;
CREATE ROLE regress_ar_other_team;
CREATE ROLE regress_ar_other_dev IN ROLE regress_ar_other_team;
CREATE ROLE regress_ar_alice;
CREATE ROLE regress_ar_bob;
CREATE ROLE regress_ar_eve;
SELECT meshpg.create_domain('ar_sales', 'regress_ar_team');
SELECT meshpg.create_domain('ar_ops', 'regress_ar_other_team');
CREATE TABLE ar_sales.orders (id int PRIMARY KEY, customer text, amount numeric);
INSERT INTO ar_sales.orders VALUES (1, 'ann', 10), (2, 'ben', 20);
CREATE TABLE ar_sales.drafty (id int);
CREATE TABLE ar_ops.tickets (id int);
SELECT meshpg.register_product('ar_sales', 'orders', 'ar_sales.orders');
SELECT meshpg.register_product('ar_sales', 'drafty', 'ar_sales.drafty');
SELECT meshpg.register_product('ar_ops', 'tickets', 'ar_ops.tickets');
SELECT meshpg.document_product('ar_sales.orders', 'Orders of the sales domain');
SELECT meshpg.document_product('ar_ops.tickets', 'Support tickets');
SELECT meshpg.publish('ar_sales.orders');
SELECT meshpg.publish('ar_ops.tickets');

-- A consumer asks.
SET ROLE regress_ar_alice;
SELECT expect_error($$ SELECT count(*) FROM ar_sales.orders $$);
SELECT meshpg.request_access('ar_sales.orders', 'churn analysis', 'Q3 churn model', interval '30 days') AS alice_request \gset
SELECT product, purpose, justification, duration, state, decided_by FROM meshpg.my_access_requests;
-- one open request per product
SELECT expect_error($$ SELECT meshpg.request_access('ar_sales.orders', 'x', 'y', interval '1 day') $$);
-- bad input: SQLSTATE and hint, nothing written
SELECT expect_error($$ SELECT meshpg.request_access('ar_sales.orders', '', 'y', interval '1 day') $$);
SELECT expect_error($$ SELECT meshpg.request_access('ar_sales.orders', 'x', '', interval '1 day') $$);
SELECT expect_error($$ SELECT meshpg.request_access('ar_sales.orders', 'x', 'y', NULL) $$);
SELECT expect_error($$ SELECT meshpg.request_access('ar_sales.orders', 'x', 'y', interval '-1 day') $$);
SELECT expect_error($$ SELECT meshpg.request_access(NULL, 'x', 'y', interval '1 day') $$);
SELECT expect_error($$ SELECT meshpg.request_access('ar_sales.drafty', 'x', 'y', interval '1 day') $$);
-- a product that does not exist, and one that cannot be discovered: one error
SELECT expect_error($$ SELECT meshpg.request_access('ar_sales.nothing_here', 'x', 'y', interval '1 day') $$);
-- the requester cannot answer its own request
SELECT expect_error(format('SELECT meshpg.approve_request(%s)', :alice_request));
SELECT expect_error(format('SELECT meshpg.deny_request(%s, %L)', :alice_request, 'no'));
RESET ROLE;

-- Another consumer sees nothing of it, and cannot act on it.
SET ROLE regress_ar_eve;
SELECT count(*) AS visible FROM meshpg.access_requests;
SELECT count(*) AS visible FROM meshpg.access_request_steps;
SELECT count(*) AS queue FROM meshpg.access_request_queue;
SELECT expect_error(format('SELECT meshpg.approve_request(%s)', :alice_request));
SELECT expect_error(format('SELECT meshpg.cancel_request(%s)', :alice_request));
RESET ROLE;

-- Another domain's team neither sees it nor approves it.
SET ROLE regress_ar_other_dev;
SELECT count(*) AS queue FROM meshpg.access_request_queue;
SELECT expect_error(format('SELECT meshpg.approve_request(%s)', :alice_request));
RESET ROLE;

-- The domain team's queue; approval with a shorter duration.
SET ROLE regress_ar_dev;
SELECT product, requester, purpose, justification, duration FROM meshpg.access_request_queue;
SELECT regexp_replace(expect_error(format('SELECT meshpg.approve_request(%s, duration => %L)', :alice_request, '60 days')),
                      'until [^\n]*\.', 'until (30 days from now).');
SELECT expect_error(format('SELECT meshpg.approve_request(%s, expires => now() - interval %L)', :alice_request, '1 day'));
SELECT expect_error(format('SELECT meshpg.approve_request(%s, expires => now(), duration => %L)', :alice_request, '1 day'));
SELECT expect_error(format('SELECT meshpg.approve_request(%s, purpose => %L)', :alice_request, ''));
SELECT expect_error('SELECT meshpg.approve_request(999999)');
SELECT meshpg.approve_request(:alice_request, duration => interval '7 days');
SELECT expect_error(format('SELECT meshpg.deny_request(%s, %L)', :alice_request, 'too late'));
SELECT count(*) AS queue FROM meshpg.access_request_queue;
RESET ROLE;

-- The grant is grant_access's: the same privileges, row and expiry.
SELECT product, grantee, purpose, expires_at - now() <= interval '7 days' AS seven_days, active, granted_by
  FROM meshpg.grants WHERE product = 'ar_sales.orders';
SELECT has_table_privilege('regress_ar_alice', 'ar_sales.orders', 'SELECT') AS product_select;
SET ROLE regress_ar_alice;
SELECT count(*) FROM ar_sales.orders;
SELECT state, grant_purpose, decided_by FROM meshpg.my_access_requests;
SELECT step, actor, detail - 'expires' AS detail FROM meshpg.access_request_steps ORDER BY at, step DESC;
RESET ROLE;

-- Denial with a reason; cancellation by the requester.
SET ROLE regress_ar_bob;
SELECT meshpg.request_access('ar_sales.orders', 'marketing', 'campaign', interval '90 days') AS bob_request \gset
SELECT meshpg.request_access('ar_ops.tickets', 'support', 'triage', interval '1 day') AS bob_ticket \gset
RESET ROLE;
SET ROLE regress_ar_dev;
SELECT expect_error(format('SELECT meshpg.deny_request(%s, NULL)', :bob_request));
SELECT meshpg.deny_request(:bob_request, 'marketing uses the aggregated product instead');
RESET ROLE;
SET ROLE regress_ar_bob;
SELECT product, state, reason, decided_by FROM meshpg.my_access_requests ORDER BY id;
SELECT meshpg.cancel_request(:bob_ticket);
SELECT expect_error(format('SELECT meshpg.cancel_request(%s)', :bob_ticket));
SELECT product, state FROM meshpg.my_access_requests ORDER BY id;
RESET ROLE;
-- an admin answers for any domain
SET ROLE regress_ar_bob;
SELECT meshpg.request_access('ar_ops.tickets', 'support', 'triage again', interval '1 day') AS bob_ticket2 \gset
RESET ROLE;
SET ROLE regress_gov;
SELECT meshpg.approve_request(:bob_ticket2);
SELECT product, requester, state, decided_by FROM meshpg.access_requests ORDER BY id;
RESET ROLE;

-- Auto-approval rules: declared by the domain team, checked, canonical.
SET ROLE regress_ar_dev;
SELECT expect_error($$ SELECT meshpg.set_auto_approval('ar_sales.orders', '[{}]') $$);
SELECT expect_error($$ SELECT meshpg.set_auto_approval('ar_sales.orders', '"yes"') $$);
SELECT expect_error($$ SELECT meshpg.set_auto_approval('ar_sales.orders', '[{"purposes": []}]') $$);
SELECT expect_error($$ SELECT meshpg.set_auto_approval('ar_sales.orders', '[{"purposes": ["a"], "colour": "red"}]') $$);
SELECT expect_error($$ SELECT meshpg.set_auto_approval('ar_sales.orders', '[{"attributes": {"clearance": "high"}}]') $$);
SELECT expect_error($$ SELECT meshpg.set_auto_approval('ar_sales.orders', '[{"purposes": ["a"], "max_duration": "forever"}]') $$);
SELECT expect_error($$ SELECT meshpg.set_auto_approval('ar_sales.orders', '[{"purposes": ["a"], "max_duration": "-1 day"}]') $$);
SELECT meshpg.set_auto_approval('ar_sales.orders',
    '[{"purposes": ["reporting", "audit"], "max_duration": "14 days"},
      {"attributes": {"clearance": ["high"]}}]');
RESET ROLE;
SELECT product, rules, set_by FROM meshpg.auto_approval_rules;
SET ROLE regress_ar_other_dev;
SELECT expect_error($$ SELECT meshpg.set_auto_approval('ar_sales.orders', '[{"purposes": ["x"]}]') $$);
RESET ROLE;
SET ROLE regress_ar_eve;
SELECT expect_error($$ SELECT meshpg.set_auto_approval('ar_sales.orders', '[{"purposes": ["x"]}]') $$);
-- a purpose on the list, within the rule's duration: approved by the rule
SELECT meshpg.request_access('ar_sales.orders', 'audit', 'yearly audit', interval '7 days') AS eve_request \gset
SELECT state, decided_by, grant_purpose FROM meshpg.my_access_requests;
SELECT count(*) FROM ar_sales.orders;
SELECT step, actor, detail FROM meshpg.access_request_steps ORDER BY at, step DESC;
RESET ROLE;
-- longer than the rule allows, or another purpose: waits for the team
SET ROLE regress_ar_bob;
SELECT meshpg.request_access('ar_sales.orders', 'audit', 'long audit', interval '60 days') AS bob_long \gset
SELECT state FROM meshpg.my_access_requests WHERE id = :bob_long;
SELECT meshpg.cancel_request(:bob_long);
RESET ROLE;
-- an attribute the requester holds: approved by the second rule
SET ROLE regress_gov;
SELECT meshpg.set_attribute('regress_ar_bob', 'clearance', '{high}');
RESET ROLE;
SET ROLE regress_ar_bob;
SELECT meshpg.request_access('ar_sales.orders', 'marketing', 'cleared now', interval '60 days') AS bob_cleared \gset
SELECT state, decided_by FROM meshpg.my_access_requests WHERE id = :bob_cleared;
RESET ROLE;
-- rules removed
SET ROLE regress_ar_dev;
SELECT meshpg.set_auto_approval('ar_sales.orders', NULL);
RESET ROLE;
SELECT count(*) AS rules FROM meshpg.auto_approval_rules;

-- Expiry: a request nobody answers expires, on the record.
SET meshpg.access_request_ttl = '1s';
SET ROLE regress_ar_eve;
SELECT meshpg.request_access('ar_ops.tickets', 'support', 'nobody answers', interval '1 day') AS eve_ticket \gset
RESET ROLE;
RESET meshpg.access_request_ttl;
SELECT pg_sleep(1.2);
SET ROLE regress_ar_eve;
SELECT state FROM meshpg.my_access_requests WHERE id = :eve_ticket;   -- shown expired at once
RESET ROLE;
SET ROLE regress_ar_other_dev;
SELECT expect_error(format('SELECT meshpg.approve_request(%s)', :eve_ticket));
RESET ROLE;
SET ROLE regress_ar_eve;
SELECT expect_error($$ SELECT meshpg.expire_access_requests() $$);
RESET ROLE;
SELECT meshpg.expire_access_requests() AS expired;
SELECT step, actor FROM meshpg.access_request_steps WHERE request_id = :eve_ticket ORDER BY at, step DESC;
SELECT meshpg.expire_access_requests() AS expired_again;
-- a setting for superusers only
SET ROLE regress_ar_eve;
SET meshpg.access_request_ttl = '1s';
RESET ROLE;

-- Events: one per step, with names only (no justification, no reason).
SELECT type, subject, data FROM meshpg.events
 WHERE type LIKE 'meshpg.access.%' ORDER BY id;

-- The catalog tables are nobody's but meshpg's.
SET ROLE regress_ar_eve;
SELECT expect_error($$ SELECT * FROM meshpg.cat_access_request $$);
SELECT expect_error($$ SELECT * FROM meshpg.cat_access_request_step $$);
SELECT expect_error($$ UPDATE meshpg.cat_access_request SET state = 'approved' $$);
SELECT expect_error($$ INSERT INTO meshpg.cat_auto_approval VALUES (1, '[]', 'me') $$);
SELECT expect_error($$ SELECT meshpg._role_attribute('regress_ar_bob', 'clearance') $$);
RESET ROLE;

-- Descriptors carry the rules: export shows them, apply sets them.
SET ROLE regress_ar_other_dev;
SELECT meshpg.set_auto_approval('ar_ops.tickets', '[{"purposes": ["support"], "max_duration": "2 days"}]');
SELECT meshpg.export('ar_ops.tickets') AS doc \gset
SELECT substring(:'doc' from 'accessRequests:.*$') AS exported;
SELECT * FROM meshpg.apply(:'doc');                                   -- no change
SELECT * FROM meshpg.apply(replace(:'doc', '2 days', '3 days'));
SELECT rules FROM meshpg.auto_approval_rules WHERE product = 'ar_ops.tickets';
SELECT expect_error(format('SELECT * FROM meshpg.apply(%L)', replace(:'doc', 'maxDuration', 'maxDurations')));
SELECT expect_error(format('SELECT * FROM meshpg.apply(%L)', replace(:'doc', '2 days', 'forever')));
SELECT * FROM meshpg.apply(regexp_replace(:'doc', 'accessRequests:.*$', E'accessRequests:\n  autoApproval: []\n'));
SELECT count(*) AS rules FROM meshpg.auto_approval_rules WHERE product = 'ar_ops.tickets';
RESET ROLE;
SET ROLE regress_ar_dev;   -- another domain's team
SELECT expect_error(format('SELECT * FROM meshpg.apply(%L)', replace(:'doc', '2 days', '1 day')));
RESET ROLE;
