
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

/*
 * Descriptors carry a product's own retention policies (the section
 * "retention", authoritative when present): export writes them, apply and
 * plan converge to them.  Added by wrapping whatever _export_doc and
 * _converge the parts before this one left (renamed *_pre_retention), so
 * that the sections other parts add survive.
 */
ALTER FUNCTION meshpg._export_doc(text) RENAME TO _export_doc_pre_retention;
CREATE FUNCTION meshpg._export_doc(ref text)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET intervalstyle = 'postgres'
AS $$
SELECT CASE WHEN r.policies IS NULL THEN b.doc
            ELSE b.doc || pg_catalog.jsonb_build_object('retention', r.policies) END
  FROM (SELECT meshpg._export_doc_pre_retention(ref) AS doc) b
  LEFT JOIN LATERAL (
      SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                 'name', x.name, 'keep', x.keep::text, 'timeColumn', x.time_column,
                 'action', x.action, 'columns', pg_catalog.to_jsonb(x.columns), 'mask', x.mask,
                 'args', CASE WHEN x.mask_args <> '{}' THEN x.mask_args END,
                 'description', x.description)) ORDER BY x.name) AS policies
        FROM meshpg.cat_retention_policy x
        JOIN meshpg.cat_product p ON p.id = x.product_id
        JOIN meshpg.cat_domain d ON d.id = p.domain_id
       WHERE d.name || '.' || p.name = ref) r ON b.doc IS NOT NULL
$$;

-- retention: authoritative when the section is present
CREATE FUNCTION meshpg._dsc_retention(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text := doc->>'id';
    r record;
    dup text;
BEGIN
    IF NOT doc ? 'retention' THEN
        RETURN;
    END IF;
    SELECT e->>'name' INTO dup FROM pg_catalog.jsonb_array_elements(doc->'retention') e
     GROUP BY 1 HAVING pg_catalog.count(*) > 1 LIMIT 1;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION '%retention: policy "%" is declared more than once', label, dup
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN
        SELECT COALESCE(w.value->>'name', h.value->>'name') AS name, w.value AS w, h.value AS h
          FROM pg_catalog.jsonb_array_elements(doc->'retention') w
          FULL JOIN pg_catalog.jsonb_array_elements(COALESCE(cur->'retention', '[]')) h
            ON h.value->>'name' = w.value->>'name'
         ORDER BY 1
    LOOP
        -- the same policy, written as export writes it (keep as an interval)
        IF r.w IS NOT NULL AND r.h IS NOT NULL
           AND meshpg._dsc_interval(label || 'retention.keep', r.w->>'keep') = (r.h->>'keep')::interval
           AND (r.w - 'keep') || pg_catalog.jsonb_build_object('action', COALESCE(r.w->>'action', 'delete'))
               = (r.h - 'keep') THEN
            CONTINUE;
        END IF;
        IF r.h IS NOT NULL THEN
            RETURN QUERY SELECT 'drop retention policy', ref, r.name;
            IF do_apply THEN
                PERFORM meshpg.drop_retention_policy(r.name);
            END IF;
        END IF;
        IF r.w IS NOT NULL THEN
            RETURN QUERY SELECT 'create retention policy', ref, r.name;
            IF do_apply THEN
                PERFORM meshpg.create_retention_policy(
                    name => r.name,
                    keep => meshpg._dsc_interval(label || 'retention.keep', r.w->>'keep'),
                    time_column => r.w->>'timeColumn',
                    action => COALESCE(r.w->>'action', 'delete'),
                    product => ref,
                    columns => CASE WHEN r.w ? 'columns' THEN
                                   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(r.w->'columns')) END,
                    mask => r.w->>'mask',
                    args => r.w->'args',
                    description => r.w->>'description');
            END IF;
        END IF;
    END LOOP;
END
$$;

ALTER FUNCTION meshpg._converge(jsonb, boolean, boolean, boolean) RENAME TO _converge_pre_retention;
CREATE FUNCTION meshpg._converge(docs jsonb, do_apply boolean, strict boolean, prune boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := pg_catalog.jsonb_array_length(docs);
    d record;
    label text;
BEGIN
    RETURN QUERY SELECT * FROM meshpg._converge_pre_retention(docs, do_apply, strict, prune);
    -- retention last: the product, its columns and its tags are in place
    FOR d IN SELECT e.value AS doc, e.ordinality AS i FROM pg_catalog.jsonb_array_elements(docs) WITH ORDINALITY e
    LOOP
        label := CASE WHEN n > 1 THEN pg_catalog.format('document %s: ', d.i) ELSE '' END;
        RETURN QUERY SELECT * FROM meshpg._dsc_retention(d.doc, meshpg._export_doc(d.doc->>'id'),
                                                         label, do_apply, strict);
    END LOOP;
END
$$;
