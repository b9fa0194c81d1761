
/* ------------------------------------------------------------------------
 * Access history, product usage, lineage, impact analysis and tag
 * propagation (src/history/, src/lineage/).
 * ------------------------------------------------------------------------ */

/*
 * One row per read of one product by one statement, moved here from shared
 * memory by mesh_history_flush (the background worker's task) or
 * meshpg.flush_access_history().  Names are resolved at flush time and kept
 * as text, so the trail outlives dropped roles, columns and policies.
 */
CREATE TABLE meshpg.cat_access_history (
    read_at       timestamptz NOT NULL,
    product_id    bigint NOT NULL,
    product       text,
    version       text,
    relation      text,
    role          text NOT NULL,
    session_role  text NOT NULL,
    columns       text[] NOT NULL,
    masks         jsonb,
    row_policies  text[] NOT NULL,
    purpose       text,
    rows          bigint NOT NULL,
    query_id      bigint,
    command       text NOT NULL,
    target        text,
    complete      boolean NOT NULL,
    backend_pid   integer NOT NULL,
    backend_start timestamptz NOT NULL,
    statement     bigint NOT NULL,
    flushed_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
-- Rows arrive in about read_at order: a BRIN index serves retention and
-- time windows at a fraction of a B-tree's cost per row written.
CREATE INDEX cat_access_history_read_at_idx ON meshpg.cat_access_history USING brin (read_at);
CREATE INDEX cat_access_history_product_idx ON meshpg.cat_access_history (product_id, read_at);

/* Runtime lineage: a statement read source and wrote target. */
CREATE TABLE meshpg.cat_lineage (
    source      regclass NOT NULL,
    target      regclass NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('insert', 'update', 'merge', 'create table as', 'refresh')),
    recorded_by text NOT NULL,
    first_seen  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (source, target, kind)
);
CREATE INDEX cat_lineage_target_idx ON meshpg.cat_lineage (target);

CREATE TABLE meshpg.cat_lineage_column (
    source        regclass NOT NULL,
    source_column text NOT NULL,
    target        regclass NOT NULL,
    target_column text NOT NULL,
    kind          text NOT NULL,
    first_seen    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (source, source_column, target, target_column, kind)
);
CREATE INDEX cat_lineage_column_target_idx ON meshpg.cat_lineage_column (target);

/* Where each propagated tag came from ('domain.product.column'). */
CREATE TABLE meshpg.cat_tag_propagation (
    product_id    bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    column_name   text NOT NULL,
    tag_id        bigint NOT NULL REFERENCES meshpg.cat_tag (id),
    source        text NOT NULL,
    propagated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (product_id, column_name, tag_id)
);

/* Columns the governance team declared free of a tag, with who and why. */
CREATE TABLE meshpg.cat_declassification (
    product_id      bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    column_name     text NOT NULL,
    tag_id          bigint NOT NULL REFERENCES meshpg.cat_tag (id),
    reason          text NOT NULL,
    declassified_by text NOT NULL,
    declassified_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (product_id, column_name, tag_id)
);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_access_history', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_lineage', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_lineage_column', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_tag_propagation', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_declassification', '');
REVOKE ALL ON meshpg.cat_access_history, meshpg.cat_lineage, meshpg.cat_lineage_column,
    meshpg.cat_tag_propagation, meshpg.cat_declassification FROM PUBLIC;

/* Propagation and its guard (src/lineage/propagate.c). */
CREATE FUNCTION meshpg._propagate_trigger()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_propagate_trigger';
CREATE FUNCTION meshpg._column_tag_guard()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_column_tag_guard';
CREATE FUNCTION meshpg._propagate_event()
RETURNS event_trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_propagate_event';
REVOKE ALL ON FUNCTION meshpg._propagate_trigger(), meshpg._column_tag_guard(),
    meshpg._propagate_event() FROM PUBLIC;

CREATE TRIGGER cat_column_tag_propagate AFTER INSERT OR UPDATE
    ON meshpg.cat_column_tag FOR EACH STATEMENT EXECUTE FUNCTION meshpg._propagate_trigger();
CREATE TRIGGER cat_product_propagate AFTER INSERT
    ON meshpg.cat_product FOR EACH STATEMENT EXECUTE FUNCTION meshpg._propagate_trigger();
