/* ------------------------------------------------------------------------
 * Point-in-time governance: every version of every row of the governance
 * catalog (grants, column tags, tags, attributes, policies with their
 * exemptions), with the interval in which it was in force and who made and
 * ended it.  explain_access(at => t) compiles the rows in force at t
 * (src/policy/asof.c); meshpg.access_history_policy joins each read of the
 * access history to the state that governed it.
 *
 * Kept by row triggers on the catalog tables, so every write path is seen:
 * the SQL functions, descriptors, the Citus catalog sync, a superuser's
 * direct write.  Rows are kept as jsonb of the catalog row, roles by name,
 * so that they survive pg_dump and restore; the history table is itself in
 * the dump, and a restore's COPY into a catalog table records nothing
 * (meshpg._governance_actor), so that restoring never rewrites history with
 * restore-time rows.
 * ------------------------------------------------------------------------ */
CREATE SEQUENCE meshpg.cat_governance_history_id_seq;
CREATE TABLE meshpg.cat_governance_history (
    id         bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_governance_history_id_seq'),
    catalog    text NOT NULL CHECK (catalog IN ('grant', 'column_tag', 'tag', 'attribute', 'policy')),
    key        jsonb NOT NULL,      -- the catalog row's primary key
    "row"      jsonb NOT NULL,      -- the whole catalog row
    valid      tstzrange NOT NULL,  -- [made, ended): upper unbounded while in force
    changed_by text NOT NULL,
    ended_by   text
);
ALTER SEQUENCE meshpg.cat_governance_history_id_seq OWNED BY meshpg.cat_governance_history.id;
-- the open version of a row is found by its key when the row changes
CREATE INDEX cat_governance_history_open_idx ON meshpg.cat_governance_history (catalog, key)
    WHERE pg_catalog.upper_inf(valid);
-- the versions of one product's rows (meshpg.access_history_policy).  Few
-- indexes on purpose: every recorded catalog call pays for each (bench/pit.sh);
-- the other questions (explain_access(at =>) reads the versions of one
-- catalog at one moment) scan the versions of that catalog.
CREATE INDEX cat_governance_history_product_idx ON meshpg.cat_governance_history
    (catalog, ((("row" OPERATOR(pg_catalog.->>) 'product_id'))::bigint));

/*
 * The earliest moment the history answers for (one row, or none when it
 * starts with the catalog): the upgrade that started it, then what the
 * retention pruned.
 */
CREATE TABLE meshpg.cat_governance_horizon (
    id    integer PRIMARY KEY CHECK (id = 1),
    since timestamptz NOT NULL
);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_governance_history', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_governance_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_governance_horizon', '');
REVOKE ALL ON meshpg.cat_governance_history, meshpg.cat_governance_horizon FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_governance_history_id_seq FROM PUBLIC;

CREATE FUNCTION meshpg._governance_actor(relation regclass)
RETURNS text
LANGUAGE C STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_governance_actor';
REVOKE ALL ON FUNCTION meshpg._governance_actor(regclass) FROM PUBLIC;

/*
 * Row trigger (src/catalog/history.c): its arguments are the catalog's name
 * in the history, then the columns of its primary key.
 */
CREATE FUNCTION meshpg._governance_history()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_governance_history';
REVOKE ALL ON FUNCTION meshpg._governance_history() FROM PUBLIC;

CREATE TRIGGER cat_grant_history AFTER INSERT OR UPDATE OR DELETE ON meshpg.cat_grant
    FOR EACH ROW EXECUTE FUNCTION meshpg._governance_history('grant', 'product_id', 'grantee');
CREATE TRIGGER cat_column_tag_history AFTER INSERT OR UPDATE OR DELETE ON meshpg.cat_column_tag
    FOR EACH ROW EXECUTE FUNCTION meshpg._governance_history('column_tag', 'product_id', 'column_name', 'tag_id');
CREATE TRIGGER cat_tag_history AFTER INSERT OR UPDATE OR DELETE ON meshpg.cat_tag
    FOR EACH ROW EXECUTE FUNCTION meshpg._governance_history('tag', 'id');
CREATE TRIGGER cat_attribute_history AFTER INSERT OR UPDATE OR DELETE ON meshpg.cat_attribute
    FOR EACH ROW EXECUTE FUNCTION meshpg._governance_history('attribute', 'role', 'key');
CREATE TRIGGER cat_policy_history AFTER INSERT OR UPDATE OR DELETE ON meshpg.cat_policy
    FOR EACH ROW EXECUTE FUNCTION meshpg._governance_history('policy', 'id');

