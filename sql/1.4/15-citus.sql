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
