--
-- projection: a column that may be filtered on but never returned
-- (projection policies), their validation and explain_access.
--
CREATE ROLE regress_prj_team;
CREATE ROLE regress_prj_reader;
CREATE ROLE regress_prj_exempt;
SELECT meshpg.create_domain('prj', 'regress_prj_team');
SET ROLE regress_prj_team;
CREATE TABLE prj.customers (id int PRIMARY KEY, name text, email text, region text);
INSERT INTO prj.customers VALUES
    (1, 'Ana', 'ana@example.com', 'EU'), (2, 'Bo', 'bo@example.com', 'EU'),
    (3, 'Cy', 'cy@example.com', 'US');
CREATE TABLE prj.orders (id int, customer int, amount numeric);
INSERT INTO prj.orders VALUES (10, 1, 5), (11, 2, 7), (12, 3, 9);
SELECT meshpg.register_product('prj', 'customers', 'prj.customers', description => 'Customers');
SELECT meshpg.publish('prj.customers', '1.0.0');
SELECT meshpg.grant_access('prj.customers', 'regress_prj_reader');
SELECT meshpg.grant_access('prj.customers', 'regress_prj_exempt');
GRANT USAGE ON SCHEMA prj TO regress_prj_reader;
GRANT SELECT ON prj.orders TO regress_prj_reader;

-- Creating one: bound to a product's column, or to a tag.
SELECT meshpg.create_projection_policy('prj_email', product => 'prj.customers',
       column_name => 'email', exempt_roles => '{regress_prj_exempt}');
SELECT expect_error($$ SELECT meshpg.create_projection_policy('prj_x', product => 'prj.customers') $$);
SELECT expect_error($$ SELECT meshpg.create_projection_policy('prj_x', product => 'prj.customers', column_name => 'nope') $$);
SELECT expect_error($$ SELECT meshpg.create_projection_policy('prj_email', product => 'prj.customers', column_name => 'name') $$);
SELECT expect_error($$ SELECT meshpg.create_projection_policy('prj_x', tag => 'pii.nope') $$);
RESET ROLE;
SELECT name, kind, product, column_name, mask, mask_args FROM meshpg.policies WHERE name LIKE 'prj%';

SET ROLE regress_prj_reader;
SELECT subject, policy, kind, effect, reason FROM meshpg.explain_access('prj.customers');

-- Filtering, joining and HAVING on it: allowed.
SELECT id, name FROM prj.customers WHERE email = 'bo@example.com';
SELECT c.name, o.amount FROM prj.customers c JOIN prj.orders o ON o.customer = c.id
 WHERE c.email LIKE '%@example.com' ORDER BY 1;
SELECT region, count(*) FROM prj.customers GROUP BY region HAVING max(email) > 'a' ORDER BY 1;
SELECT count(*) FROM prj.customers c WHERE EXISTS (SELECT 1 FROM prj.orders o WHERE o.customer = c.id AND c.email <> '');

-- The access history names the projection policy on its column.
RESET ROLE;
SELECT meshpg.flush_access_history() >= 0 AS flushed_earlier;
SET ROLE regress_prj_reader;
SELECT id FROM prj.customers WHERE email = 'ana@example.com';
RESET ROLE;
SELECT meshpg.flush_access_history() > 0 AS flushed;
SELECT DISTINCT masks::text, row_policies FROM meshpg.access_history
 WHERE product = 'prj.customers' AND role = 'regress_prj_reader' ORDER BY 1, 2;
SET ROLE regress_prj_reader;

