/*
 * meshpg 1.3 -> 1.4.  Built by the Makefile from the parts in sql/1.4, one per
 * concern, in name order: edit the parts, not meshpg--1.3--1.4.sql.
 */

\echo Use "ALTER EXTENSION meshpg UPDATE TO '1.4'" to load this file. \quit
/*
 * Governed statistics (src/governance/statsets.c): per product and per
 * row-policy specialisation (readers whose filters and masks compile to the
 * same expressions), statistics computed by meshpg's worker from a sample
 * of the rows that specialisation may see, masked columns on their masked
 * values.  The planner is served these instead of pg_statistic's for a
 * reader of that specialisation.  Derived data, like pg_statistic: a set
 * whose specialisation no reader has any more is dropped at the next
 * refresh, and one restored into another cluster is never served (its key
 * names objects by their OIDs) until refreshed.
 */
CREATE TABLE meshpg.cat_stat_set (
    id           bigserial PRIMARY KEY,
    product_id   bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    relid        regclass NOT NULL,
    spec_key     bigint NOT NULL,
    readers      integer NOT NULL,       -- roles of this specialisation at refresh
    filtered     boolean NOT NULL,       -- rows are filtered (else masks only)
    sample_rows  integer NOT NULL,       -- rows sampled from the table
    visible_rows integer NOT NULL,       -- of which this specialisation may see
    tuples       double precision NOT NULL,  -- estimated rows it may see
    computed_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (relid, spec_key)
);
CREATE INDEX cat_stat_set_product_idx ON meshpg.cat_stat_set (product_id);

/*
 * One row per column of a set, in pg_statistic's shape: the slot arrays are
 * kept in their binary send format (bytea), as an anyarray column cannot be
 * created outside the system catalogs, and text would depend on DateStyle.
 */
CREATE TABLE meshpg.cat_stat_column (
    set_id      bigint NOT NULL REFERENCES meshpg.cat_stat_set (id) ON DELETE CASCADE,
    attnum      smallint NOT NULL,
    atttypid    oid NOT NULL,
    masked      boolean NOT NULL,
    stanullfrac real NOT NULL,
    stawidth    integer NOT NULL,
    stadistinct real NOT NULL,
    stakind     smallint[] NOT NULL,
    staop       oid[] NOT NULL,
    stacoll     oid[] NOT NULL,
    stanumbers1 real[],                 -- NULL where a slot has none
    stanumbers2 real[],
    stanumbers3 real[],
    stanumbers4 real[],
    stanumbers5 real[],
    stavalues1  bytea,
    stavalues2  bytea,
    stavalues3  bytea,
    stavalues4  bytea,
    stavalues5  bytea,
    PRIMARY KEY (set_id, attnum)
);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_stat_set', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_stat_set_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_stat_column', '');
REVOKE ALL ON meshpg.cat_stat_set, meshpg.cat_stat_column FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_stat_set_id_seq FROM PUBLIC;

/* What is kept, without the values: the governance team and DBAs read it. */
CREATE VIEW meshpg.statistic_sets AS
SELECT s.id, d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product, s.relid, s.spec_key, s.readers,
       s.filtered, s.sample_rows, s.visible_rows, s.tuples, s.computed_at,
       (SELECT pg_catalog.count(*) FROM meshpg.cat_stat_column c WHERE c.set_id OPERATOR(pg_catalog.=) s.id)::integer AS columns
  FROM meshpg.cat_stat_set s
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) s.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id;
REVOKE ALL ON meshpg.statistic_sets FROM PUBLIC;

/*
 * meshpg.refresh_statistics(product): computes the governed statistics of
 * a product now, for each of its specialisations (at most
 * meshpg.max_stat_specialisations), and drops the sets no reader has any
 * more.  The worker does it by itself after PostgreSQL analyses the
 * product; this is for the governance team and the domain team.
 */
CREATE FUNCTION meshpg.refresh_statistics(product text)
RETURNS integer
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_refresh_statistics';
/* ------------------------------------------------------------------------
 * Mesh events (doc/events.md): every change to the mesh emits one
 * CloudEvents 1.0 event in the transaction that makes it, written to the
 * outbox below, to the WAL as a transactional logical decoding message
 * (prefix 'meshpg') and as a NOTIFY meshpg_events carrying the id only.
 * The types are the kinds table mesh_event_types[] (src/events/types.c).
 * ------------------------------------------------------------------------ */

/*
 * The outbox.  domain_id and product_id are found from the subject when the
 * event is written (no foreign key: an event outlives what it reports, a
 * dropped domain's last event included); role is the role the event
 * concerns (a grantee, a consumer, a requester, the role an attribute
 * describes), as a name, so that pg_dump carries the row even after the
 * role is dropped.  visibility names the catalog rule that decides who may
 * read the event (meshpg.events).
 */
