--
-- adversary_agg: projection and aggregation policies under attack.  The
-- product agsec.payments is aggregate-only for reader (groups of at least
-- 10 distinct customers) and its email column is projected.  The one
-- payment of the small town is the hidden secret: its city and every
-- email contain the canary word, built here without writing it.
--
CREATE ROLE agsec_team;
SELECT meshpg.create_domain('agsec', 'agsec_team');
SET ROLE agsec_team;
CREATE TABLE agsec.payments (id int PRIMARY KEY, customer int, city text, amount int, email text);
INSERT INTO agsec.payments
SELECT g, g % 40, CASE WHEN g % 2 = 0 THEN 'paris' ELSE 'berlin' END, 10 + g % 5,
       'CAN' || 'ARY-' || g || '@mail.example'
  FROM generate_series(1, 200) g;
INSERT INTO agsec.payments VALUES (999, 999, 'CAN' || 'ARY-town', 777777, 'CAN' || 'ARY-secret@mail.example');
SELECT meshpg.register_product('agsec', 'payments', 'agsec.payments', description => 'Payments');
SELECT meshpg.publish('agsec.payments', '1.0.0');
SELECT meshpg.grant_access('agsec.payments', 'reader');
SELECT meshpg.create_projection_policy('agsec_email', product => 'agsec.payments', column_name => 'email');
SELECT meshpg.create_aggregation_policy('agsec_min10', 10, product => 'agsec.payments',
       entity_key => 'customer');
ANALYZE agsec.payments;
RESET ROLE;

SET ROLE reader;
\set VERBOSITY terse

-- 1. Rows, by every road: refused at planning.
SELECT * FROM agsec.payments;
SELECT id, city FROM agsec.payments WHERE id = 999;
COPY agsec.payments TO STDOUT;
COPY (SELECT city FROM agsec.payments) TO STDOUT;
WITH w AS (SELECT city FROM agsec.payments) SELECT count(*) FROM w;
SELECT count(*) FROM (SELECT city FROM agsec.payments OFFSET 0) s;
SELECT city FROM agsec.payments UNION SELECT 'x';
CREATE VIEW attack.pay_rows AS SELECT id, city, amount FROM agsec.payments;
SELECT * FROM attack.pay_rows;
CREATE FUNCTION attack.pay_sql() RETURNS SETOF text LANGUAGE sql AS $$ SELECT city FROM agsec.payments $$;
SELECT * FROM attack.pay_sql();
CREATE FUNCTION attack.pay_plpgsql() RETURNS SETOF text LANGUAGE plpgsql AS
    $$ BEGIN RETURN QUERY SELECT city FROM agsec.payments; END $$;
SELECT * FROM attack.pay_plpgsql();
BEGIN;
DECLARE c CURSOR FOR SELECT city FROM agsec.payments;
ROLLBACK;
SELECT city, count(*), row_number() OVER () FROM agsec.payments GROUP BY city;
SELECT city, count(*) FROM agsec.payments t, LATERAL (SELECT t.id) l GROUP BY city;
SELECT count(*) FROM agsec.payments t, unnest(ARRAY[t.city]) u;
SELECT generate_series(1, count(*)) FROM agsec.payments;
EXPLAIN ANALYZE SELECT count(*) FROM agsec.payments;

-- 2. Projection escapes: the email never comes back.
SELECT email FROM agsec.payments GROUP BY email;
SELECT count(*) FROM agsec.payments p GROUP BY p;
SELECT row_to_json(p) FROM agsec.payments p;
SELECT count(*) FROM agsec.payments GROUP BY email IS DISTINCT FROM 'x';
SELECT count(*), CASE WHEN max(email) > 'a' THEN 1 END FROM agsec.payments;
SELECT string_agg(email, ',') FROM agsec.payments;
SELECT count(*) FROM agsec.payments GROUP BY length(email) ORDER BY 1;
SELECT count(*) FROM agsec.payments GROUP BY city ORDER BY min(email) LIMIT 1;
SELECT format('%s', email) FROM agsec.payments;
SELECT jsonb_build_object('e', email) FROM agsec.payments;
SELECT (SELECT email) FROM agsec.payments;
-- a function or operator of the attacker's on it: refused before it runs
SELECT count(*) FROM agsec.payments WHERE f_leak(email);
SELECT count(*) FROM agsec.payments WHERE email <<< 'zzz';
SELECT count(*) FROM agsec.payments WHERE EXISTS (SELECT f_leak(email));
SELECT count(*) FROM agsec.payments WHERE f_leak(city);
-- a domain of the attacker's whose check runs its function
RESET ROLE;
CREATE DOMAIN attack.leakdom AS text CHECK (f_leak(VALUE));
GRANT USAGE ON DOMAIN attack.leakdom TO PUBLIC;
SET ROLE reader;
SELECT count(*) FROM agsec.payments WHERE email::attack.leakdom IS NOT NULL;
SELECT count(*) FROM agsec.payments WHERE (ARRAY[email])::attack.leakdom[] IS NOT NULL;
-- built-in functions with side effects, or that run SQL built from it
SELECT count(*) FROM agsec.payments WHERE pg_notify('agsec', email) IS NULL;
SELECT count(*) FROM agsec.payments WHERE set_config('agsec.v', email, false) IS NOT NULL;
SELECT current_setting('agsec.v', true);
SELECT count(*) FROM agsec.payments WHERE query_to_xml('SELECT ' || quote_literal(email), true, false, '') IS NOT NULL;
SELECT count(*) FROM agsec.payments WHERE setseed(amount / 1000000.0) IS NOT NULL;
SELECT count(*) FROM agsec.payments WHERE pg_logical_emit_message(false, 'agsec', email) IS NOT NULL;
-- errors of built-in functions on it: message withheld
SELECT count(*) FROM agsec.payments WHERE email::int = 0;
SELECT count(*) FROM agsec.payments WHERE (city || 'x')::date IS NULL;
SELECT count(*) FROM agsec.payments WHERE to_number(email, '999') = 1;

