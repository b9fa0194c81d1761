--
-- descriptor_errors: bad descriptors get a clear error, with the path of
-- the offending value, and change nothing.
--
SET ROLE regress_shop_dev;
CREATE TABLE shop.refunds (id bigint NOT NULL, amount numeric, reason text);
-- a descriptor for it, broken below in one place at a time
CREATE FUNCTION pg_temp.refunds(extra text DEFAULT '', props text DEFAULT NULL,
                                head text DEFAULT 'apiVersion: v3.0.2')
RETURNS text LANGUAGE sql AS $f$
SELECT head || E'\nkind: DataContract\nid: shop.refunds\nversion: 1.0.0\nstatus: active\n'
    || E'description: {purpose: Refunds}\n'
    || E'schema:\n  - name: refunds\n    physicalName: refunds\n    properties:\n'
    || COALESCE(props,
          E'      - {name: id, physicalType: bigint, required: true}\n'
       || E'      - {name: amount, physicalType: numeric, logicalType: number}\n'
       || E'      - {name: reason, physicalType: text}\n')
    || extra
$f$;
SELECT count(*) FROM meshpg.plan(pg_temp.refunds());     -- the unbroken one is fine

-- malformed YAML and JSON
SELECT expect_error($$ SELECT meshpg.plan(E'id: [unclosed\nkind: x') $$);
SELECT expect_error($$ SELECT meshpg.plan('{"id": "shop.refunds"') $$);
SELECT expect_error($$ SELECT meshpg.plan('') $$);
SELECT expect_error($$ SELECT meshpg.plan(NULL) $$);
SELECT expect_error($$ SELECT meshpg.plan('- just\n- a list') $$);
-- wrong types, with the path
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(props => E'      - {name: id, physicalType: bigint, required: "yes"}\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(E'roles: {role: x}\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan(replace(pg_temp.refunds(), 'version: 1.0.0', 'version: 1.0')) $$);
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(props => E'      - {name: id, physicalType: bigint, required: true}\n      - {name: amount, physicalType: numeric, logicalType: decimal}\n      - {name: reason, physicalType: text}\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(props => E'      - {name: id, physicalType: bigint, required: true}\n      - {name: amount, physicalType: numeric, logicalType: string}\n      - {name: reason, physicalType: text}\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(props => E'      - {name: id, physicalType: integer, required: true}\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(props => E'      - {name: id, physicalType: bigint}\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(props => E'      - {name: idx, physicalType: bigint}\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(props => E'      - {name: id, physicalType: bigint, required: true}\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(head => 'apiVersion: v2.2.0')) $$);
SELECT expect_error($$ SELECT meshpg.plan(replace(pg_temp.refunds(), 'status: active', 'status: live')) $$);
SELECT expect_error($$ SELECT meshpg.plan(replace(pg_temp.refunds(), 'id: shop.refunds', 'id: refunds')) $$);
SELECT expect_error($$ SELECT meshpg.plan(replace(pg_temp.refunds(), 'physicalName: refunds', 'physicalName: nowhere')) $$);
SELECT expect_error($$ SELECT meshpg.plan(replace(pg_temp.refunds(), 'kind: DataContract' || E'\n', '')) $$);
-- unknown fields: strict by default, a warning in lenient mode
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(E'owner: someone\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(props => E'      - {name: id, physicalType: bigint, required: true, unique: true}\n')) $$);
SELECT count(*) FROM meshpg.plan(pg_temp.refunds(E'owner: someone\n'), strict => false);
-- duplicate keys, anchors and aliases, explicit tags
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(E'status: draft\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan('{"id": "a", "id": "b"}') $$);
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(E'roles:\n  - &r {role: regress_shop_reader}\n  - *r\n')) $$);
SELECT expect_error($$ SELECT meshpg.plan(E'a: &x [1, 2]\nb: *x') $$);
SELECT expect_error($$ SELECT meshpg.plan(E'a: !!python/object x') $$);
-- a document over the size limit (a superuser setting)
SELECT expect_error($$ SET meshpg.descriptor_max_size = '2kB' $$);
RESET ROLE;
SET meshpg.descriptor_max_size = '2kB';
SET ROLE regress_shop_dev;
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(E'# ' || repeat('x', 2100) || E'\n')) $$);
RESET ROLE;
RESET meshpg.descriptor_max_size;
SET ROLE regress_shop_dev;
-- SLOs name their kind and spec: ODCS's latency shorthand is an unknown field
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds(E'slaProperties:\n  - {property: latency, value: 1, unit: d}\n')) $$);
SELECT count(*) FROM meshpg.plan(pg_temp.refunds(E'slaProperties: []\n'));
-- the same product twice
SELECT expect_error($$ SELECT meshpg.plan(pg_temp.refunds() || E'---\n' || pg_temp.refunds()) $$);

-- All or nothing: the second document fails when applied (a deprecated
-- product cannot go back to draft),
-- and the first product is not registered either.
SELECT expect_error($$ SELECT meshpg.apply(replace(pg_temp.refunds(), 'status: active', 'status: draft') || E'---\n' || replace(meshpg.export('shop.orders'), 'status: deprecated', 'status: draft')) $$);
SELECT expect_error($$ SELECT meshpg.apply(pg_temp.refunds(E'roles:\n  - {role: regress_no_such_role}\n')) $$);
SELECT count(*) AS refunds_registered FROM meshpg.products WHERE product = 'shop.refunds';
RESET ROLE;

-- Rights are the caller's: someone outside the domain changes nothing.
SET ROLE regress_shop_auditor;
SELECT expect_error($$ SELECT meshpg.apply(pg_temp.refunds()) $$);
RESET ROLE;
SELECT count(*) AS refunds_registered FROM meshpg.products WHERE product = 'shop.refunds';
-- export of an unknown product, or in an unknown format
SELECT expect_error($$ SELECT meshpg.export('shop.nothing') $$);
SELECT expect_error($$ SELECT meshpg.export('shop.orders', 'xml') $$);
