/*
 * meshpg 1.3 -> 1.4.  Built by the Makefile from the parts in sql/1.4, one per
 * concern, in name order: edit the parts, not meshpg--1.3--1.4.sql.
 */

\echo Use "ALTER EXTENSION meshpg UPDATE TO '1.4'" to load this file. \quit
/* ------------------------------------------------------------------------
 * Citus, 1.4 (doc/citus.md): the SLO read gate on every node.
 * ------------------------------------------------------------------------ */

/*
 * The catalog sent to the workers carries the SLOs too, with the state the
 * coordinator last measured, so that meshpg.slo_gate refuses a breaching
 * product to a reader who connects to a worker directly, as on the
 * coordinator.  Only the coordinator schedules and measures them.
 */
CREATE OR REPLACE FUNCTION meshpg._citus_catalog_payload()
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'cat_domain', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]') FROM meshpg.cat_domain t),
        'cat_product', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]') FROM meshpg.cat_product t),
        'cat_column', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM meshpg.cat_column t),
        'cat_grant', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM meshpg.cat_grant t),
        'cat_tag', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]') FROM meshpg.cat_tag t),
        'cat_column_tag', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM meshpg.cat_column_tag t),
        'cat_attribute', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM meshpg.cat_attribute t),
        'cat_policy', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]') FROM meshpg.cat_policy t),
        'cat_secret', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM meshpg.cat_secret t),
        'cat_slo', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]') FROM meshpg.cat_slo t))
$$;

CREATE OR REPLACE FUNCTION meshpg._citus_receive_catalog(payload jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    is_coordinator boolean;
    unresolved bigint[];
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'only a superuser can replace the meshpg catalog'
            USING ERRCODE = '42501',
                  DETAIL = 'The Citus coordinator sends the catalog as the Citus extension owner.',
                  HINT = 'Change the catalog on the coordinator.';
    END IF;
    BEGIN
        EXECUTE 'SELECT pg_catalog.citus_is_coordinator()' INTO is_coordinator;
    EXCEPTION WHEN undefined_function THEN
        is_coordinator := true;
    END;
    IF is_coordinator THEN
        RAISE EXCEPTION 'the meshpg catalog of a Citus coordinator is its own'
            USING ERRCODE = '55000',
                  HINT = 'meshpg._citus_receive_catalog() runs on Citus workers only.';
    END IF;

    /*
     * The rows are the coordinator's, already checked and propagated there:
     * none of the catalog's triggers may run here.  Some open the product's
     * relation, which the same distributed transaction may hold locked on
     * another connection (ALTER TABLE ... ADD COLUMN sends the catalog while
     * Citus alters the shards): a deadlock.  The caches are invalidated at
     * the end, by one statement with the triggers back.
     */
    SET LOCAL session_replication_role = replica;

    -- the SLO state the read gate needs (sent from 1.4 on)
    DELETE FROM meshpg.cat_slo;
    DELETE FROM meshpg.cat_policy;
    DELETE FROM meshpg.cat_column_tag;
    DELETE FROM meshpg.cat_grant;
    DELETE FROM meshpg.cat_column;
    DELETE FROM meshpg.cat_product;
    DELETE FROM meshpg.cat_attribute;
    DELETE FROM meshpg.cat_tag;
    DELETE FROM meshpg.cat_domain;
    DELETE FROM meshpg.cat_secret;

    INSERT INTO meshpg.cat_secret
    SELECT * FROM jsonb_populate_recordset(NULL::meshpg.cat_secret, payload->'cat_secret');

    INSERT INTO meshpg.cat_domain
    SELECT * FROM jsonb_populate_recordset(NULL::meshpg.cat_domain,
        (SELECT coalesce(jsonb_agg(e), '[]') FROM jsonb_array_elements(payload->'cat_domain') e
          WHERE to_regrole(e->>'owner') IS NOT NULL AND to_regnamespace(e->>'nsp') IS NOT NULL));

    INSERT INTO meshpg.cat_tag
    SELECT * FROM jsonb_populate_recordset(NULL::meshpg.cat_tag, payload->'cat_tag');

    -- a product whose policies would not all resolve here is left out
    -- whole: those with a policy of their own, or a tag with a policy,
    -- that calls a function this node does not have.  Found once, not
    -- per product (with a policy per product, that was quadratic).
    WITH broken AS (
        SELECT (pol->>'product_id')::bigint AS product_id, (pol->>'tag_id')::bigint AS tag_id
          FROM jsonb_array_elements(payload->'cat_policy') pol
         WHERE EXISTS (SELECT 1 FROM jsonb_array_elements_text(pol->'depends_functions') f
                        WHERE to_regprocedure(f) IS NULL))
    SELECT coalesce(array_agg(DISTINCT pid), '{}') INTO unresolved
      FROM (SELECT product_id AS pid FROM broken WHERE product_id IS NOT NULL
            UNION
            SELECT (ct->>'product_id')::bigint
              FROM jsonb_array_elements(payload->'cat_column_tag') ct
              JOIN broken b ON b.tag_id = (ct->>'tag_id')::bigint) s;
    INSERT INTO meshpg.cat_product
    SELECT * FROM jsonb_populate_recordset(NULL::meshpg.cat_product,
        (SELECT coalesce(jsonb_agg(e - 'successor_id'), '[]') FROM jsonb_array_elements(payload->'cat_product') e
          WHERE to_regclass(e->>'relid') IS NOT NULL
            AND EXISTS (SELECT 1 FROM meshpg.cat_domain d WHERE d.id = (e->>'domain_id')::bigint)
            AND NOT (e->>'id')::bigint = ANY (unresolved)));
    UPDATE meshpg.cat_product p SET successor_id = (e->>'successor_id')::bigint
      FROM jsonb_array_elements(payload->'cat_product') e
     WHERE p.id = (e->>'id')::bigint AND e->>'successor_id' IS NOT NULL
       AND EXISTS (SELECT 1 FROM meshpg.cat_product s WHERE s.id = (e->>'successor_id')::bigint);

    INSERT INTO meshpg.cat_column
    SELECT c.* FROM jsonb_populate_recordset(NULL::meshpg.cat_column, payload->'cat_column') c
     WHERE EXISTS (SELECT 1 FROM meshpg.cat_product p WHERE p.id = c.product_id);

    INSERT INTO meshpg.cat_grant
    SELECT * FROM jsonb_populate_recordset(NULL::meshpg.cat_grant,
        (SELECT coalesce(jsonb_agg(e), '[]') FROM jsonb_array_elements(payload->'cat_grant') e
          WHERE to_regrole(e->>'grantee') IS NOT NULL
            AND EXISTS (SELECT 1 FROM meshpg.cat_product p WHERE p.id = (e->>'product_id')::bigint)));

    INSERT INTO meshpg.cat_column_tag
    SELECT c.* FROM jsonb_populate_recordset(NULL::meshpg.cat_column_tag, payload->'cat_column_tag') c
     WHERE EXISTS (SELECT 1 FROM meshpg.cat_product p WHERE p.id = c.product_id);

    INSERT INTO meshpg.cat_attribute
    SELECT * FROM jsonb_populate_recordset(NULL::meshpg.cat_attribute,
        (SELECT coalesce(jsonb_agg(e), '[]') FROM jsonb_array_elements(payload->'cat_attribute') e
          WHERE to_regrole(e->>'role') IS NOT NULL));

    -- an exempt role that does not exist here exempts no one here
    INSERT INTO meshpg.cat_policy
    SELECT * FROM jsonb_populate_recordset(NULL::meshpg.cat_policy,
        (SELECT coalesce(jsonb_agg(jsonb_set(jsonb_set(e, '{exempt_roles}',
                    (SELECT coalesce(jsonb_agg(r), '[]') FROM jsonb_array_elements_text(e->'exempt_roles') r
                      WHERE to_regrole(r) IS NOT NULL)), '{depends_functions}', '[]')), '[]')
           FROM jsonb_array_elements(payload->'cat_policy') e
          WHERE e->>'product_id' IS NULL
             OR EXISTS (SELECT 1 FROM meshpg.cat_product p WHERE p.id = (e->>'product_id')::bigint)));

    -- SLOs as the coordinator last measured them, for the read gate of
    -- readers connecting here (src/slo/gate.c): never scheduled here
    IF payload ? 'cat_slo' THEN
        INSERT INTO meshpg.cat_slo
        SELECT s.* FROM jsonb_populate_recordset(NULL::meshpg.cat_slo, payload->'cat_slo') s
         WHERE EXISTS (SELECT 1 FROM meshpg.cat_product p WHERE p.id = s.product_id);
        UPDATE meshpg.cat_slo SET schedule = NULL, next_due = NULL WHERE schedule IS NOT NULL;
    END IF;

    -- every backend of this node reloads the catalog (the statement trigger fires on no rows)
    SET LOCAL session_replication_role = origin;
    UPDATE meshpg.cat_domain SET id = id WHERE false;
END
$$;

/*
 * Sends the catalog (the SLOs with it) when a measurement changes whether
 * an SLO is met, or an SLO is dropped: what a worker's read gate decides
 * on (src/slo/gate.c).  A measurement that leaves every status as it was
 * sends nothing.  Nothing off a Citus coordinator.
 */
CREATE FUNCTION meshpg._citus_slo_changed()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_citus_slo_changed';
REVOKE ALL ON FUNCTION meshpg._citus_slo_changed() FROM PUBLIC;
CREATE TRIGGER cat_slo_citus_status AFTER UPDATE ON meshpg.cat_slo
    REFERENCING OLD TABLE AS old_slo NEW TABLE AS new_slo
    FOR EACH STATEMENT EXECUTE FUNCTION meshpg._citus_slo_changed();
CREATE TRIGGER cat_slo_citus_dropped AFTER DELETE OR TRUNCATE ON meshpg.cat_slo
    FOR EACH STATEMENT EXECUTE FUNCTION meshpg._citus_slo_changed();
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
/* ------------------------------------------------------------------------
 * Mesh events (doc/events.md): every change to the mesh emits one
 * CloudEvents 1.0 event in the transaction that makes it, written to the
 * outbox below, to the WAL as a transactional logical decoding message
 * (prefix 'meshpg') and as a NOTIFY meshpg_events carrying the id only.
 * The types are the kinds table mesh_event_types[] (src/events/types.c).
 * ------------------------------------------------------------------------ */

/*
 * The outbox, written by src/events/emit.c (columns mirrored in
 * meshpg/catalog/catalog.h) at each commit, ids in commit order, so that a
 * consumer that passes the last id it handled never misses an event.
 * domain_id and product_id are found from the subject when the
 * event is written (no foreign key: an event outlives what it reports, a
 * dropped domain's last event included); role is the role the event
 * concerns (a grantee, a consumer, a requester, the role an attribute
 * describes), as a name, so that pg_dump carries the row even after the
 * role is dropped.  visibility names the catalog rule that decides who may
 * read the event (meshpg.events).
 */
CREATE SEQUENCE meshpg.cat_event_id_seq;
CREATE TABLE meshpg.cat_event (
    id         bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_event_id_seq'),
    type       text NOT NULL,
    subject    text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}' CHECK (pg_catalog.jsonb_typeof(data) OPERATOR(pg_catalog.=) 'object'),
    time       timestamptz NOT NULL DEFAULT pg_catalog.now(),
    visibility text NOT NULL
               CHECK (visibility IN ('catalog', 'grant', 'role', 'reader', 'domain', 'admin')),
    domain_id  bigint,
    product_id bigint,
    role       text
);
ALTER SEQUENCE meshpg.cat_event_id_seq OWNED BY meshpg.cat_event.id;
-- the worker's pruning (src/events/prune.c) finds the old events by time
CREATE INDEX cat_event_time_idx ON meshpg.cat_event (time);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_event', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_event_id_seq', '');
REVOKE ALL ON meshpg.cat_event FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_event_id_seq FROM PUBLIC;

