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
