--
-- point_in_time: every change to grants, tags, attributes and policies is
-- kept with the interval it was in force; explain_access(at => t) answers
-- for t as explain_access answers for now; each read of the access history
-- is joined to the state that governed it; retention prunes the history.
-- Self-contained after init.
--
CREATE ROLE regress_pit_team;
CREATE ROLE regress_pit_dev IN ROLE regress_pit_team;
CREATE ROLE regress_pit_alice;
CREATE ROLE regress_pit_mallory;
SELECT meshpg.flush_access_history() >= 0 AS flushed_earlier_reads;
SELECT meshpg.create_domain('pit', 'regress_pit_team');
CREATE TABLE pit.customers (id int PRIMARY KEY, email text, region text);
INSERT INTO pit.customers VALUES (1, 'ann@example.com', 'EU'), (2, 'ben@example.com', 'US');
SELECT meshpg.register_product('pit', 'customers', 'pit.customers', description => 'Customers');
SELECT meshpg.publish('pit.customers');
SELECT clock_timestamp() AS t0 \gset

-- t1: a tag, a masking policy on it (exempting a clearance), a grant.
SET ROLE regress_gov;
SELECT meshpg.create_tag('pit.email');
SELECT meshpg.create_masking_policy('pit_mask_email', 'email', tag => 'pit.email',
                                    exempt_attributes => '{"clearance": ["high"]}');
RESET ROLE;
SET ROLE regress_pit_dev;
SELECT meshpg.tag_column('pit.customers', 'email', 'pit.email');
SELECT meshpg.grant_access('pit.customers', 'regress_pit_alice', purpose => 'support');
RESET ROLE;
SET ROLE regress_pit_alice;
SELECT id, email FROM pit.customers ORDER BY id;     -- masked
RESET ROLE;
SELECT clock_timestamp() AS t1 \gset

-- t2: the consumer gets the clearance: exempt.
SET ROLE regress_gov;
SELECT meshpg.set_attribute('regress_pit_alice', 'clearance', '{high}');
RESET ROLE;
SET ROLE regress_pit_alice;
SELECT id, email FROM pit.customers ORDER BY id;     -- exempt now
RESET ROLE;
SELECT clock_timestamp() AS t2 \gset

-- t3: the grant is revoked and the policy dropped; a row policy arrives.
SET ROLE regress_pit_dev;
SELECT meshpg.revoke_access('pit.customers', 'regress_pit_alice');
SELECT meshpg.create_row_policy('pit_eu_only', 'region = ''EU''', product => 'pit.customers');
RESET ROLE;
SET ROLE regress_gov;
SELECT meshpg.drop_policy('pit_mask_email');
RESET ROLE;
SELECT clock_timestamp() AS t3 \gset

-- The same question at each moment.
SELECT * FROM meshpg.explain_access('pit.customers', 'regress_pit_alice', at => :'t0');
SELECT * FROM meshpg.explain_access('pit.customers', 'regress_pit_alice', at => :'t1');
SELECT * FROM meshpg.explain_access('pit.customers', 'regress_pit_alice', at => :'t2');
SELECT * FROM meshpg.explain_access('pit.customers', 'regress_pit_alice', at => :'t3');
-- "as of now" is exactly "now"
SELECT (SELECT array_agg(e ORDER BY e::text) FROM meshpg.explain_access('pit.customers', 'regress_pit_alice') e)
     = (SELECT array_agg(e ORDER BY e::text)
          FROM meshpg.explain_access('pit.customers', 'regress_pit_alice', at => clock_timestamp()) e)
       AS same_as_now;
-- the role itself may ask about itself, at any moment; others may not
SET ROLE regress_pit_alice;
SELECT subject, effect FROM meshpg.explain_access('pit.customers', at => :'t1') WHERE subject IN ('access', 'email');
RESET ROLE;
SET ROLE regress_pit_mallory;
SELECT expect_error(format('SELECT * FROM meshpg.explain_access(%L, %L, at => %L)',
                           'pit.customers', 'regress_pit_alice', :'t1'));
SELECT expect_error(format('SELECT * FROM meshpg.explain_access(%L, at => %L)', 'pit.nothing', :'t1'));
RESET ROLE;
-- bad moments
SELECT expect_error($$ SELECT * FROM meshpg.explain_access('pit.customers', 'regress_pit_alice', at => now() + interval '1 day') $$);
SELECT expect_error($$ SELECT * FROM meshpg.explain_access('pit.customers', 'regress_pit_alice', at => 'infinity') $$);

