/*
 * Federation (1.3): a foreign table can be a data product's output port.
 * The catalog views and the descriptor export name its kind.  Nothing else
 * in the catalog lists relation kinds: register_product checks them in C.
 */

CREATE OR REPLACE VIEW meshpg.products AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       d.name AS domain,
       p.name,
       pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'
           OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname) AS relation,
       CASE c.relkind
           WHEN 'r' THEN 'table'
           WHEN 'p' THEN 'partitioned table'
           WHEN 'v' THEN 'view'
           WHEN 'm' THEN 'materialized view'
           WHEN 'f' THEN 'foreign table'
       END AS kind,
       p.state,
       p.version,
       p.description,
       d.owner::text AS owner,
       p.contacts,
       p.sunset,
       sd.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) s.name AS successor,
       p.created_at,
       p.updated_at,
       p.published_at
  FROM meshpg.cat_product p
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
  JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.relid
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
  LEFT JOIN meshpg.cat_product s ON s.id OPERATOR(pg_catalog.=) p.successor_id
  LEFT JOIN meshpg.cat_domain sd ON sd.id OPERATOR(pg_catalog.=) s.domain_id;

/* The descriptor export: physicalType of a foreign-table product. */
CREATE OR REPLACE FUNCTION meshpg._export_doc(ref text)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET intervalstyle = 'postgres'
AS $$
SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
           'apiVersion', 'v3.0.2',
           'kind', 'DataContract',
           'id', d.name || '.' || p.name,
           'domain', d.name,
           'dataProduct', pg_catalog.split_part(p.name, '@', 1),
           'version', p.version,
           'status', CASE p.state WHEN 'published' THEN 'active' ELSE p.state END,
           'sunset', pg_catalog.to_char(p.sunset, 'YYYY-MM-DD'),
           'successor', (SELECT sd.name || '.' || s.name FROM meshpg.cat_product s
                           JOIN meshpg.cat_domain sd ON sd.id = s.domain_id
                          WHERE s.id = p.successor_id),
           'description', CASE WHEN p.description IS NOT NULL
                               THEN pg_catalog.jsonb_build_object('purpose', p.description) END,
           'team', CASE WHEN pg_catalog.cardinality(p.contacts) > 0 THEN
                       (SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('username', c) ORDER BY o)
                          FROM pg_catalog.unnest(p.contacts) WITH ORDINALITY AS u(c, o)) END,
           'schema', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
               'name', pg_catalog.split_part(p.name, '@', 1),
               'physicalName', r.relname,
               'physicalType', CASE r.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                                   WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                   WHEN 'f' THEN 'foreign table' END,
               'properties', COALESCE((
                   SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                              'name', a.attname,
                              'logicalType', meshpg._logical_type(a.atttypid),
                              'physicalType', pg_catalog.format_type(a.atttypid, a.atttypmod),
                              'required', a.attnotnull,
                              'description', cc.description,
                              'tags', (SELECT pg_catalog.jsonb_agg(CASE WHEN ct.value IS NULL THEN t.name
                                                 ELSE t.name || '=' || ct.value END ORDER BY t.name)
                                         FROM meshpg.cat_column_tag ct
                                         JOIN meshpg.cat_tag t ON t.id = ct.tag_id
                                        WHERE ct.product_id = p.id AND ct.column_name = a.attname::text))
                          ORDER BY a.attnum)
                     FROM pg_catalog.pg_attribute a
                     LEFT JOIN meshpg.cat_column cc ON cc.product_id = p.id AND cc.name = a.attname::text
                    WHERE a.attrelid = p.relid AND a.attnum > 0 AND NOT a.attisdropped), '[]'))),
           'policies', COALESCE((
               SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                          'name', pol.name,
                          'kind', pol.kind,
                          'column', pol.column_name,
                          'mask', pol.mask,
                          'args', CASE WHEN pol.mask_args <> '{}' THEN pol.mask_args END,
                          'expression', pol.expression,
                          'exemptRoles', CASE WHEN pg_catalog.cardinality(pol.exempt_roles) > 0
                                              THEN pg_catalog.to_jsonb(pol.exempt_roles::text[]) END,
                          'exemptAttributes', CASE WHEN pol.exempt_attributes <> '{}' THEN pol.exempt_attributes END,
                          'exemptPurposes', CASE WHEN pg_catalog.cardinality(pol.exempt_purposes) > 0
                                                 THEN pg_catalog.to_jsonb(pol.exempt_purposes) END,
                          'appliesToDomain', CASE WHEN pol.applies_to_domain THEN true END,
                          'description', pol.description) ORDER BY pol.name)
                 FROM meshpg.cat_policy pol WHERE pol.product_id = p.id), '[]'),
           'slaProperties', (
               SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                          'name', s.name, 'kind', s.kind, 'spec', s.spec,
                          'window', s.compliance_window::text, 'severity', s.severity,
                          'schedule', s.schedule::text) ORDER BY s.name)
                 FROM meshpg.cat_slo s WHERE s.product_id = p.id)))
  FROM meshpg.cat_product p
  JOIN meshpg.cat_domain d ON d.id = p.domain_id
  JOIN pg_catalog.pg_class r ON r.oid = p.relid
 WHERE d.name = pg_catalog.split_part(ref, '.', 1)
   AND p.name = pg_catalog.split_part(ref, '.', 2)
$$;