-- 3. The small group, smuggled: folded or suppressed, never shown.
SELECT city, count(*), sum(amount) FROM agsec.payments GROUP BY city ORDER BY 1;
SELECT city, count(*) FROM agsec.payments WHERE amount > 1000 GROUP BY city;
SELECT count(*), sum(amount) FROM agsec.payments WHERE customer = 999;
SELECT city, count(*) FROM agsec.payments GROUP BY city HAVING count(*) = 1;
SELECT city, count(*) FROM agsec.payments GROUP BY city HAVING sum(amount) > 100000;
SELECT city, count(*) FROM agsec.payments GROUP BY city ORDER BY count(*) LIMIT 1;
SELECT city, count(*) FROM agsec.payments GROUP BY city ORDER BY sum(amount) DESC LIMIT 1 OFFSET 0;
SELECT city, count(*) FROM agsec.payments GROUP BY GROUPING SETS ((city), ()) ORDER BY 1;
SELECT city, customer, count(*) FROM agsec.payments GROUP BY CUBE (city, customer) HAVING count(*) < 3 ORDER BY 1, 2;
SELECT city, count(*) FROM agsec.payments GROUP BY city
UNION ALL SELECT city, count(*) FROM agsec.payments WHERE customer = 999 GROUP BY city ORDER BY 1;
-- a join that repeats the one payment 50 times still counts one customer
SELECT p.city, count(*), sum(p.amount) FROM agsec.payments p CROSS JOIN generate_series(1, 50) g
 WHERE p.amount > 1000 GROUP BY p.city;
SELECT p.city, count(*) FROM agsec.payments p JOIN agsec.payments q ON q.customer <> p.customer
 WHERE p.customer = 999 GROUP BY p.city;
-- per-customer correlated counts: each is a group of one
SELECT n, (SELECT sum(amount) FROM agsec.payments WHERE customer = n) FROM (VALUES (999), (1)) v(n);
-- expressions and filters inside aggregates single rows out: refused
SELECT sum(CASE WHEN customer = 999 THEN amount END) FROM agsec.payments;
SELECT sum(amount) FILTER (WHERE customer = 999) FROM agsec.payments;
SELECT sum(amount * (customer = 999)::int) FROM agsec.payments;
-- min and max are not in the policy's list: an extreme is one row's value
SELECT max(amount) FROM agsec.payments;
SELECT min(city) FROM agsec.payments;
SELECT count(DISTINCT city) FROM agsec.payments;

-- 4. Differencing with large groups: NOT stopped by aggregation policies
-- alone (doc/aggregate-policies.md).  Two totals of large groups whose
-- difference is the one payment: both are allowed, and the difference
-- shows its amount.  Only differential privacy bounds this.
SELECT (SELECT sum(amount) FROM agsec.payments) - (SELECT sum(amount) FROM agsec.payments WHERE amount < 1000) AS difference;

-- 5. Plans across roles: a plan made for an exempt role is replanned.
RESET ROLE;
PREPARE pay_q AS SELECT city, count(*) FROM agsec.payments GROUP BY city ORDER BY 1;
SELECT count(*) FROM (SELECT city FROM agsec.payments) s;
SET ROLE reader;
EXECUTE pay_q;
RESET ROLE;
DEALLOCATE pay_q;
SET ROLE reader;
PREPARE pay_r AS SELECT city, count(*) FROM agsec.payments WHERE customer = $1 GROUP BY city;
EXECUTE pay_r(999);
EXECUTE pay_r(999);
EXECUTE pay_r(999);
EXECUTE pay_r(999);
EXECUTE pay_r(999);
EXECUTE pay_r(999);
DEALLOCATE pay_r;

-- 6. Statistics of the product are hidden from the reader.
SELECT count(*) FROM pg_stats WHERE schemaname = 'agsec';
RESET ROLE;