CREATE TRIGGER cat_lineage_column_propagate AFTER INSERT
    ON meshpg.cat_lineage_column FOR EACH STATEMENT EXECUTE FUNCTION meshpg._propagate_trigger();
CREATE TRIGGER cat_column_tag_guard BEFORE DELETE
    ON meshpg.cat_column_tag FOR EACH ROW EXECUTE FUNCTION meshpg._column_tag_guard();
-- Propagation and declassification change what the compiled rules see.
CREATE TRIGGER cat_tag_propagation_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_tag_propagation FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();


/* Dropped relations leave the runtime lineage (regclass must stay valid for pg_dump). */
CREATE FUNCTION meshpg._lineage_dropped()
RETURNS event_trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_lineage_dropped';
REVOKE ALL ON FUNCTION meshpg._lineage_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER meshpg_lineage_dropped ON sql_drop
    EXECUTE FUNCTION meshpg._lineage_dropped();

/* The access history: the governance team, and each domain for its products. */
CREATE FUNCTION meshpg.flush_access_history()
RETURNS bigint
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_flush_access_history';

CREATE FUNCTION meshpg._access_history_stats(
    OUT buffer_size integer, OUT pending bigint, OUT captured bigint,
    OUT dropped bigint, OUT flushed bigint, OUT flusher_pid integer)
RETURNS record
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_access_history_stats';

-- Counters only: no names, no data.
CREATE VIEW meshpg.access_history_stats AS
SELECT * FROM meshpg._access_history_stats();

CREATE VIEW meshpg.access_history WITH (security_barrier) AS
SELECT h.read_at, h.product, h.version, h.relation, h.role, h.session_role,
       h.columns, h.masks, h.row_policies, h.purpose, h.rows, h.query_id,
       h.command, h.target, h.complete, h.backend_pid, h.backend_start, h.statement
  FROM meshpg.cat_access_history h
  LEFT JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) h.product_id
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE (d.owner IS NOT NULL AND pg_catalog.pg_has_role(d.owner, 'USAGE'))
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

/* Usage per product, version and column over meshpg.usage_window days. */
CREATE VIEW meshpg.product_usage WITH (security_barrier) AS
SELECT h.product, h.version, c.column_name,
       pg_catalog.count(DISTINCT h.role) AS consumers,
       pg_catalog.count(DISTINCT (h.backend_pid, h.backend_start, h.statement)) AS queries,
       pg_catalog.max(h.read_at) AS last_read
  FROM meshpg.access_history h
  LEFT JOIN LATERAL pg_catalog.unnest(h.columns) AS c(column_name) ON true
 WHERE h.read_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
       pg_catalog.make_interval(days => pg_catalog.current_setting('meshpg.usage_window')::integer))
 GROUP BY GROUPING SETS ((h.product, h.version), (h.product, h.version, c.column_name))
HAVING GROUPING(c.column_name) OPERATOR(pg_catalog.=) 1 OR c.column_name IS NOT NULL;

GRANT SELECT ON meshpg.access_history, meshpg.product_usage, meshpg.access_history_stats TO PUBLIC;

/* Lineage: static (views on products, pg_depend/pg_rewrite) and runtime. */
CREATE FUNCTION meshpg._static_lineage(
    tagged_only boolean DEFAULT false,
    OUT source regclass, OUT source_column text,
    OUT target regclass, OUT target_column text, OUT kind text)
RETURNS SETOF record
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_static_lineage';

-- A relation's name in the mesh: domain.product for products.
CREATE FUNCTION meshpg._node_name(rel oid)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT COALESCE(
    (SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name
       FROM meshpg.cat_product p JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
      WHERE p.relid::oid OPERATOR(pg_catalog.=) rel),
    rel::regclass::text)
$$;
REVOKE ALL ON FUNCTION meshpg._node_name(oid) FROM PUBLIC;

/*
 * Every edge of the mesh, relation level: metadata, discoverable by all.
 * Runs as its owner (the catalog), like the other metadata views.
 */
