
/* ------------------------------------------------------------------------
 * Retention (src/retention/).
 *
 * A retention policy keeps a product's rows for an interval by a timestamp
 * column, then deletes them, anonymises columns in place with one of
 * meshpg's masks, or drops whole partitions.  Bound to a tag (the
 * governance team: every product with a column carrying it) or to one
 * product (its domain team).  The background worker enforces them in small
 * batches; a legal hold on a product suspends them.  Every run is recorded
 * in the audit trail.
 * ------------------------------------------------------------------------ */
CREATE SEQUENCE meshpg.cat_retention_policy_id_seq;
CREATE TABLE meshpg.cat_retention_policy (
    id          bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_retention_policy_id_seq'),
    name        text NOT NULL UNIQUE,
    keep        interval NOT NULL,
    time_column text NOT NULL,
    action      text NOT NULL CHECK (action IN ('delete', 'anonymise', 'drop_partitions')),
    tag_id      bigint REFERENCES meshpg.cat_tag (id),
    product_id  bigint REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    columns     text[],
    mask        text CHECK (mask IN ('null', 'redact', 'email', 'partial', 'date', 'bucket', 'round')),
    mask_args   jsonb NOT NULL DEFAULT '{}',
    description text,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK ((tag_id IS NULL) <> (product_id IS NULL)),
    CHECK ((action = 'anonymise') = (mask IS NOT NULL))
);
ALTER SEQUENCE meshpg.cat_retention_policy_id_seq OWNED BY meshpg.cat_retention_policy.id;
CREATE INDEX cat_retention_policy_product_idx ON meshpg.cat_retention_policy (product_id);
CREATE INDEX cat_retention_policy_tag_idx ON meshpg.cat_retention_policy (tag_id);

-- One hold per product.  placed_by_domain: placed by the product's domain
-- team (which may lift it), not by the governance team over it.
CREATE TABLE meshpg.cat_legal_hold (
    product_id       bigint PRIMARY KEY REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    reason           text NOT NULL,
    placed_by        text NOT NULL,
    placed_by_domain boolean NOT NULL,
    placed_at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- The audit trail: one row per policy per product per run, updated in the
-- transaction of each batch.  Kept when the policy or the product goes.
CREATE SEQUENCE meshpg.cat_retention_run_id_seq;
CREATE TABLE meshpg.cat_retention_run (
    id          bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_retention_run_id_seq'),
    policy_id   bigint NOT NULL,
    policy      text NOT NULL,
    product_id  bigint NOT NULL,
    product     text NOT NULL,
    action      text NOT NULL,
    cutoff      timestamptz NOT NULL,
    rows        bigint NOT NULL DEFAULT 0,
    batches     integer NOT NULL DEFAULT 0,
    partitions  text[] NOT NULL DEFAULT '{}',
    status      text NOT NULL CHECK (status IN ('running', 'done', 'held', 'incomplete', 'skipped')),
    note        text,
    run_by      text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
ALTER SEQUENCE meshpg.cat_retention_run_id_seq OWNED BY meshpg.cat_retention_run.id;
CREATE INDEX cat_retention_run_product_idx ON meshpg.cat_retention_run (product_id);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_retention_policy', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_retention_policy_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_legal_hold', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_retention_run', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_retention_run_id_seq', '');
REVOKE ALL ON meshpg.cat_retention_policy, meshpg.cat_legal_hold, meshpg.cat_retention_run FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_retention_policy_id_seq, meshpg.cat_retention_run_id_seq FROM PUBLIC;

CREATE FUNCTION meshpg.create_retention_policy(
    name text,
    keep interval,
    time_column text,
    action text DEFAULT 'delete',
    tag text DEFAULT NULL,
    product text DEFAULT NULL,
    columns text[] DEFAULT NULL,
    mask text DEFAULT NULL,
    args jsonb DEFAULT NULL,
    description text DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_create_retention_policy';

CREATE FUNCTION meshpg.drop_retention_policy(name text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_drop_retention_policy';

CREATE FUNCTION meshpg.place_legal_hold(product text, reason text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_place_legal_hold';

CREATE FUNCTION meshpg.lift_legal_hold(product text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_lift_legal_hold';

CREATE FUNCTION meshpg.retention_dry_run(product text)
RETURNS TABLE (policy text, action text, time_column text, cutoff timestamptz, rows bigint,
               partitions text[], held boolean, note text)
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_retention_dry_run';

-- A procedure: outside a transaction block each batch commits on its own.
-- No SET clause: PostgreSQL runs a procedure that has one atomically (no
-- COMMIT inside); the C code pins search_path for every statement it runs.
CREATE PROCEDURE meshpg.run_retention(product text)
LANGUAGE C
AS 'MODULE_PATHNAME', 'meshpg_run_retention';

-- Policies are governance metadata, public like meshpg.policies.
CREATE VIEW meshpg.retention_policies AS
SELECT r.name, t.name AS tag,
       d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       r.keep, r.time_column, r.action, r.columns, r.mask, r.mask_args, r.description,
       r.created_by, r.created_at
  FROM meshpg.cat_retention_policy r
  LEFT JOIN meshpg.cat_tag t ON t.id OPERATOR(pg_catalog.=) r.tag_id
  LEFT JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) r.product_id
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id;

-- Holds and the audit trail: the product's domain team and the governance team.
CREATE VIEW meshpg.legal_holds WITH (security_barrier) AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       h.reason, h.placed_by, h.placed_by_domain, h.placed_at
  FROM meshpg.cat_legal_hold h
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) h.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE pg_catalog.pg_has_role(d.owner, 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

CREATE VIEW meshpg.retention_runs WITH (security_barrier) AS
SELECT x.id, x.policy, x.product, x.action, x.cutoff, x.rows, x.batches, x.partitions,
       x.status, x.note, x.run_by, x.started_at, x.finished_at
  FROM meshpg.cat_retention_run x
  LEFT JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) x.product_id
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE (d.owner IS NOT NULL AND pg_catalog.pg_has_role(d.owner, 'USAGE'))
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

GRANT SELECT ON meshpg.retention_policies, meshpg.legal_holds, meshpg.retention_runs TO PUBLIC;
