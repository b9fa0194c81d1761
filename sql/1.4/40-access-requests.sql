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