CREATE VIEW meshpg.lineage_edges AS
SELECT COALESCE(sd.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) sp.name, e.source::text) AS source,
       COALESCE(td.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) tp.name, e.target::text) AS target,
       e.kind,
       sp.id IS NOT NULL AS source_is_product,
       tp.id IS NOT NULL AS target_is_product,
       e.columns,
       e.source::oid AS source_oid,
       e.target::oid AS target_oid
  FROM (SELECT s.source, s.target, pg_catalog.min(s.kind) AS kind,
               COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('source', s.source_column, 'target', s.target_column)
                        ORDER BY s.target_column, s.source_column)
                        FILTER (WHERE s.source_column IS NOT NULL), '[]') AS columns
          FROM meshpg._static_lineage() s
         GROUP BY s.source, s.target
        UNION ALL
        SELECT l.source, l.target, l.kind,
               COALESCE((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('source', c.source_column, 'target', c.target_column)
                                 ORDER BY c.target_column, c.source_column)
                           FROM meshpg.cat_lineage_column c
                          WHERE c.source OPERATOR(pg_catalog.=) l.source AND c.target OPERATOR(pg_catalog.=) l.target
                            AND c.kind OPERATOR(pg_catalog.=) l.kind), '[]')
          FROM meshpg.cat_lineage l) e
  LEFT JOIN meshpg.cat_product sp ON sp.relid OPERATOR(pg_catalog.=) e.source
  LEFT JOIN meshpg.cat_domain sd ON sd.id OPERATOR(pg_catalog.=) sp.domain_id
  LEFT JOIN meshpg.cat_product tp ON tp.relid OPERATOR(pg_catalog.=) e.target
  LEFT JOIN meshpg.cat_domain td ON td.id OPERATOR(pg_catalog.=) tp.domain_id;
GRANT SELECT ON meshpg.lineage_edges TO PUBLIC;

CREATE FUNCTION meshpg._product_relid(product text)
RETURNS oid
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_product_relid';

CREATE FUNCTION meshpg.lineage(
    product text,
    direction text DEFAULT 'downstream',
    depth integer DEFAULT 5)