CREATE SEQUENCE meshpg.cat_event_id_seq;
CREATE TABLE meshpg.cat_event (
    id         bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_event_id_seq'),
    type       text NOT NULL,
    subject    text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(data) OPERATOR(pg_catalog.=) 'object'),
    time       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    visibility text NOT NULL
               CHECK (visibility IN ('catalog', 'grant', 'role', 'reader', 'domain', 'admin')),
    domain_id  bigint,
    product_id bigint,
    role       text
);
ALTER SEQUENCE meshpg.cat_event_id_seq OWNED BY meshpg.cat_event.id;
-- the worker's pruning (src/events/prune.c) finds the old events by time
CREATE INDEX cat_event_time_idx ON meshpg.cat_event (time);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_event', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_event_id_seq', '');
REVOKE ALL ON meshpg.cat_event FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_event_id_seq FROM PUBLIC;

/* The CloudEvents source of this database: /meshpg/<system id>/<database>. */
CREATE FUNCTION meshpg._event_source()
RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_event_source';

/*
 * An outbox row as a CloudEvents 1.0 JSON document: the one place the
 * format is written (the outbox views and the logical decoding message
 * both use it).
 */
CREATE FUNCTION meshpg._cloudevent(e meshpg.cat_event)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.jsonb_build_object(
    'specversion', '1.0',
    'id', e.id::text,
    'source', meshpg._event_source(),
    'type', e.type,
    'subject', e.subject,
    'time', pg_catalog.to_char(e.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'datacontenttype', 'application/json',
    'data', e.data)
$$;

/* Emitting, for meshpg's SQL and PL/pgSQL code (C calls mesh_event_emit). */
CREATE FUNCTION meshpg._emit_event(type text, subject text, data jsonb)
RETURNS void
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_emit_event';
REVOKE ALL ON FUNCTION meshpg._emit_event(text, text, jsonb) FROM PUBLIC;

/* The kinds table of event types, as src/events/types.c has it. */
CREATE FUNCTION meshpg._event_types()
RETURNS TABLE (type text, visibility text, description text)
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_event_types';

CREATE VIEW meshpg.event_types AS
SELECT t.type, t.visibility, t.description FROM meshpg._event_types() t;

/*
 * The events the caller may see.  Each visibility is the rule of the view
 * that shows what the event reports:
 *   catalog  metadata (meshpg.domains, products, contracts, tags, policies):
 *            discoverable by everyone;
 *   grant    as meshpg.grants: the role concerned, the owning domain's team,
 *            the governance team;
 *   role     as meshpg.attributes: the role described, the governance team;
 *   reader   as meshpg.slo_results: who may read the product (and the
 *            governance team, also once the product is gone);
 *   domain   the owning domain's team and the governance team;
 *   admin    the governance team.
 * A security barrier: the caller's own conditions (a leaky function) run
 * only on the events it may see.  The view runs with the catalog owner's
 * rights on the tables; pg_has_role and meshpg._may_read_product ask about
 * the caller.
 */
CREATE VIEW meshpg.events WITH (security_barrier) AS
SELECT e.id, e.type, e.subject, e.time, e.data,
       meshpg._cloudevent(e) AS event
  FROM meshpg.cat_event e
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) e.domain_id
  LEFT JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) e.product_id
 WHERE CASE e.visibility
         WHEN 'catalog' THEN true
         WHEN 'grant' THEN
              COALESCE(meshpg._manages(d.owner), false)
           OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                       WHERE r.rolname OPERATOR(pg_catalog.=) e.role
                         AND pg_catalog.pg_has_role(r.oid, 'USAGE'))
         WHEN 'role' THEN
              EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                       WHERE r.rolname OPERATOR(pg_catalog.=) e.role
                         AND pg_catalog.pg_has_role(r.oid, 'USAGE'))
         WHEN 'reader' THEN
              COALESCE(meshpg._may_read_product(p.relid), false)
         WHEN 'domain' THEN
              COALESCE(meshpg._manages(d.owner), false)
         ELSE false
       END
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

GRANT SELECT ON meshpg.events, meshpg.event_types TO PUBLIC;

/*
 * The cursor: the events after last_id the caller may see, oldest first,
 * at most max.  A consumer keeps the last id it handled and passes it back.
 */
