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