RETURNS TABLE (level integer, source text, target text, kind text,
               source_is_product boolean, target_is_product boolean, columns jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start oid := meshpg._product_relid(product);
BEGIN
    IF direction IS NULL OR direction NOT IN ('downstream', 'upstream', 'both') THEN
        RAISE EXCEPTION 'invalid lineage direction "%"', direction
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use downstream, upstream or both.';
    END IF;
    IF depth IS NULL OR depth < 1 OR depth > 100 THEN
        RAISE EXCEPTION 'lineage depth must be between 1 and 100, not %', depth
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH RECURSIVE edges AS (SELECT * FROM meshpg.lineage_edges),
    walk (level, source, target, kind, source_is_product, target_is_product, columns,
          source_oid, target_oid, dir, path) AS (
        SELECT 1, e.source, e.target, e.kind, e.source_is_product, e.target_is_product, e.columns,
               e.source_oid, e.target_oid, 'd', ARRAY[e.source_oid, e.target_oid]
          FROM edges e WHERE direction IN ('downstream', 'both') AND e.source_oid = start
        UNION ALL
        SELECT 1, e.source, e.target, e.kind, e.source_is_product, e.target_is_product, e.columns,
               e.source_oid, e.target_oid, 'u', ARRAY[e.target_oid, e.source_oid]
          FROM edges e WHERE direction IN ('upstream', 'both') AND e.target_oid = start
        UNION ALL
        SELECT w.level + 1, e.source, e.target, e.kind, e.source_is_product, e.target_is_product, e.columns,
               e.source_oid, e.target_oid, w.dir,
               w.path || CASE w.dir WHEN 'd' THEN e.target_oid ELSE e.source_oid END
          FROM walk w
          JOIN edges e ON (w.dir = 'd' AND e.source_oid = w.target_oid)
                       OR (w.dir = 'u' AND e.target_oid = w.source_oid)
         WHERE w.level < depth
           AND NOT (CASE w.dir WHEN 'd' THEN e.target_oid ELSE e.source_oid END) = ANY (w.path)
    )
    SELECT min(w.level), w.source, w.target, w.kind, w.source_is_product, w.target_is_product, w.columns
      FROM walk w
     GROUP BY w.source, w.target, w.kind, w.source_is_product, w.target_is_product, w.columns
     ORDER BY 1, 2, 3, 4;
END
$$;

-- The subgraph to export: around a product, or the whole mesh.
CREATE FUNCTION meshpg._export_edges(product text, direction text, depth integer)
RETURNS TABLE (source text, target text, kind text, source_is_product boolean,
               target_is_product boolean, columns jsonb)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT l.source, l.target, l.kind, l.source_is_product, l.target_is_product, l.columns
  FROM meshpg.lineage(product, direction, depth) l WHERE product IS NOT NULL
UNION ALL
SELECT e.source, e.target, e.kind, e.source_is_product, e.target_is_product, e.columns
  FROM meshpg.lineage_edges e WHERE product IS NULL
$$;

CREATE FUNCTION meshpg.lineage_dot(
    product text DEFAULT NULL,
    direction text DEFAULT 'both',
    depth integer DEFAULT 5)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH e AS (SELECT * FROM meshpg._export_edges(product, direction, depth)),
nodes AS (
    SELECT source AS name, bool_or(source_is_product) AS is_product FROM e GROUP BY source
    UNION
    SELECT target, bool_or(target_is_product) FROM e GROUP BY target
    UNION
    SELECT product, true WHERE product IS NOT NULL
),
n AS (SELECT name, bool_or(is_product) AS is_product FROM nodes GROUP BY name)
SELECT 'digraph mesh {' || E'\n'
    || '  rankdir=LR;' || E'\n'
    || '  node [fontname="Helvetica", fontsize=10];' || E'\n'
    || COALESCE((SELECT string_agg('  ' || format('"%s"', replace(name, '"', '\"'))
                        || CASE WHEN is_product
                                THEN ' [shape=box, style="rounded,filled", fillcolor="#dbeafe"];'
                                ELSE ' [shape=ellipse, color="#6b7280"];' END,
                        E'\n' ORDER BY name) FROM n), '') || E'\n'
    || COALESCE((SELECT string_agg('  ' || format('"%s" -> "%s" [label="%s"%s];',
                                                  replace(source, '"', '\"'), replace(target, '"', '\"'), kind,
                                                  CASE WHEN kind IN ('view', 'materialized view') THEN ''
                                                       ELSE ', style=dashed' END),
                        E'\n' ORDER BY source, target, kind) FROM e), '') || E'\n'
    || '}' || E'\n'
$$;

/*
 * OpenLineage-shaped events: one COMPLETE run event per relation written,
 * with its inputs and a columnLineage facet on the output.
 */
CREATE FUNCTION meshpg.lineage_openlineage(
    product text DEFAULT NULL,
    direction text DEFAULT 'both',
    depth integer DEFAULT 5)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH e AS (SELECT * FROM meshpg._export_edges(product, direction, depth)),
ns AS (SELECT 'postgres://' || current_database() AS ns)
SELECT COALESCE(jsonb_agg(ev ORDER BY ev -> 'job' ->> 'name'), '[]')
  FROM (SELECT jsonb_build_object(
                 'eventType', 'COMPLETE',
                 'eventTime', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                 'producer', 'urn:meshpg:1.1',
                 'schemaURL', 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent',
                 'run', jsonb_build_object('runId', md5(t.target)::uuid),
                 'job', jsonb_build_object('namespace', (SELECT ns FROM ns),
                                           'name', t.kinds || ':' || t.target),
                 'inputs', t.inputs,
                 'outputs', jsonb_build_array(jsonb_build_object(
                     'namespace', (SELECT ns FROM ns),
                     'name', t.target,
                     'facets', jsonb_build_object('columnLineage', jsonb_build_object(
                         '_producer', 'urn:meshpg:1.1',
                         '_schemaURL', 'https://openlineage.io/spec/facets/1-0-1/ColumnLineageDatasetFacet.json',
                         'fields', t.fields))))) AS ev
          FROM (SELECT e.target,
                       string_agg(DISTINCT e.kind, ',') AS kinds,
                       jsonb_agg(DISTINCT jsonb_build_object('namespace', (SELECT ns FROM ns), 'name', e.source)) AS inputs,
                       COALESCE((SELECT jsonb_object_agg(f.target_column, f.input_fields)
                                   FROM (SELECT c ->> 'target' AS target_column,
                                                jsonb_agg(DISTINCT jsonb_build_object(
                                                    'namespace', (SELECT ns FROM ns),
                                                    'name', e2.source,
                                                    'field', c ->> 'source')) AS input_fields
                                           FROM e e2, jsonb_array_elements(e2.columns) c
                                          WHERE e2.target = e.target
                                          GROUP BY 1) f), '{}') AS fields
                  FROM e GROUP BY e.target) t) x
$$;

/*
 * Impact of changing (or dropping) a product's column: the relations and
 * products derived from it, and the roles that read it in the last days.
 */
CREATE FUNCTION meshpg.impact(
    product text,
    column_name text DEFAULT NULL,
    days integer DEFAULT 30)
RETURNS TABLE (kind text, name text, via text, last_read timestamptz, reads bigint)
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_impact';

CREATE FUNCTION meshpg._impact(product_relid oid, product_id bigint, col text, days integer)
RETURNS TABLE (kind text, name text, via text, last_read timestamptz, reads bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH RECURSIVE e AS (
    SELECT source::oid AS source, source_column, target::oid AS target, target_column, kind
      FROM meshpg._static_lineage()
    UNION
    SELECT source::oid, source_column, target::oid, target_column, kind FROM meshpg.cat_lineage_column
    UNION
    SELECT source::oid, NULL, target::oid, NULL, kind FROM meshpg.cat_lineage
),
reach (rel, col, via, depth, path) AS (
    SELECT product_relid, col, NULL::text, 0, ARRAY[product_relid]
    UNION
    SELECT e.target, e.target_column, COALESCE(e.kind, 'derived'), r.depth + 1, r.path || e.target
      FROM reach r JOIN e ON e.source = r.rel
     WHERE r.depth < 32 AND NOT e.target = ANY (r.path)
       AND (r.col IS NULL AND e.source_column IS NULL
            OR r.col IS NOT NULL AND e.source_column = r.col)
),
down AS (
    SELECT DISTINCT ON (r.rel, r.col) r.rel, r.col, r.via FROM reach r WHERE r.depth > 0
     ORDER BY r.rel, r.col, r.depth, r.via
)
SELECT CASE WHEN EXISTS (SELECT 1 FROM meshpg.cat_product p WHERE p.relid::oid = d.rel)
            THEN 'product' ELSE 'relation' END,
       meshpg._node_name(d.rel) || COALESCE('.' || d.col, ''),
       d.via, NULL::timestamptz, NULL::bigint
  FROM down d
UNION ALL
SELECT 'consumer', h.role, NULL, max(h.read_at), count(*)
  FROM meshpg.cat_access_history h
 WHERE h.product_id = _impact.product_id
   AND h.read_at >= now() - make_interval(days => days)
   AND (col IS NULL OR col = ANY (h.columns))
 GROUP BY h.role
ORDER BY 1 DESC, 2
$$;
REVOKE ALL ON FUNCTION meshpg._impact(oid, bigint, text, integer) FROM PUBLIC;

/* Tag propagation: by hand, and the governance team's way out. */
CREATE FUNCTION meshpg.propagate_tags()
RETURNS integer
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_propagate_tags';

CREATE FUNCTION meshpg.declassify(
    product text,
    column_name text,
    tag text,
    reason text)
RETURNS boolean
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_declassify';

CREATE VIEW meshpg.tag_propagation AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       tp.column_name, t.name AS tag, tp.source, tp.propagated_at
  FROM meshpg.cat_tag_propagation tp
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) tp.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
  JOIN meshpg.cat_tag t ON t.id OPERATOR(pg_catalog.=) tp.tag_id;

CREATE VIEW meshpg.declassifications AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       dc.column_name, t.name AS tag, dc.reason, dc.declassified_by, dc.declassified_at
  FROM meshpg.cat_declassification dc
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) dc.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
  JOIN meshpg.cat_tag t ON t.id OPERATOR(pg_catalog.=) dc.tag_id;

GRANT SELECT ON meshpg.tag_propagation, meshpg.declassifications TO PUBLIC;

-- A new or replaced view definition may derive columns from tagged ones.
CREATE EVENT TRIGGER meshpg_lineage_views ON ddl_command_end
    WHEN TAG IN ('CREATE VIEW', 'ALTER VIEW', 'CREATE MATERIALIZED VIEW',
                 'ALTER MATERIALIZED VIEW', 'CREATE RULE')
    EXECUTE FUNCTION meshpg._propagate_event();
