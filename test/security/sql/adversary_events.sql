--
-- adversary_events: the mesh events (doc/events.md) never carry a value of
-- a product's rows, and an attacker reads only the events the catalog's
-- rules let it see.  The domain team makes every event-producing change on
-- vault.people, which holds the canaries (setup.sql); then the attackers
-- (reader, a consumer with a grant and region EU; reader_nogrant) read
-- every event they can, by every path.  This file never writes the hidden
-- values: if one reaches an event the attacker sees, the suite fails.
--
SELECT coalesce(max(id), 0) AS ev_start FROM meshpg.cat_event \gset
CREATE ROLE ev_victim;               -- another consumer, whose grant is private

-- Every change that emits an event, on the product holding the canaries.
SET ROLE vault_team;
SELECT meshpg.document_product('vault.people', 'People, one row each');
SELECT meshpg.document_column('vault.people', 'ssn', 'Social security number');
SELECT meshpg.untag_column('vault.people', 'note', 'confidential');
SELECT meshpg.tag_column('vault.people', 'note', 'confidential');
SELECT meshpg.create_masking_policy('ev_name_mask', 'partial', product => 'vault.people',
                                   column_name => 'name', args => '{"keep_first": 1}');
SELECT meshpg.drop_policy('ev_name_mask');
SELECT meshpg.grant_access('vault.people', 'ev_victim', purpose => 'private purpose');
SELECT meshpg.revoke_access('vault.people', 'ev_victim');
SELECT meshpg.grant_access('vault.people', 'ev_victim', purpose => 'private purpose');
-- a compatible change of the contract
ALTER TABLE vault.people ADD COLUMN ev_added text;
-- SLOs over the hidden rows: their measures are figures; a measure that
-- fails on a hidden value (a cast of the ssn) keeps its error away from
-- events (the error stays in meshpg.slo_results, for the domain team)
SELECT meshpg.declare_slo('vault.people', 'ev_rows', 'volume', '{"min_rows": 100, "objective": 0.9}');
SELECT meshpg.declare_slo('vault.people', 'ev_ssn_cast', 'custom',
                          '{"query": "SELECT max(ssn)::numeric FROM vault.people", "op": ">", "threshold": 0}');
SELECT meshpg.declare_slo('vault.people', 'ev_hidden_count', 'custom',
                          '{"query": "SELECT count(*) FROM vault.people WHERE region = ''US''", "op": "<", "threshold": 1}');
SELECT count(*) AS measured FROM meshpg.evaluate('vault.people');
SELECT meshpg.drop_slo('vault.people', 'ev_rows');
SELECT meshpg.drop_slo('vault.people', 'ev_ssn_cast');
SELECT meshpg.drop_slo('vault.people', 'ev_hidden_count');
-- a descriptor applied (the export of the product, changed)
SELECT count(*) AS actions
  FROM meshpg.apply(replace(meshpg.export('vault.people'), 'People, one row each', 'People'));
RESET ROLE;
SELECT meshpg.set_attribute('ev_victim', 'region', '{US}');
UPDATE meshpg.cat_grant SET expires_at = now() - interval '1 minute'
 WHERE grantee = 'ev_victim'::regrole;
SELECT meshpg._grant_expiry();
-- what was emitted (types only, as the superuser)
SELECT type, count(*) FROM meshpg.cat_event WHERE id > :ev_start GROUP BY 1 ORDER BY 1;

-- 1. The consumer reads every event it may see, whole.
SET ROLE reader;
SELECT type, subject, data FROM meshpg.events WHERE id > :ev_start ORDER BY id;
SELECT event - 'id' - 'time' - 'source' AS event FROM meshpg.events_since(:ev_start, 10000);
-- its view of the events about another consumer's grant and attributes: none
SELECT count(*) AS victim_events FROM meshpg.events
 WHERE id > :ev_start AND (data->>'grantee' = 'ev_victim' OR data->>'role' = 'ev_victim');
-- 2. The table, the emitter, the forgeries
SELECT count(*) FROM meshpg.cat_event;
SELECT meshpg._emit_event('meshpg.product.published', 'vault.people', '{"version": "9.9.9"}');
SELECT meshpg._descriptor_applied('vault.people', '[]');
SELECT meshpg._grant_expiry();
-- a forged event in the logical decoding stream (meshpg's prefix)
SELECT pg_logical_emit_message(true, 'meshpg', '{"type": "meshpg.product.retired"}');
SELECT pg_logical_emit_message(true, 'meshpg', '\x7b7d'::bytea);
SET meshpg.events = off;
-- 3. A leaky function sees only the rows the view lets through
SELECT count(*) FROM meshpg.events
 WHERE id > :ev_start AND f_leak(type || ' ' || subject || ' ' || data::text)
   AND (data->>'grantee' = 'ev_victim' OR data->>'role' = 'ev_victim'
        OR (type = 'meshpg.slo.breached' AND data->>'slo' = 'ev_rows'));
RESET ROLE;

-- 4. Without a grant: catalog events only (no grant, attribute, SLO event)
SET ROLE reader_nogrant;
SELECT type, subject, data FROM meshpg.events WHERE id > :ev_start ORDER BY id;
SELECT type, count(*) FROM meshpg.events
 WHERE id > :ev_start AND type ~ '^meshpg\.(grant|attribute|slo)\.' GROUP BY 1;
RESET ROLE;

-- 5. The grantee sees its own grant's events, and its own attribute
GRANT ev_victim TO reader_nogrant;
SET ROLE reader_nogrant;
SELECT type, data - 'expires_at' AS data FROM meshpg.events
 WHERE id > :ev_start AND type ~ '^meshpg\.(grant|attribute)\.' ORDER BY id;
RESET ROLE;
REVOKE ev_victim FROM reader_nogrant;

-- The outbox as the superuser: no event carries a hidden value.
SELECT count(*) AS events_with_hidden_values FROM meshpg.cat_event
 WHERE id > :ev_start
   AND (data::text ~ ('C' || 'ANARY') OR subject ~ ('C' || 'ANARY'));

-- Back as it was.
SET ROLE vault_team;
SELECT meshpg.revoke_access('vault.people', 'ev_victim');
-- (the added column stays: dropping it would break the published contract)
RESET ROLE;
SELECT meshpg.unset_attribute('ev_victim', 'region');
DROP ROLE ev_victim;