-- Returning it, in any form: refused with the column and the policy.
SELECT expect_error($$ SELECT email FROM prj.customers $$);
SELECT expect_error($$ SELECT * FROM prj.customers $$);
SELECT expect_error($$ SELECT upper(email) FROM prj.customers $$);
SELECT expect_error($$ SELECT c FROM prj.customers c $$);
SELECT expect_error($$ SELECT row_to_json(c) FROM prj.customers c $$);
SELECT expect_error($$ SELECT email IS DISTINCT FROM 'x' FROM prj.customers $$);
SELECT expect_error($$ SELECT CASE WHEN email LIKE 'a%' THEN 1 END FROM prj.customers $$);
SELECT expect_error($$ SELECT (SELECT 1 WHERE email LIKE 'a%') FROM prj.customers $$);
SELECT expect_error($$ SELECT id FROM prj.customers ORDER BY email $$);
SELECT expect_error($$ SELECT count(*) FROM prj.customers GROUP BY email $$);
SELECT expect_error($$ SELECT DISTINCT ON (email) id FROM prj.customers $$);
SELECT expect_error($$ SELECT count(email) FROM prj.customers $$);
SELECT expect_error($$ SELECT x FROM prj.customers c, LATERAL (SELECT c.email) AS l(x) $$);
SELECT expect_error($$ WITH w AS (SELECT email FROM prj.customers) SELECT count(*) FROM w $$);
SELECT expect_error($$ SELECT id FROM prj.customers UNION SELECT 1 UNION SELECT length(email) FROM prj.customers $$);
SELECT expect_error($$ SELECT e FROM (prj.customers c JOIN prj.orders o ON o.customer = c.id) AS j(i, n, e) $$);
SELECT expect_error($$ UPDATE prj.customers SET name = email RETURNING id $$);
COPY prj.customers TO STDOUT;
COPY prj.customers (id, name) TO STDOUT;

-- A function of the reader's would get the raw value: refused.
RESET ROLE;
CREATE FUNCTION public.prj_peek(text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
SET ROLE regress_prj_reader;
SELECT expect_error($$ SELECT id FROM prj.customers WHERE public.prj_peek(email) $$);
-- an error of a built-in function on it does not show the value
SELECT expect_error($$ SELECT id FROM prj.customers WHERE email::int = 1 $$);
-- a view of the reader's is the reader's query
CREATE VIEW pg_temp.v AS SELECT id, email FROM prj.customers;
SELECT expect_error($$ SELECT id FROM pg_temp.v $$);
RESET ROLE;

-- The exempt role, the domain team: the column as usual.
SET ROLE regress_prj_exempt;
SELECT subject, policy, kind, effect FROM meshpg.explain_access('prj.customers') WHERE subject = 'email';
SELECT email FROM prj.customers ORDER BY 1 LIMIT 1;
RESET ROLE;
SET ROLE regress_prj_team;
SELECT email FROM prj.customers ORDER BY 1 LIMIT 1;
RESET ROLE;

-- A plan made for the exempt role is not reused by the reader.
GRANT regress_prj_exempt, regress_prj_reader TO regress_prj_team;
SET ROLE regress_prj_exempt;
PREPARE prj_q AS SELECT email FROM prj.customers ORDER BY 1 LIMIT 1;
EXECUTE prj_q;
SET ROLE regress_prj_reader;
SELECT expect_error($$ EXECUTE prj_q $$);
RESET ROLE;
DEALLOCATE prj_q;

-- Bound to a tag: every tagged column.
CREATE ROLE regress_prj_gov;
GRANT meshpg_admin TO regress_prj_gov;
SET ROLE regress_prj_gov;
SELECT meshpg.create_tag('prj.contact');
SELECT meshpg.create_projection_policy('prj_contact', tag => 'prj.contact');
SELECT expect_error($$ SELECT meshpg.create_projection_policy('prj_y', tag => 'prj.contact', column_name => 'name') $$);
RESET ROLE;
SET ROLE regress_prj_team;
SELECT meshpg.tag_column('prj.customers', 'name', 'prj.contact');
RESET ROLE;
SET ROLE regress_prj_reader;
SELECT id FROM prj.customers WHERE name = 'Ana';
SELECT expect_error($$ SELECT name FROM prj.customers $$);
RESET ROLE;
SET ROLE regress_prj_team;
SELECT meshpg.drop_policy('prj_email');
RESET ROLE;
SELECT meshpg.drop_policy('prj_contact');
SET ROLE regress_prj_reader;
SELECT id, name, email FROM prj.customers ORDER BY 1;
RESET ROLE;
