-- meshpg demo: a small data mesh for a TaskRabbit-like marketplace.
-- scripts/demo.sh runs this file with psql, echoing every line, in a
-- throwaway cluster that preloads meshpg.  Statements that are meant to be
-- refused sit between "\set ON_ERROR_STOP 0" and "\set ON_ERROR_STOP 1".

\set ON_ERROR_STOP 1
\pset null '(null)'

-------------------------------------------------------------------------------
-- 1. The DBA / platform team: roles, the extension, and two domains, each
--    handed to the team that owns it.
-------------------------------------------------------------------------------
CREATE ROLE marketplace_team NOLOGIN;
CREATE ROLE payments_team NOLOGIN;
CREATE ROLE analyst_eu LOGIN;
CREATE ROLE growth_analyst LOGIN;

CREATE EXTENSION meshpg;

SELECT meshpg.create_domain(
    name        => 'marketplace',
    owner       => 'marketplace_team',
    description => 'Taskers, tasks and the cities we operate in',
    contacts    => '{marketplace-data@example.com}');
SELECT meshpg.create_domain(
    name        => 'payments',
    owner       => 'payments_team',
    description => 'Charges to clients and payouts to Taskers',
    contacts    => '{#payments-data}');

-- Each domain owns a schema of the same name, owned by the team's role.
SELECT name, owner, schema, description FROM meshpg.domains ORDER BY name;

-------------------------------------------------------------------------------
-- 2. The marketplace team builds tables in its schema.  The tables are
--    internal; the views on top are what it offers as data products.
-------------------------------------------------------------------------------
SET ROLE marketplace_team;

CREATE TABLE marketplace.cities (
    city_id     integer PRIMARY KEY,
    name        text NOT NULL,
    country     text NOT NULL,
    launched_on date NOT NULL
);
CREATE TABLE marketplace.taskers (
    tasker_id  integer PRIMARY KEY,
    city_id    integer NOT NULL REFERENCES marketplace.cities,
    joined_on  date NOT NULL,
    churned_on date
);
CREATE TABLE marketplace.tasks (
    task_id      bigint PRIMARY KEY,
    city_id      integer NOT NULL REFERENCES marketplace.cities,
    tasker_id    integer REFERENCES marketplace.taskers,
    category     text NOT NULL,
    posted_at    timestamptz NOT NULL,
    price_eur    numeric(10,2) NOT NULL
);

INSERT INTO marketplace.cities VALUES
    (1, 'San Francisco', 'US', '2008-06-01'),
    (2, 'London',        'GB', '2014-01-15'),
    (3, 'Montréal',      'CA', '2023-09-01'),
    (4, 'Düsseldorf',    'DE', '2024-03-01'),
    (5, 'Lyon',          'FR', '2024-05-15');

-- 300 Taskers; in the newer cities more of them leave within 90 days.
INSERT INTO marketplace.taskers
SELECT g,
       c.city_id,
       c.launched_on + (g % 120),
       CASE WHEN g % (ARRAY[9, 8, 3, 2, 4])[c.city_id] = 0
            THEN c.launched_on + (g % 120) + 20 + (g % 90) END
  FROM generate_series(1, 300) AS g
  JOIN marketplace.cities c ON c.city_id = 1 + g % 5;

INSERT INTO marketplace.tasks
SELECT g,
       t.city_id,
       t.tasker_id,
       (ARRAY['furniture assembly', 'moving help', 'café and restaurant cleaning',
              'handyman', 'yard work'])[1 + g % 5],
       timestamptz '2024-06-01' + g * interval '37 minutes',
       20 + (g % 9) * 7.5
  FROM generate_series(1, 2000) AS g
  JOIN marketplace.taskers t ON t.tasker_id = 1 + g % 300;

CREATE VIEW marketplace.tasker_churn_by_city AS
SELECT c.name AS city,
       c.country,
       c.launched_on,
       count(*) AS taskers,
       count(*) FILTER (WHERE t.churned_on < t.joined_on + 90) AS churned_90d,
       round(count(*) FILTER (WHERE t.churned_on < t.joined_on + 90)::numeric
             / count(*), 3) AS churn_rate_90d
  FROM marketplace.taskers t
  JOIN marketplace.cities c USING (city_id)
 WHERE c.launched_on >= '2023-01-01'
 GROUP BY c.name, c.country, c.launched_on;

CREATE VIEW marketplace.city_demand AS
SELECT c.name AS city,
       t.category,
       count(*) AS tasks,
       round(avg(t.price_eur), 2) AS avg_price_eur
  FROM marketplace.tasks t
  JOIN marketplace.cities c USING (city_id)
 GROUP BY c.name, t.category;