/* The CloudEvents source of this database: /meshpg/<system id>/<database>. */
CREATE FUNCTION meshpg._event_source()
RETURNS text
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_event_source';

/*
 * An outbox row as a CloudEvents 1.0 JSON document: the one place the
 * format is written (the outbox views and the logical decoding message
 * both use it).
 */
CREATE FUNCTION meshpg._cloudevent(e meshpg.cat_event)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT pg_catalog.jsonb_build_object(
    'specversion', '1.0',
    'id', e.id::text,
    'source', meshpg._event_source(),
    'type', e.type,
    'subject', e.subject,
    'time', pg_catalog.to_char(e.time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'datacontenttype', 'application/json',
    'data', e.data)
$$;

/* Emitting, for meshpg's SQL and PL/pgSQL code (C calls mesh_event_emit). */
CREATE FUNCTION meshpg._emit_event(type text, subject text, data jsonb)
RETURNS void
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_emit_event';
REVOKE ALL ON FUNCTION meshpg._emit_event(text, text, jsonb) FROM PUBLIC;

/* The kinds table of event types, as src/events/types.c has it. */
CREATE FUNCTION meshpg._event_types()
RETURNS TABLE (type text, visibility text, description text)
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_event_types';

CREATE VIEW meshpg.event_types AS
SELECT t.type, t.visibility, t.description FROM meshpg._event_types() t;

/*
 * The events the caller may see (an event is written when its transaction
 * commits: src/events/emit.c).  Each visibility is the rule of the view
 * that shows what the event reports:
 *   catalog  metadata (meshpg.domains, products, contracts, tags, policies):
 *            discoverable by everyone;
 *   grant    as meshpg.grants: the role concerned, the owning domain's team,
 *            the governance team;
 *   role     as meshpg.attributes: the role described, the governance team;
 *   reader   as meshpg.slo_results: who may read the product, the owning
 *            domain's team and the governance team (these two also once
 *            the product is gone);
 *   domain   the owning domain's team and the governance team;
 *   admin    the governance team.
 * A security barrier: the caller's own conditions (a leaky function) run
 * only on the events it may see.  The view runs with the catalog owner's
 * rights on the tables; pg_has_role and meshpg._may_read_product ask about
 * the caller.
 */
CREATE VIEW meshpg.events WITH (security_barrier) AS
SELECT e.id, e.type, e.subject, e.time, e.data,
       meshpg._cloudevent(e) AS event
  FROM meshpg.cat_event e
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) e.domain_id
  LEFT JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) e.product_id
 WHERE (CASE e.visibility
         WHEN 'catalog' THEN true
         WHEN 'grant' THEN
              COALESCE(meshpg._manages(d.owner), false)
           OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                       WHERE r.rolname OPERATOR(pg_catalog.=) e.role
                         AND pg_catalog.pg_has_role(r.oid, 'USAGE'))
         WHEN 'role' THEN
              EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                       WHERE r.rolname OPERATOR(pg_catalog.=) e.role
                         AND pg_catalog.pg_has_role(r.oid, 'USAGE'))
         WHEN 'reader' THEN
              COALESCE(meshpg._may_read_product(p.relid), false)
           OR COALESCE(meshpg._manages(d.owner), false)
         WHEN 'domain' THEN
              COALESCE(meshpg._manages(d.owner), false)
         ELSE false
       END
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE')));

GRANT SELECT ON meshpg.events, meshpg.event_types TO PUBLIC;

/*
 * The cursor: the events after last_id the caller may see, oldest first,
 * at most max.  A consumer keeps the last id it handled and passes it back.
 */
