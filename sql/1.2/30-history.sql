
/* ------------------------------------------------------------------------
 * The access history, one row per shape and flush (src/history/flush.c).
 * ------------------------------------------------------------------------ */

/*
 * One row per shape of read (who read which product and columns, under which
 * policies, for what purpose, from which backend) and flush, with the reads
 * themselves as arrays: their times, rows returned and statement numbers,
 * element by element.  meshpg.access_history unnests them, one row per read.
 * Names are resolved at flush time and kept as text, so the trail outlives
 * dropped roles, columns and policies.  The arrays are stored out of line
 * without compression: compressing them would cost the flush more than the
 * disk it saves.
 */
CREATE TABLE meshpg.cat_access_batch (
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
    query_id      bigint,
    command       text NOT NULL,
    target        text,
    complete      boolean NOT NULL,
    backend_pid   integer NOT NULL,
    backend_start timestamptz NOT NULL,
    first_read    timestamptz NOT NULL,
    last_read     timestamptz NOT NULL,
    reads         integer NOT NULL CHECK (reads OPERATOR(pg_catalog.>) 0),
    read_at       timestamptz[] NOT NULL,
    rows          bigint[] NOT NULL,
    statement     bigint[] NOT NULL,
    flushed_at    timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER TABLE meshpg.cat_access_batch
    ALTER COLUMN read_at SET STORAGE EXTERNAL,
    ALTER COLUMN rows SET STORAGE EXTERNAL,
    ALTER COLUMN statement SET STORAGE EXTERNAL;
-- Rows arrive in about last_read order: BRIN serves retention and windows.
CREATE INDEX cat_access_batch_last_read_idx ON meshpg.cat_access_batch USING brin (last_read);
CREATE INDEX cat_access_batch_product_idx ON meshpg.cat_access_batch (product_id, last_read);

-- 1.1 kept one row per read: each becomes a batch of one.
INSERT INTO meshpg.cat_access_batch
    (product_id, product, version, relation, role, session_role, columns, masks,
     row_policies, purpose, query_id, command, target, complete, backend_pid,
     backend_start, first_read, last_read, reads, read_at, rows, statement, flushed_at)
SELECT h.product_id, h.product, h.version, h.relation, h.role, h.session_role, h.columns, h.masks,
       h.row_policies, h.purpose, h.query_id, h.command, h.target, h.complete, h.backend_pid,
       h.backend_start, h.read_at, h.read_at, 1, ARRAY[h.read_at], ARRAY[h.rows], ARRAY[h.statement],
       h.flushed_at
  FROM meshpg.cat_access_history h
 ORDER BY h.read_at;

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_access_batch', '');
REVOKE ALL ON meshpg.cat_access_batch FROM PUBLIC;

/* The batches a role may see: the governance team all, a domain its products'. */
CREATE VIEW meshpg._access_batches WITH (security_barrier) AS
SELECT h.*
  FROM meshpg.cat_access_batch h
  LEFT JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) h.product_id
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE (d.owner IS NOT NULL AND pg_catalog.pg_has_role(d.owner, 'USAGE'))
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));
REVOKE ALL ON meshpg._access_batches FROM PUBLIC;

CREATE OR REPLACE VIEW meshpg.access_history WITH (security_barrier) AS
SELECT r.read_at, h.product, h.version, h.relation, h.role, h.session_role,
       h.columns, h.masks, h.row_policies, h.purpose, r.rows, h.query_id,
       h.command, h.target, h.complete, h.backend_pid, h.backend_start, r.statement
  FROM meshpg._access_batches h
 CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(h.read_at), pg_catalog.unnest(h.rows),
                               pg_catalog.unnest(h.statement)) AS r(read_at, rows, statement);

-- The window selects batches by their last read before unnesting any.
CREATE OR REPLACE VIEW meshpg.product_usage WITH (security_barrier) AS
SELECT h.product, h.version, c.column_name,
       pg_catalog.count(DISTINCT h.role) AS consumers,
       pg_catalog.count(DISTINCT (h.backend_pid, h.backend_start, r.statement)) AS queries,
       pg_catalog.max(r.read_at) AS last_read
  FROM meshpg._access_batches h
 CROSS JOIN LATERAL ROWS FROM (pg_catalog.unnest(h.read_at), pg_catalog.unnest(h.statement)) AS r(read_at, statement)
  LEFT JOIN LATERAL pg_catalog.unnest(h.columns) AS c(column_name) ON true
 WHERE h.last_read OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
       pg_catalog.make_interval(days => pg_catalog.current_setting('meshpg.usage_window')::integer))
   AND r.read_at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-)
       pg_catalog.make_interval(days => pg_catalog.current_setting('meshpg.usage_window')::integer))
 GROUP BY GROUPING SETS ((h.product, h.version), (h.product, h.version, c.column_name))
HAVING GROUPING(c.column_name) OPERATOR(pg_catalog.=) 1 OR c.column_name IS NOT NULL;

CREATE OR REPLACE FUNCTION meshpg._impact(product_relid oid, product_id bigint, col text, days integer)
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
SELECT 'consumer', h.role, NULL, max(r.read_at), count(*)
  FROM meshpg.cat_access_batch h
 CROSS JOIN LATERAL unnest(h.read_at) AS r(read_at)
 WHERE h.product_id = _impact.product_id
   AND h.last_read >= now() - make_interval(days => days)
   AND r.read_at >= now() - make_interval(days => days)
   AND (col IS NULL OR col = ANY (h.columns))
 GROUP BY h.role
ORDER BY 1 DESC, 2
$$;

ALTER EXTENSION meshpg DROP TABLE meshpg.cat_access_history;
DROP TABLE meshpg.cat_access_history;