/*
 * An upgrade from 1.3 finds rows the history never saw change: they are in
 * force from the upgrade on, and the history answers from then.  (A fresh
 * install, and the CREATE EXTENSION of a restore, find none.)
 */
DO $$
DECLARE
    actor text := current_user;
BEGIN
    IF EXISTS (SELECT 1 FROM meshpg.cat_grant) OR EXISTS (SELECT 1 FROM meshpg.cat_column_tag)
       OR EXISTS (SELECT 1 FROM meshpg.cat_tag) OR EXISTS (SELECT 1 FROM meshpg.cat_attribute)
       OR EXISTS (SELECT 1 FROM meshpg.cat_policy) THEN
        INSERT INTO meshpg.cat_governance_horizon VALUES (1, pg_catalog.now());
        INSERT INTO meshpg.cat_governance_history (catalog, key, "row", valid, changed_by)
        SELECT 'grant', pg_catalog.jsonb_build_object('product_id', g.product_id, 'grantee', g.grantee),
               pg_catalog.to_jsonb(g), pg_catalog.tstzrange(pg_catalog.now(), NULL), actor
          FROM meshpg.cat_grant g
        UNION ALL
        SELECT 'column_tag', pg_catalog.jsonb_build_object('product_id', t.product_id,
                   'column_name', t.column_name, 'tag_id', t.tag_id),
               pg_catalog.to_jsonb(t), pg_catalog.tstzrange(pg_catalog.now(), NULL), actor
          FROM meshpg.cat_column_tag t
        UNION ALL
        SELECT 'tag', pg_catalog.jsonb_build_object('id', t.id),
               pg_catalog.to_jsonb(t), pg_catalog.tstzrange(pg_catalog.now(), NULL), actor
          FROM meshpg.cat_tag t
        UNION ALL
        SELECT 'attribute', pg_catalog.jsonb_build_object('role', a.role, 'key', a.key),
               pg_catalog.to_jsonb(a), pg_catalog.tstzrange(pg_catalog.now(), NULL), actor
          FROM meshpg.cat_attribute a
        UNION ALL
        SELECT 'policy', pg_catalog.jsonb_build_object('id', p.id),
               pg_catalog.to_jsonb(p), pg_catalog.tstzrange(pg_catalog.now(), NULL), actor
          FROM meshpg.cat_policy p;
    END IF;
END
$$;

/* explain_access gains the moment it answers for. */
DROP FUNCTION meshpg.explain_access(text, regrole);
CREATE FUNCTION meshpg.explain_access(
    product text,
    role regrole DEFAULT NULL,
    at timestamptz DEFAULT NULL)
RETURNS TABLE (subject text, policy text, kind text, effect text, reason text)
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_explain_access';

/*
 * The history as its readers may see it, as the catalog views show the
 * present: grants to the governance team, the owning domain and the grantee;
 * attributes to the governance team and the role they describe; tags,
 * column tags and policies (metadata) to everyone.
 */
CREATE VIEW meshpg.governance_history WITH (security_barrier) AS
SELECT h.id,
       h.catalog,
       CASE WHEN h.catalog OPERATOR(pg_catalog.=) ANY ('{grant,column_tag}')
            THEN d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name END AS product,
       h.key,
       h."row",
       h.valid,
       pg_catalog.lower(h.valid) AS valid_from,
       pg_catalog.upper(h.valid) AS valid_until,
       h.changed_by,
       h.ended_by
  FROM meshpg.cat_governance_history h
  LEFT JOIN meshpg.cat_product p
         ON h.catalog OPERATOR(pg_catalog.=) ANY ('{grant,column_tag}')
        AND p.id OPERATOR(pg_catalog.=) (h."row" OPERATOR(pg_catalog.->>) 'product_id')::bigint
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE h.catalog OPERATOR(pg_catalog.=) ANY ('{tag,column_tag,policy}')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'))
    OR (h.catalog OPERATOR(pg_catalog.=) 'grant'
        AND ((d.owner IS NOT NULL AND pg_catalog.pg_has_role(d.owner, 'USAGE'))
             OR (pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'grantee') IS NOT NULL
                 AND pg_catalog.pg_has_role(pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'grantee'), 'USAGE'))))
    OR (h.catalog OPERATOR(pg_catalog.=) 'attribute'
        AND pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'role') IS NOT NULL
        AND pg_catalog.pg_has_role(pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'role'), 'USAGE'));
GRANT SELECT ON meshpg.governance_history TO PUBLIC;