-- Register the views as data products: each gets a draft entry in the catalog.
SELECT meshpg.register_product(
    domain      => 'marketplace',
    name        => 'tasker_churn_by_city',
    relation    => 'marketplace.tasker_churn_by_city',
    description => 'Tasker churn in newly launched cities: share of Taskers who leave within 90 days of joining, per city launched since 2023',
    version     => '0.9.0',
    contacts    => '{marketplace-data@example.com}');
SELECT meshpg.register_product(
    domain      => 'marketplace',
    name        => 'city_demand',
    relation    => 'marketplace.city_demand',
    description => 'Task demand per city and category (furniture assembly, moving, café and restaurant cleaning, ...)');

-- Document the columns, then publish a version: the column interface becomes
-- the contract consumers can rely on.
SELECT meshpg.document_column('marketplace.tasker_churn_by_city', 'city',           'City name, as shown in the app');
SELECT meshpg.document_column('marketplace.tasker_churn_by_city', 'launched_on',    'Day the city opened to clients');
SELECT meshpg.document_column('marketplace.tasker_churn_by_city', 'taskers',        'Taskers who joined in that city');
SELECT meshpg.document_column('marketplace.tasker_churn_by_city', 'churned_90d',    'Taskers who left within 90 days of joining');
SELECT meshpg.document_column('marketplace.tasker_churn_by_city', 'churn_rate_90d', 'churned_90d / taskers, 3 decimals');
SELECT meshpg.document_product('marketplace.city_demand', contacts => '{marketplace-data@example.com}');

SELECT meshpg.publish(product => 'marketplace.tasker_churn_by_city', version => '1.0.0');
SELECT meshpg.publish('marketplace.city_demand');

-- Access is granted per product, with a purpose and, here, an expiry.
SELECT meshpg.grant_access(
    product => 'marketplace.tasker_churn_by_city',
    grantee => 'analyst_eu',
    purpose => 'EU expansion review: should we launch more cities like Düsseldorf?',
    expires => now() + interval '90 days');
SELECT meshpg.grant_access('marketplace.city_demand', 'growth_analyst',
                           purpose => 'Demand forecasting');

RESET ROLE;

-------------------------------------------------------------------------------
-- 3. The governance team defines policies once, for every domain: tags, what
--    happens to tagged columns, and who may see which rows.
-------------------------------------------------------------------------------
SELECT meshpg.create_tag('pii.email', description => 'E-mail addresses');
SELECT meshpg.create_tag('pii.card', description => 'Payment card numbers');
SELECT meshpg.create_tag('geo.region', description => 'Sales region of a row');
SELECT meshpg.create_masking_policy('email_keep_domain', 'email', tag => 'pii.email');
SELECT meshpg.create_masking_policy('card_last4', 'partial', tag => 'pii.card',
    args => '{"keep_last": 4}', exempt_purposes => '{fraud-investigation}');
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))',
    tag => 'geo.region');
SELECT meshpg.set_attribute('analyst_eu', 'region', '{EU}');

-------------------------------------------------------------------------------
-- 3b. The payments team does the same as marketplace in its own domain.
-------------------------------------------------------------------------------
SET ROLE payments_team;

CREATE TABLE payments.charges (
    charge_id  bigint PRIMARY KEY,
    task_id    bigint NOT NULL,
    amount_eur numeric(10,2) NOT NULL CHECK (amount_eur >= 0),
    method     text NOT NULL,
    charged_at timestamptz NOT NULL
);
CREATE TABLE payments.payouts (
    payout_id  bigint PRIMARY KEY,
    tasker_id  integer NOT NULL,
    amount_eur numeric(10,2) NOT NULL,
    paid_at    timestamptz NOT NULL
);
INSERT INTO payments.charges
SELECT g, g, 20 + (g % 9) * 7.5, (ARRAY['card', 'paypal', 'sepa'])[1 + g % 3],
       timestamptz '2024-06-01' + g * interval '37 minutes' + interval '3 hours'
  FROM generate_series(1, 2000) AS g;
INSERT INTO payments.payouts
SELECT g, 1 + g % 300, 150 + (g % 11) * 12, timestamptz '2024-06-07' + (g / 300) * interval '7 days'
  FROM generate_series(1, 1200) AS g;

CREATE VIEW payments.paypal_charges AS
SELECT charge_id, task_id, amount_eur, charged_at
  FROM payments.charges
 WHERE method = 'paypal';

