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
