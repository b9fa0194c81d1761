-- doc/reference.md: the roles of the examples; domain scratch (owned by
-- lab_team, with a table scratch.t); domain marketplace with three
-- published products the search examples find.  The examples make domain
-- payments and its products themselves, in the order of the page.
CREATE ROLE payments_team NOLOGIN;
CREATE ROLE lab_team NOLOGIN;
CREATE ROLE marketplace_team NOLOGIN;
CREATE ROLE gov LOGIN IN ROLE meshpg_admin;     -- the governance team
CREATE ROLE analyst_eu LOGIN;
CREATE ROLE analysts NOLOGIN;
CREATE ROLE analyst2 LOGIN IN ROLE analysts;
CREATE ROLE someone LOGIN;
SELECT meshpg.create_domain('scratch', 'lab_team');
CREATE TABLE scratch.t (x int);
ALTER TABLE scratch.t OWNER TO lab_team;
SELECT meshpg.create_domain('marketplace', 'marketplace_team',
       description => 'Taskers, tasks and the cities we operate in');
SET ROLE marketplace_team;
CREATE TABLE marketplace.tasks (id bigint, category text, city text);
CREATE TABLE marketplace.café_partners (id bigint, name text);
CREATE VIEW marketplace.tasker_churn_by_city AS SELECT city, count(*) AS n FROM marketplace.tasks GROUP BY city;
SELECT meshpg.register_product('marketplace', 'tasks', 'marketplace.tasks',
       description => 'Tasks posted by clients, one row per task');
SELECT meshpg.register_product('marketplace', 'café_partners', 'marketplace.café_partners',
       description => 'Cafés and restaurants we clean for, with their tasks');
SELECT meshpg.register_product('marketplace', 'tasker_churn_by_city', 'marketplace.tasker_churn_by_city',
       description => 'Tasker churn in newly launched cities, per city');
SELECT meshpg.publish(product, '1.0.0') FROM meshpg.products WHERE domain = 'marketplace';
RESET ROLE;
