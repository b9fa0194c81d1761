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
