
/*
 * SLOs (issue 4): declarations, their history, status, metrics and
 * evaluation.  See doc/slo.md.
 *
 * cat_slo holds each declaration and the state of its last measurement
 * (what breach alerts and the read gate compare against); cat_slo_result
 * holds every measurement.  Both are written only by meshpg's functions and
 * its background worker.
 */
CREATE SEQUENCE meshpg.cat_slo_id_seq;
CREATE TABLE meshpg.cat_slo (
    id                bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_slo_id_seq'),
    product_id        bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    name              text NOT NULL,
    kind              text NOT NULL
                      CHECK (kind IN ('freshness', 'completeness', 'validity',
                                      'uniqueness', 'volume', 'custom')),
    spec              jsonb NOT NULL,
    compliance_window interval NOT NULL,
    severity          text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    schedule          interval,
    next_due          timestamptz,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- the last measurement that produced a value (errors leave these alone)
    last_value        numeric,
    last_met          boolean,
    last_at           timestamptz,
    last_breach       timestamptz,
    UNIQUE (product_id, name)
);
ALTER SEQUENCE meshpg.cat_slo_id_seq OWNED BY meshpg.cat_slo.id;
CREATE INDEX cat_slo_due_idx ON meshpg.cat_slo (next_due) WHERE schedule IS NOT NULL;

CREATE SEQUENCE meshpg.cat_slo_result_id_seq;
CREATE TABLE meshpg.cat_slo_result (
    id            bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_slo_result_id_seq'),
    slo_id        bigint NOT NULL REFERENCES meshpg.cat_slo (id) ON DELETE CASCADE,
    started_at    timestamptz NOT NULL,
    duration      interval NOT NULL,
    value         numeric,
    target        numeric,
    objective     text NOT NULL,
    met           boolean,            -- NULL: no measurement (see error)
    error         text,
    detail        jsonb NOT NULL DEFAULT '{}',
    trigger       text NOT NULL CHECK (trigger IN ('manual', 'scheduled')),
    scheduled_for timestamptz,
    CHECK ((trigger = 'scheduled') = (scheduled_for IS NOT NULL))
);
ALTER SEQUENCE meshpg.cat_slo_result_id_seq OWNED BY meshpg.cat_slo_result.id;
CREATE INDEX cat_slo_result_slo_idx ON meshpg.cat_slo_result (slo_id, started_at);
-- One result per scheduled run, whoever races to record it.
CREATE UNIQUE INDEX cat_slo_result_run_idx ON meshpg.cat_slo_result (slo_id, scheduled_for)
    WHERE scheduled_for IS NOT NULL;

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_slo', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_slo_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_slo_result', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_slo_result_id_seq', '');
REVOKE ALL ON meshpg.cat_slo, meshpg.cat_slo_result FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_slo_id_seq, meshpg.cat_slo_result_id_seq FROM PUBLIC;

-- Any change to the declarations or their state (restores included) drops
-- every backend's read-gate cache.
CREATE FUNCTION meshpg._slo_changed()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_slo_changed';
REVOKE ALL ON FUNCTION meshpg._slo_changed() FROM PUBLIC;
CREATE TRIGGER cat_slo_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_slo FOR EACH STATEMENT EXECUTE FUNCTION meshpg._slo_changed();