/*
 * Each read of the access history beside the governance state that applied
 * to it: the versions in force at its read_at of the product's grants to the
 * reading role (or a role it belongs to), the product's own policies, its
 * column tags and the policies bound to those tags, and the reading role's
 * attributes.  Built on meshpg.access_history, so a reader sees the reads it
 * may see (the governance team, the owning domain) and nothing more; the
 * attributes only to the governance team (as meshpg.attributes).  The
 * read is named by (backend_pid, backend_start, statement, product).
 */
CREATE VIEW meshpg.access_history_policy WITH (security_barrier) AS
WITH reads AS NOT MATERIALIZED (
    SELECT a.read_at, a.product, a.role, a.purpose, a.backend_pid, a.backend_start, a.statement,
           p.id AS product_id, reader.oid AS reader
      FROM meshpg.access_history a
      JOIN meshpg.cat_domain d ON d.name OPERATOR(pg_catalog.=) pg_catalog.split_part(a.product, '.', 1)
      JOIN meshpg.cat_product p ON p.domain_id OPERATOR(pg_catalog.=) d.id
                               AND p.name OPERATOR(pg_catalog.=) pg_catalog.split_part(a.product, '.', 2)
      LEFT JOIN pg_catalog.pg_roles reader ON reader.rolname OPERATOR(pg_catalog.=) a.role
)
-- the product's grants to the reader or a role it belongs to, its column
-- tags and the policies bound to it
SELECT r.read_at, r.product, r.role, r.purpose, r.backend_pid, r.backend_start, r.statement,
       h.id AS history_id, h.catalog, h.key, h."row", h.valid, h.changed_by
  FROM reads r
  JOIN meshpg.cat_governance_history h
    ON h.catalog OPERATOR(pg_catalog.=) ANY ('{grant,column_tag,policy}')
   AND (h."row" OPERATOR(pg_catalog.->>) 'product_id')::bigint OPERATOR(pg_catalog.=) r.product_id
   AND h.valid OPERATOR(pg_catalog.@>) r.read_at
 WHERE h.catalog OPERATOR(pg_catalog.<>) 'grant'
    OR (r.reader IS NOT NULL
        AND pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'grantee') IS NOT NULL
        AND pg_catalog.pg_has_role(r.reader, pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'grantee'), 'USAGE'))
UNION ALL
-- the policies bound to a tag one of its columns carried then
SELECT r.read_at, r.product, r.role, r.purpose, r.backend_pid, r.backend_start, r.statement,
       h.id, h.catalog, h.key, h."row", h.valid, h.changed_by
  FROM reads r
  JOIN meshpg.cat_governance_history ct
    ON ct.catalog OPERATOR(pg_catalog.=) 'column_tag'
   AND (ct."row" OPERATOR(pg_catalog.->>) 'product_id')::bigint OPERATOR(pg_catalog.=) r.product_id
   AND ct.valid OPERATOR(pg_catalog.@>) r.read_at
  JOIN meshpg.cat_governance_history h
    ON h.catalog OPERATOR(pg_catalog.=) 'policy'
   AND (h."row" OPERATOR(pg_catalog.->>) 'tag_id')::bigint
       OPERATOR(pg_catalog.=) (ct."row" OPERATOR(pg_catalog.->>) 'tag_id')::bigint
   AND h.valid OPERATOR(pg_catalog.@>) r.read_at
UNION ALL
-- the reader's attributes (its own and its groups'), to the governance team
-- and the role itself only, as in meshpg.attributes: not to the domain team
-- that reads the access history
SELECT r.read_at, r.product, r.role, r.purpose, r.backend_pid, r.backend_start, r.statement,
       h.id, h.catalog, h.key, h."row", h.valid, h.changed_by
  FROM reads r
  JOIN meshpg.cat_governance_history h
    ON h.catalog OPERATOR(pg_catalog.=) 'attribute'
   AND h.valid OPERATOR(pg_catalog.@>) r.read_at
 WHERE r.reader IS NOT NULL
   AND pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'role') IS NOT NULL
   AND pg_catalog.pg_has_role(r.reader, pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'role'), 'USAGE')
   AND (pg_catalog.pg_has_role(pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'role'), 'USAGE')
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
                    WHERE a.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                      AND pg_catalog.pg_has_role(a.oid, 'USAGE')));
GRANT SELECT ON meshpg.access_history_policy TO PUBLIC;

/*
 * Pruning (the worker's task "governance_history", or by hand): versions
 * that ended longer ago than meshpg.governance_history_retention go, and
 * the horizon moves up to that moment.  0 keeps everything.
 */
CREATE FUNCTION meshpg.prune_governance_history()
RETURNS bigint
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_prune_governance_history';
REVOKE ALL ON FUNCTION meshpg.prune_governance_history() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION meshpg.prune_governance_history() TO meshpg_admin;