CREATE FUNCTION meshpg.events_since(last_id bigint, max integer DEFAULT 100)
RETURNS TABLE (id bigint, type text, subject text, "time" timestamptz, data jsonb, event jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF last_id IS NULL OR last_id < 0 THEN
        RAISE EXCEPTION 'last_id must be 0 or the id of an event, not %', coalesce(last_id::text, 'null')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass 0 to read from the oldest event kept, then the id of the last event you handled.';
    END IF;
    IF max IS NULL OR max < 1 OR max > 10000 THEN
        RAISE EXCEPTION 'max must be between 1 and 10000, not %', coalesce(max::text, 'null')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Read in batches: call again with the id of the last event returned.';
    END IF;
    RETURN QUERY
        SELECT e.id, e.type, e.subject, e.time, e.data, e.event
          FROM meshpg.events e
         WHERE e.id OPERATOR(pg_catalog.>) last_id
         ORDER BY e.id
         LIMIT max;
END
$$;

/*
 * Descriptors: meshpg.apply emits meshpg.descriptor.applied for each
 * product whose document changed something, after the changes themselves
 * (each emitted its own event).  An action belongs to the product its
 * object names (the product, one of its columns) or, for a policy, to the
 * product in its detail.
 */
CREATE FUNCTION meshpg._descriptor_applied(product text, actions jsonb)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_descriptor_applied';

CREATE OR REPLACE FUNCTION meshpg.apply(
    descriptor text,
    strict boolean DEFAULT true,
    prune boolean DEFAULT false)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    docs jsonb := meshpg._descriptor_parse(descriptor, strict);
    done jsonb := '[]';
    r record;
    acts jsonb;
BEGIN
    FOR r IN SELECT * FROM meshpg._converge(docs, true, strict, prune) c LOOP
        action := r.action;
        object := r.object;
        detail := r.detail;
        RETURN NEXT;
        done := done OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_array(
            pg_catalog.jsonb_build_object('action', r.action, 'object', r.object, 'detail', r.detail));
    END LOOP;
    FOR r IN SELECT e.value->>'id' AS product
               FROM pg_catalog.jsonb_array_elements(docs) WITH ORDINALITY AS e(value, i)
              ORDER BY e.i
    LOOP
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('action', a->>'action', 'object', a->>'object'))
          INTO acts
          FROM pg_catalog.jsonb_array_elements(done) a
         WHERE a->>'object' OPERATOR(pg_catalog.=) r.product
            OR pg_catalog.starts_with(a->>'object', r.product OPERATOR(pg_catalog.||) '.')
            OR (a->>'action' LIKE '% policy' AND a->>'detail' OPERATOR(pg_catalog.=) r.product);
        IF acts IS NOT NULL AND EXISTS (SELECT 1 FROM meshpg.products p
                                          WHERE p.product OPERATOR(pg_catalog.=) r.product) THEN
            PERFORM meshpg._descriptor_applied(r.product, acts);
        END IF;
    END LOOP;
END
$$;

/*
 * Grants past their expiry, as announced (meshpg.grant.expired) by the
 * worker's task grant_expiry: once per expiry; renewed and expired again,
 * announced again.  Rows go with their grant.
 */
CREATE TABLE meshpg.cat_grant_expired (
    product_id bigint NOT NULL,
    grantee    regrole NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (product_id, grantee),
    FOREIGN KEY (product_id, grantee) REFERENCES meshpg.cat_grant (product_id, grantee) ON DELETE CASCADE
);
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_grant_expired', '');
REVOKE ALL ON meshpg.cat_grant_expired FROM PUBLIC;

CREATE FUNCTION meshpg._grant_expiry()
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_grant_expiry';
REVOKE ALL ON FUNCTION meshpg._grant_expiry() FROM PUBLIC;

/*
 * The prefix 'meshpg' of logical decoding messages is meshpg's: a consumer
 * reading the events from a decoding client (wal2json, Debezium) trusts a
 * message of that prefix to be an event of the mesh.  PostgreSQL lets any
 * role write a message of any prefix with pg_logical_emit_message, so any
 * role could forge one (a product "retired", a grant "given").  In a
 * database with meshpg, only superusers and roles granted it may emit
 * messages (doc/events.md: grant it back to a role that needs it).
 */
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, bytea) FROM PUBLIC;
/* ------------------------------------------------------------------------
 * Output ports (doc/ports.md): one consumer's governed change stream of one
 * product, decoded by meshpg's own logical decoding plugin (slot plugin
 * "meshpg", src/ports/) on a slot meshpg creates and owns.
 *
 * The plugin runs under a historic snapshot, which can read only catalog
 * tables.  So the consumer's rules are compiled when the port is created,
 * and again whenever a policy, tag, attribute, grant, product or the
 * product's table changes (the triggers below, in the same transaction), and
 * stored in the port's row; cat_port is a user_catalog_table, so the plugin
 * reads, for each change, the rules that were in force when that change
 * committed.  The hash mask's key is read the same way (cat_secret becomes
 * a user_catalog_table too).
 * ------------------------------------------------------------------------ */
CREATE SEQUENCE meshpg.cat_port_id_seq;
CREATE TABLE meshpg.cat_port (
    id          bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_port_id_seq'),
    name        text NOT NULL UNIQUE,
    product_id  bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    relid       regclass NOT NULL,
    consumer    regrole NOT NULL,
    slot_name   text NOT NULL UNIQUE,
    state       text NOT NULL DEFAULT 'active'
                CHECK (state IN ('active', 'suspended', 'ended')),
    reason      text,
    -- the compiled rules (src/ports/compile.c), valid only where compiled_in
    -- says (system identifier and database): a restored copy recompiles
    rules       text,
    compiled_in text,
    compiled_at timestamptz,
    grant_expires_at timestamptz,
    product_name text NOT NULL,
    product_version text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK (name ~ '^[a-z][a-z0-9_]{0,39}$')
) WITH (user_catalog_table = true);
ALTER SEQUENCE meshpg.cat_port_id_seq OWNED BY meshpg.cat_port.id;
-- a port's stream tells its consumer what changed in its row (suspended,
-- resumed, ended): the plugin compares the old row with the new one
ALTER TABLE meshpg.cat_port REPLICA IDENTITY FULL;
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_port', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_port_id_seq', '');
REVOKE ALL ON meshpg.cat_port FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_port_id_seq FROM PUBLIC;
CREATE TRIGGER cat_port_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON meshpg.cat_port FOR EACH STATEMENT EXECUTE FUNCTION meshpg._catalog_changed();

-- the hash mask's key, read by the plugin under its historic snapshot
ALTER TABLE meshpg.cat_secret SET (user_catalog_table = true);

/* Ports follow every change that can change what the consumer sees. */
CREATE FUNCTION meshpg._ports_recompile()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_ports_recompile_trigger';
REVOKE ALL ON FUNCTION meshpg._ports_recompile() FROM PUBLIC;

CREATE TRIGGER cat_policy_ports AFTER INSERT OR UPDATE OR DELETE
    ON meshpg.cat_policy FOR EACH STATEMENT EXECUTE FUNCTION meshpg._ports_recompile();
CREATE TRIGGER cat_column_tag_ports AFTER INSERT OR UPDATE OR DELETE
    ON meshpg.cat_column_tag FOR EACH STATEMENT EXECUTE FUNCTION meshpg._ports_recompile();
CREATE TRIGGER cat_attribute_ports AFTER INSERT OR UPDATE OR DELETE
    ON meshpg.cat_attribute FOR EACH STATEMENT EXECUTE FUNCTION meshpg._ports_recompile();
CREATE TRIGGER cat_grant_ports AFTER INSERT OR UPDATE OR DELETE
    ON meshpg.cat_grant FOR EACH STATEMENT EXECUTE FUNCTION meshpg._ports_recompile();
CREATE TRIGGER cat_product_ports AFTER UPDATE
    ON meshpg.cat_product FOR EACH STATEMENT EXECUTE FUNCTION meshpg._ports_recompile();

CREATE FUNCTION meshpg._ports_ddl()
RETURNS event_trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_ports_ddl';
REVOKE ALL ON FUNCTION meshpg._ports_ddl() FROM PUBLIC;
CREATE EVENT TRIGGER meshpg_ports_ddl ON ddl_command_end
    WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION meshpg._ports_ddl();

/* The surface */
CREATE FUNCTION meshpg.create_output_port(
    product text,
    consumer regrole,
    name text)
RETURNS text
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_create_output_port';

CREATE FUNCTION meshpg.drop_output_port(name text)
RETURNS void
LANGUAGE C STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_drop_output_port';

CREATE FUNCTION meshpg.resume_output_port(name text)
RETURNS text
LANGUAGE C STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_resume_output_port';

CREATE FUNCTION meshpg.port_recreate_slots()
RETURNS SETOF text
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_port_recreate_slots';
REVOKE ALL ON FUNCTION meshpg.port_recreate_slots() FROM PUBLIC;

CREATE FUNCTION meshpg.port_changes(port text, upto integer DEFAULT NULL)
RETURNS TABLE (lsn pg_lsn, xid xid, change text)
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_port_changes';

CREATE FUNCTION meshpg.port_peek(port text, upto integer DEFAULT NULL)
RETURNS TABLE (lsn pg_lsn, xid xid, change text)
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_port_peek';

