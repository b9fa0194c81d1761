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

-- Descriptors carry projection, aggregation and privacy policies too: applied
-- with their own functions (their options are the args; meshpg.create_privacy_policy
-- is created in 65-privacy.sql, before any descriptor is applied).
CREATE OR REPLACE FUNCTION meshpg._dsc_policies(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
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
            ELSIF r.w IS NOT NULL AND r.w->>'kind' = 'projection' THEN
                PERFORM meshpg.create_projection_policy(
                    name => r.name, product => ref, column_name => r.w->>'column',
                    exempt_roles => ARRAY(SELECT x::regrole FROM pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptRoles', '[]')) x),
                    exempt_attributes => COALESCE(r.w->'exemptAttributes', '{}'),
                    exempt_purposes => ARRAY(SELECT pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptPurposes', '[]'))),
                    applies_to_domain => COALESCE((r.w->>'appliesToDomain')::boolean, false),
                    description => r.w->>'description');
            ELSIF r.w IS NOT NULL AND r.w->>'kind' = 'aggregation' THEN
                PERFORM meshpg.create_aggregation_policy(
                    name => r.name, product => ref,
                    min_group_size => (r.w->'args'->>'min_group_size')::integer,
                    entity_key => r.w->'args'->>'entity_key',
                    aggregates => CASE WHEN r.w->'args' ? 'aggregates' THEN
                        ARRAY(SELECT pg_catalog.jsonb_array_elements_text(r.w->'args'->'aggregates')) END,
                    exempt_roles => ARRAY(SELECT x::regrole FROM pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptRoles', '[]')) x),
                    exempt_attributes => COALESCE(r.w->'exemptAttributes', '{}'),
                    exempt_purposes => ARRAY(SELECT pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptPurposes', '[]'))),
                    applies_to_domain => COALESCE((r.w->>'appliesToDomain')::boolean, false),
                    description => r.w->>'description');
            ELSIF r.w IS NOT NULL AND r.w->>'kind' = 'privacy' THEN
                PERFORM meshpg.create_privacy_policy(
                    name => r.name, product => ref,
                    privacy_unit => r.w->'args'->>'entity_key',
                    epsilon => (r.w->'args'->>'epsilon')::double precision,
                    delta => COALESCE((r.w->'args'->>'delta')::double precision, 0),
                    max_contributions => COALESCE((r.w->'args'->>'max_contributions')::integer, 1),
                    bounds => COALESCE(r.w->'args'->'bounds', '{}'),
                    budget_epsilon => (r.w->'args'->>'budget_epsilon')::double precision,
                    budget_delta => COALESCE((r.w->'args'->>'budget_delta')::double precision, 0),
                    budget_window => COALESCE((r.w->'args'->>'budget_window')::interval, '1 day'),
                    exempt_roles => ARRAY(SELECT x::regrole FROM pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptRoles', '[]')) x),
                    exempt_attributes => COALESCE(r.w->'exemptAttributes', '{}'),
                    exempt_purposes => ARRAY(SELECT pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptPurposes', '[]'))),
                    applies_to_domain => COALESCE((r.w->>'appliesToDomain')::boolean, false),
                    description => r.w->>'description');
            ELSIF r.w IS NOT NULL AND r.w->>'kind' = 'row' THEN
                PERFORM meshpg.create_row_policy(
                    name => r.name, expression => r.w->>'expression', product => ref,
                    exempt_roles => ARRAY(SELECT x::regrole FROM pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptRoles', '[]')) x),
                    exempt_attributes => COALESCE(r.w->'exemptAttributes', '{}'),
                    exempt_purposes => ARRAY(SELECT pg_catalog.jsonb_array_elements_text(COALESCE(r.w->'exemptPurposes', '[]'))),
                    applies_to_domain => COALESCE((r.w->>'appliesToDomain')::boolean, false),
                    description => r.w->>'description');
            ELSIF r.w IS NOT NULL THEN
                RAISE EXCEPTION 'cannot apply policy "%" of kind "%"', r.name, r.w->>'kind'
                    USING ERRCODE = 'feature_not_supported',
                          HINT = 'Create it with its own meshpg.create_*_policy function.';
            END IF;
        END IF;
    END LOOP;
END
$$;
