--
-- search: ranked, accent- and case-insensitive discovery for everyone.
--
SET ROLE regress_market_dev;
CREATE TABLE marketplace.tasks (id bigint, tasker_id bigint, city_id int, category text,
                                price numeric, booked_at timestamptz);
SELECT meshpg.register_product('marketplace', 'tasks', 'marketplace.tasks',
                               description => 'Tasks booked on the marketplace, one row per booking');
SELECT meshpg.document_column('marketplace.tasks', 'category', 'Kind of task: cleaning, moving, furniture assembly');
CREATE VIEW marketplace.tasker_churn_by_city AS
    SELECT city, count(*) FILTER (WHERE churned_on IS NOT NULL) AS churned, count(*) AS taskers
      FROM marketplace.taskers GROUP BY city;
SELECT meshpg.register_product('marketplace', 'tasker_churn_by_city', 'marketplace.tasker_churn_by_city',
                               description => 'Tasker churn in newly launched cities');
CREATE TABLE marketplace.cafe_partners (id int, name text);
SELECT meshpg.register_product('marketplace', 'Café_partners', 'marketplace.cafe_partners',
                               description => 'Crème de la crème: partner cafés offering Taskers a desk');
RESET ROLE;

-- A consumer with no grant at all can search and read the metadata.
SET ROLE regress_nobody;
SELECT product, state, rank > 0 AS ranked FROM meshpg.search('card transactions');
SELECT product FROM meshpg.search('cafe');
SELECT product FROM meshpg.search('CAFÉ');
SELECT product FROM meshpg.search('ｃａｆｅ');
SELECT product FROM meshpg.search('creme');
SELECT product FROM meshpg.search('tasker churn');
SELECT product FROM meshpg.search('furniture');           -- column documentation
SELECT product FROM meshpg.search('booked_at');          -- column name
SELECT product FROM meshpg.search('taskers');            -- domain description and names
SELECT product FROM meshpg.search('transact');           -- prefixes match
SELECT product FROM meshpg.search('payouts');
SELECT product FROM meshpg.search('zebra');
SELECT product FROM meshpg.search('tasks', max_results => 1);
-- names weigh more than descriptions
SELECT product, rank FROM meshpg.search('tasks') ORDER BY rank DESC, product LIMIT 3;
-- retired products are hidden unless asked for
SELECT product, state FROM meshpg.search('cities');
SELECT product, state FROM meshpg.search('cities', include_retired => true);
-- bad queries
SELECT expect_error($$ SELECT * FROM meshpg.search(NULL) $$);
SELECT expect_error($$ SELECT * FROM meshpg.search('') $$);
SELECT expect_error($$ SELECT * FROM meshpg.search(' !?* ') $$);
SELECT expect_error($$ SELECT * FROM meshpg.search('x', max_results => 0) $$);
SELECT expect_error($$ SELECT * FROM meshpg.search('x', max_results => NULL) $$);
-- tsquery syntax in the query is just text
SELECT count(*) FROM meshpg.search($$'card' & !transactions | (:*$$);
SELECT count(*) FROM meshpg.search($$'); DROP TABLE meshpg.cat_product; --$$);
SELECT count(*) > 0 AS catalog_intact FROM meshpg.products;

-- Metadata is discoverable; data is not.
SELECT count(*) > 0 AS sees_products FROM meshpg.products;
SELECT count(*) > 0 AS sees_columns FROM meshpg.product_columns;
SELECT count(*) > 0 AS sees_domains FROM meshpg.domains;
SELECT count(*) AS sees_grants FROM meshpg.grants;
SELECT (meshpg.describe('marketplace.tasks') ->> 'description') AS card;
RESET ROLE;

-- The relation is shown schema-qualified whatever the search_path.
SET search_path = marketplace;
SELECT relation FROM meshpg.products WHERE product = 'marketplace.tasks';
RESET search_path;
-- Search follows documentation changes.
SET ROLE regress_market_dev;
SELECT meshpg.document_product('marketplace.tasks', description => 'Bookings of handyman jobs');
RESET ROLE;
SELECT product FROM meshpg.search('handyman');
SELECT product FROM meshpg.search('marketplace booking');
