/* meshpg 1.0: catalog, metadata views and the registry's SQL surface. */

\echo Use "CREATE EXTENSION meshpg" to load this file. \quit

DO $$
BEGIN
    -- Names, search text and masks go through ICU, which works on UTF-8.
    IF pg_catalog.getdatabaseencoding() <> 'UTF8' THEN
        RAISE EXCEPTION 'meshpg requires a UTF8 database, not %',
            pg_catalog.getdatabaseencoding()
            USING ERRCODE = 'feature_not_supported';
    END IF;
    -- The governance team.  Roles are cluster-wide: it may already exist
    -- from another database, and it outlives DROP EXTENSION on purpose.
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'meshpg_admin') THEN
        CREATE ROLE meshpg_admin NOLOGIN;
    END IF;
END
$$;

REVOKE ALL ON SCHEMA meshpg FROM PUBLIC;
GRANT USAGE ON SCHEMA meshpg TO PUBLIC;

/*
 * Catalog tables.  Relations, roles and schemas are stored as reg* types so
 * that pg_dump writes them as names and pg_restore maps them to the new
 * OIDs.  The column order is mirrored in src/catalog/catalog.h.
 */
CREATE SEQUENCE meshpg.cat_domain_id_seq;
CREATE TABLE meshpg.cat_domain (
    id          bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_domain_id_seq'),
    name        text NOT NULL UNIQUE,
    skeleton    text NOT NULL,
    owner       regrole NOT NULL,
    nsp         regnamespace NOT NULL UNIQUE,
    description text,
    contacts    text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER SEQUENCE meshpg.cat_domain_id_seq OWNED BY meshpg.cat_domain.id;
-- Skeletons (ICU confusable forms) are not unique: the check can be turned
-- off by a superuser, and then look-alikes may coexist.
CREATE INDEX cat_domain_skeleton_idx ON meshpg.cat_domain (skeleton);

CREATE SEQUENCE meshpg.cat_product_id_seq;
CREATE TABLE meshpg.cat_product (
    id           bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_product_id_seq'),
    domain_id    bigint NOT NULL REFERENCES meshpg.cat_domain (id),
    name         text NOT NULL,
    skeleton     text NOT NULL,
    relid        regclass NOT NULL UNIQUE,
    state        text NOT NULL DEFAULT 'draft'
                 CHECK (state IN ('draft', 'published', 'deprecated', 'retired')),
    version      text NOT NULL DEFAULT '0.1.0',
    description  text,
    contacts     text[] NOT NULL DEFAULT '{}',
    sunset       date,
    successor_id bigint REFERENCES meshpg.cat_product (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    published_at timestamptz,
    search_doc   tsvector NOT NULL DEFAULT '',
    guard_enabled_rls boolean NOT NULL DEFAULT false,
    UNIQUE (domain_id, name),
    CHECK (successor_id IS DISTINCT FROM id)
);
ALTER SEQUENCE meshpg.cat_product_id_seq OWNED BY meshpg.cat_product.id;
CREATE INDEX cat_product_skeleton_idx ON meshpg.cat_product (domain_id, skeleton);
CREATE INDEX cat_product_search_idx ON meshpg.cat_product USING gin (search_doc);

-- Documentation of product columns, and the interface recorded at publish.
CREATE TABLE meshpg.cat_column (
    product_id         bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    name               text NOT NULL,
    description        text,
    published_type     text,
    published_nullable boolean,
    published_position integer,
    PRIMARY KEY (product_id, name)
);

CREATE TABLE meshpg.cat_grant (
    product_id bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    grantee    regrole NOT NULL,
    purpose    text,
    expires_at timestamptz,
    granted_by text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (product_id, grantee)
);
CREATE INDEX cat_grant_grantee_idx ON meshpg.cat_grant (grantee);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_domain', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_domain_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_product', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_product_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_column', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_grant', '');

-- Only meshpg's functions write the catalog; they check the caller's rights.
REVOKE ALL ON meshpg.cat_domain, meshpg.cat_product, meshpg.cat_column,
    meshpg.cat_grant FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_domain_id_seq, meshpg.cat_product_id_seq FROM PUBLIC;

/*
 * Every write to the catalog, whatever its path (functions, pg_restore),
 * invalidates the backend-local caches of every session.
 */
CREATE FUNCTION meshpg._catalog_changed()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_catalog_changed';
REVOKE ALL ON FUNCTION meshpg._catalog_changed() FROM PUBLIC;

CREATE TRIGGER cat_domain_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_domain FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();
CREATE TRIGGER cat_product_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_product FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();
CREATE TRIGGER cat_column_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_column FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();
CREATE TRIGGER cat_grant_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_grant FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();

/*
 * Fail-closed guard: the row-security policy on every table product calls
 * meshpg.guard().  Only a preloaded meshpg can plan or run that call; see
 * src/governance/guard.c.
 */
-- No search_path clause: the planner calls these for every read of a table
-- product, and a SET clause would cost a GUC save and restore each time;
-- they run no SQL.
CREATE FUNCTION meshpg.guard_support(internal)
RETURNS internal
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'meshpg_guard_support';

CREATE FUNCTION meshpg.guard(relation regclass)
RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
SUPPORT meshpg.guard_support
AS 'MODULE_PATHNAME', 'meshpg_guard';

/* Text helpers (ICU). */
CREATE FUNCTION meshpg.normalize_name(name text)
RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_normalize_name';

CREATE FUNCTION meshpg.fold(input text)
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_fold';

/* Domains: the governance team (meshpg_admin) or a superuser. */
CREATE FUNCTION meshpg.create_domain(
    name text,
    owner regrole,
    description text DEFAULT NULL,
    contacts text[] DEFAULT '{}')
RETURNS text
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_create_domain';

CREATE FUNCTION meshpg.alter_domain(
    name text,
    owner regrole DEFAULT NULL,
    description text DEFAULT NULL,
    contacts text[] DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_alter_domain';

CREATE FUNCTION meshpg.drop_domain(
    name text,
    "cascade" boolean DEFAULT false)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_drop_domain';

/* Products: members of the domain's owner role. */
CREATE FUNCTION meshpg.register_product(
    domain text,
    name text,
    relation regclass,
    description text DEFAULT NULL,
    version text DEFAULT '0.1.0',
    contacts text[] DEFAULT '{}')
RETURNS text
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_register_product';

CREATE FUNCTION meshpg.unregister_product(product text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_unregister_product';

CREATE FUNCTION meshpg.document_product(
    product text,
    description text DEFAULT NULL,
    contacts text[] DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_document_product';

CREATE FUNCTION meshpg.document_column(
    product text,
    column_name text,
    description text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_document_column';

CREATE FUNCTION meshpg.publish(
    product text,
    version text DEFAULT NULL)
RETURNS text
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_publish';

CREATE FUNCTION meshpg.deprecate(
    product text,
    sunset date,
    successor text DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_deprecate';

CREATE FUNCTION meshpg.retire(
    product text,
    force boolean DEFAULT false)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_retire';

CREATE FUNCTION meshpg.grant_access(
    product text,
    grantee regrole,
    purpose text DEFAULT NULL,
    expires timestamptz DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_grant_access';

CREATE FUNCTION meshpg.revoke_access(
    product text,
    grantee regrole)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_revoke_access';

/*
 * Metadata views: discoverable by everyone.  They run with the catalog
 * owner's rights, so no one needs (or gets) rights on the tables.
 */
CREATE VIEW meshpg.domains AS
SELECT d.name,
       d.owner::text AS owner,
       d.nsp::text AS schema,
       d.description,
       d.contacts,
       (SELECT pg_catalog.count(*) FROM meshpg.cat_product p WHERE p.domain_id = d.id) AS products,
       d.created_at,
       d.updated_at
  FROM meshpg.cat_domain d;

CREATE VIEW meshpg.products AS
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

/*
 * Live columns of each product's relation, with their documentation and the
 * interface recorded at the last publish.  (Published columns cannot be
 * dropped, and a draft's dropped columns lose their documentation.)
 */
CREATE VIEW meshpg.product_columns AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       COALESCE(a.attname::text, c.name) AS column_name,
       a.attnum AS position,
       pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable,
       c.description,
       c.published_type,
       c.published_nullable,
       c.published_position
  FROM meshpg.cat_product p
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
  JOIN (SELECT attrelid, attname, attnum, atttypid, atttypmod, attnotnull
          FROM pg_catalog.pg_attribute
         WHERE attnum > 0 AND NOT attisdropped) a
       ON a.attrelid OPERATOR(pg_catalog.=) p.relid
  FULL JOIN meshpg.cat_column c
       ON c.product_id OPERATOR(pg_catalog.=) p.id
      AND c.name OPERATOR(pg_catalog.=) a.attname::text
 WHERE p.id IS NOT NULL;

/*
 * Grants are visible to the governance team, the owning domain and the
 * grantee: who may read what is itself sensitive.
 */
CREATE VIEW meshpg.grants AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       g.grantee::text AS grantee,
       g.purpose,
       g.expires_at,
       g.expires_at IS NULL OR g.expires_at OPERATOR(pg_catalog.>) pg_catalog.now() AS active,
       g.granted_by,
       g.granted_at
  FROM meshpg.cat_grant g
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) g.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE pg_catalog.pg_has_role(d.owner, 'USAGE')
    OR pg_catalog.pg_has_role(g.grantee, 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

GRANT SELECT ON meshpg.domains, meshpg.products, meshpg.product_columns,
    meshpg.grants TO PUBLIC;

/*
 * The product card.  Runs as the caller over the public views, so the grants
 * it lists are the ones the caller may see.
 */
CREATE FUNCTION meshpg.describe(product text)
RETURNS jsonb
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_describe';

CREATE FUNCTION meshpg._describe(product_name text)
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.jsonb_build_object(
           'product', p.product,
           'domain', p.domain,
           'name', p.name,
           'relation', p.relation,
           'kind', p.kind,
           'state', p.state,
           'version', p.version,
           'description', p.description,
           'owner', p.owner,
           'contacts', pg_catalog.to_jsonb(p.contacts),
           'domain_contacts', pg_catalog.to_jsonb(d.contacts),
           'sunset', p.sunset,
           'successor', p.successor,
           'created_at', p.created_at,
           'updated_at', p.updated_at,
           'published_at', p.published_at,
           'columns', COALESCE((
               SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                          'name', c.column_name,
                          'position', c.position,
                          'type', c.type,
                          'nullable', c.nullable,
                          'description', c.description,
                          'published_type', c.published_type,
                          'published_nullable', c.published_nullable)
                      ORDER BY c.position NULLS LAST, c.column_name)
                 FROM meshpg.product_columns c
                WHERE c.product OPERATOR(pg_catalog.=) p.product), '[]'),
           'grants', COALESCE((
               SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                          'grantee', g.grantee,
                          'purpose', g.purpose,
                          'expires_at', g.expires_at,
                          'active', g.active)
                      ORDER BY g.grantee)
                 FROM meshpg.grants g
                WHERE g.product OPERATOR(pg_catalog.=) p.product), '[]'))
  FROM meshpg.products p
  JOIN meshpg.domains d ON d.name OPERATOR(pg_catalog.=) p.domain
 WHERE p.product OPERATOR(pg_catalog.=) product_name
$$;

/*
 * Search.  Every text is folded with ICU (NFKC, case folding, accents
 * removed) before it enters the index, and the query is folded the same way.
 * Names weigh most, then domain and descriptions, then columns and docs.
 */
CREATE FUNCTION meshpg._search_doc(product_id bigint)
RETURNS tsvector
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.setweight(pg_catalog.to_tsvector('simple', meshpg.fold(p.name)), 'A')
    OPERATOR(pg_catalog.||) pg_catalog.setweight(pg_catalog.to_tsvector('simple',
           meshpg.fold(d.name OPERATOR(pg_catalog.||) ' ' OPERATOR(pg_catalog.||)
                       COALESCE(p.description, ''))), 'B')
    OPERATOR(pg_catalog.||) pg_catalog.setweight(pg_catalog.to_tsvector('simple',
           meshpg.fold(COALESCE((SELECT pg_catalog.string_agg(a.attname::text, ' ')
                                   FROM pg_catalog.pg_attribute a
                                  WHERE a.attrelid OPERATOR(pg_catalog.=) p.relid
                                    AND a.attnum > 0 AND NOT a.attisdropped), ''))), 'C')
    OPERATOR(pg_catalog.||) pg_catalog.setweight(pg_catalog.to_tsvector('simple',
           meshpg.fold(COALESCE(d.description, '') OPERATOR(pg_catalog.||) ' '
                       OPERATOR(pg_catalog.||)
                       COALESCE((SELECT pg_catalog.string_agg(c.description, ' ')
                                   FROM meshpg.cat_column c
                                  WHERE c.product_id OPERATOR(pg_catalog.=) p.id), ''))), 'D')
  FROM meshpg.cat_product p
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE p.id OPERATOR(pg_catalog.=) product_id
$$;
REVOKE ALL ON FUNCTION meshpg._search_doc(bigint) FROM PUBLIC;

CREATE FUNCTION meshpg._search_query(query text)
RETURNS tsquery
LANGUAGE C IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_search_query';

CREATE FUNCTION meshpg._check_limit(max_results integer)
RETURNS integer
LANGUAGE C IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_check_limit';

CREATE FUNCTION meshpg.search(
    query text,
    max_results integer DEFAULT 20,
    include_retired boolean DEFAULT false)
RETURNS TABLE (product text, domain text, state text, version text,
               description text, rank real)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
-- The tsquery is an InitPlan: computed once, so the GIN index is used.
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name,
       d.name, p.state, p.version, p.description,
       pg_catalog.ts_rank('{0.1, 0.3, 0.6, 1.0}', p.search_doc,
                          (SELECT meshpg._search_query(query)))
  FROM meshpg.cat_product p
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE p.search_doc OPERATOR(pg_catalog.@@) (SELECT meshpg._search_query(query))
   AND (include_retired OR p.state OPERATOR(pg_catalog.<>) 'retired')
 ORDER BY 6 DESC, 1
 LIMIT meshpg._check_limit(max_results)
$$;


/* ------------------------------------------------------------------------
 * Governance: tags, masking and row policies, consumer attributes.
 *
 * The governance team (meshpg_admin) defines tags, tag-bound policies and
 * attributes; domain teams tag their columns and may add policies bound to
 * their own products.  The planner hook enforces the result on every read
 * (src/governance/).
 * ------------------------------------------------------------------------ */
CREATE SEQUENCE meshpg.cat_tag_id_seq;
CREATE TABLE meshpg.cat_tag (
    id             bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_tag_id_seq'),
    name           text NOT NULL UNIQUE,
    description    text,
    allowed_values text[],
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);
ALTER SEQUENCE meshpg.cat_tag_id_seq OWNED BY meshpg.cat_tag.id;

CREATE TABLE meshpg.cat_column_tag (
    product_id  bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    column_name text NOT NULL,
    tag_id      bigint NOT NULL REFERENCES meshpg.cat_tag (id),
    value       text,
    tagged_by   text NOT NULL,
    tagged_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (product_id, column_name, tag_id)
);
CREATE INDEX cat_column_tag_tag_idx ON meshpg.cat_column_tag (tag_id);

CREATE TABLE meshpg.cat_attribute (
    role     regrole NOT NULL,
    key      text NOT NULL,
    "values" text[] NOT NULL,
    PRIMARY KEY (role, key)
);

CREATE SEQUENCE meshpg.cat_policy_id_seq;
CREATE TABLE meshpg.cat_policy (
    id                bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_policy_id_seq'),
    name              text NOT NULL UNIQUE,
    kind              text NOT NULL CHECK (kind IN ('mask', 'row')),
    tag_id            bigint REFERENCES meshpg.cat_tag (id),
    product_id        bigint REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    column_name       text,
    mask              text CHECK (mask IN ('null', 'redact', 'hash', 'email', 'partial',
                                           'date', 'bucket', 'round', 'custom')),
    mask_args         jsonb NOT NULL DEFAULT '{}',
    expression        text,
    exempt_roles      regrole[] NOT NULL DEFAULT '{}',
    exempt_attributes jsonb NOT NULL DEFAULT '{}',
    exempt_purposes   text[] NOT NULL DEFAULT '{}',
    applies_to_domain boolean NOT NULL DEFAULT false,
    description       text,
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- user functions the expression calls: dropping one is refused
    depends_functions regprocedure[] NOT NULL DEFAULT '{}',
    CHECK ((tag_id IS NULL) <> (product_id IS NULL)),
    CHECK (kind = 'row' OR (mask IS NOT NULL AND (tag_id IS NOT NULL OR column_name IS NOT NULL))),
    CHECK (kind = 'mask' OR (mask IS NULL AND column_name IS NULL AND expression IS NOT NULL))
);
CREATE INDEX cat_policy_product_idx ON meshpg.cat_policy (product_id);
CREATE INDEX cat_policy_tag_idx ON meshpg.cat_policy (tag_id);

-- The key of the keyed-hash mask; created with the first hash policy, so
-- that a restored database keeps its pseudonyms.
CREATE TABLE meshpg.cat_secret (
    id       integer PRIMARY KEY CHECK (id = 1),
    hmac_key bytea NOT NULL CHECK (pg_catalog.length(hmac_key) >= 32)
);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_tag', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_tag_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_column_tag', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_attribute', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_policy', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_policy_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_secret', '');
REVOKE ALL ON meshpg.cat_tag, meshpg.cat_column_tag, meshpg.cat_attribute,
    meshpg.cat_policy, meshpg.cat_secret FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_tag_id_seq, meshpg.cat_policy_id_seq FROM PUBLIC;

CREATE TRIGGER cat_tag_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_tag FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();
CREATE TRIGGER cat_column_tag_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_column_tag FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();
CREATE TRIGGER cat_attribute_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_attribute FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();
CREATE TRIGGER cat_policy_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_policy FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();
CREATE TRIGGER cat_secret_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_secret FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();

/* Tags and attributes */
CREATE FUNCTION meshpg.create_tag(
    name text,
    description text DEFAULT NULL,
    allowed_values text[] DEFAULT NULL)
RETURNS text
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_create_tag';

CREATE FUNCTION meshpg.drop_tag(name text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_drop_tag';

CREATE FUNCTION meshpg.tag_column(
    product text,
    column_name text,
    tag text,
    value text DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_tag_column';

CREATE FUNCTION meshpg.untag_column(
    product text,
    column_name text,
    tag text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_untag_column';

CREATE FUNCTION meshpg.set_attribute(
    role regrole,
    key text,
    "values" text[])
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_set_attribute';

CREATE FUNCTION meshpg.unset_attribute(
    role regrole,
    key text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_unset_attribute';

/* Policies */
CREATE FUNCTION meshpg.create_masking_policy(
    name text,
    mask text,
    tag text DEFAULT NULL,
    product text DEFAULT NULL,
    column_name text DEFAULT NULL,
    args jsonb DEFAULT '{}',
    expression text DEFAULT NULL,
    exempt_roles regrole[] DEFAULT '{}',
    exempt_attributes jsonb DEFAULT '{}',
    exempt_purposes text[] DEFAULT '{}',
    applies_to_domain boolean DEFAULT false,
    description text DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_create_masking_policy';

CREATE FUNCTION meshpg.create_row_policy(
    name text,
    expression text,
    tag text DEFAULT NULL,
    product text DEFAULT NULL,
    exempt_roles regrole[] DEFAULT '{}',
    exempt_attributes jsonb DEFAULT '{}',
    exempt_purposes text[] DEFAULT '{}',
    applies_to_domain boolean DEFAULT false,
    description text DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_create_row_policy';

CREATE FUNCTION meshpg.drop_policy(name text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_drop_policy';

/* What policies read about the reader, and why a reader sees what it sees */
CREATE FUNCTION meshpg.attribute(key text)
RETURNS text[]
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_attribute';

CREATE FUNCTION meshpg.purpose()
RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_purpose';

CREATE FUNCTION meshpg.explain_access(
    product text,
    role regrole DEFAULT NULL)
RETURNS TABLE (subject text, policy text, kind text, effect text, reason text)
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_explain_access';

CREATE FUNCTION meshpg._statistics_visible(relation oid, attnum smallint)
RETURNS boolean
LANGUAGE C STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_statistics_visible';

/* Masks: callable directly too.  No search_path clause, so that the
 * planner may inline the SQL ones. */
CREATE FUNCTION meshpg.mask_partial(
    value text,
    keep_first integer DEFAULT 0,
    keep_last integer DEFAULT 4,
    fill text DEFAULT '*')
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_mask_partial';

CREATE FUNCTION meshpg.mask_email(value text)
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_mask_email';

CREATE FUNCTION meshpg.mask_hash(value text)
RETURNS text
LANGUAGE C STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_mask_hash';

CREATE FUNCTION meshpg.mask_date(value date, unit text)
RETURNS date
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.date_trunc(unit, value::timestamp)::date;

CREATE FUNCTION meshpg.mask_date(value timestamp, unit text)
RETURNS timestamp
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.date_trunc(unit, value);

CREATE FUNCTION meshpg.mask_date(value timestamptz, unit text)
RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE
RETURN pg_catalog.date_trunc(unit, value);

CREATE FUNCTION meshpg.mask_round(value numeric, step numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.round(value OPERATOR(pg_catalog./) step) OPERATOR(pg_catalog.*) step;

CREATE FUNCTION meshpg.mask_bucket(value numeric, width numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN pg_catalog.floor(value OPERATOR(pg_catalog./) width) OPERATOR(pg_catalog.*) width;

/* Governance metadata views */
CREATE VIEW meshpg.tags AS
SELECT t.name, t.description, t.allowed_values, t.created_at
  FROM meshpg.cat_tag t;

CREATE VIEW meshpg.column_tags AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       ct.column_name, t.name AS tag, ct.value, ct.tagged_by, ct.tagged_at
  FROM meshpg.cat_column_tag ct
  JOIN meshpg.cat_tag t ON t.id OPERATOR(pg_catalog.=) ct.tag_id
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) ct.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id;

CREATE VIEW meshpg.policies AS
SELECT pol.name, pol.kind,
       t.name AS tag,
       d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       pol.column_name, pol.mask, pol.mask_args, pol.expression,
       pol.exempt_roles::text[] AS exempt_roles, pol.exempt_attributes, pol.exempt_purposes,
       pol.applies_to_domain, pol.description, pol.created_by, pol.created_at
  FROM meshpg.cat_policy pol
  LEFT JOIN meshpg.cat_tag t ON t.id OPERATOR(pg_catalog.=) pol.tag_id
  LEFT JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) pol.product_id
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id;

-- Attributes are visible to the governance team and to the role they describe.
CREATE VIEW meshpg.attributes AS
SELECT a.role::text AS role, a.key, a."values"
  FROM meshpg.cat_attribute a
 WHERE pg_catalog.pg_has_role(a.role, 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

GRANT SELECT ON meshpg.tags, meshpg.column_tags, meshpg.policies, meshpg.attributes TO PUBLIC;