-- Who streams what is seen as grants are (meshpg.grants): by the consumer,
-- the owning domain's team and the governance team.  The rules are never
-- shown.
CREATE VIEW meshpg.output_ports AS
SELECT p.name, p.product_name AS product, p.consumer, p.state, p.reason, p.slot_name,
       s.slot_name IS NOT NULL AS slot_exists,
       CASE WHEN s.restart_lsn IS NOT NULL
            THEN pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint
       END AS lag_bytes,
       p.compiled_at, p.created_by, p.created_at
  FROM meshpg.cat_port p
  LEFT JOIN meshpg.cat_product pr ON pr.id OPERATOR(pg_catalog.=) p.product_id
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) pr.domain_id
  LEFT JOIN pg_catalog.pg_replication_slots s
         ON s.slot_name OPERATOR(pg_catalog.=) p.slot_name
        AND s.database OPERATOR(pg_catalog.=) pg_catalog.current_database()
 WHERE pg_catalog.pg_has_role(d.owner, 'USAGE')
    OR pg_catalog.pg_has_role(p.consumer, 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));
GRANT SELECT ON meshpg.output_ports TO PUBLIC;

CREATE FUNCTION meshpg.port_status(port text DEFAULT NULL)
RETURNS SETOF meshpg.output_ports
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT * FROM meshpg.output_ports o WHERE $1 IS NULL OR o.name OPERATOR(pg_catalog.=) $1 ORDER BY o.name
$$;

/* A port's row gone (dropped, or its product dropped): its slot goes too,
 * unless someone streams it right now (the worker drops it later). */
CREATE FUNCTION meshpg._port_deleted()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.pg_drop_replication_slot(s.slot_name)
       FROM pg_catalog.pg_replication_slots s
      WHERE s.slot_name = OLD.slot_name AND NOT s.active
        AND s.database = pg_catalog.current_database();
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION meshpg._port_deleted() FROM PUBLIC;
CREATE TRIGGER cat_port_deleted AFTER DELETE ON meshpg.cat_port
    FOR EACH ROW EXECUTE FUNCTION meshpg._port_deleted();
/* ------------------------------------------------------------------------
 * Access requests: a consumer asks for a product with a purpose, a
 * justification and a duration; the product's domain team approves (the
 * grant is made by grant_access's own code, src/registry/access.c) or
 * denies; a product's auto-approval rules may approve at once; a request
 * nobody answers expires (meshpg.access_request_ttl).  Every step is kept
 * with who took it and when, visible to the requester, the domain team and
 * the governance team.  src/registry/requests.c.
 * ------------------------------------------------------------------------ */
CREATE SEQUENCE meshpg.cat_access_request_id_seq;
CREATE TABLE meshpg.cat_access_request (
    id            bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_access_request_id_seq'),
    product_id    bigint NOT NULL REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    requester     regrole NOT NULL,
    purpose       text NOT NULL,
    justification text NOT NULL,
    duration      interval NOT NULL,
    state         text NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
    requested_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    answer_by     timestamptz NOT NULL,     -- expires unanswered then
    decided_by    text,
    decided_at    timestamptz,
    reason        text,                     -- of a denial
    grant_purpose text,                     -- what the approval granted
    grant_expires timestamptz
);
ALTER SEQUENCE meshpg.cat_access_request_id_seq OWNED BY meshpg.cat_access_request.id;
-- one open request per product and requester
CREATE UNIQUE INDEX cat_access_request_pending_idx ON meshpg.cat_access_request (product_id, requester)
    WHERE state = 'pending';
CREATE INDEX cat_access_request_answer_by_idx ON meshpg.cat_access_request (answer_by)
    WHERE state = 'pending';

CREATE SEQUENCE meshpg.cat_access_request_step_id_seq;
CREATE TABLE meshpg.cat_access_request_step (
    id         bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_access_request_step_id_seq'),
    request_id bigint NOT NULL REFERENCES meshpg.cat_access_request (id) ON DELETE CASCADE,
    step       text NOT NULL CHECK (step IN ('requested', 'approved', 'denied', 'expired', 'cancelled')),
    actor      text NOT NULL,               -- a role, or "auto-approval rule N", or "meshpg"
    at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    detail     jsonb NOT NULL DEFAULT '{}'
);
ALTER SEQUENCE meshpg.cat_access_request_step_id_seq OWNED BY meshpg.cat_access_request_step.id;
CREATE INDEX cat_access_request_step_request_idx ON meshpg.cat_access_request_step (request_id);

