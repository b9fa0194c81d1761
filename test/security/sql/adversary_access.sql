--
-- adversary_access: attacks on access requests and the governance history.
-- The attacker is reader (a consumer) and reader_nogrant.  A victim's
-- request carries a justification, a denial reason, a purpose and an
-- attribute that contain the canary (built by concatenation, so that the
-- echoed SQL does not contain it): none may reach the attacker.
--
CREATE ROLE ar_victim;
CREATE ROLE ar_team;
CREATE ROLE ar_dev IN ROLE ar_team;
SELECT meshpg.create_domain('ar_vault', 'ar_team');
CREATE TABLE ar_vault.secrets (id int, v text);
SELECT meshpg.register_product('ar_vault', 'secrets', 'ar_vault.secrets', description => 'Secrets');
SELECT meshpg.publish('ar_vault.secrets');
SET ROLE ar_victim;
SELECT meshpg.request_access('ar_vault.secrets', 'CAN' || 'ARY-PURPOSE', 'CAN' || 'ARY-JUST-victim',
                             interval '1 day') > 0 AS requested;
SELECT meshpg.request_access('vault.people', 'audit', 'CAN' || 'ARY-JUST-2', interval '1 day') > 0 AS requested;
RESET ROLE;
SELECT max(r.id) AS victim_request FROM meshpg.cat_access_request r JOIN meshpg.cat_product p ON p.id = r.product_id
 WHERE r.requester = 'ar_victim'::regrole AND p.name = 'secrets' \gset
SET ROLE ar_dev;
SELECT meshpg.deny_request(:victim_request, 'CAN' || 'ARY-REASON');
RESET ROLE;
SELECT meshpg.set_attribute('ar_victim', 'clearance', ARRAY['CAN' || 'ARY-ATTR']);
SELECT meshpg.grant_access('vault.events', 'ar_victim', purpose => 'CAN' || 'ARY-GRANT-PURPOSE');

-- 1. The consumer approves its own request.
SET ROLE reader_nogrant;
SELECT meshpg.request_access('vault.people', 'audit', 'mine', interval '1 day') AS own \gset
SELECT meshpg.approve_request(:own);
SELECT meshpg.approve_request(:own, purpose => 'audit');
SELECT meshpg.deny_request(:own, 'x');
SELECT count(*) FROM vault.people;
-- through a rule it writes itself: only the domain team sets rules
SELECT meshpg.set_auto_approval('vault.people', '[{"purposes": ["audit"]}]');
-- through a descriptor
SELECT * FROM meshpg.apply(E'apiVersion: v3.0.2\nkind: DataContract\nid: vault.people\nversion: 0.1.0\nstatus: active\nschema: []\naccessRequests:\n  autoApproval:\n    - purposes: [audit]\n');
RESET ROLE;

-- 2. It approves, denies or cancels another's request: every id is "does not exist".
SET ROLE reader;
DO $$
DECLARE
    i int;
    f text;
    msgs text[] := '{}';
BEGIN
    FOR i IN 1..20 LOOP
        FOREACH f IN ARRAY ARRAY['approve_request(%s)', 'deny_request(%s, ''x'')', 'cancel_request(%s)'] LOOP
            BEGIN
                EXECUTE 'SELECT meshpg.' || format(f, i);
                msgs := msgs || ('succeeded: ' || format(f, i));
            EXCEPTION WHEN OTHERS THEN
                msgs := msgs || regexp_replace(SQLERRM, '[0-9]+', 'N');
            END;
        END LOOP;
    END LOOP;
    RAISE NOTICE 'outcomes: %', (SELECT array_agg(DISTINCT m) FROM unnest(msgs) m);
END
$$;
RESET ROLE;

-- 3. It reads others' requests, justifications, reasons, steps and events.
SET ROLE reader;
SELECT * FROM meshpg.access_requests;
SELECT * FROM meshpg.my_access_requests;
SELECT * FROM meshpg.access_request_queue;
SELECT * FROM meshpg.access_request_steps;
SELECT type, subject, data FROM meshpg.events WHERE type LIKE 'meshpg.access.%';
SELECT * FROM meshpg.auto_approval_rules;
-- a leaky function in the filter: the views are security barriers
CREATE FUNCTION attack.ar_leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    -- only what concerns the victim: the output stays the same whatever
    -- the other attack files left in the catalog
    IF $1 LIKE '%ar\_victim%' OR $1 LIKE '%' || 'CAN' || 'ARY' || '%' THEN
        RAISE NOTICE 'leaked: %', $1;
    END IF;
    RETURN true;
