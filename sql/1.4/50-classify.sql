
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
