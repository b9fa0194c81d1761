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