-- The history itself: who changed what, and when.
SELECT catalog, key - 'product_id' - 'tag_id' - 'id' AS key, changed_by, ended_by,
       upper_inf(valid) AS in_force
  FROM meshpg.governance_history WHERE product = 'pit.customers' OR catalog IN ('attribute', 'policy', 'tag')
   AND ("row"->>'name' LIKE 'pit%' OR "row"->>'role' LIKE 'regress_pit%')
 ORDER BY id;
-- a consumer sees its own grants and attributes and the metadata; not others'
SET ROLE regress_pit_mallory;
SELECT catalog, count(*) FROM meshpg.governance_history
 WHERE catalog IN ('grant', 'attribute') GROUP BY 1 ORDER BY 1;
SELECT expect_error($$ SELECT * FROM meshpg.cat_governance_history $$);
SELECT expect_error($$ DELETE FROM meshpg.cat_governance_history $$);
SELECT expect_error($$ INSERT INTO meshpg.cat_governance_horizon VALUES (1, now()) $$);
RESET ROLE;
SET ROLE regress_pit_alice;
SELECT catalog, changed_by, ended_by FROM meshpg.governance_history
 WHERE catalog IN ('grant', 'attribute') ORDER BY id;
RESET ROLE;

-- A version made and ended in one transaction was never in force: not kept.
BEGIN;
SELECT meshpg.set_attribute('regress_pit_mallory', 'scratch', '{a}');
SELECT meshpg.set_attribute('regress_pit_mallory', 'scratch', '{b}');
SELECT meshpg.unset_attribute('regress_pit_mallory', 'scratch');
COMMIT;
SELECT count(*) AS scratch_versions FROM meshpg.cat_governance_history WHERE key->>'key' = 'scratch';
-- A direct write to the catalog is recorded too, with its author.
UPDATE meshpg.cat_attribute SET "values" = '{high,top}' WHERE role = 'regress_pit_alice'::regrole;
SELECT "row"->'values' AS "values", changed_by = current_user AS by_me, upper_inf(valid) AS in_force
  FROM meshpg.cat_governance_history WHERE catalog = 'attribute' AND key->>'role' = 'regress_pit_alice'
 ORDER BY id;

-- Each read of the access history, beside the state that governed it.
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT a.role, a.catalog, coalesce(a."row"->>'name', a."row"->>'column_name', a."row"->>'grantee') AS what
  FROM meshpg.access_history_policy a WHERE a.product = 'pit.customers' ORDER BY 2, 3;
-- only to those who may read the access history
SET ROLE regress_pit_alice;
SELECT count(*) AS visible FROM meshpg.access_history_policy;
RESET ROLE;
SET ROLE regress_pit_dev;
SELECT count(*) > 0 AS visible FROM meshpg.access_history_policy WHERE product = 'pit.customers';
-- but not the consumer's attributes (the governance team's and the role's own)
SELECT count(*) AS attributes FROM meshpg.access_history_policy WHERE catalog = 'attribute';
RESET ROLE;

-- Retention: versions that ended before it go, and the horizon moves up.
-- (The history is moved back behind meshpg's back here, as time would.)
UPDATE meshpg.cat_governance_history
   SET valid = tstzrange(lower(valid) - interval '2 hours', upper(valid) - interval '2 hours')
 WHERE NOT upper_inf(valid);
SET ROLE regress_pit_alice;
SELECT expect_error($$ SELECT meshpg.prune_governance_history() $$);
SET meshpg.governance_history_retention = '1h';
RESET ROLE;
SELECT meshpg.prune_governance_history() AS pruned_forever;    -- 0 keeps everything
SET meshpg.governance_history_retention = '1h';
SELECT meshpg.prune_governance_history() > 0 AS pruned;
SELECT count(*) AS ended_versions_left FROM meshpg.cat_governance_history WHERE NOT upper_inf(valid);
SELECT regexp_replace(expect_error(format('SELECT * FROM meshpg.explain_access(%L, %L, at => %L)',
                                          'pit.customers', 'regress_pit_alice', now() - interval '2 hours')),
                      'DETAIL: It starts at [^\n]*', 'DETAIL: It starts at (an hour ago).');
-- versions still in force answer for every moment since they began
SELECT subject, policy, effect FROM meshpg.explain_access('pit.customers', 'regress_pit_alice', at => :'t3')
 WHERE subject IN ('access', 'rows', 'email');
RESET meshpg.governance_history_retention;