SELECT meshpg.register_product('payments', 'charges', 'payments.charges',
    description => 'Client charges, one row per paid task');
SELECT meshpg.register_product('payments', 'payouts', 'payments.payouts',
    description => 'Weekly payouts to Taskers');
SELECT meshpg.register_product('payments', 'paypal_charges', 'payments.paypal_charges',
    description => 'Charges paid with PayPal');
SELECT meshpg.publish('payments.charges', '1.0.0');
SELECT meshpg.publish('payments.payouts', '1.0.0');
SELECT meshpg.publish('payments.paypal_charges', '1.0.0');
SELECT meshpg.grant_access('payments.charges', 'growth_analyst',
                           purpose => 'Lifetime value model');

-- Look-alike names are refused: 'paypa1' (digit one) beside 'paypal'.
CREATE VIEW payments.card_charges AS
SELECT charge_id, amount_eur FROM payments.charges WHERE method = 'card';
\set ON_ERROR_STOP 0
SELECT meshpg.register_product('payments', 'paypa1_charges', 'payments.card_charges',
    description => 'Not really PayPal');
\set ON_ERROR_STOP 1

-- Customers hold personal data: the team says which columns are what.
CREATE TABLE payments.customers (
    customer_id bigint PRIMARY KEY,
    email       text NOT NULL,
    card_number text NOT NULL,
    region      text NOT NULL
);
INSERT INTO payments.customers
SELECT g, 'client' || g || '@example.' || (ARRAY['fr', 'com', 'de'])[1 + g % 3],
       '4111' || lpad((g * 7919)::text, 12, '0'), (ARRAY['EU', 'US', 'APAC'])[1 + g % 3]
  FROM generate_series(1, 9) AS g;
SELECT meshpg.register_product('payments', 'customers', 'payments.customers',
    description => 'Paying clients, one row per customer');
SELECT meshpg.tag_column('payments.customers', 'email', 'pii.email');
SELECT meshpg.tag_column('payments.customers', 'card_number', 'pii.card');
SELECT meshpg.tag_column('payments.customers', 'region', 'geo.region');
SELECT meshpg.publish('payments.customers', '1.0.0');
SELECT meshpg.grant_access('payments.customers', 'analyst_eu', purpose => 'fraud-investigation');
-- The team itself reads its data raw.
SELECT * FROM payments.customers ORDER BY customer_id LIMIT 3;

RESET ROLE;

-- ... and so is a domain spelled with a Cyrillic 'а' that looks like 'payments'.
\set ON_ERROR_STOP 0
SELECT meshpg.create_domain('pаyments', 'payments_team', 'A look-alike of payments');
\set ON_ERROR_STOP 1

-------------------------------------------------------------------------------
-- 4. A consumer: analyst_eu finds products, reads the product card, and
--    queries what it was granted with plain SQL.
-------------------------------------------------------------------------------
SET ROLE analyst_eu;

SELECT product, state, version, description FROM meshpg.search('tasker churn');
-- Search folds case and accents: 'cafe' finds 'café'.
SELECT product, state, description FROM meshpg.search('cafe');
SELECT product, domain FROM meshpg.search('PayPal');

-- The product card (printed unaligned, without headers: \a and \t).
\a \t
SELECT jsonb_pretty(meshpg.describe('marketplace.tasker_churn_by_city'));
\a \t

SELECT * FROM marketplace.tasker_churn_by_city ORDER BY churn_rate_90d DESC;

-- Refused: an internal table, a product of the same domain granted to
-- someone else, and a product of another domain.
\set ON_ERROR_STOP 0
SELECT count(*) FROM marketplace.taskers;
SELECT * FROM marketplace.city_demand;
SELECT count(*) FROM payments.payouts;
\set ON_ERROR_STOP 1

-- Governed: e-mail addresses and cards are masked, and only EU rows exist.
SELECT * FROM payments.customers ORDER BY customer_id;
-- ... however the query is written.
SELECT count(*) FROM payments.customers WHERE email LIKE 'client1@%' OR region <> 'EU';
-- Why: the same compiler the planner runs, explained.
SELECT * FROM meshpg.explain_access('payments.customers');
-- A declared purpose that the grant names lifts the card mask.
SET meshpg.purpose = 'fraud-investigation';
SELECT customer_id, card_number FROM payments.customers ORDER BY customer_id;
RESET meshpg.purpose;

-- Metadata is discoverable by everyone; grants only by those concerned.
SELECT product, grantee, purpose, active FROM meshpg.grants ORDER BY product;