END
$$;
SELECT count(*) FROM meshpg.access_requests WHERE attack.ar_leak(justification || requester) AND attack.ar_leak(reason);
SELECT count(*) FROM meshpg.access_request_steps WHERE attack.ar_leak(detail::text || requester);
SELECT count(*) >= 0 AS ran FROM meshpg.governance_history WHERE attack.ar_leak("row"::text);
SELECT count(*) FROM meshpg.access_history_policy WHERE attack.ar_leak("row"::text || role);
-- the tables themselves
SELECT * FROM meshpg.cat_access_request;
SELECT * FROM meshpg.cat_access_request_step;
SELECT * FROM meshpg.cat_auto_approval;
SELECT meshpg._role_attribute('ar_victim', 'clearance');
RESET ROLE;

-- 4. explain_access(at =>) for another role, or a product it cannot read.
SET ROLE reader;
SELECT * FROM meshpg.explain_access('ar_vault.secrets', 'ar_victim', at => now() - interval '1 second');
SELECT * FROM meshpg.explain_access('vault.events', 'ar_victim', at => now() - interval '1 second');
SELECT subject, effect FROM meshpg.explain_access('ar_vault.secrets', at => now() - interval '1 second')
 WHERE subject = 'access';
RESET ROLE;

-- 5. The history tables, read or written directly; the trigger called by hand.
SET ROLE reader;
SELECT * FROM meshpg.cat_governance_history;
SELECT * FROM meshpg.cat_governance_horizon;
INSERT INTO meshpg.cat_governance_history (catalog, key, "row", valid, changed_by)
VALUES ('grant', '{}', '{}', tstzrange(now(), NULL), 'reader');
UPDATE meshpg.cat_governance_history SET changed_by = 'someone else';
DELETE FROM meshpg.cat_governance_history;
TRUNCATE meshpg.cat_governance_history;
INSERT INTO meshpg.cat_governance_horizon VALUES (1, now());
SELECT meshpg._governance_actor('meshpg.cat_grant');
SELECT meshpg.prune_governance_history();
SET meshpg.governance_history_retention = '1min';
-- recording cannot be switched off by a consumer
SET session_replication_role = replica;
ALTER TABLE meshpg.cat_grant DISABLE TRIGGER cat_grant_history;
COPY meshpg.cat_grant FROM stdin;
\.
-- its own history: its grants only, nobody else's attributes or grants
SELECT count(*) AS victims_versions FROM meshpg.governance_history WHERE "row"::text LIKE '%ar\_victim%';
SELECT count(*) > 0 AS sees_own FROM meshpg.governance_history
 WHERE catalog = 'grant' AND "row"->>'grantee' = 'reader';
SELECT count(*) AS access_history_policy_rows FROM meshpg.access_history_policy;
RESET ROLE;

-- 6. A request for a product it cannot discover says what a missing one says.
SET ROLE reader;
SELECT meshpg.request_access('ar_vault.no_such_product', 'x', 'y', interval '1 day');
SELECT meshpg.request_access('no_such_domain.secrets', 'x', 'y', interval '1 day');
RESET ROLE;

-- The history still knows who did what (the attacks changed nothing).
SELECT catalog, key - 'product_id' AS key, changed_by, ended_by FROM meshpg.governance_history
 WHERE key->>'grantee' = 'ar_victim' OR key->>'role' = 'ar_victim' ORDER BY id;
SELECT count(*) AS reader_nogrant_grants FROM meshpg.governance_history WHERE key->>'grantee' = 'reader_nogrant';

-- 7. A domain team reads its products' access history beside the rules in
-- force, but not its consumers' attributes (the governance team's and the
-- role's own, as in meshpg.attributes).
SELECT meshpg.flush_access_history() >= 0 AS flushed;
SELECT clock_timestamp() AS ar_start \gset
SET ROLE reader;
SELECT count(*) FROM vault.people;
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SET ROLE vault_team;
SELECT count(*) > 0 AS sees_reads FROM meshpg.access_history_policy WHERE read_at >= :'ar_start';
SELECT count(*) AS attribute_versions FROM meshpg.access_history_policy
 WHERE read_at >= :'ar_start' AND catalog = 'attribute';
RESET ROLE;
SELECT count(*) > 0 AS governance_team_sees_them FROM meshpg.access_history_policy
 WHERE read_at >= :'ar_start' AND catalog = 'attribute';
