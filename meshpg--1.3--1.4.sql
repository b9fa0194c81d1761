/*
 * meshpg 1.3 -> 1.4.  Built by the Makefile from the parts in sql/1.4, one per
 * concern, in name order: edit the parts, not meshpg--1.3--1.4.sql.
 */

\echo Use "ALTER EXTENSION meshpg UPDATE TO '1.4'" to load this file. \quit
/* ------------------------------------------------------------------------
 * Mesh events (doc/events.md): every change to the mesh emits one
 * CloudEvents 1.0 event in the transaction that makes it, written to the
 * outbox below, to the WAL as a transactional logical decoding message
 * (prefix 'meshpg') and as a NOTIFY meshpg_events carrying the id only.
 * The types are the kinds table mesh_event_types[] (src/events/types.c).
 * ------------------------------------------------------------------------ */

/*
 * The outbox.  domain_id and product_id are found from the subject when the
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
 * The events the caller may see.  Each visibility is the rule of the view
 * that shows what the event reports:
 *   catalog  metadata (meshpg.domains, products, contracts, tags, policies):
 *            discoverable by everyone;
 *   grant    as meshpg.grants: the role concerned, the owning domain's team,
 *            the governance team;
 *   role     as meshpg.attributes: the role described, the governance team;
 *   reader   as meshpg.slo_results: who may read the product (and the
 *            governance team, also once the product is gone);
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
 WHERE CASE e.visibility
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
         WHEN 'domain' THEN
              COALESCE(meshpg._manages(d.owner), false)
         ELSE false
       END
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname OPERATOR(pg_catalog.=) 'meshpg_admin'
                  AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

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
    IF last_id IS NULL THEN
        RAISE EXCEPTION 'last_id must not be null'
            USING ERRCODE = 'null_value_not_allowed',
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