-- A product's auto-approval rules: a jsonb array of rules (see doc/self-serve.md).
CREATE TABLE meshpg.cat_auto_approval (
    product_id bigint PRIMARY KEY REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    rules      jsonb NOT NULL CHECK (pg_catalog.jsonb_typeof(rules) OPERATOR(pg_catalog.=) 'array'),
    set_by     text NOT NULL,
    set_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_access_request', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_access_request_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_access_request_step', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_access_request_step_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_auto_approval', '');
REVOKE ALL ON meshpg.cat_access_request, meshpg.cat_access_request_step,
    meshpg.cat_auto_approval FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_access_request_id_seq,
    meshpg.cat_access_request_step_id_seq FROM PUBLIC;

/*
 * The rules, checked and put in canonical form: an array of objects with
 * "purposes" (array of text), "attributes" (object of key to array of
 * values) and "max_duration" (interval text); each rule names purposes or
 * attributes.  Raised errors carry SQLSTATE and hint.
 */
CREATE FUNCTION meshpg._auto_approval_rules(rules jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r jsonb;
    n integer := 0;
    k text;
    v jsonb;
    out jsonb := '[]';
    one jsonb;
BEGIN
    IF rules IS NULL OR rules = 'null'::jsonb THEN
        RETURN '[]';
    END IF;
    IF jsonb_typeof(rules) = 'object' THEN
        rules := jsonb_build_array(rules);
    END IF;
    IF jsonb_typeof(rules) <> 'array' THEN
        RAISE EXCEPTION 'auto-approval rules must be a JSON array of rules'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example [{"purposes": ["analytics"], "max_duration": "30 days"}].';
    END IF;
    FOR r IN SELECT e FROM jsonb_array_elements(rules) e LOOP
        n := n + 1;
        IF jsonb_typeof(r) <> 'object' THEN
            RAISE EXCEPTION 'auto-approval rule % is not an object', n
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A rule is an object with "purposes", "attributes" and "max_duration".';
        END IF;
        FOR k IN SELECT jsonb_object_keys(r) LOOP
            IF k NOT IN ('purposes', 'attributes', 'max_duration') THEN
                RAISE EXCEPTION 'auto-approval rule % has an unknown key "%"', n, k
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'A rule takes "purposes", "attributes" and "max_duration".';
            END IF;
        END LOOP;
        IF NOT (r ? 'purposes' OR r ? 'attributes') THEN
            RAISE EXCEPTION 'auto-approval rule % names neither purposes nor attributes', n
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'A rule that names nothing would approve every request; grant the access instead.';
        END IF;
        one := '{}';
        IF r ? 'purposes' THEN
            IF jsonb_typeof(r->'purposes') <> 'array' OR jsonb_array_length(r->'purposes') = 0
               OR EXISTS (SELECT 1 FROM jsonb_array_elements(r->'purposes') p
                           WHERE jsonb_typeof(p) <> 'string' OR p #>> '{}' = '') THEN
                RAISE EXCEPTION 'auto-approval rule %: "purposes" must be a non-empty array of non-empty strings', n
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'For example "purposes": ["analytics", "fraud"].';
            END IF;
            one := one || jsonb_build_object('purposes',
                (SELECT jsonb_agg(DISTINCT p ORDER BY p) FROM jsonb_array_elements(r->'purposes') p));
        END IF;
        IF r ? 'attributes' THEN
            IF jsonb_typeof(r->'attributes') <> 'object' OR r->'attributes' = '{}' THEN
                RAISE EXCEPTION 'auto-approval rule %: "attributes" must be a non-empty object', n
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'For example "attributes": {"clearance": ["pii"]}: the requester needs one of the values of each key.';
            END IF;
            FOR k, v IN SELECT * FROM jsonb_each(r->'attributes') LOOP
                IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0
                   OR EXISTS (SELECT 1 FROM jsonb_array_elements(v) x WHERE jsonb_typeof(x) <> 'string') THEN
                    RAISE EXCEPTION 'auto-approval rule %: attribute "%" must list its values as a non-empty array of strings', n, k
                        USING ERRCODE = 'invalid_parameter_value',
                              HINT = 'For example "attributes": {"clearance": ["pii"]}.';
                END IF;
            END LOOP;
            one := one || jsonb_build_object('attributes', r->'attributes');
        END IF;
        IF r ? 'max_duration' THEN
            BEGIN
                IF jsonb_typeof(r->'max_duration') <> 'string'
                   OR (r->>'max_duration')::interval <= interval '0' THEN
                    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value';
                END IF;
            EXCEPTION WHEN invalid_parameter_value OR invalid_datetime_format OR datetime_field_overflow
                           OR interval_field_overflow THEN
                RAISE EXCEPTION 'auto-approval rule %: "max_duration" must be a positive interval', n
                    USING ERRCODE = 'invalid_parameter_value',
                          HINT = 'For example "max_duration": "30 days".';
            END;
            one := one || jsonb_build_object('max_duration', r->'max_duration');
        END IF;
        out := out || jsonb_build_array(one);
    END LOOP;
    RETURN out;
END
$$;

CREATE FUNCTION meshpg.set_auto_approval(product text, rules jsonb)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_set_auto_approval';

-- The values of an attribute for a role, as policies see them (private).
CREATE FUNCTION meshpg._role_attribute(role regrole, key text)
RETURNS text[]
LANGUAGE C STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_role_attribute';
REVOKE ALL ON FUNCTION meshpg._role_attribute(regrole, text) FROM PUBLIC;

CREATE FUNCTION meshpg.request_access(
    product text,
    purpose text,
    justification text,
    duration interval)
RETURNS bigint
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_request_access';

CREATE FUNCTION meshpg.approve_request(
    request bigint,
    expires timestamptz DEFAULT NULL,
    duration interval DEFAULT NULL,
    purpose text DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_approve_request';

CREATE FUNCTION meshpg.deny_request(request bigint, reason text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_deny_request';

CREATE FUNCTION meshpg.cancel_request(request bigint)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_cancel_request';

-- Expires the requests nobody answered in time (the worker does it too).
CREATE FUNCTION meshpg.expire_access_requests()
RETURNS bigint
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_expire_access_requests';
REVOKE ALL ON FUNCTION meshpg.expire_access_requests() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION meshpg.expire_access_requests() TO meshpg_admin;

/*
 * Requests are visible to the requester (and its members), the owning
 * domain and the governance team; nobody else learns who asked for what or
 * why.  A pending request past its answer_by shows as expired before the
 * worker records it.
 */
CREATE VIEW meshpg.access_requests WITH (security_barrier) AS
SELECT r.id,
       d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       r.requester::text AS requester,
       r.purpose,
       r.justification,
       r.duration,
       CASE WHEN r.state OPERATOR(pg_catalog.=) 'pending'
                 AND r.answer_by OPERATOR(pg_catalog.<=) pg_catalog.now()
            THEN 'expired' ELSE r.state END AS state,
       r.requested_at,
       r.answer_by,
       r.decided_by,
       r.decided_at,
       r.reason,
       r.grant_purpose,
       r.grant_expires,
       d.owner::text AS domain_owner
  FROM meshpg.cat_access_request r
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) r.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE pg_catalog.pg_has_role(r.requester, 'USAGE')
    OR pg_catalog.pg_has_role(d.owner, 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
                WHERE a.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(a.oid, 'USAGE'));

-- A consumer's own requests.
CREATE VIEW meshpg.my_access_requests WITH (security_barrier) AS
SELECT r.id, r.product, r.purpose, r.justification, r.duration, r.state, r.requested_at,
       r.answer_by, r.decided_by, r.decided_at, r.reason, r.grant_purpose, r.grant_expires
  FROM meshpg.access_requests r
 WHERE pg_catalog.pg_has_role(r.requester::regrole, 'USAGE');

-- A domain team's queue: the open requests for its products (all, for the governance team).
CREATE VIEW meshpg.access_request_queue WITH (security_barrier) AS
SELECT r.id, r.product, r.requester, r.purpose, r.justification, r.duration,
       r.requested_at, r.answer_by
  FROM meshpg.access_requests r
 WHERE r.state OPERATOR(pg_catalog.=) 'pending'
   AND (pg_catalog.pg_has_role(r.domain_owner::regrole, 'USAGE')
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
                    WHERE a.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                      AND pg_catalog.pg_has_role(a.oid, 'USAGE')));

-- Every step of the requests the caller may see.
CREATE VIEW meshpg.access_request_steps WITH (security_barrier) AS
SELECT s.request_id, r.product, r.requester, s.step, s.actor, s.at, s.detail
  FROM meshpg.cat_access_request_step s
  JOIN meshpg.access_requests r ON r.id OPERATOR(pg_catalog.=) s.request_id;

-- Auto-approval rules are part of the product's card: discoverable.
CREATE VIEW meshpg.auto_approval_rules AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       a.rules, a.set_by, a.set_at
  FROM meshpg.cat_auto_approval a
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) a.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id;

GRANT SELECT ON meshpg.access_requests, meshpg.my_access_requests, meshpg.access_request_queue,
    meshpg.access_request_steps, meshpg.auto_approval_rules TO PUBLIC;

/*
 * Descriptors carry a product's auto-approval rules (accessRequests:
 * autoApproval: a list of {purposes, attributes, maxDuration}).  The export
 * gains the key; apply sets the rules when they differ (absent: left as
 * they are, like roles; an empty list removes them).  This replaces the
 * 1.3 _export_doc and the 1.1 _converge with one key and one step more.
 */
CREATE OR REPLACE FUNCTION meshpg._export_doc(ref text)
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
                                   WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                   WHEN 'f' THEN 'foreign table' END,
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
                 FROM meshpg.cat_slo s WHERE s.product_id = p.id),
           'accessRequests', (
               SELECT pg_catalog.jsonb_build_object('autoApproval', pg_catalog.jsonb_agg(
                          pg_catalog.jsonb_build_object(
                              'purposes', x.rule->'purposes',
                              'attributes', x.rule->'attributes',
                              'maxDuration', x.rule->'max_duration') ORDER BY x.n))
                 FROM meshpg.cat_auto_approval a,
                      pg_catalog.jsonb_array_elements(a.rules) WITH ORDINALITY AS x(rule, n)
                WHERE a.product_id = p.id
               HAVING pg_catalog.count(*) > 0)))
  FROM meshpg.cat_product p
  JOIN meshpg.cat_domain d ON d.id = p.domain_id
  JOIN pg_catalog.pg_class r ON r.oid = p.relid
 WHERE d.name = pg_catalog.split_part(ref, '.', 1)
   AND p.name = pg_catalog.split_part(ref, '.', 2)
$$;

CREATE FUNCTION meshpg._dsc_access_requests(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text := doc->>'id';
    want jsonb;
    have jsonb;
BEGIN
    IF NOT doc ? 'accessRequests' THEN
        RETURN;
    END IF;
    want := meshpg._auto_approval_rules(COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                   'purposes', e->'purposes', 'attributes', e->'attributes',
                   'max_duration', e->'maxDuration')) ORDER BY n)
          FROM pg_catalog.jsonb_array_elements(COALESCE(doc->'accessRequests'->'autoApproval', '[]'))
               WITH ORDINALITY AS x(e, n)), '[]'));
    have := meshpg._auto_approval_rules(COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                   'purposes', e->'purposes', 'attributes', e->'attributes',
                   'max_duration', e->'maxDuration')) ORDER BY n)
          FROM pg_catalog.jsonb_array_elements(COALESCE(cur->'accessRequests'->'autoApproval', '[]'))
               WITH ORDINALITY AS x(e, n)), '[]'));
    IF want = have THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT 'set auto-approval'::text, ref, want::text;
    IF do_apply THEN
        PERFORM meshpg.set_auto_approval(ref, want);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION meshpg._converge(docs jsonb, do_apply boolean, strict boolean, prune boolean)
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
        RETURN QUERY SELECT * FROM meshpg._dsc_access_requests(d.doc, cur, label, do_apply, strict);
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
/* ------------------------------------------------------------------------
 * Point-in-time governance: every version of every row of the governance
 * catalog (grants, column tags, tags, attributes, policies with their
 * exemptions), with the interval in which it was in force and who made and
 * ended it.  explain_access(at => t) compiles the rows in force at t
 * (src/policy/asof.c); meshpg.access_history_policy joins each read of the
 * access history to the state that governed it.
 *
 * Kept by row triggers on the catalog tables, so every write path is seen:
 * the SQL functions, descriptors, the Citus catalog sync, a superuser's
 * direct write.  Rows are kept as jsonb of the catalog row, roles by name,
 * so that they survive pg_dump and restore; the history table is itself in
 * the dump, and a restore's COPY into a catalog table records nothing
 * (meshpg._governance_actor), so that restoring never rewrites history with
 * restore-time rows.
 * ------------------------------------------------------------------------ */
