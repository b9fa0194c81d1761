--
-- descriptor_apply: plan, apply, idempotence, export, and the sections.
--
CREATE ROLE regress_shop_team;
CREATE ROLE regress_shop_dev IN ROLE regress_shop_team;
CREATE ROLE regress_shop_reader;
CREATE ROLE regress_shop_auditor;
SELECT meshpg.create_domain('shop', 'regress_shop_team');
SELECT meshpg.create_tag('shop.pii');
SELECT meshpg.create_tag('shop.region', allowed_values => '{EU,US}');
CREATE TEMP TABLE descriptors (name text PRIMARY KEY, body text);
GRANT SELECT, INSERT ON descriptors TO PUBLIC;
SET ROLE regress_shop_dev;
CREATE TABLE shop.orders (id bigint NOT NULL, email text, region text, total numeric(10,2),
                          placed_at timestamptz, lines int[]);
CREATE VIEW shop.order_totals AS SELECT region, sum(total) AS total FROM shop.orders GROUP BY region;

INSERT INTO descriptors VALUES ('orders_v1', $y$apiVersion: v3.0.2
kind: DataContract
id: shop.orders
domain: shop
dataProduct: orders
version: 1.0.0
status: active
description:
  purpose: "Orders: one row per checkout"
team:
  - username: shop-team@example.com
schema:
  - name: orders
    physicalName: orders
    physicalType: table
    properties:
      - name: id
        logicalType: integer
        physicalType: bigint
        required: true
        description: Order number
      - name: email
        logicalType: string
        physicalType: text
        tags: [shop.pii]
      - name: region
        physicalType: text
        tags: ["shop.region=EU"]
      - name: total
        logicalType: number
        physicalType: numeric(10,2)
      - name: placed_at
        logicalType: timestamp
        physicalType: timestamp with time zone
      - name: lines
        logicalType: array
        physicalType: integer[]
roles:
  - role: regress_shop_reader
    access: read
    purpose: reporting
policies:
  - name: shop_orders_email
    kind: mask
    column: email
    mask: email
  - name: shop_orders_region
    kind: row
    expression: "region = ANY (meshpg.attribute('region'))"
    exemptRoles: [regress_shop_auditor]
$y$);

-- plan changes nothing and says what apply will do
SELECT * FROM meshpg.plan((SELECT body FROM descriptors WHERE name = 'orders_v1'));
SELECT count(*) AS products FROM meshpg.products WHERE domain = 'shop';
SELECT * FROM meshpg.apply((SELECT body FROM descriptors WHERE name = 'orders_v1'));
-- applying again changes nothing
SELECT * FROM meshpg.apply((SELECT body FROM descriptors WHERE name = 'orders_v1'));
SELECT * FROM meshpg.plan((SELECT body FROM descriptors WHERE name = 'orders_v1'));
SELECT product, state, version, description, contacts FROM meshpg.products WHERE domain = 'shop';
SELECT column_name, tag, value FROM meshpg.column_tags WHERE product = 'shop.orders' ORDER BY 1;
SELECT name, kind, column_name, mask, expression, exempt_roles FROM meshpg.policies
 WHERE product = 'shop.orders' ORDER BY name;
SELECT grantee, purpose FROM meshpg.grants WHERE product = 'shop.orders';
SELECT product, version, change FROM meshpg.contracts WHERE product = 'shop.orders';

-- export gives the descriptor back, in YAML or JSON
SELECT meshpg.export('shop.orders');
SELECT meshpg.export('shop.orders', 'json')::jsonb->'schema'->0->'properties'->0 AS first_property;
-- ... and the export applies as it is: nothing to do
SELECT * FROM meshpg.plan(meshpg.export('shop.orders'));
SELECT * FROM meshpg.plan(meshpg.export('shop.orders', 'json'));

-- A changed descriptor converges: documentation, tags, policies, grants,
-- and a new version (the relation gained a column).
ALTER TABLE shop.orders ADD COLUMN channel text;
SELECT version FROM meshpg.products WHERE product = 'shop.orders';
INSERT INTO descriptors VALUES ('orders_v2', $y$apiVersion: v3.0.2
kind: DataContract
id: shop.orders
version: 1.2.0
status: active
description:
  purpose: Orders, one row per checkout
schema:
  - name: orders
    physicalName: orders
    properties:
      - {name: id, physicalType: bigint, required: true, description: Order number}
      - {name: email, physicalType: text, tags: [shop.pii]}
      - {name: region, physicalType: text, tags: [shop.region=US]}
      - {name: total, physicalType: "numeric(10,2)", description: Total in EUR}
      - {name: placed_at, physicalType: timestamp with time zone}
      - {name: lines, physicalType: "integer[]"}
      - {name: channel, physicalType: text, tags: [shop.pii]}
roles:
  - role: regress_shop_auditor
policies:
  - name: shop_orders_email
    kind: mask
    column: email
    mask: partial
    args: {keep_last: 4}
$y$);
SELECT * FROM meshpg.plan((SELECT body FROM descriptors WHERE name = 'orders_v2'));
SELECT * FROM meshpg.apply((SELECT body FROM descriptors WHERE name = 'orders_v2'));
SELECT * FROM meshpg.apply((SELECT body FROM descriptors WHERE name = 'orders_v2'));
SELECT product, version, description, contacts FROM meshpg.products WHERE product = 'shop.orders';
SELECT column_name, tag, value FROM meshpg.column_tags WHERE product = 'shop.orders' ORDER BY 1;
SELECT name, mask, mask_args FROM meshpg.policies WHERE product = 'shop.orders';
SELECT grantee FROM meshpg.grants WHERE product = 'shop.orders';

