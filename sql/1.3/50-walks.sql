/*
 * Lineage reports walk the graph by relation, not by path.  1.1's
 * meshpg.lineage() and meshpg._impact() enumerated every simple path up to
 * their depth: a lineage graph of "diamonds" (views or loads that each read
 * both relations of the step before, which any consumer can build over a
 * product) has 2^depth of them.  Each relation is now reached once per
 * distance (UNION keeps one row per relation and distance), so a report
 * costs the graph's edges times its depth at most.
 *
 * The answers are those of 1.1 on graphs without cycles: an edge's level is
 * one more than the shortest distance from the product to its source (to
 * its target, upstream), and impact() names each relation (and column) at
 * its shortest distance, through the least of the kinds of edge that reach
 * it there.  In a cycle, an edge back into a relation already passed is
 * shown (1.1 left out such edges), except edges back into the product.
 */
CREATE OR REPLACE FUNCTION meshpg.lineage(
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
    -- the relations reached, at each distance they are reached at
    down (node, dist) AS (
        SELECT start, 0 WHERE direction IN ('downstream', 'both')
        UNION
        SELECT e.target_oid, d.dist + 1
          FROM down d JOIN edges e ON e.source_oid = d.node
         WHERE d.dist + 1 < depth AND e.target_oid <> start
    ),
    up (node, dist) AS (
        SELECT start, 0 WHERE direction IN ('upstream', 'both')
        UNION
        SELECT e.source_oid, u.dist + 1
          FROM up u JOIN edges e ON e.target_oid = u.node
         WHERE u.dist + 1 < depth AND e.source_oid <> start
    ),
    walk AS (
        SELECT d.dist + 1 AS level, e.source, e.target, e.kind, e.source_is_product,
               e.target_is_product, e.columns
          FROM down d JOIN edges e ON e.source_oid = d.node AND e.target_oid <> start
        UNION ALL
        SELECT u.dist + 1, e.source, e.target, e.kind, e.source_is_product,
               e.target_is_product, e.columns
          FROM up u JOIN edges e ON e.target_oid = u.node AND e.source_oid <> start
    )
    SELECT min(w.level), w.source, w.target, w.kind, w.source_is_product, w.target_is_product, w.columns
      FROM walk w
     GROUP BY w.source, w.target, w.kind, w.source_is_product, w.target_is_product, w.columns
     ORDER BY 1, 2, 3, 4;
END
$$;

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
-- each relation (and column) reached, at each distance it is reached at
reach (rel, col, depth) AS (
    SELECT product_relid, col, 0
    UNION
    SELECT e.target, e.target_column, r.depth + 1
      FROM reach r JOIN e ON e.source = r.rel
     WHERE r.depth < 32 AND e.target <> product_relid
       AND (r.col IS NULL AND e.source_column IS NULL
            OR r.col IS NOT NULL AND e.source_column = r.col)
),
nearest AS (SELECT rel, col, min(depth) AS depth FROM reach GROUP BY rel, col),
-- the kinds of the edges that reach each at its distance, from one before
down AS (
    SELECT DISTINCT ON (n.rel, n.col) n.rel, n.col, COALESCE(e.kind, 'derived') AS via
      FROM nearest n
      JOIN nearest p ON p.depth = n.depth - 1
      JOIN e ON e.source = p.rel AND e.target = n.rel
            AND e.target_column IS NOT DISTINCT FROM n.col
            AND (p.col IS NULL AND e.source_column IS NULL
                 OR p.col IS NOT NULL AND e.source_column = p.col)
     WHERE n.depth > 0
     ORDER BY n.rel, n.col, via
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