RESET ROLE;

-------------------------------------------------------------------------------
-- 5. The catalog, as the DBA sees it.
-------------------------------------------------------------------------------
SELECT name, owner, schema, products FROM meshpg.domains ORDER BY name;
SELECT product, kind, state, version, relation, owner FROM meshpg.products ORDER BY product;
SELECT product, column_name, type, description, published_type
  FROM meshpg.product_columns
 WHERE product = 'marketplace.tasker_churn_by_city'
 ORDER BY position;
SELECT product, grantee, purpose, expires_at IS NOT NULL AS expires, active
  FROM meshpg.grants ORDER BY product, grantee;

-------------------------------------------------------------------------------
-- 6. Audit and lineage: who read what, what is built from what.
-------------------------------------------------------------------------------
-- The payments team copies its customers into a mailing list.  It reads its
-- own data raw, so the copy holds raw e-mail addresses; registered as a
-- product, the copy inherits the tags of the columns it derives from, and
-- with them the masks.
SET ROLE payments_team;
CREATE TABLE payments.mailing_list AS
SELECT customer_id, email AS address, region FROM payments.customers;
SELECT meshpg.register_product('payments', 'mailing_list', 'payments.mailing_list',
    description => 'Customers who agreed to be contacted');
SELECT meshpg.publish('payments.mailing_list', '1.0.0');
SELECT meshpg.grant_access('payments.mailing_list', 'analyst_eu');
RESET ROLE;
SELECT product, column_name, tag, source FROM meshpg.tag_propagation ORDER BY 1, 2;
SET ROLE analyst_eu;
SELECT * FROM payments.mailing_list ORDER BY customer_id;
SET meshpg.purpose = 'fraud-investigation';
SELECT customer_id, card_number FROM payments.customers ORDER BY customer_id;
RESET meshpg.purpose;
RESET ROLE;
-- The domain team cannot drop the inherited tag; only the governance team
-- can declassify it, saying why.
SET ROLE payments_team;
\set ON_ERROR_STOP 0
SELECT meshpg.untag_column('payments.mailing_list', 'address', 'pii.email');
\set ON_ERROR_STOP 1
RESET ROLE;

-- Every read was captured in shared memory; the background worker moves
-- it into the history table (here, by hand).
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT product, role, columns, masks, row_policies, purpose, rows
  FROM meshpg.access_history
 WHERE role = 'analyst_eu'
 ORDER BY read_at, product;
-- Can we retire a column?  Who reads what, per product and version.
SELECT product, version, column_name, consumers, queries
  FROM meshpg.product_usage
 WHERE product LIKE 'payments.%'
 ORDER BY product, column_name NULLS FIRST;
-- What a change to customers.email would hit.
SELECT kind, name, via, reads FROM meshpg.impact('payments.customers', 'email');
-- The mesh, walked from a product, and exported.
SELECT level, source, target, kind, columns FROM meshpg.lineage('payments.customers', 'both');
SELECT jsonb_pretty(meshpg.lineage_openlineage('payments.mailing_list', 'upstream', 1) -> 0 -> 'outputs');
\pset format unaligned
\pset tuples_only on
\o :dotfile
SELECT meshpg.lineage_dot();
\o
\pset tuples_only off
\pset format aligned

-------------------------------------------------------------------------------
-- 7. An output port: analyst_eu streams the customers' changes, filtered and
--    masked exactly as its reads are (doc/ports.md); `meshctl stream
--    eu_customers | kcat -P -b BROKER -t TOPIC` would carry them to Kafka.
-------------------------------------------------------------------------------
SET ROLE payments_team;
-- the row policy is judged on the old row too: the WAL must carry it whole
ALTER TABLE payments.customers REPLICA IDENTITY FULL;
SELECT meshpg.create_output_port('payments.customers', 'analyst_eu', 'eu_customers');
INSERT INTO payments.customers VALUES
    (10, 'new.client@example.fr', '4111000000099990', 'EU'),
    (11, 'other.client@example.com', '4111000000088880', 'US');   -- not in the EU view
UPDATE payments.customers SET region = 'EU' WHERE customer_id = 2;    -- moves into view
UPDATE payments.customers SET region = 'US' WHERE customer_id = 10;   -- moves out
RESET ROLE;
SET ROLE analyst_eu;
SELECT change FROM meshpg.port_changes('eu_customers');
-- the same pseudonyms and masks as a SELECT
SELECT customer_id, email, card_number FROM payments.customers WHERE customer_id = 2;
RESET ROLE;