CREATE FUNCTION meshpg.events_since(last_id bigint, max integer DEFAULT 100)
RETURNS TABLE (id bigint, type text, subject text, "time" timestamptz, data jsonb, event jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF last_id IS NULL THEN
        RAISE EXCEPTION 'last_id must not be null'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass 0 to read from the oldest event kept, then the id of the last event you handled.';
    END IF;
    IF max IS NULL OR max < 1 OR max > 10000 THEN
        RAISE EXCEPTION 'max must be between 1 and 10000, not %', coalesce(max::text, 'null')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Read in batches: call again with the id of the last event returned.';
    END IF;
    RETURN QUERY
        SELECT e.id, e.type, e.subject, e.time, e.data, e.event
          FROM meshpg.events e
         WHERE e.id OPERATOR(pg_catalog.>) last_id
         ORDER BY e.id
         LIMIT max;
END
$$;

/* ------------------------------------------------------------------------
 * PII classification (src/classify/).
 *
 * meshpg.classify samples a product as its domain's owner and suggests a
 * tag per column with the evidence: the validator that matched and the
 * share of sampled values it matched, never a value.  The domain team
 * reviews each suggestion: accepted, it becomes a tag (the path of
 * tag_column); dismissed, it keeps the reason.  Suggestions are visible to
 * the product's domain team and the governance team only.
 * ------------------------------------------------------------------------ */
CREATE SEQUENCE meshpg.cat_classification_suggestion_id_seq;
CREATE TABLE meshpg.cat_classification_suggestion (
    id            bigint PRIMARY KEY
                  DEFAULT pg_catalog.nextval('meshpg.cat_classification_suggestion_id_seq'),
    product_id    bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    column_name   text NOT NULL,
    tag           text NOT NULL,
    validator     text NOT NULL,
    matched_share real NOT NULL CHECK (matched_share > 0 AND matched_share <= 1),
    sampled       bigint NOT NULL CHECK (sampled > 0),
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'accepted', 'dismissed')),
    reason        text,
    accepted_tag  text,
    suggested_by  text NOT NULL,
    suggested_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    reviewed_by   text,
    reviewed_at   timestamptz,
    UNIQUE (product_id, column_name, validator),
    CHECK (status <> 'dismissed' OR reason IS NOT NULL)
);
ALTER SEQUENCE meshpg.cat_classification_suggestion_id_seq
    OWNED BY meshpg.cat_classification_suggestion.id;
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_classification_suggestion', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_classification_suggestion_id_seq', '');
REVOKE ALL ON meshpg.cat_classification_suggestion FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_classification_suggestion_id_seq FROM PUBLIC;

CREATE FUNCTION meshpg.classify(
    product text,
    sample_size integer DEFAULT 10000,
    min_share real DEFAULT 0.8)
RETURNS TABLE (column_name text, tag text, validator text, matched_share real,
               sampled bigint, suggestion bigint, status text)
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_classify';

CREATE FUNCTION meshpg.classify_domain(
    domain text,
    sample_size integer DEFAULT 10000,
    min_share real DEFAULT 0.8)
RETURNS TABLE (product text, column_name text, tag text, validator text, matched_share real,
               sampled bigint, suggestion bigint, status text)
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_classify_domain';

CREATE FUNCTION meshpg.accept_suggestion(suggestion bigint, tag text DEFAULT NULL)
RETURNS text
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_accept_suggestion';

CREATE FUNCTION meshpg.dismiss_suggestion(suggestion bigint, reason text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_dismiss_suggestion';

CREATE FUNCTION meshpg.validators()
RETURNS TABLE (validator text, tag text, needs_column_hint boolean)
LANGUAGE C IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_validators';

-- The evidence of a product's suggestions is for its domain team and the
-- governance team: it says which columns hold what.
CREATE VIEW meshpg.classification_suggestions WITH (security_barrier) AS
SELECT s.id, d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       s.column_name, s.tag, s.validator, s.matched_share, s.sampled, s.status, s.reason,
       s.accepted_tag, s.suggested_by, s.suggested_at, s.reviewed_by, s.reviewed_at
  FROM meshpg.cat_classification_suggestion s
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) s.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE pg_catalog.pg_has_role(d.owner, 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));
GRANT SELECT ON meshpg.classification_suggestions TO PUBLIC;

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
/*
 * Projection, aggregation and differential-privacy policies (issue 20).
 *
 * They are policies like masks and row filters: rows of meshpg.cat_policy,
 * bound to a tag or to a product (a projection policy to a product's
 * column), with the same exemptions, dropped by meshpg.drop_policy and
 * carried by pg_dump with the rest of the catalog.  The kind's options are
 * kept in the args column (mask_args), which the kind's table in C
 * (mesh_policy_kinds[] in src/policy/compile.c) validates:
 *   projection:  none
 *   aggregation: min_group_size, entity_key, aggregates
 *   privacy:     its own keys (see doc/aggregate-policies.md)
 */
