/*
 * Governed statistics (src/governance/statsets.c): per product and per
 * row-policy specialisation (readers whose filters and masks compile to the
 * same expressions), statistics computed by meshpg's worker from a sample
 * of the rows that specialisation may see, masked columns on their masked
 * values.  The planner is served these instead of pg_statistic's for a
 * reader of that specialisation.  Derived data, like pg_statistic: a set
 * whose specialisation no reader has any more is dropped at the next
 * refresh, and one restored into another cluster is never served (its key
 * names objects by their OIDs) until refreshed.
 */
CREATE TABLE meshpg.cat_stat_set (
    id           bigserial PRIMARY KEY,
    product_id   bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    relid        regclass NOT NULL,
    spec_key     bigint NOT NULL,
    readers      integer NOT NULL,       -- roles of this specialisation at refresh
    filtered     boolean NOT NULL,       -- rows are filtered (else masks only)
    sample_rows  integer NOT NULL,       -- rows sampled from the table
    visible_rows integer NOT NULL,       -- of which this specialisation may see
    tuples       double precision NOT NULL,  -- estimated rows it may see
    computed_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    UNIQUE (relid, spec_key)
);
CREATE INDEX cat_stat_set_product_idx ON meshpg.cat_stat_set (product_id);

/*
 * One row per column of a set, in pg_statistic's shape: the slot arrays are
 * kept in their binary send format (bytea), as an anyarray column cannot be
 * created outside the system catalogs, and text would depend on DateStyle.
 */
CREATE TABLE meshpg.cat_stat_column (
    set_id      bigint NOT NULL REFERENCES meshpg.cat_stat_set (id) ON DELETE CASCADE,
    attnum      smallint NOT NULL,
    atttypid    oid NOT NULL,
    masked      boolean NOT NULL,
    stanullfrac real NOT NULL,
    stawidth    integer NOT NULL,
    stadistinct real NOT NULL,
    stakind     smallint[] NOT NULL,
    staop       oid[] NOT NULL,
    stacoll     oid[] NOT NULL,
    stanumbers1 real[],                 -- NULL where a slot has none
    stanumbers2 real[],
    stanumbers3 real[],
    stanumbers4 real[],
    stanumbers5 real[],
    stavalues1  bytea,
    stavalues2  bytea,
    stavalues3  bytea,
    stavalues4  bytea,
    stavalues5  bytea,
    PRIMARY KEY (set_id, attnum)
);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_stat_set', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_stat_set_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_stat_column', '');
REVOKE ALL ON meshpg.cat_stat_set, meshpg.cat_stat_column FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_stat_set_id_seq FROM PUBLIC;

/* What is kept, without the values: the governance team and DBAs read it. */
CREATE VIEW meshpg.statistic_sets AS
SELECT s.id, d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product, s.relid, s.spec_key, s.readers,
       s.filtered, s.sample_rows, s.visible_rows, s.tuples, s.computed_at,
       (SELECT pg_catalog.count(*) FROM meshpg.cat_stat_column c WHERE c.set_id OPERATOR(pg_catalog.=) s.id)::integer AS columns
  FROM meshpg.cat_stat_set s
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) s.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id;
REVOKE ALL ON meshpg.statistic_sets FROM PUBLIC;

/*
 * meshpg.refresh_statistics(product): computes the governed statistics of
 * a product now, for each of its specialisations (at most
 * meshpg.max_stat_specialisations), and drops the sets no reader has any
 * more.  The worker does it by itself after PostgreSQL analyses the
 * product; this is for the governance team and the domain team.
 */
CREATE FUNCTION meshpg.refresh_statistics(product text)
RETURNS integer
LANGUAGE C VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_refresh_statistics';