CREATE FUNCTION meshpg.declare_slo(
    product text,
    name text,
    kind text,
    spec jsonb,
    compliance_window interval DEFAULT '30 days',
    severity text DEFAULT 'warning',
    schedule interval DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_declare_slo';

CREATE FUNCTION meshpg.alter_slo(
    product text,
    name text,
    spec jsonb DEFAULT NULL,
    compliance_window interval DEFAULT NULL,
    severity text DEFAULT NULL,
    schedule interval DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_alter_slo';

CREATE FUNCTION meshpg.drop_slo(product text, name text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_drop_slo';

-- The spec as declare_slo would store it (descriptors compare through it).
CREATE FUNCTION meshpg._slo_canonical(product text, kind text, spec jsonb)
RETURNS jsonb
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_slo_canonical';

CREATE FUNCTION meshpg.evaluate(product text, sample_percent float8 DEFAULT NULL,
                                slos text[] DEFAULT NULL)
RETURNS TABLE (slo text, kind text, value numeric, target numeric, objective text,
               met boolean, error text, detail jsonb, started_at timestamptz,
               duration interval)
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_evaluate';

-- The last committed change meshpg saw on a product's relation, or NULL.
CREATE FUNCTION meshpg.last_change(product text)
RETURNS timestamptz
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_last_change';

-- Whether the current user may read the product (grant, domain, admin).
CREATE FUNCTION meshpg._may_read_product(relid regclass)
RETURNS boolean
LANGUAGE C STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_may_read_product';

/*
 * The domain team and the governance team.  Error messages of failed
 * measures are theirs only: a measure runs with the domain's rights, and a
 * message can quote a value that a consumer's masks would hide.
 */
CREATE FUNCTION meshpg._manages(owner regrole)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.pg_has_role($1, 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'))
$$;

-- Declarations are metadata: discoverable by everyone.
CREATE VIEW meshpg.slos AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       s.name,
       s.kind,
       s.spec,
       s.compliance_window,
       s.severity,
       s.schedule
  FROM meshpg.cat_slo s
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) s.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id;

/*
 * Measurements are data about the data: visible to those who may read the
 * product.  Attainment is the share of measured runs in the compliance
 * window that met the target; the error budget is what remains of the
 * 1 - spec.objective share of failing runs the window allows.
 */
CREATE VIEW meshpg.slo_results AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       s.name AS slo,
       s.kind,
       r.started_at,
       r.duration,
       r.value,
       r.target,
       r.objective,
       r.met,
       CASE WHEN r.error IS NULL OR meshpg._manages(d.owner) THEN r.error
            ELSE 'measurement failed' END AS error,
       r.detail,
       r.trigger,
       r.scheduled_for
  FROM meshpg.cat_slo_result r
  JOIN meshpg.cat_slo s ON s.id OPERATOR(pg_catalog.=) r.slo_id
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) s.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE meshpg._may_read_product(p.relid);

CREATE VIEW meshpg.slo_status AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       s.name AS slo,
       s.kind,
       s.severity,
       s.last_value AS value,
       lr.target,
       lr.objective,
       s.last_met AS met,
       s.last_at AS measured_at,
       w.runs,
       w.errors,
       pg_catalog.round(w.attainment, 6) AS attainment,
       (s.spec OPERATOR(pg_catalog.->>) 'objective')::numeric AS attainment_objective,
       pg_catalog.round(1 OPERATOR(pg_catalog.-)
             ((1 OPERATOR(pg_catalog.-) w.attainment)
              OPERATOR(pg_catalog./) NULLIF(1 OPERATOR(pg_catalog.-)
                  (s.spec OPERATOR(pg_catalog.->>) 'objective')::numeric, 0)), 6)
           AS error_budget_remaining,
       s.last_breach,
       CASE WHEN lr.error IS NULL OR meshpg._manages(d.owner) THEN lr.error
            ELSE 'measurement failed' END AS last_error,
       s.compliance_window,
       s.schedule,
       s.next_due
  FROM meshpg.cat_slo s
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) s.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
  LEFT JOIN LATERAL (
       SELECT r.target, r.objective, r.error
         FROM meshpg.cat_slo_result r
        WHERE r.slo_id OPERATOR(pg_catalog.=) s.id
        ORDER BY r.started_at DESC, r.id DESC
        LIMIT 1) lr ON true
  LEFT JOIN LATERAL (
       SELECT pg_catalog.count(*) AS runs,
              pg_catalog.count(*) FILTER (WHERE r.met IS NULL) AS errors,
              (pg_catalog.count(*) FILTER (WHERE r.met))::numeric
                  OPERATOR(pg_catalog./)
                  NULLIF(pg_catalog.count(*) FILTER (WHERE r.met IS NOT NULL), 0)
                  AS attainment
         FROM meshpg.cat_slo_result r
        WHERE r.slo_id OPERATOR(pg_catalog.=) s.id
          AND r.started_at OPERATOR(pg_catalog.>=)
              (pg_catalog.now() OPERATOR(pg_catalog.-) s.compliance_window)) w ON true
 WHERE meshpg._may_read_product(p.relid);

-- For postgres_exporter custom queries: one row per metric, labels as columns.
CREATE VIEW meshpg.slo_metrics AS
SELECT m.metric, st.product, st.slo, st.kind, st.severity, m.value
  FROM meshpg.slo_status st
 CROSS JOIN LATERAL (VALUES
       ('meshpg_slo_value', st.value::float8),
       ('meshpg_slo_target', st.target::float8),
       ('meshpg_slo_met', CASE WHEN st.met THEN 1.0 WHEN NOT st.met THEN 0.0 END),
       ('meshpg_slo_attainment', st.attainment::float8),
       ('meshpg_slo_error_budget_remaining', st.error_budget_remaining::float8),
       ('meshpg_slo_last_measured_age_seconds',
        pg_catalog.date_part('epoch', pg_catalog.now() OPERATOR(pg_catalog.-) st.measured_at)),
       ('meshpg_slo_errors', st.errors::float8)) AS m (metric, value);

GRANT SELECT ON meshpg.slos, meshpg.slo_results, meshpg.slo_status, meshpg.slo_metrics
    TO PUBLIC;

-- The scheduler's per-database tasks (src/worker): last run and last error.
-- Operational data about every database: superusers, or whom they grant.
CREATE FUNCTION meshpg.worker_tasks(
    OUT database name, OUT task text, OUT runs bigint, OUT failures bigint,
    OUT last_run timestamptz, OUT last_error text)
RETURNS SETOF record
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_worker_tasks';
REVOKE ALL ON FUNCTION meshpg.worker_tasks() FROM PUBLIC;