ALTER TABLE meshpg.cat_policy DROP CONSTRAINT cat_policy_kind_check;
ALTER TABLE meshpg.cat_policy DROP CONSTRAINT cat_policy_check1;
ALTER TABLE meshpg.cat_policy DROP CONSTRAINT cat_policy_check2;
ALTER TABLE meshpg.cat_policy ADD CONSTRAINT cat_policy_kind_check
    CHECK (kind IN ('mask', 'row', 'projection', 'aggregation', 'privacy'));
-- a mask: a mask, on a tagged or named column
ALTER TABLE meshpg.cat_policy ADD CONSTRAINT cat_policy_check1
    CHECK (kind <> 'mask' OR (mask IS NOT NULL AND (tag_id IS NOT NULL OR column_name IS NOT NULL)));
-- a row filter: an expression, no column
ALTER TABLE meshpg.cat_policy ADD CONSTRAINT cat_policy_check2
    CHECK (kind <> 'row' OR (mask IS NULL AND column_name IS NULL AND expression IS NOT NULL));
-- a projection policy: a tagged or named column, nothing else
ALTER TABLE meshpg.cat_policy ADD CONSTRAINT cat_policy_projection_check
    CHECK (kind <> 'projection' OR (mask IS NULL AND expression IS NULL
                                    AND (tag_id IS NOT NULL OR column_name IS NOT NULL)));
-- aggregation and privacy: the whole product, its options in mask_args
ALTER TABLE meshpg.cat_policy ADD CONSTRAINT cat_policy_aggregate_check
    CHECK (kind NOT IN ('aggregation', 'privacy')
           OR (mask IS NULL AND expression IS NULL AND column_name IS NULL));

CREATE FUNCTION meshpg.create_projection_policy(
    name text,
    tag text DEFAULT NULL,
    product text DEFAULT NULL,
    column_name text DEFAULT NULL,
    exempt_roles regrole[] DEFAULT '{}',
    exempt_attributes jsonb DEFAULT '{}',
    exempt_purposes text[] DEFAULT '{}',
    applies_to_domain boolean DEFAULT false,
    description text DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_create_projection_policy';

CREATE FUNCTION meshpg.create_aggregation_policy(
    name text,
    min_group_size integer,
    tag text DEFAULT NULL,
    product text DEFAULT NULL,
    entity_key text DEFAULT NULL,
    aggregates text[] DEFAULT NULL,
    exempt_roles regrole[] DEFAULT '{}',
    exempt_attributes jsonb DEFAULT '{}',
    exempt_purposes text[] DEFAULT '{}',
    applies_to_domain boolean DEFAULT false,
    description text DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_create_aggregation_policy';

/*
 * The entity sets the planner's rewrite of an aggregate-only query counts
 * groups with (src/governance/aggregate.c): up to cap distinct entity keys
 * per group, as 64-bit hashes, merged for the remainder group.  Internal:
 * a reader's own call over a product's column is refused like any
 * aggregate not in the policy's list.
 */
CREATE FUNCTION meshpg._entities_step(internal, anyelement, integer)
RETURNS internal LANGUAGE C PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_entities_step';
CREATE FUNCTION meshpg._entities_merge_step(internal, bytea, integer)
RETURNS internal LANGUAGE C PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_entities_merge_step';
CREATE FUNCTION meshpg._entities_combine(internal, internal)
RETURNS internal LANGUAGE C PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_entities_combine';
CREATE FUNCTION meshpg._entities_final(internal)
RETURNS bytea LANGUAGE C PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_entities_final';
CREATE FUNCTION meshpg._entities_serialize(internal)
RETURNS bytea LANGUAGE C STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_entities_serialize';
CREATE FUNCTION meshpg._entities_deserialize(bytea, internal)
RETURNS internal LANGUAGE C STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_entities_deserialize';
CREATE AGGREGATE meshpg._entities(anyelement, integer) (
    SFUNC = meshpg._entities_step, STYPE = internal,
    FINALFUNC = meshpg._entities_final,
    COMBINEFUNC = meshpg._entities_combine,
    SERIALFUNC = meshpg._entities_serialize, DESERIALFUNC = meshpg._entities_deserialize,
    PARALLEL = SAFE);
CREATE AGGREGATE meshpg._entities(bytea, integer) (
    SFUNC = meshpg._entities_merge_step, STYPE = internal,
    FINALFUNC = meshpg._entities_final,
    COMBINEFUNC = meshpg._entities_combine,
    SERIALFUNC = meshpg._entities_serialize, DESERIALFUNC = meshpg._entities_deserialize,
    PARALLEL = SAFE);
CREATE FUNCTION meshpg._entity_count(bytea)
RETURNS integer LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_entity_count';
