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
