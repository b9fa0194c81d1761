/*
 * Differential privacy (issue 20, item 3): the noise, the noisy aggregates
 * the planner puts in a reader's query, contribution bounding, the noise
 * interval, and the privacy budget's ledger.  doc/aggregate-policies.md,
 * "Differential privacy".
 */

-- Test only (superusers): n draws of the noise, for the property test.
CREATE FUNCTION meshpg.dp_noise_sample(mechanism text, epsilon double precision,
                                       sensitivity double precision, n integer)
RETURNS SETOF double precision
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mesh_dp_noise_sample';
REVOKE ALL ON FUNCTION meshpg.dp_noise_sample(text, double precision, double precision, integer) FROM PUBLIC;

-- Contribution bounding: the first k rows of each privacy unit, per execution.
CREATE FUNCTION meshpg.dp_admit(unit "any", k integer)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'mesh_dp_admit';

-- The noisy aggregates: their first argument is the spec the rewrite builds.
CREATE FUNCTION meshpg._dp_count_trans(internal, double precision[])
RETURNS internal LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'mesh_dp_count_trans';
CREATE FUNCTION meshpg._dp_count_nn_trans(internal, double precision[], "any")
RETURNS internal LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'mesh_dp_count_nn_trans';
CREATE FUNCTION meshpg._dp_sum_int_trans(internal, double precision[], bigint)
RETURNS internal LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'mesh_dp_sum_int_trans';
CREATE FUNCTION meshpg._dp_sum_int4_trans(internal, double precision[], integer)
RETURNS internal LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'mesh_dp_sum_int4_trans';
CREATE FUNCTION meshpg._dp_sum_float_trans(internal, double precision[], double precision)
RETURNS internal LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'mesh_dp_sum_float_trans';
CREATE FUNCTION meshpg._dp_count_final(internal)
RETURNS bigint LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'mesh_dp_count_final';
CREATE FUNCTION meshpg._dp_sum_int_final(internal)
RETURNS numeric LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'mesh_dp_sum_int_final';
CREATE FUNCTION meshpg._dp_sum_float_final(internal)
RETURNS double precision LANGUAGE C VOLATILE PARALLEL RESTRICTED
AS 'MODULE_PATHNAME', 'mesh_dp_sum_float_final';

CREATE AGGREGATE meshpg.dp_count(double precision[]) (
    SFUNC = meshpg._dp_count_trans, STYPE = internal,
    FINALFUNC = meshpg._dp_count_final, PARALLEL = RESTRICTED);
CREATE AGGREGATE meshpg.dp_count(double precision[], "any") (
    SFUNC = meshpg._dp_count_nn_trans, STYPE = internal,
    FINALFUNC = meshpg._dp_count_final, PARALLEL = RESTRICTED);
CREATE AGGREGATE meshpg.dp_sum_int(double precision[], bigint) (
    SFUNC = meshpg._dp_sum_int_trans, STYPE = internal,
    FINALFUNC = meshpg._dp_sum_int_final, PARALLEL = RESTRICTED);
CREATE AGGREGATE meshpg.dp_sum_int(double precision[], integer) (
    SFUNC = meshpg._dp_sum_int4_trans, STYPE = internal,
    FINALFUNC = meshpg._dp_sum_int_final, PARALLEL = RESTRICTED);
CREATE AGGREGATE meshpg.dp_sum_float(double precision[], double precision) (
    SFUNC = meshpg._dp_sum_float_trans, STYPE = internal,
    FINALFUNC = meshpg._dp_sum_float_final, PARALLEL = RESTRICTED);

-- Post-processing of noisy values (no data of their own).
CREATE FUNCTION meshpg.dp_avg(sum numeric, count bigint, lo double precision, hi double precision)
RETURNS numeric LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mesh_dp_avg';
CREATE FUNCTION meshpg.dp_avg_halfwidth(sum numeric, count bigint,
                                        sum_halfwidth double precision,
                                        count_halfwidth double precision)
RETURNS double precision LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mesh_dp_avg_halfwidth';

