/* ------------------------------------------------------------------------
 * Citus (doc/citus.md): a product's shards are governed on every node that
 * holds them, with the catalog the coordinator sends in the transaction
 * that changes it.
 * ------------------------------------------------------------------------ */

/*
 * The guard without a relation name: Citus copies a table's policies onto
 * its shards, on nodes where the table may not exist yet.  The planner
 * hook gives each call the value for the relation the policy sits on
 * (src/governance/guard.c); only a preloaded meshpg can do that, and a
 * call it did not replace fails.
 */
CREATE FUNCTION meshpg.guard()
RETURNS boolean
LANGUAGE C STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'meshpg_guard_here';

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT p.relid FROM meshpg.cat_product p
             JOIN pg_catalog.pg_policy pol
               ON pol.polrelid = p.relid AND pol.polname = 'meshpg_guard'
    LOOP
        EXECUTE pg_catalog.format(
            'ALTER POLICY meshpg_guard ON %s USING (meshpg.guard()) WITH CHECK (meshpg.guard())',
            r.relid);
    END LOOP;
END
$$;

/*
 * The governance catalog as one JSON document, relations, roles and
 * schemas as names.  It holds the hash key: executable only by meshpg's
 * own code (which runs it as the catalog's owner).
 */
CREATE FUNCTION meshpg._citus_catalog_payload()
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
        'cat_secret', (SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]') FROM meshpg.cat_secret t))
$$;
REVOKE ALL ON FUNCTION meshpg._citus_catalog_payload() FROM PUBLIC;

/*
 * On a Citus worker: replace the governance catalog with the coordinator's.
 * Sent by the coordinator on a connection of the Citus extension owner;
 * refused to anyone else, and on the coordinator.  Rows whose relation,
 * role or schema does not exist here are left out, and with them whatever
 * depends on them, so that a product is either known with all of its
 * policies or not known at all (and its shards then refuse every read).
 */
CREATE FUNCTION meshpg._citus_receive_catalog(payload jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    is_coordinator boolean;
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

    -- a product whose policies would not all resolve here is left out whole
    INSERT INTO meshpg.cat_product
    SELECT * FROM jsonb_populate_recordset(NULL::meshpg.cat_product,
        (SELECT coalesce(jsonb_agg(e - 'successor_id'), '[]') FROM jsonb_array_elements(payload->'cat_product') e
          WHERE to_regclass(e->>'relid') IS NOT NULL
            AND EXISTS (SELECT 1 FROM meshpg.cat_domain d WHERE d.id = (e->>'domain_id')::bigint)
            AND NOT EXISTS (
                SELECT 1 FROM jsonb_array_elements(payload->'cat_policy') pol,
                              jsonb_array_elements_text(pol->'depends_functions') f
                 WHERE to_regprocedure(f) IS NULL
                   AND ((pol->>'product_id')::bigint = (e->>'id')::bigint
                        OR EXISTS (SELECT 1 FROM jsonb_array_elements(payload->'cat_column_tag') ct
                                    WHERE (ct->>'product_id')::bigint = (e->>'id')::bigint
                                      AND (ct->>'tag_id')::bigint = (pol->>'tag_id')::bigint)))));
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

    -- every backend of this node reloads the catalog (the statement trigger fires on no rows)
    SET LOCAL session_replication_role = origin;
    UPDATE meshpg.cat_domain SET id = id WHERE false;
END
$$;
REVOKE ALL ON FUNCTION meshpg._citus_receive_catalog(jsonb) FROM PUBLIC;

/*
 * Sends the catalog to every Citus node with metadata, in this transaction
 * (catalog changes do so by themselves).  Needed after a node is added, or
 * after a registered product is distributed, until which reads of its
 * shards on the other nodes are refused.
 */
CREATE FUNCTION meshpg.citus_sync()
RETURNS void
LANGUAGE C
AS 'MODULE_PATHNAME', 'meshpg_citus_sync';
REVOKE ALL ON FUNCTION meshpg.citus_sync() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION meshpg.citus_sync() TO meshpg_admin;