CREATE SEQUENCE meshpg.cat_governance_history_id_seq;
CREATE TABLE meshpg.cat_governance_history (
    id         bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_governance_history_id_seq'),
    catalog    text NOT NULL CHECK (catalog IN ('grant', 'column_tag', 'tag', 'attribute', 'policy')),
    key        jsonb NOT NULL,      -- the catalog row's primary key
    "row"      jsonb NOT NULL,      -- the whole catalog row
    valid      tstzrange NOT NULL,  -- [made, ended): upper unbounded while in force
    changed_by text NOT NULL,
    ended_by   text
);
ALTER SEQUENCE meshpg.cat_governance_history_id_seq OWNED BY meshpg.cat_governance_history.id;
-- the open version of a row is found by its key when the row changes
CREATE INDEX cat_governance_history_open_idx ON meshpg.cat_governance_history (catalog, key)
    WHERE pg_catalog.upper_inf(valid);
-- the versions of one product's rows (meshpg.access_history_policy).  Few
-- indexes on purpose: every recorded catalog call pays for each (bench/pit.sh);
-- the other questions (explain_access(at =>) reads the versions of one
-- catalog at one moment) scan the versions of that catalog.
CREATE INDEX cat_governance_history_product_idx ON meshpg.cat_governance_history
    (catalog, ((("row" OPERATOR(pg_catalog.->>) 'product_id'))::bigint));

/*
 * The earliest moment the history answers for (one row, or none when it
 * starts with the catalog): the upgrade that started it, then what the
 * retention pruned.
 */
CREATE TABLE meshpg.cat_governance_horizon (
    id    integer PRIMARY KEY CHECK (id = 1),
    since timestamptz NOT NULL
);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_governance_history', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_governance_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_governance_horizon', '');
REVOKE ALL ON meshpg.cat_governance_history, meshpg.cat_governance_horizon FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_governance_history_id_seq FROM PUBLIC;

CREATE FUNCTION meshpg._governance_actor(relation regclass)
RETURNS text
LANGUAGE C STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_governance_actor';
REVOKE ALL ON FUNCTION meshpg._governance_actor(regclass) FROM PUBLIC;

/*
 * Row trigger (src/catalog/history.c): its arguments are the catalog's name
 * in the history, then the columns of its primary key.
 */
CREATE FUNCTION meshpg._governance_history()
RETURNS trigger
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_governance_history';
REVOKE ALL ON FUNCTION meshpg._governance_history() FROM PUBLIC;

CREATE TRIGGER cat_grant_history AFTER INSERT OR UPDATE OR DELETE ON meshpg.cat_grant
    FOR EACH ROW EXECUTE FUNCTION meshpg._governance_history('grant', 'product_id', 'grantee');
CREATE TRIGGER cat_column_tag_history AFTER INSERT OR UPDATE OR DELETE ON meshpg.cat_column_tag
    FOR EACH ROW EXECUTE FUNCTION meshpg._governance_history('column_tag', 'product_id', 'column_name', 'tag_id');
CREATE TRIGGER cat_tag_history AFTER INSERT OR UPDATE OR DELETE ON meshpg.cat_tag
    FOR EACH ROW EXECUTE FUNCTION meshpg._governance_history('tag', 'id');
CREATE TRIGGER cat_attribute_history AFTER INSERT OR UPDATE OR DELETE ON meshpg.cat_attribute
    FOR EACH ROW EXECUTE FUNCTION meshpg._governance_history('attribute', 'role', 'key');
CREATE TRIGGER cat_policy_history AFTER INSERT OR UPDATE OR DELETE ON meshpg.cat_policy
    FOR EACH ROW EXECUTE FUNCTION meshpg._governance_history('policy', 'id');

/*
 * An upgrade from 1.3 finds rows the history never saw change: they are in
 * force from the upgrade on, and the history answers from then.  (A fresh
 * install, and the CREATE EXTENSION of a restore, find none.)
 */
DO $$
DECLARE
    actor text := current_user;
BEGIN
    IF EXISTS (SELECT 1 FROM meshpg.cat_grant) OR EXISTS (SELECT 1 FROM meshpg.cat_column_tag)
       OR EXISTS (SELECT 1 FROM meshpg.cat_tag) OR EXISTS (SELECT 1 FROM meshpg.cat_attribute)
       OR EXISTS (SELECT 1 FROM meshpg.cat_policy) THEN
        INSERT INTO meshpg.cat_governance_horizon VALUES (1, pg_catalog.now());
        INSERT INTO meshpg.cat_governance_history (catalog, key, "row", valid, changed_by)
        SELECT 'grant', pg_catalog.jsonb_build_object('product_id', g.product_id, 'grantee', g.grantee),
               pg_catalog.to_jsonb(g), pg_catalog.tstzrange(pg_catalog.now(), NULL), actor
          FROM meshpg.cat_grant g
        UNION ALL
        SELECT 'column_tag', pg_catalog.jsonb_build_object('product_id', t.product_id,
                   'column_name', t.column_name, 'tag_id', t.tag_id),
               pg_catalog.to_jsonb(t), pg_catalog.tstzrange(pg_catalog.now(), NULL), actor
          FROM meshpg.cat_column_tag t
        UNION ALL
        SELECT 'tag', pg_catalog.jsonb_build_object('id', t.id),
               pg_catalog.to_jsonb(t), pg_catalog.tstzrange(pg_catalog.now(), NULL), actor
          FROM meshpg.cat_tag t
        UNION ALL
        SELECT 'attribute', pg_catalog.jsonb_build_object('role', a.role, 'key', a.key),
               pg_catalog.to_jsonb(a), pg_catalog.tstzrange(pg_catalog.now(), NULL), actor
          FROM meshpg.cat_attribute a
        UNION ALL
        SELECT 'policy', pg_catalog.jsonb_build_object('id', p.id),
               pg_catalog.to_jsonb(p), pg_catalog.tstzrange(pg_catalog.now(), NULL), actor
          FROM meshpg.cat_policy p;
    END IF;
END
$$;

/* explain_access gains the moment it answers for. */
DROP FUNCTION meshpg.explain_access(text, regrole);
CREATE FUNCTION meshpg.explain_access(
    product text,
    role regrole DEFAULT NULL,
    at timestamptz DEFAULT NULL)
RETURNS TABLE (subject text, policy text, kind text, effect text, reason text)
LANGUAGE C STABLE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_explain_access';

/*
 * The history as its readers may see it, as the catalog views show the
 * present: grants to the governance team, the owning domain and the grantee;
 * attributes to the governance team and the role they describe; tags,
 * column tags and policies (metadata) to everyone.
 */
CREATE VIEW meshpg.governance_history WITH (security_barrier) AS
SELECT h.id,
       h.catalog,
       CASE WHEN h.catalog OPERATOR(pg_catalog.=) ANY ('{grant,column_tag}')
            THEN d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name END AS product,
       h.key,
       h."row",
       h.valid,
       pg_catalog.lower(h.valid) AS valid_from,
       pg_catalog.upper(h.valid) AS valid_until,
       h.changed_by,
       h.ended_by
  FROM meshpg.cat_governance_history h
  LEFT JOIN meshpg.cat_product p
         ON h.catalog OPERATOR(pg_catalog.=) ANY ('{grant,column_tag}')
        AND p.id OPERATOR(pg_catalog.=) (h."row" OPERATOR(pg_catalog.->>) 'product_id')::bigint
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE h.catalog OPERATOR(pg_catalog.=) ANY ('{tag,column_tag,policy}')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'))
    OR (h.catalog OPERATOR(pg_catalog.=) 'grant'
        AND ((d.owner IS NOT NULL AND pg_catalog.pg_has_role(d.owner, 'USAGE'))
             OR (pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'grantee') IS NOT NULL
                 AND pg_catalog.pg_has_role(pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'grantee'), 'USAGE'))))
    OR (h.catalog OPERATOR(pg_catalog.=) 'attribute'
        AND pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'role') IS NOT NULL
        AND pg_catalog.pg_has_role(pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'role'), 'USAGE'));