-- The 95% half-width of a noisy aggregate: meshpg.dp_interval(count(*)).
-- The rewrite replaces it; run as such it raises one fixed error, whatever
-- its argument, so it is leakproof (the aggregate-only checks let it wrap
-- an aggregate of a product's column).
CREATE FUNCTION meshpg.dp_interval(value anyelement)
RETURNS double precision LANGUAGE C VOLATILE LEAKPROOF
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mesh_dp_interval';

/*
 * The privacy budget's ledger: one row per query that spent, written by
 * the worker from shared memory (spends are taken outside the reader's
 * transaction, so a rollback does not give them back).
 */
CREATE TABLE meshpg.cat_privacy_ledger (
    reader      name NOT NULL,
    product_id  bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    policy_id   bigint NOT NULL,
    spent_at    timestamptz NOT NULL,
    epsilon     double precision NOT NULL CHECK (epsilon >= 0),
    delta       double precision NOT NULL CHECK (delta >= 0)
);
CREATE INDEX cat_privacy_ledger_reader_idx
    ON meshpg.cat_privacy_ledger (reader, product_id, spent_at);
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_privacy_ledger', '');
REVOKE ALL ON meshpg.cat_privacy_ledger FROM PUBLIC;

CREATE FUNCTION meshpg._privacy_pending(OUT reader oid, OUT product_id bigint,
                                        OUT policy_id bigint, OUT spent_at timestamptz,
                                        OUT epsilon double precision, OUT delta double precision)
RETURNS SETOF record LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mesh_dp_pending';
-- filters itself: a reader's own spends, a domain's products', all for the governance team

-- The worker's task, run now (superusers; tests): spends to the ledger.
CREATE FUNCTION meshpg._privacy_flush()
RETURNS void LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'mesh_dp_flush';
REVOKE ALL ON FUNCTION meshpg._privacy_flush() FROM PUBLIC;

/*
 * Who spent what: a reader sees its own spends, a domain its products',
 * the governance team all.  pending: not yet written to the ledger.
 */
CREATE VIEW meshpg.privacy_spends WITH (security_barrier) AS
SELECT s.reader, d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       s.policy_id, s.spent_at, s.epsilon, s.delta, s.pending
  FROM (SELECT l.reader, l.product_id, l.policy_id, l.spent_at, l.epsilon, l.delta,
               false AS pending
          FROM meshpg.cat_privacy_ledger l
        UNION ALL
        SELECT pg_catalog.pg_get_userbyid(q.reader), q.product_id, q.policy_id, q.spent_at,
               q.epsilon, q.delta, true
          FROM meshpg._privacy_pending() q) s
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) s.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE s.reader OPERATOR(pg_catalog.=) CURRENT_USER
    OR (d.owner IS NOT NULL AND pg_catalog.pg_has_role(d.owner, 'USAGE'))
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));
GRANT SELECT ON meshpg.privacy_spends TO PUBLIC;

/*
 * A differential-privacy policy on a product (a row of meshpg.cat_policy,
 * kind 'privacy', its options in mask_args).  budget_epsilon NULL: ten
 * queries' worth (10 * epsilon) per window.
 */
CREATE FUNCTION meshpg.create_privacy_policy(
    name text,
    product text,
    privacy_unit text,
    epsilon double precision,
    delta double precision DEFAULT 0,
    max_contributions integer DEFAULT 1,
    bounds jsonb DEFAULT '{}',
    budget_epsilon double precision DEFAULT NULL,
    budget_delta double precision DEFAULT 0,
    budget_window interval DEFAULT '1 day',
    exempt_roles regrole[] DEFAULT '{}',
    exempt_attributes jsonb DEFAULT '{}',
    exempt_purposes text[] DEFAULT '{}',
    applies_to_domain boolean DEFAULT false,
    description text DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_create_privacy_policy';

/*
 * Descriptors carry privacy policies too (kind 'privacy', the options as
 * args), applied with meshpg.create_privacy_policy.  This is the version of
 * sql/1.4/60-aggregate.sql with the privacy branch added: keep them in step.
 */
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
