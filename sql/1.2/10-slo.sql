
-- ---------------------------------------------------------------------------
-- SLOs: the counts of evaluate's one pass in one aggregate (src/slo/tally.c)
-- ---------------------------------------------------------------------------

-- meshpg._slo_tally(b1, ..., bn) returns {rows, rows where b1 is true, ...}:
-- one transition per row however many completeness and validity SLOs a
-- product has, where one count(*) FILTER (WHERE ...) each cost a call each.
-- Parallel safe, its int8[] state combined by adding.  An internal helper of
-- meshpg.evaluate (which falls back to the FILTER form without it); it
-- counts booleans and reads nothing, so it keeps PUBLIC's EXECUTE: the
-- domain owners that evaluation runs as must be able to call it.
CREATE FUNCTION meshpg._slo_tally_step(state bigint[], VARIADIC conditions "any")
RETURNS bigint[]
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_slo_tally_step';

CREATE FUNCTION meshpg._slo_tally_combine(bigint[], bigint[])
RETURNS bigint[]
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_slo_tally_combine';

CREATE AGGREGATE meshpg._slo_tally(VARIADIC "any") (
    SFUNC = meshpg._slo_tally_step,
    STYPE = bigint[],
    INITCOND = '{}',
    COMBINEFUNC = meshpg._slo_tally_combine,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE meshpg._slo_tally(VARIADIC "any") IS
    'Internal to meshpg.evaluate: {rows, rows where each argument is true}';