GRANT SELECT ON meshpg.governance_history TO PUBLIC;

/*
 * Each read of the access history beside the governance state that applied
 * to it: the versions in force at its read_at of the product's grants to the
 * reading role (or a role it belongs to), the product's own policies, its
 * column tags and the policies bound to those tags, and the reading role's
 * attributes.  Built on meshpg.access_history, so a reader sees the reads it
 * may see (the governance team, the owning domain) and nothing more; the
 * attributes only to the governance team (as meshpg.attributes).  The
 * read is named by (backend_pid, backend_start, statement, product).
 */
CREATE VIEW meshpg.access_history_policy WITH (security_barrier) AS
WITH reads AS NOT MATERIALIZED (
    SELECT a.read_at, a.product, a.role, a.purpose, a.backend_pid, a.backend_start, a.statement,
           p.id AS product_id, reader.oid AS reader
      FROM meshpg.access_history a
      JOIN meshpg.cat_domain d ON d.name OPERATOR(pg_catalog.=) pg_catalog.split_part(a.product, '.', 1)
      JOIN meshpg.cat_product p ON p.domain_id OPERATOR(pg_catalog.=) d.id
                               AND p.name OPERATOR(pg_catalog.=) pg_catalog.split_part(a.product, '.', 2)
      LEFT JOIN pg_catalog.pg_roles reader ON reader.rolname OPERATOR(pg_catalog.=) a.role
)
-- the product's grants to the reader or a role it belongs to, its column
-- tags and the policies bound to it
SELECT r.read_at, r.product, r.role, r.purpose, r.backend_pid, r.backend_start, r.statement,
       h.id AS history_id, h.catalog, h.key, h."row", h.valid, h.changed_by
  FROM reads r
  JOIN meshpg.cat_governance_history h
    ON h.catalog OPERATOR(pg_catalog.=) ANY ('{grant,column_tag,policy}')
   AND (h."row" OPERATOR(pg_catalog.->>) 'product_id')::bigint OPERATOR(pg_catalog.=) r.product_id
   AND h.valid OPERATOR(pg_catalog.@>) r.read_at
 WHERE h.catalog OPERATOR(pg_catalog.<>) 'grant'
    OR (r.reader IS NOT NULL
        AND pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'grantee') IS NOT NULL
        AND pg_catalog.pg_has_role(r.reader, pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'grantee'), 'USAGE'))
UNION ALL
-- the policies bound to a tag one of its columns carried then
SELECT r.read_at, r.product, r.role, r.purpose, r.backend_pid, r.backend_start, r.statement,
       h.id, h.catalog, h.key, h."row", h.valid, h.changed_by
  FROM reads r
  JOIN meshpg.cat_governance_history ct
    ON ct.catalog OPERATOR(pg_catalog.=) 'column_tag'
   AND (ct."row" OPERATOR(pg_catalog.->>) 'product_id')::bigint OPERATOR(pg_catalog.=) r.product_id
   AND ct.valid OPERATOR(pg_catalog.@>) r.read_at
  JOIN meshpg.cat_governance_history h
    ON h.catalog OPERATOR(pg_catalog.=) 'policy'
   AND (h."row" OPERATOR(pg_catalog.->>) 'tag_id')::bigint
       OPERATOR(pg_catalog.=) (ct."row" OPERATOR(pg_catalog.->>) 'tag_id')::bigint
   AND h.valid OPERATOR(pg_catalog.@>) r.read_at
UNION ALL
-- the reader's attributes (its own and its groups'), to the governance team
-- and the role itself only, as in meshpg.attributes: not to the domain team
-- that reads the access history
SELECT r.read_at, r.product, r.role, r.purpose, r.backend_pid, r.backend_start, r.statement,
       h.id, h.catalog, h.key, h."row", h.valid, h.changed_by
  FROM reads r
  JOIN meshpg.cat_governance_history h
    ON h.catalog OPERATOR(pg_catalog.=) 'attribute'
   AND h.valid OPERATOR(pg_catalog.@>) r.read_at
 WHERE r.reader IS NOT NULL
   AND pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'role') IS NOT NULL
   AND pg_catalog.pg_has_role(r.reader, pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'role'), 'USAGE')
   AND (pg_catalog.pg_has_role(pg_catalog.to_regrole(h."row" OPERATOR(pg_catalog.->>) 'role'), 'USAGE')
        OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
                    WHERE a.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                      AND pg_catalog.pg_has_role(a.oid, 'USAGE')));
GRANT SELECT ON meshpg.access_history_policy TO PUBLIC;

/*
 * Pruning (the worker's task "governance_history", or by hand): versions
 * that ended longer ago than meshpg.governance_history_retention go, and
 * the horizon moves up to that moment.  0 keeps everything.
 */
CREATE FUNCTION meshpg.prune_governance_history()
RETURNS bigint
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_prune_governance_history';
REVOKE ALL ON FUNCTION meshpg.prune_governance_history() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION meshpg.prune_governance_history() TO meshpg_admin;

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

/* ------------------------------------------------------------------------
 * Retention (src/retention/).
 *
 * A retention policy keeps a product's rows for an interval by a timestamp
 * column, then deletes them, anonymises columns in place with one of
 * meshpg's masks, or drops whole partitions.  Bound to a tag (the
 * governance team: every product with a column carrying it) or to one
 * product (its domain team).  The background worker enforces them in small
 * batches; a legal hold on a product suspends them.  Every run is recorded
 * in the audit trail.
 * ------------------------------------------------------------------------ */
CREATE SEQUENCE meshpg.cat_retention_policy_id_seq;
CREATE TABLE meshpg.cat_retention_policy (
    id          bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_retention_policy_id_seq'),
    name        text NOT NULL UNIQUE,
    keep        interval NOT NULL,
    time_column text NOT NULL,
    action      text NOT NULL CHECK (action IN ('delete', 'anonymise', 'drop_partitions')),
    tag_id      bigint REFERENCES meshpg.cat_tag (id),
    product_id  bigint REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    columns     text[],
    mask        text CHECK (mask IN ('null', 'redact', 'email', 'partial', 'date', 'bucket', 'round')),
    mask_args   jsonb NOT NULL DEFAULT '{}',
    description text,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CHECK ((tag_id IS NULL) <> (product_id IS NULL)),
    CHECK ((action = 'anonymise') = (mask IS NOT NULL))
);
ALTER SEQUENCE meshpg.cat_retention_policy_id_seq OWNED BY meshpg.cat_retention_policy.id;
CREATE INDEX cat_retention_policy_product_idx ON meshpg.cat_retention_policy (product_id);
CREATE INDEX cat_retention_policy_tag_idx ON meshpg.cat_retention_policy (tag_id);

