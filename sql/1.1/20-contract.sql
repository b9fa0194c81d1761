
/* ------------------------------------------------------------------------
 * Contracts, major versions side by side, descriptors (src/contract/).
 * ------------------------------------------------------------------------ */

/*
 * One contract per product version: the interface and what governs it, as
 * recorded at publish ('publish'), at a compatible DDL change ('compatible')
 * or by this upgrade for products published under 1.0 ('upgrade').
 */
CREATE TABLE meshpg.cat_contract (
    product_id  bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    version     text NOT NULL,
    change      text NOT NULL CHECK (change IN ('publish', 'compatible', 'upgrade')),
    contract    jsonb NOT NULL,
    changes     jsonb NOT NULL DEFAULT '[]',
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    PRIMARY KEY (product_id, version)
);
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_contract', '');
REVOKE ALL ON meshpg.cat_contract FROM PUBLIC;

/* The contract of a product as it stands: read by the C code as the catalog owner. */
CREATE FUNCTION meshpg._contract_snapshot(product_id bigint)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.jsonb_build_object(
           'product', d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name,
           'version', p.version,
           'description', p.description,
           'columns', COALESCE((
               SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                          'name', a.attname,
                          'type', pg_catalog.format_type(a.atttypid, a.atttypmod),
                          'nullable', NOT a.attnotnull,
                          'description', c.description,
                          'tags', COALESCE((
                              SELECT pg_catalog.jsonb_agg(CASE WHEN ct.value IS NULL THEN t.name
                                         ELSE t.name OPERATOR(pg_catalog.||) '=' OPERATOR(pg_catalog.||) ct.value END
                                         ORDER BY t.name)
                                FROM meshpg.cat_column_tag ct
                                JOIN meshpg.cat_tag t ON t.id OPERATOR(pg_catalog.=) ct.tag_id
                               WHERE ct.product_id OPERATOR(pg_catalog.=) p.id
                                 AND ct.column_name OPERATOR(pg_catalog.=) a.attname::text), '[]'))
                      ORDER BY a.attnum)
                 FROM pg_catalog.pg_attribute a
                 LEFT JOIN meshpg.cat_column c ON c.product_id OPERATOR(pg_catalog.=) p.id
                      AND c.name OPERATOR(pg_catalog.=) a.attname::text
                WHERE a.attrelid OPERATOR(pg_catalog.=) p.relid AND a.attnum > 0
                  AND NOT a.attisdropped), '[]'),
           'policies', COALESCE((
               SELECT pg_catalog.jsonb_agg(pol.name ORDER BY pol.name)
                 FROM meshpg.cat_policy pol
                WHERE pol.product_id OPERATOR(pg_catalog.=) p.id
                   OR pol.tag_id IN (SELECT ct.tag_id FROM meshpg.cat_column_tag ct
                                      WHERE ct.product_id OPERATOR(pg_catalog.=) p.id)), '[]'),
           'comments', pg_catalog.jsonb_build_object(
               'relation', pg_catalog.obj_description(p.relid, 'pg_class'),
               'columns', COALESCE((
                   SELECT pg_catalog.jsonb_object_agg(a.attname, pg_catalog.col_description(a.attrelid, a.attnum))
                     FROM pg_catalog.pg_attribute a
                    WHERE a.attrelid OPERATOR(pg_catalog.=) p.relid AND a.attnum > 0
                      AND NOT a.attisdropped), '{}')))
  FROM meshpg.cat_product p
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE p.id OPERATOR(pg_catalog.=) product_id
$$;
REVOKE ALL ON FUNCTION meshpg._contract_snapshot(bigint) FROM PUBLIC;

-- Products published under 1.0 get the contract of their current version.
INSERT INTO meshpg.cat_contract (product_id, version, change, contract, recorded_by)
SELECT p.id, p.version, 'upgrade', meshpg._contract_snapshot(p.id), current_user
  FROM meshpg.cat_product p
 WHERE p.state IN ('published', 'deprecated');

CREATE VIEW meshpg.contracts AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       k.version, k.change, k.contract, k.changes, k.recorded_by, k.recorded_at
  FROM meshpg.cat_contract k
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) k.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id;

/*
 * Every version of every product, side by side: major version N >= 2 of
 * domain.name is the product domain.name@N, over its own relation.
 * Consumers are the grantees the caller may see (as in meshpg.grants).
 */
CREATE VIEW meshpg.product_versions AS
SELECT pr.domain OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||)
           pg_catalog.split_part(pr.name, '@', 1) AS family,
       pr.product,
       pg_catalog.split_part(pr.version, '.', 1)::integer AS major,
       pr.version, pr.state, pr.relation, pr.sunset, pr.successor,
       COALESCE((SELECT pg_catalog.array_agg(g.grantee ORDER BY g.grantee)
                   FROM meshpg.grants g
                  WHERE g.product OPERATOR(pg_catalog.=) pr.product), '{}') AS consumers,
       pr.published_at
  FROM meshpg.products pr;

GRANT SELECT ON meshpg.contracts, meshpg.product_versions TO PUBLIC;

CREATE FUNCTION meshpg._register_version(
    product text,
    relation regclass,
    version text DEFAULT NULL)
RETURNS text
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_register_version';

/*
 * Publishes relation as the next major version of product and deprecates
 * product until sunset, with the new version as its successor.  Runs as the
 * caller: each step checks the caller's rights.
 */
CREATE FUNCTION meshpg.publish_version(
    product text,
    relation regclass,
    sunset date,
    version text DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    successor text;
BEGIN
    successor := meshpg._register_version(product, relation, version);
    PERFORM meshpg.publish(successor);
    PERFORM meshpg.deprecate(product, sunset, successor);
    RETURN successor;
END
$$;