-- JSON, several documents in one array; a stream of YAML documents.
INSERT INTO descriptors VALUES ('totals_json', $j$[{"apiVersion": "v3.0.0", "kind": "DataContract", "id": "shop.order_totals", "version": "0.1.0", "status": "draft", "description": {"purpose": "Totals per region"}, "schema": [{"name": "order_totals", "physicalName": "order_totals", "physicalType": "view", "properties": [{"name": "region", "physicalType": "text"}, {"name": "total", "physicalType": "numeric", "logicalType": "number"}]}]}]$j$);
SELECT * FROM meshpg.apply((SELECT body FROM descriptors WHERE name = 'totals_json'));
SELECT product, state, version FROM meshpg.products WHERE product = 'shop.order_totals';
SELECT * FROM meshpg.plan(meshpg.export('shop.orders') || E'---\n' || meshpg.export('shop.order_totals'));

-- Sections left out are left alone: no roles or policies keys, no change.
SELECT * FROM meshpg.plan($y$
apiVersion: v3.0.2
kind: DataContract
id: shop.orders
version: 1.2.0
status: active
description: {purpose: "Orders, one row per checkout"}
schema:
  - name: orders
    physicalName: orders
    properties:
      - {name: id, physicalType: bigint, required: true, description: Order number}
      - {name: email, physicalType: text, tags: [shop.pii]}
      - {name: region, physicalType: text, tags: [shop.region=US]}
      - {name: total, physicalType: "numeric(10,2)", description: Total in EUR}
      - {name: placed_at, physicalType: timestamp with time zone}
      - {name: lines, physicalType: "integer[]"}
      - {name: channel, physicalType: text, tags: [shop.pii]}
$y$);

-- Lenient mode: unknown fields (ODCS fields meshpg does not map) warn.
SELECT * FROM meshpg.plan($y$
apiVersion: v3.0.2
kind: DataContract
id: shop.order_totals
version: 0.1.0
status: draft
tenant: retail
description: {purpose: Totals per region, usage: dashboards}
schema:
  - name: order_totals
    physicalName: order_totals
    properties:
      - {name: region, physicalType: text, classification: public}
      - {name: total, physicalType: numeric}
$y$, strict => false);

-- Products the descriptor does not name are left alone, unless pruned
-- (drafts and retired products only).
SELECT * FROM meshpg.plan(meshpg.export('shop.orders'));
SELECT * FROM meshpg.plan(meshpg.export('shop.orders'), prune => true);
SELECT * FROM meshpg.apply(meshpg.export('shop.orders'), prune => true);
SELECT product FROM meshpg.products WHERE domain = 'shop';

-- A new major version through a descriptor: domain.product@2 over a new
-- relation (it starts with v1's documentation and tags, then converges).
CREATE TABLE shop.orders_v2 (id bigint NOT NULL, email text, total numeric(12,2));
SELECT * FROM meshpg.apply($y$
apiVersion: v3.0.2
kind: DataContract
id: shop.orders@2
version: 2.0.0
status: active
description: {purpose: "Orders, v2: totals with more precision"}
schema:
  - name: orders
    physicalName: orders_v2
    properties:
      - {name: id, physicalType: bigint, required: true, description: Order number}
      - {name: email, physicalType: text, tags: [shop.pii]}
      - {name: total, physicalType: "numeric(12,2)"}
$y$);
SELECT product, major, version, state FROM meshpg.product_versions WHERE family = 'shop.orders' ORDER BY major;
SELECT * FROM meshpg.plan(meshpg.export('shop.orders@2'));

-- Lifecycle through descriptors: deprecation needs a sunset.
SELECT expect_error($$ SELECT * FROM meshpg.plan(replace(meshpg.export('shop.orders'), 'status: active', 'status: deprecated')) $$);
SELECT * FROM meshpg.apply(replace(meshpg.export('shop.orders'), 'status: active',
                                   'status: deprecated' || E'\n' || 'sunset: "2999-01-01"'
                                   || E'\n' || 'successor: shop.orders@2'));
SELECT product, state, sunset, successor FROM meshpg.products WHERE product = 'shop.orders';
SELECT * FROM meshpg.plan(meshpg.export('shop.orders'));
RESET ROLE;