-- One hold per product.  placed_by_domain: placed by the product's domain
-- team (which may lift it), not by the governance team over it.
CREATE TABLE meshpg.cat_legal_hold (
    product_id       bigint PRIMARY KEY REFERENCES meshpg.cat_product (id) ON DELETE CASCADE,
    reason           text NOT NULL,
    placed_by        text NOT NULL,
    placed_by_domain boolean NOT NULL,
    placed_at        timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- The audit trail: one row per policy per product per run, updated in the
-- transaction of each batch.  Kept when the policy or the product goes.
CREATE SEQUENCE meshpg.cat_retention_run_id_seq;
CREATE TABLE meshpg.cat_retention_run (
    id          bigint PRIMARY KEY DEFAULT pg_catalog.nextval('meshpg.cat_retention_run_id_seq'),
    policy_id   bigint NOT NULL,
    policy      text NOT NULL,
    product_id  bigint NOT NULL,
    product     text NOT NULL,
    action      text NOT NULL,
    cutoff      timestamptz NOT NULL,
    rows        bigint NOT NULL DEFAULT 0,
    batches     integer NOT NULL DEFAULT 0,
    partitions  text[] NOT NULL DEFAULT '{}',
    status      text NOT NULL CHECK (status IN ('running', 'done', 'held', 'incomplete', 'skipped')),
    note        text,
    run_by      text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    finished_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
ALTER SEQUENCE meshpg.cat_retention_run_id_seq OWNED BY meshpg.cat_retention_run.id;
CREATE INDEX cat_retention_run_product_idx ON meshpg.cat_retention_run (product_id);

SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_retention_policy', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_retention_policy_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_legal_hold', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_retention_run', '');
SELECT pg_catalog.pg_extension_config_dump('meshpg.cat_retention_run_id_seq', '');
REVOKE ALL ON meshpg.cat_retention_policy, meshpg.cat_legal_hold, meshpg.cat_retention_run FROM PUBLIC;
REVOKE ALL ON SEQUENCE meshpg.cat_retention_policy_id_seq, meshpg.cat_retention_run_id_seq FROM PUBLIC;

CREATE FUNCTION meshpg.create_retention_policy(
    name text,
    keep interval,
    time_column text,
    action text DEFAULT 'delete',
    tag text DEFAULT NULL,
    product text DEFAULT NULL,
    columns text[] DEFAULT NULL,
    mask text DEFAULT NULL,
    args jsonb DEFAULT NULL,
    description text DEFAULT NULL)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_create_retention_policy';

CREATE FUNCTION meshpg.drop_retention_policy(name text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_drop_retention_policy';

CREATE FUNCTION meshpg.place_legal_hold(product text, reason text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_place_legal_hold';

CREATE FUNCTION meshpg.lift_legal_hold(product text)
RETURNS void
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_lift_legal_hold';

CREATE FUNCTION meshpg.retention_dry_run(product text)
RETURNS TABLE (policy text, action text, time_column text, cutoff timestamptz, rows bigint,
               partitions text[], held boolean, note text)
LANGUAGE C
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'meshpg_retention_dry_run';

-- A procedure: outside a transaction block each batch commits on its own.
-- No SET clause: PostgreSQL runs a procedure that has one atomically (no
-- COMMIT inside); the C code pins search_path for every statement it runs.
CREATE PROCEDURE meshpg.run_retention(product text)
LANGUAGE C
AS 'MODULE_PATHNAME', 'meshpg_run_retention';

-- Policies are governance metadata, public like meshpg.policies.
CREATE VIEW meshpg.retention_policies AS
SELECT r.name, t.name AS tag,
       d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       r.keep, r.time_column, r.action, r.columns, r.mask, r.mask_args, r.description,
       r.created_by, r.created_at
  FROM meshpg.cat_retention_policy r
  LEFT JOIN meshpg.cat_tag t ON t.id OPERATOR(pg_catalog.=) r.tag_id
  LEFT JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) r.product_id
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id;

-- Holds and the audit trail: the product's domain team and the governance team.
CREATE VIEW meshpg.legal_holds WITH (security_barrier) AS
SELECT d.name OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) p.name AS product,
       h.reason, h.placed_by, h.placed_by_domain, h.placed_at
  FROM meshpg.cat_legal_hold h
  JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) h.product_id
  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE pg_catalog.pg_has_role(d.owner, 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

CREATE VIEW meshpg.retention_runs WITH (security_barrier) AS
SELECT x.id, x.policy, x.product, x.action, x.cutoff, x.rows, x.batches, x.partitions,
       x.status, x.note, x.run_by, x.started_at, x.finished_at
  FROM meshpg.cat_retention_run x
  LEFT JOIN meshpg.cat_product p ON p.id OPERATOR(pg_catalog.=) x.product_id
  LEFT JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id
 WHERE (d.owner IS NOT NULL AND pg_catalog.pg_has_role(d.owner, 'USAGE'))
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

GRANT SELECT ON meshpg.retention_policies, meshpg.legal_holds, meshpg.retention_runs TO PUBLIC;

/*
 * Descriptors carry a product's own retention policies (the section
 * "retention", authoritative when present): export writes them, apply and
 * plan converge to them.  Added by wrapping whatever _export_doc and
 * _converge the parts before this one left (renamed *_pre_retention), so
 * that the sections other parts add survive.
 */
ALTER FUNCTION meshpg._export_doc(text) RENAME TO _export_doc_pre_retention;
CREATE FUNCTION meshpg._export_doc(ref text)
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET intervalstyle = 'postgres'
AS $$
SELECT CASE WHEN r.policies IS NULL THEN b.doc
            ELSE b.doc || pg_catalog.jsonb_build_object('retention', r.policies) END
  FROM (SELECT meshpg._export_doc_pre_retention(ref) AS doc) b
  LEFT JOIN LATERAL (
      SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
                 'name', x.name, 'keep', x.keep::text, 'timeColumn', x.time_column,
                 'action', x.action, 'columns', pg_catalog.to_jsonb(x.columns), 'mask', x.mask,
                 'args', CASE WHEN x.mask_args <> '{}' THEN x.mask_args END,
                 'description', x.description)) ORDER BY x.name) AS policies
        FROM meshpg.cat_retention_policy x
        JOIN meshpg.cat_product p ON p.id = x.product_id
        JOIN meshpg.cat_domain d ON d.id = p.domain_id
       WHERE d.name || '.' || p.name = ref) r ON b.doc IS NOT NULL
$$;

-- retention: authoritative when the section is present
CREATE FUNCTION meshpg._dsc_retention(doc jsonb, cur jsonb, label text, do_apply boolean, strict boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ref text := doc->>'id';
    r record;
    dup text;
BEGIN
    IF NOT doc ? 'retention' THEN
        RETURN;
    END IF;
    SELECT e->>'name' INTO dup FROM pg_catalog.jsonb_array_elements(doc->'retention') e
     GROUP BY 1 HAVING pg_catalog.count(*) > 1 LIMIT 1;
    IF dup IS NOT NULL THEN
        RAISE EXCEPTION '%retention: policy "%" is declared more than once', label, dup
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR r IN
        SELECT COALESCE(w.value->>'name', h.value->>'name') AS name, w.value AS w, h.value AS h
          FROM pg_catalog.jsonb_array_elements(doc->'retention') w
          FULL JOIN pg_catalog.jsonb_array_elements(COALESCE(cur->'retention', '[]')) h
            ON h.value->>'name' = w.value->>'name'
         ORDER BY 1
    LOOP
        -- the same policy, written as export writes it (keep as an interval)
        IF r.w IS NOT NULL AND r.h IS NOT NULL
           AND meshpg._dsc_interval(label || 'retention.keep', r.w->>'keep') = (r.h->>'keep')::interval
           AND (r.w - 'keep') || pg_catalog.jsonb_build_object('action', COALESCE(r.w->>'action', 'delete'))
               = (r.h - 'keep') THEN
            CONTINUE;
        END IF;
        IF r.h IS NOT NULL THEN
            RETURN QUERY SELECT 'drop retention policy', ref, r.name;
            IF do_apply THEN
                PERFORM meshpg.drop_retention_policy(r.name);
            END IF;
        END IF;
        IF r.w IS NOT NULL THEN
            RETURN QUERY SELECT 'create retention policy', ref, r.name;
            IF do_apply THEN
                PERFORM meshpg.create_retention_policy(
                    name => r.name,
                    keep => meshpg._dsc_interval(label || 'retention.keep', r.w->>'keep'),
                    time_column => r.w->>'timeColumn',
                    action => COALESCE(r.w->>'action', 'delete'),
                    product => ref,
                    columns => CASE WHEN r.w ? 'columns' THEN
                                   ARRAY(SELECT pg_catalog.jsonb_array_elements_text(r.w->'columns')) END,
                    mask => r.w->>'mask',
                    args => r.w->'args',
                    description => r.w->>'description');
            END IF;
        END IF;
    END LOOP;
END
$$;

ALTER FUNCTION meshpg._converge(jsonb, boolean, boolean, boolean) RENAME TO _converge_pre_retention;
CREATE FUNCTION meshpg._converge(docs jsonb, do_apply boolean, strict boolean, prune boolean)
RETURNS TABLE (action text, object text, detail text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n integer := pg_catalog.jsonb_array_length(docs);
    d record;
    label text;
BEGIN
    RETURN QUERY SELECT * FROM meshpg._converge_pre_retention(docs, do_apply, strict, prune);
    -- retention last: the product, its columns and its tags are in place
    FOR d IN SELECT e.value AS doc, e.ordinality AS i FROM pg_catalog.jsonb_array_elements(docs) WITH ORDINALITY e
    LOOP
        label := CASE WHEN n > 1 THEN pg_catalog.format('document %s: ', d.i) ELSE '' END;
        RETURN QUERY SELECT * FROM meshpg._dsc_retention(d.doc, meshpg._export_doc(d.doc->>'id'),
                                                         label, do_apply, strict);
    END LOOP;
END
$$;
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
