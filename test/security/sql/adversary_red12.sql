--
-- adversary_red12: a red team round against version 1.4 (aggregation and
-- projection policies, governed statistics, events, output ports,
-- classification and retention).  The attacker is reader (default
-- privileges, a grant on vault.people, which shows it region EU only).
--

-- 1. The entity-set aggregate of the aggregation rewrite is callable by
-- anyone (the rewrite runs it as the reader).  A cap whose doubling
-- overflowed int32 left its hash table at 8 slots; the ninth distinct key
-- then probed a full table forever, a loop no statement_timeout or cancel
-- could stop (one query took a backend for good).  The cap is bounded like
-- min_group_size now.
SET ROLE reader;
\set VERBOSITY terse
SELECT meshpg._entity_count(meshpg._entities(g, 5)) FROM generate_series(1, 100) g;
SELECT meshpg._entity_count(meshpg._entities(g, 2000000000)) FROM generate_series(1, 100) g;
SELECT meshpg._entity_count(meshpg._entities(g, 0)) FROM generate_series(1, 100) g;
SELECT meshpg._entity_count(meshpg._entities(s, 1500000000))
  FROM (SELECT meshpg._entities(g, 3) s FROM generate_series(1, 20) g GROUP BY g) x;
\set VERBOSITY default
RESET ROLE;

-- 2. "CASE x WHEN v THEN ..." compares x with "=" as the search path finds
-- it, through a placeholder (CaseTestExpr) rather than x's Var: the check
-- of functions handed constrained columns did not see that the reader's
-- own "=" received a projected column, and every raw value reached it (a
-- NOTICE per row).  The placeholder now counts as the column it stands for.
CREATE ROLE red12_team;
SELECT meshpg.create_domain('red12', 'red12_team');
SET ROLE red12_team;
CREATE TABLE red12.t (id int PRIMARY KEY, secret text, other text, customer int);
INSERT INTO red12.t SELECT g, 'CAN' || 'ARY-' || g, 'o' || g, g % 20 FROM generate_series(1, 40) g;
SELECT meshpg.register_product('red12', 't', 'red12.t', description => 'Projected');
SELECT meshpg.publish('red12.t', '1.0.0');
SELECT meshpg.grant_access('red12.t', 'reader');
SELECT meshpg.create_projection_policy('red12_secret', product => 'red12.t', column_name => 'secret');
CREATE TABLE red12.a (id int PRIMARY KEY, city text, customer int);
INSERT INTO red12.a SELECT g, 'CAN' || 'ARY-city-' || (g % 2), g % 20 FROM generate_series(1, 40) g;
SELECT meshpg.register_product('red12', 'a', 'red12.a', description => 'Aggregate-only');
SELECT meshpg.publish('red12.a', '1.0.0');
SELECT meshpg.grant_access('red12.a', 'reader');
SELECT meshpg.create_aggregation_policy('red12_min5', 5, product => 'red12.a', entity_key => 'customer');
RESET ROLE;
-- attack.= (text, text) of vectors case 16 calls attack.always: made to
-- print what it gets here, put back at the end of this file
CREATE OR REPLACE FUNCTION attack.always(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'always => %, %', $1, $2; RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
SET ROLE reader;
SET search_path = attack, pg_catalog;
\set VERBOSITY terse
-- refused: a projected column, or any column of an aggregate-only product
SELECT count(*) FROM red12.t WHERE CASE secret WHEN 'x' THEN true ELSE false END;
SELECT count(*) FROM red12.t WHERE CASE id WHEN 1 THEN CASE secret WHEN 'x' THEN true END END;
SELECT count(*) FROM red12.t t JOIN (VALUES (1)) v(n) ON CASE t.secret WHEN 'x' THEN true END;
SELECT count(*) FROM red12.a WHERE CASE city WHEN 'x' THEN true ELSE true END;
-- allowed: a column the policy leaves free (the notices show its values)
SELECT count(*) FROM red12.t WHERE id <= 2 AND CASE other WHEN 'o1' THEN true ELSE false END;
RESET search_path;
-- built-in "=": allowed, the value never leaves
SELECT count(*) FROM red12.t WHERE CASE secret WHEN 'x' THEN true ELSE false END;

-- 3. A constrained column renamed on its way to the reader's function:
-- the check followed the column's own Var only.  A FULL JOIN ... USING
-- merges it into a Var of the join; a subquery of a condition handed it
-- to one of its FROM items (a subquery, VALUES, a function, a WITH query),
-- whose output is a new Var; and "v = ANY (SELECT t.secret)" compares a
-- Param standing for it with the search path's "=".  Each printed every
-- raw value.  Now the join's columns are followed, a subquery may not pass
-- the column to its FROM items or WITH queries, and a sublink's Params
-- count as the column its subquery uses.
CREATE TABLE attack.red12_s (secret text, city text);
INSERT INTO attack.red12_s VALUES ('zz', 'zz');
SELECT count(*) FROM red12.t FULL JOIN attack.red12_s USING (secret) WHERE f_leak(secret);
SELECT count(*) FROM red12.a FULL JOIN attack.red12_s USING (city) WHERE f_leak(city);
SELECT count(*) FROM red12.t t WHERE EXISTS (SELECT 1 FROM (SELECT t.secret AS v) x WHERE f_leak(x.v));
SELECT count(*) FROM red12.t t WHERE EXISTS (SELECT 1 FROM (SELECT t.secret AS v OFFSET 0) x WHERE f_leak(x.v));
SELECT count(*) FROM red12.t t WHERE EXISTS (SELECT 1 FROM (VALUES (t.secret)) x(v) WHERE f_leak(x.v));
SELECT count(*) FROM red12.t t WHERE EXISTS (WITH c AS (SELECT t.secret AS v) SELECT 1 FROM c WHERE f_leak(c.v));
SELECT count(*) FROM red12.t t WHERE EXISTS (SELECT 1 FROM unnest(ARRAY[t.secret]) x(v) WHERE f_leak(x.v));
SELECT count(*) FROM red12.t t WHERE (SELECT f_leak(v) FROM (SELECT t.secret AS v OFFSET 0) x);
SELECT count(*) FROM red12.t t
 WHERE EXISTS (SELECT 1 FROM attack.red12_s a FULL JOIN (SELECT t.secret AS secret) b USING (secret) WHERE f_leak(secret));
SELECT count(*) FROM red12.a p WHERE EXISTS (SELECT 1 FROM (SELECT p.city AS v OFFSET 0) x WHERE f_leak(x.v));
SET search_path = attack, pg_catalog;
SELECT count(*) FROM red12.t t WHERE 'x' = ANY (SELECT t.secret);
SELECT count(*) FROM red12.t t WHERE 'x' IN (SELECT t.secret || '');
RESET search_path;
-- still allowed: the column compared in a subquery's WHERE, built-in "="
SELECT count(*) FROM red12.t t WHERE EXISTS (SELECT 1 FROM attack.red12_s s WHERE s.secret = t.secret);
SELECT count(*) FROM red12.t t WHERE 'CAN' || 'ARY-1' = ANY (SELECT t.secret);
SELECT count(*) FROM red12.t JOIN attack.red12_s USING (secret);
\set VERBOSITY default
RESET ROLE;
CREATE OR REPLACE FUNCTION attack.always(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
