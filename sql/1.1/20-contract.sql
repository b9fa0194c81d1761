
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
SET intervalstyle = 'postgres'
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
               SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                          'name', pol.name, 'kind', pol.kind,
                          'tag', (SELECT t.name FROM meshpg.cat_tag t WHERE t.id OPERATOR(pg_catalog.=) pol.tag_id),
                          'column', pol.column_name, 'mask', pol.mask, 'expression', pol.expression))
                      ORDER BY pol.name)
                 FROM meshpg.cat_policy pol
                WHERE pol.product_id OPERATOR(pg_catalog.=) p.id
                   OR pol.tag_id IN (SELECT ct.tag_id FROM meshpg.cat_column_tag ct
                                      WHERE ct.product_id OPERATOR(pg_catalog.=) p.id)), '[]'),
           'slos', COALESCE((
               SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                          'name', s.name, 'kind', s.kind, 'spec', s.spec,
                          'compliance_window', s.compliance_window, 'severity', s.severity)
                      ORDER BY s.name)
                 FROM meshpg.cat_slo s
                WHERE s.product_id OPERATOR(pg_catalog.=) p.id), '[]'),
           'comments', pg_catalog.jsonb_build_object(
               'relation', pg_catalog.obj_description(p.relid, 'pg_class'),
               'columns', COALESCE((
                   SELECT pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_object_agg(
                              a.attname, pg_catalog.col_description(a.attrelid, a.attnum)))
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

/* ------------------------------------------------------------------------
 * Descriptors: meshpg.apply / meshpg.plan / meshpg.export.
 *
 * The C code parses and validates (strict field names and types, paths in
 * errors, no anchors or aliases, duplicate keys refused, a size limit);
 * the convergence below runs as the caller and changes the catalog only
 * through meshpg's own functions, so every step checks the caller's rights
 * exactly as a hand-written call would.  One handler per section.
 * ------------------------------------------------------------------------ */
CREATE FUNCTION meshpg._descriptor_parse(descriptor text, strict boolean)
RETURNS jsonb
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_descriptor_parse';

CREATE FUNCTION meshpg._canonical_expression(product text, column_name text, kind text, expression text)
RETURNS text
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_canonical_expression';

CREATE FUNCTION meshpg._descriptor_render(document jsonb)
RETURNS text
LANGUAGE C IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_descriptor_render';

-- ODCS logicalType of a column type
CREATE FUNCTION meshpg._logical_type(typid oid)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE
           WHEN t.typcategory = 'A' THEN 'array'
           WHEN b.oid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) THEN 'integer'
           WHEN b.oid IN ('numeric'::regtype, 'float4'::regtype, 'float8'::regtype, 'money'::regtype) THEN 'number'
           WHEN b.oid = 'bool'::regtype THEN 'boolean'
           WHEN b.oid = 'date'::regtype THEN 'date'
           WHEN b.oid IN ('timestamp'::regtype, 'timestamptz'::regtype) THEN 'timestamp'
           WHEN b.oid IN ('time'::regtype, 'timetz'::regtype) THEN 'time'
           WHEN b.oid IN ('json'::regtype, 'jsonb'::regtype) OR b.typtype = 'c' THEN 'object'
           ELSE 'string'
       END
  FROM pg_catalog.pg_type t
  JOIN pg_catalog.pg_type b
    ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
 WHERE t.oid = typid
$$;

/*
 * The descriptor of a product as the catalog holds it, without grants
 * (metadata is discoverable by everyone; who may read is not, see
 * meshpg.export).  Reads the catalog by its indexes.
 */
CREATE FUNCTION meshpg._export_doc(ref text)
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
                                   WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' END,
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

/* Grants of a product as descriptor roles: those the caller may see. */
CREATE FUNCTION meshpg._export_roles(ref text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
           'role', g.grantee, 'access', 'read', 'purpose', g.purpose,
           'expires', pg_catalog.to_char(pg_catalog.timezone('UTC', g.expires_at),
                                          'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))) ORDER BY g.grantee), '[]')
  FROM meshpg.grants g
 WHERE g.product = ref
$$;

CREATE FUNCTION meshpg.export(product text, format text DEFAULT 'yaml')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    doc jsonb := meshpg._export_doc(product);
BEGIN
    IF product IS NULL OR format IS NULL THEN
        RAISE EXCEPTION 'product and format must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF doc IS NULL THEN
        RAISE EXCEPTION 'data product "%" does not exist', product USING ERRCODE = 'undefined_object';
    END IF;
    doc := doc || pg_catalog.jsonb_build_object('roles', meshpg._export_roles(product));
    IF format = 'yaml' THEN
        RETURN meshpg._descriptor_render(doc);
    ELSIF format = 'json' THEN
        RETURN pg_catalog.jsonb_pretty(doc);
    END IF;
    RAISE EXCEPTION 'invalid descriptor format "%"', format
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Use yaml or json.';
END
$$;

/*
 * ---- section handlers: (document, the product as the catalog holds it or
 * NULL, the document's error label, apply?, strict?) ----
 */

-- domain and product metadata: registration, description, contacts
CREATE FUNCTION meshpg._dsc_product(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text := doc->>'id';
    dom text := pg_catalog.split_part(ref, '.', 1);
    pname text := pg_catalog.split_part(ref, '.', 2);
    rel regclass;
    descr text := doc->'description'->>'purpose';
    contacts text[] := ARRAY(SELECT t->>'username' FROM pg_catalog.jsonb_array_elements(COALESCE(doc->'team', '[]')) t);
BEGIN
    IF ref !~ '^[^.@]+\.[^.@]+(@[0-9]+)?$' THEN
        RAISE EXCEPTION '%id: invalid data product id "%"', label, ref
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use domain.product, or domain.product@N for major version N.';
    END IF;
    IF doc->>'domain' IS DISTINCT FROM dom AND doc ? 'domain' THEN
        RAISE EXCEPTION '%domain: "%" does not match the id "%"', label, doc->>'domain', ref
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF doc ? 'dataProduct' AND doc->>'dataProduct' IS DISTINCT FROM pg_catalog.split_part(pname, '@', 1) THEN
        RAISE EXCEPTION '%dataProduct: "%" does not match the id "%"', label, doc->>'dataProduct', ref
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF doc->>'apiVersion' NOT LIKE 'v3.%' THEN
        RAISE EXCEPTION '%apiVersion: unsupported version "%"', label, doc->>'apiVersion'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'meshpg reads Open Data Contract Standard v3 documents.';
    END IF;
    IF pg_catalog.jsonb_array_length(doc->'schema') <> 1 THEN
        RAISE EXCEPTION '%schema: a data contract describes exactly one relation, found %', label,
            pg_catalog.jsonb_array_length(doc->'schema')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    rel := pg_catalog.to_regclass(pg_catalog.quote_ident(dom) || '.' ||
                                  pg_catalog.quote_ident(doc->'schema'->0->>'physicalName'));
    IF rel IS NULL THEN
        RAISE EXCEPTION '%schema[0].physicalName: relation "%.%" does not exist', label, dom,
            doc->'schema'->0->>'physicalName'
            USING ERRCODE = 'undefined_table', HINT = 'Create the relation in the domain''s schema first: descriptors register relations, they do not create them.';
    END IF;
    IF cur IS NULL THEN
        RETURN QUERY SELECT 'register', ref, pg_catalog.format('relation %s, version %s', rel, doc->>'version');
        IF do_apply THEN
            IF pname LIKE '%@%' THEN
                PERFORM meshpg._register_version(dom || '.' || pg_catalog.split_part(pname, '@', 1), rel, doc->>'version');
                PERFORM meshpg.document_product(ref, COALESCE(descr, ''), contacts);
            ELSE
                PERFORM meshpg.register_product(dom, pname, rel, descr, doc->>'version', contacts);
            END IF;
        END IF;
        RETURN;
    END IF;
    IF cur->'schema'->0->>'physicalName' IS DISTINCT FROM doc->'schema'->0->>'physicalName' THEN
        RAISE EXCEPTION '%schema[0].physicalName: data product "%" is served by relation "%"', label, ref,
            cur->'schema'->0->>'physicalName'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A product''s relation never changes: publish a new major version (domain.product@N) for a new relation.';
    END IF;
    IF cur->'description'->>'purpose' IS DISTINCT FROM descr
       OR COALESCE(cur->'team', '[]') <> COALESCE(doc->'team', '[]') THEN
        RETURN QUERY SELECT 'document', ref, 'description and contacts';
        IF do_apply THEN
            PERFORM meshpg.document_product(ref, COALESCE(descr, ''), contacts);
        END IF;
    END IF;
END
$$;

-- columns: checked against the relation; descriptions converge
CREATE FUNCTION meshpg._dsc_columns(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text := doc->>'id';
    rel regclass := pg_catalog.to_regclass(pg_catalog.quote_ident(pg_catalog.split_part(ref, '.', 1)) || '.' ||
                                           pg_catalog.quote_ident(doc->'schema'->0->>'physicalName'));
    r record;
    path text;
BEGIN
    -- one pass over the properties, the live columns and the catalog's docs
    FOR r IN
        SELECT p.value AS prop, p.ordinality - 1 AS i, att.attname,
               pg_catalog.format_type(att.atttypid, att.atttypmod) AS type, att.attnotnull,
               meshpg._logical_type(att.atttypid) AS logical, c.value->>'description' AS cur_desc
          FROM pg_catalog.jsonb_array_elements(doc->'schema'->0->'properties') WITH ORDINALITY p
          LEFT JOIN pg_catalog.pg_attribute att
                 ON att.attrelid = rel AND att.attname = p.value->>'name' AND att.attnum > 0
                AND NOT att.attisdropped
          LEFT JOIN pg_catalog.jsonb_array_elements(cur->'schema'->0->'properties') c
                 ON c.value->>'name' = p.value->>'name'
         ORDER BY p.ordinality
    LOOP
        path := pg_catalog.format('%sschema[0].properties[%s]', label, r.i);
        IF r.attname IS NULL THEN
            RAISE EXCEPTION '%.name: column "%" does not exist in relation %', path, r.prop->>'name', rel
                USING ERRCODE = 'undefined_column';
        END IF;
        IF r.type <> r.prop->>'physicalType' THEN
            RAISE EXCEPTION '%.physicalType: column "%" is % in relation %, not %', path, r.attname, r.type, rel,
                r.prop->>'physicalType'
                USING ERRCODE = 'datatype_mismatch';
        END IF;
        IF r.prop ? 'logicalType' AND r.prop->>'logicalType' <> r.logical THEN
            RAISE EXCEPTION '%.logicalType: column "%" of type % is logical type "%", not "%"', path, r.attname,
                r.type, r.logical, r.prop->>'logicalType'
                USING ERRCODE = 'datatype_mismatch';
        END IF;
        IF COALESCE((r.prop->>'required')::boolean, false) <> r.attnotnull THEN
            RAISE EXCEPTION '%.required: column "%" is % in relation %', path, r.attname,
                CASE WHEN r.attnotnull THEN 'NOT NULL' ELSE 'nullable' END, rel
                USING ERRCODE = 'datatype_mismatch';
        END IF;
        IF r.cur_desc IS DISTINCT FROM r.prop->>'description' THEN
            RETURN QUERY SELECT 'document column', ref || '.' || r.attname, r.prop->>'description';
            IF do_apply THEN
                PERFORM meshpg.document_column(ref, r.attname, COALESCE(r.prop->>'description', ''));
            END IF;
        END IF;
    END LOOP;
    FOR r IN SELECT att.attname FROM pg_catalog.pg_attribute att
              WHERE att.attrelid = rel AND att.attnum > 0 AND NOT att.attisdropped
                AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(doc->'schema'->0->'properties') e
                                 WHERE e->>'name' = att.attname::text)
              ORDER BY att.attnum
    LOOP
        IF strict THEN
            RAISE EXCEPTION '%schema[0].properties: column "%" of relation % is not described', label, r.attname, rel
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A contract lists every column of its relation (see meshpg.export()).';
        END IF;
        RAISE WARNING '%schema[0].properties: column "%" of relation % is not described', label, r.attname, rel;
    END LOOP;
END
$$;

-- tags on columns: the schema section is authoritative for them
CREATE FUNCTION meshpg._dsc_tags(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text := doc->>'id';
    r record;
BEGIN
    FOR r IN
        WITH want AS (
            SELECT e.value->>'name' AS col, pg_catalog.split_part(t, '=', 1) AS tag,
                   NULLIF(pg_catalog.substr(t, pg_catalog.length(pg_catalog.split_part(t, '=', 1)) + 2), '') AS value,
                   t AS spec
              FROM pg_catalog.jsonb_array_elements(doc->'schema'->0->'properties') e,
                   pg_catalog.jsonb_array_elements_text(COALESCE(e.value->'tags', '[]')) t),
        have AS (
            SELECT e.value->>'name' AS col, pg_catalog.split_part(t, '=', 1) AS tag, t AS spec
              FROM pg_catalog.jsonb_array_elements(COALESCE(cur->'schema'->0->'properties', '[]')) e,
                   pg_catalog.jsonb_array_elements_text(COALESCE(e.value->'tags', '[]')) t),
        -- Tags propagated from upstream are lineage's, not the descriptor's:
        -- export shows them, apply neither adds nor removes them.
        propagated AS (
            SELECT tp.column_name AS col, tp.tag FROM meshpg.tag_propagation tp WHERE tp.product = ref)
        SELECT 'tag' AS act, w.col, w.tag, w.value, w.spec FROM want w
         WHERE NOT EXISTS (SELECT 1 FROM have h WHERE h.col = w.col AND h.spec = w.spec)
           AND NOT EXISTS (SELECT 1 FROM propagated p WHERE p.col = w.col AND p.tag = w.tag)
        UNION ALL
        SELECT 'untag', h.col, h.tag, NULL, h.spec FROM have h
         WHERE NOT EXISTS (SELECT 1 FROM want w WHERE w.col = h.col AND w.tag = h.tag)
           AND NOT EXISTS (SELECT 1 FROM propagated p WHERE p.col = h.col AND p.tag = h.tag)
        ORDER BY 2, 3
    LOOP
        RETURN QUERY SELECT r.act, ref || '.' || r.col, r.spec;
        IF do_apply THEN
            IF r.act = 'tag' THEN
                PERFORM meshpg.tag_column(ref, r.col, r.tag, r.value);
            ELSE
                PERFORM meshpg.untag_column(ref, r.col, r.tag);
            END IF;
        END IF;
    END LOOP;
END
$$;

-- product-bound policies: authoritative when the section is present
CREATE FUNCTION meshpg._dsc_policies(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text := doc->>'id';
    have jsonb := COALESCE(cur->'policies', '[]');
    want jsonb;
    r record;
BEGIN
    IF NOT doc ? 'policies' THEN
        RETURN;
    END IF;
    -- expressions in the form the catalog keeps them (once the product exists)
    IF cur IS NOT NULL THEN
        SELECT pg_catalog.jsonb_agg(CASE WHEN e->>'expression' IS NULL THEN e
                   ELSE pg_catalog.jsonb_set(e, '{expression}', pg_catalog.to_jsonb(
                            meshpg._canonical_expression(ref, e->>'column', e->>'kind', e->>'expression'))) END
                   ORDER BY o)
          INTO want
          FROM pg_catalog.jsonb_array_elements(doc->'policies') WITH ORDINALITY AS x(e, o);
        doc := pg_catalog.jsonb_set(doc, '{policies}', COALESCE(want, '[]'));
    END IF;
    -- the same normal form as the export: nulls, empty lists and defaults left out
    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(
               e.value - 'args' - 'exemptRoles' - 'exemptAttributes' - 'exemptPurposes' - 'appliesToDomain'
               || CASE WHEN e.value->'args' IS NOT NULL AND e.value->'args' <> '{}'
                       THEN pg_catalog.jsonb_build_object('args', e.value->'args') ELSE '{}' END
               || CASE WHEN pg_catalog.jsonb_array_length(COALESCE(e.value->'exemptRoles', '[]')) > 0
                       THEN pg_catalog.jsonb_build_object('exemptRoles', e.value->'exemptRoles') ELSE '{}' END
               || CASE WHEN e.value->'exemptAttributes' IS NOT NULL AND e.value->'exemptAttributes' <> '{}'
                       THEN pg_catalog.jsonb_build_object('exemptAttributes', e.value->'exemptAttributes') ELSE '{}' END
               || CASE WHEN pg_catalog.jsonb_array_length(COALESCE(e.value->'exemptPurposes', '[]')) > 0
                       THEN pg_catalog.jsonb_build_object('exemptPurposes', e.value->'exemptPurposes') ELSE '{}' END
               || CASE WHEN (e.value->>'appliesToDomain')::boolean
                       THEN '{"appliesToDomain": true}'::jsonb ELSE '{}' END)), '[]')
      INTO want
      FROM pg_catalog.jsonb_array_elements(doc->'policies') e;
    FOR r IN
        SELECT COALESCE(w.value->>'name', h.value->>'name') AS name, w.value AS w, h.value AS h
          FROM pg_catalog.jsonb_array_elements(want) w
          FULL JOIN pg_catalog.jsonb_array_elements(have) h ON h.value->>'name' = w.value->>'name'
         WHERE w.value IS DISTINCT FROM h.value
         ORDER BY 1
    LOOP
        RETURN QUERY SELECT CASE WHEN r.h IS NULL THEN 'create policy' WHEN r.w IS NULL THEN 'drop policy'
                                 ELSE 'replace policy' END, r.name, ref;
        IF do_apply THEN
            IF r.h IS NOT NULL THEN
                PERFORM meshpg.drop_policy(r.name);
            END IF;
            IF r.w IS NOT NULL AND r.w->>'kind' = 'mask' THEN
                PERFORM meshpg.create_masking_policy(
                    name => r.name, mask => r.w->>'mask', product => ref,
                    column_name => r.w->>'column', args => COALESCE(r.w->'args', '{}'),
                    expression => r.w->>'expression',
                    exempt_roles => ARRAY(SELECT x::regrole FROM pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptRoles', '[]')) x),
                    exempt_attributes => COALESCE(r.w->'exemptAttributes', '{}'),
                    exempt_purposes => ARRAY(SELECT pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptPurposes', '[]'))),
                    applies_to_domain => COALESCE((r.w->>'appliesToDomain')::boolean, false),
                    description => r.w->>'description');
            ELSIF r.w IS NOT NULL THEN
                PERFORM meshpg.create_row_policy(
                    name => r.name, expression => r.w->>'expression', product => ref,
                    exempt_roles => ARRAY(SELECT x::regrole FROM pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptRoles', '[]')) x),
                    exempt_attributes => COALESCE(r.w->'exemptAttributes', '{}'),
                    exempt_purposes => ARRAY(SELECT pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptPurposes', '[]'))),
                    applies_to_domain => COALESCE((r.w->>'appliesToDomain')::boolean, false),
                    description => r.w->>'description');
            END IF;
        END IF;
    END LOOP;
END
$$;

-- lifecycle: draft, active (published at version), deprecated, retired
CREATE FUNCTION meshpg._dsc_status(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text := doc->>'id';
    state text := COALESCE(cur->>'status', 'draft');
    want text := doc->>'status';
    cmp integer;
BEGIN
    PERFORM meshpg._check_version(label || 'version', doc->>'version');
    IF want = state AND want <> 'active' THEN
        RETURN;
    END IF;
    IF want = 'draft' THEN
        RAISE EXCEPTION '%status: data product "%" is %, and cannot go back to draft', label, ref, state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    ELSIF want = 'active' THEN
        IF state = 'active' THEN
            cmp := meshpg._version_cmp(doc->>'version', cur->>'version');
            IF cmp = 0 THEN
                RETURN;
            ELSIF cmp < 0 THEN
                RAISE EXCEPTION '%version: % is older than version % of data product "%" in the catalog', label,
                    doc->>'version', cur->>'version', ref
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          HINT = 'A compatible change to the relation published a new minor version: update the descriptor from meshpg.export().';
            END IF;
        ELSIF state <> 'draft' THEN
            RAISE EXCEPTION '%status: data product "%" is %, and cannot become active again', label, ref, state
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        RETURN QUERY SELECT 'publish', ref, doc->>'version';
        IF do_apply THEN
            PERFORM meshpg.publish(ref, doc->>'version');
        END IF;
    ELSIF want = 'deprecated' THEN
        IF doc->>'sunset' IS NULL THEN
            RAISE EXCEPTION '%sunset: a deprecated data product needs a sunset date', label
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN QUERY SELECT 'deprecate', ref, pg_catalog.format('sunset %s, successor %s', doc->>'sunset',
                                                                  COALESCE(doc->>'successor', 'none'));
        IF do_apply THEN
            PERFORM meshpg.deprecate(ref, (doc->>'sunset')::date, doc->>'successor');
        END IF;
    ELSIF want = 'retired' THEN
        RETURN QUERY SELECT 'retire', ref, NULL::text;
        IF do_apply THEN
            PERFORM meshpg.retire(ref);
        END IF;
    END IF;
END
$$;

-- grants (ODCS roles): authoritative when the section is present
CREATE FUNCTION meshpg._dsc_grants(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text := doc->>'id';
    have jsonb := meshpg._export_roles(ref);
    r record;
BEGIN
    IF NOT doc ? 'roles' THEN
        RETURN;
    END IF;
    FOR r IN
        SELECT COALESCE(w.value->>'role', h.value->>'role') AS role, w.value AS w, h.value AS h
          FROM pg_catalog.jsonb_array_elements(doc->'roles') w
          FULL JOIN pg_catalog.jsonb_array_elements(have) h ON h.value->>'role' = w.value->>'role'
         WHERE h.value IS NULL OR w.value IS NULL
            OR w.value->>'purpose' IS DISTINCT FROM h.value->>'purpose'
            OR (w.value->>'expires')::timestamptz IS DISTINCT FROM (h.value->>'expires')::timestamptz
         ORDER BY 1
    LOOP
        RETURN QUERY SELECT CASE WHEN r.w IS NULL THEN 'revoke' ELSE 'grant' END, ref, r.role;
        IF do_apply THEN
            IF r.w IS NULL THEN
                PERFORM meshpg.revoke_access(ref, r.role::regrole);
            ELSE
                PERFORM meshpg.grant_access(ref, r.role::regrole, r.w->>'purpose', (r.w->>'expires')::timestamptz);
            END IF;
        END IF;
    END LOOP;
END
$$;

/*
 * SLOs (ODCS slaProperties, and quality for the data-quality kinds): the
 * arguments of meshpg.declare_slo.  A spec is compared in the form
 * declare_slo stores, so one written differently but meaning the same is
 * no change.  The kind of an SLO cannot be altered: a new kind is a drop
 * and a declaration.
 */
CREATE FUNCTION meshpg._dsc_interval(path text, value text)
RETURNS interval
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN value::interval;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
    RAISE EXCEPTION '%: invalid interval "%"', path, value
        USING ERRCODE = 'invalid_parameter_value', HINT = 'Write it as PostgreSQL does, for example "30 days" or "5 minutes".';
END
$$;

CREATE FUNCTION meshpg._dsc_slos(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text := doc->>'id';
    registered boolean := EXISTS (SELECT 1 FROM meshpg.products p WHERE p.product = ref);
    r record;
    dup text;
    win interval;
    sched interval;
    sev text;
    canon jsonb;
    msg text;
    state text;
    hint text;
BEGIN
    IF NOT (doc ? 'slaProperties' OR doc ? 'quality') THEN
        RETURN;
    END IF;
    SELECT e.value->>'name' INTO dup
      FROM pg_catalog.unnest(ARRAY['slaProperties', 'quality']) s(sect),
           pg_catalog.jsonb_array_elements(COALESCE(doc->s.sect, '[]')) e
     GROUP BY 1 HAVING pg_catalog.count(*) > 1 LIMIT 1;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION '%slaProperties: SLO "%" is declared more than once', label, dup
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN
        WITH w AS (
            SELECT e.value AS v, pg_catalog.format('%s%s[%s]', label, s.sect, e.o - 1) AS path
              FROM pg_catalog.unnest(ARRAY['slaProperties', 'quality']) s(sect),
                   pg_catalog.jsonb_array_elements(COALESCE(doc->s.sect, '[]')) WITH ORDINALITY e(value, o))
        SELECT COALESCE(w.v->>'name', h.name) AS slo, w.v, w.path,
               h.name IS NOT NULL AS declared, h.kind, h.spec, h.compliance_window, h.severity, h.schedule
          FROM w
          FULL JOIN (SELECT * FROM meshpg.slos WHERE product = ref) h ON h.name = w.v->>'name'
         ORDER BY 1
    LOOP
        IF r.v IS NULL THEN
            RETURN QUERY SELECT 'drop slo', ref, r.slo;
            IF do_apply THEN
                PERFORM meshpg.drop_slo(ref, r.slo);
            END IF;
            CONTINUE;
        END IF;
        win := COALESCE(meshpg._dsc_interval(r.path || '.window', r.v->>'window'), '30 days');
        sched := meshpg._dsc_interval(r.path || '.schedule', r.v->>'schedule');
        sev := COALESCE(r.v->>'severity', 'warning');
        -- A product that plan() would register has no relation to check against yet.
        canon := NULL;
        IF registered THEN
            BEGIN
                canon := meshpg._slo_canonical(ref, r.v->>'kind', r.v->'spec');
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, state = RETURNED_SQLSTATE,
                                        hint = PG_EXCEPTION_HINT;
                IF hint = '' THEN
                    RAISE EXCEPTION '%.spec: %', r.path, msg USING ERRCODE = state;
                END IF;
                RAISE EXCEPTION '%.spec: %', r.path, msg USING ERRCODE = state, HINT = hint;
            END;
        END IF;
        IF r.declared AND r.kind = r.v->>'kind' AND r.spec = canon
           AND r.compliance_window = win AND r.severity = sev
           AND r.schedule IS NOT DISTINCT FROM sched THEN
            CONTINUE;
        END IF;
        IF r.declared AND r.kind = r.v->>'kind' THEN
            RETURN QUERY SELECT 'alter slo', ref, r.slo;
            IF do_apply THEN
                PERFORM meshpg.alter_slo(ref, r.slo, r.v->'spec', win, sev,
                                         COALESCE(sched, '0'::interval));
            END IF;
            CONTINUE;
        END IF;
        IF r.declared THEN
            RETURN QUERY SELECT 'drop slo', ref, r.slo;
            IF do_apply THEN
                PERFORM meshpg.drop_slo(ref, r.slo);
            END IF;
        END IF;
        RETURN QUERY SELECT 'declare slo', ref, r.slo;
        IF do_apply THEN
            PERFORM meshpg.declare_slo(ref, r.slo, r.v->>'kind', r.v->'spec', win, sev, sched);
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION meshpg._check_version(path text, version text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF version !~ '^(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$' THEN
        RAISE EXCEPTION '%: invalid semantic version "%"', path, version
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Use MAJOR.MINOR.PATCH, for example 1.2.0.';
    END IF;
END
$$;

-- precedence of MAJOR.MINOR.PATCH; pre-releases before their release
CREATE FUNCTION meshpg._version_cmp(a text, b text)
RETURNS integer
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE
           WHEN x < y THEN -1 WHEN x > y THEN 1
           WHEN (a LIKE '%-%') = (b LIKE '%-%') THEN pg_catalog.sign(pg_catalog.bttextcmp(a, b))::integer
           WHEN a LIKE '%-%' THEN -1 ELSE 1
       END
  FROM (SELECT ARRAY[pg_catalog.split_part(a, '.', 1)::int, pg_catalog.split_part(a, '.', 2)::int,
                     pg_catalog.split_part(pg_catalog.split_part(pg_catalog.split_part(a, '.', 3), '-', 1), '+', 1)::int] AS x,
               ARRAY[pg_catalog.split_part(b, '.', 1)::int, pg_catalog.split_part(b, '.', 2)::int,
                     pg_catalog.split_part(pg_catalog.split_part(pg_catalog.split_part(b, '.', 3), '-', 1), '+', 1)::int] AS y) v
$$;

/*
 * Converges the catalog to the documents, section by section, in an order
 * that respects the lifecycle (a product is published before it is
 * granted).  Applies of the same domain serialise on a transaction-level
 * advisory lock, taken in domain order.
 */
CREATE FUNCTION meshpg._converge(docs jsonb, do_apply boolean, strict boolean, prune boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := pg_catalog.jsonb_array_length(docs);
    d record;
    label text;
    dup text;
    dom text;
    cur jsonb;
BEGIN
    SELECT e->>'id' INTO dup FROM pg_catalog.jsonb_array_elements(docs) e
     GROUP BY 1 HAVING pg_catalog.count(*) > 1 LIMIT 1;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION 'descriptor describes data product "%" more than once', dup
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF do_apply THEN
        FOR dom IN SELECT DISTINCT pg_catalog.split_part(e->>'id', '.', 1)
                     FROM pg_catalog.jsonb_array_elements(docs) e ORDER BY 1
        LOOP
            PERFORM pg_catalog.pg_advisory_xact_lock(1835365224, pg_catalog.hashtext(dom));
        END LOOP;
    END IF;
    FOR d IN SELECT e.value AS doc, e.ordinality AS i FROM pg_catalog.jsonb_array_elements(docs) WITH ORDINALITY e
    LOOP
        label := CASE WHEN n > 1 THEN pg_catalog.format('document %s: ', d.i) ELSE '' END;
        cur := meshpg._export_doc(d.doc->>'id');
        RETURN QUERY SELECT * FROM meshpg._dsc_product(d.doc, cur, label, do_apply, strict);
        -- a new major version starts with its predecessor's documentation and tags
        IF cur IS NULL AND do_apply THEN
            cur := meshpg._export_doc(d.doc->>'id');
        END IF;
        RETURN QUERY SELECT * FROM meshpg._dsc_columns(d.doc, cur, label, do_apply, strict);
        RETURN QUERY SELECT * FROM meshpg._dsc_tags(d.doc, cur, label, do_apply, strict);
        RETURN QUERY SELECT * FROM meshpg._dsc_policies(d.doc, cur, label, do_apply, strict);
        RETURN QUERY SELECT * FROM meshpg._dsc_slos(d.doc, cur, label, do_apply, strict);
        RETURN QUERY SELECT * FROM meshpg._dsc_status(d.doc, cur, label, do_apply, strict);
        RETURN QUERY SELECT * FROM meshpg._dsc_grants(d.doc, cur, label, do_apply, strict);
    END LOOP;
    IF prune THEN
        FOR d IN SELECT p.product, p.state FROM meshpg.products p
                  WHERE p.domain IN (SELECT pg_catalog.split_part(e->>'id', '.', 1)
                                       FROM pg_catalog.jsonb_array_elements(docs) e)
                    AND p.product NOT IN (SELECT e->>'id' FROM pg_catalog.jsonb_array_elements(docs) e)
                  ORDER BY 1
        LOOP
            IF d.state NOT IN ('draft', 'retired') THEN
                RAISE EXCEPTION 'cannot prune data product "%" because it is %', d.product, d.state
                    USING ERRCODE = 'object_not_in_prerequisite_state',
                          HINT = 'Deprecate and retire it first, or keep it in the descriptor.';
            END IF;
            RETURN QUERY SELECT 'unregister', d.product, NULL::text;
            IF do_apply THEN
                PERFORM meshpg.unregister_product(d.product);
            END IF;
        END LOOP;
    END IF;
END
$$;

CREATE FUNCTION meshpg.apply(
    descriptor text,
    strict boolean DEFAULT true,
    prune boolean DEFAULT false)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
SELECT * FROM meshpg._converge(meshpg._descriptor_parse(descriptor, strict), true, strict, prune)
$$;

CREATE FUNCTION meshpg.plan(
    descriptor text,
    strict boolean DEFAULT true,
    prune boolean DEFAULT false)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
SELECT * FROM meshpg._converge(meshpg._descriptor_parse(descriptor, strict), false, strict, prune)
$$;
