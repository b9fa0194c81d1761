--
-- adversary_dp: attacks on a differential-privacy policy.  The attacker is
-- reader (a grant on the product, TEMP, its own schema attack).  The
-- product vault.dpvisits holds, for each customer, its visits; customer 7
-- (the canary marker, spelt in pieces here, in every text column) is the target.  What DP does not stop
-- is said in doc/aggregate-policies.md ("Differential privacy").
--
SET ROLE vault_team;
CREATE TABLE vault.dpvisits (
    id int PRIMARY KEY,
    customer int NOT NULL,
    email text NOT NULL,
    city text NOT NULL,
    amount int NOT NULL
);
INSERT INTO vault.dpvisits
SELECT g, g % 50, 'CAN' || 'ARY-MAIL-' || (g % 50) || '@example.com',
       CASE WHEN g % 2 = 0 THEN 'Paris' ELSE 'Lyon' END, g % 90
  FROM generate_series(1, 1000) g;
-- the target: 1000 more visits of customer 7, amounts of 1000
INSERT INTO vault.dpvisits
SELECT 10000 + g, 7, 'CAN' || 'ARY-ROW-target@example.com', 'CAN' || 'ARY-ROW-Tinytown', 1000
  FROM generate_series(1, 1000) g;
SELECT meshpg.register_product('vault', 'dpvisits', 'vault.dpvisits', description => 'Visits');
SELECT meshpg.publish('vault.dpvisits', '1.0.0');
SELECT meshpg.grant_access('vault.dpvisits', 'reader');
SELECT meshpg.create_privacy_policy('dpvisits_dp', 'vault.dpvisits', 'customer',
    epsilon => 1, delta => 1e-6, max_contributions => 5,
    bounds => '{"amount": [0, 100]}', budget_epsilon => 20);
RESET ROLE;
CREATE FUNCTION attack.spent() RETURNS double precision LANGUAGE sql
    AS $$ SELECT coalesce(sum(epsilon), 0) FROM meshpg.privacy_spends WHERE reader = current_user $$;

-- 1. Rows, in any form: refused, the markers never shown.
SET ROLE reader;
SELECT * FROM vault.dpvisits LIMIT 1;
SELECT email FROM vault.dpvisits WHERE customer = 7 LIMIT 1;
COPY vault.dpvisits TO STDOUT;
COPY (SELECT city FROM vault.dpvisits) TO STDOUT;
SELECT city FROM vault.dpvisits GROUP BY city HAVING false;

-- 2. min/max on identifiers and values: refused.
SELECT min(email) FROM vault.dpvisits;
SELECT max(customer) FROM vault.dpvisits;
SELECT max(amount) FROM vault.dpvisits WHERE customer = 7;
SELECT string_agg(email, ',') FROM vault.dpvisits;
SELECT count(DISTINCT email) FROM vault.dpvisits;

-- 3. Group keys: a key held by one customer is not released (its noisy
-- count stays under the threshold), so the target's email and city never
-- show; refusals so far spent nothing.
SELECT email, count(*) FROM vault.dpvisits GROUP BY email;
SELECT city, abs(count(*) - 125) < 100 AS near_125 FROM vault.dpvisits GROUP BY city ORDER BY city;
SELECT attack.spent() AS spent;

-- 4. A single unit's contribution beyond the bound: customer 7's 1000
-- visits count for 5.
SELECT count(*) < 100 AS bounded FROM vault.dpvisits WHERE customer = 7;
SELECT sum(amount) < 5000 AS bounded_sum FROM vault.dpvisits WHERE customer = 7;

-- 5. Averaging many noisy answers: each costs epsilon 1; the budget (20)
-- stops the loop after the 16 left, rolled back or not.
DO $$
DECLARE
    ok int := 0;
    refused int := 0;
    c bigint;
BEGIN
    FOR i IN 1..100 LOOP
        BEGIN
            SELECT count(*) INTO c FROM vault.dpvisits WHERE customer = 7;
            ok := ok + 1;
        EXCEPTION WHEN configuration_limit_exceeded THEN
            refused := refused + 1;
        END;
    END LOOP;
    RAISE NOTICE 'answered %, refused %', ok, refused;
END
$$;
SELECT attack.spent() AS spent;
-- a rolled-back transaction, a function called per row: all refused now,
-- nothing more spent (terse: the hint says when the budget is back)
\set VERBOSITY terse
BEGIN;
SELECT count(*) FROM vault.dpvisits;
ROLLBACK;
CREATE FUNCTION attack.probe() RETURNS bigint LANGUAGE sql
    AS $$ SELECT count(*) FROM vault.dpvisits WHERE customer = 7 $$;
SELECT attack.probe() FROM generate_series(1, 3);
\set VERBOSITY default
SELECT attack.spent() AS spent;
RESET ROLE;

-- 6. Differencing and trackers, each answer noisy and paid for: with and
-- without the target, overlapping filters.  A fresh budget (the owner
-- raises it for the test).
SET ROLE vault_team;
SELECT meshpg.drop_policy('dpvisits_dp');
SELECT meshpg.create_privacy_policy('dpvisits_dp', 'vault.dpvisits', 'customer',
    epsilon => 1, delta => 1e-6, max_contributions => 5,
    bounds => '{"amount": [0, 100]}', budget_epsilon => 50);
RESET ROLE;
SET ROLE reader;
SELECT attack.spent() AS spent_before;
SELECT count(*) >= 0 AS noisy FROM vault.dpvisits;
SELECT count(*) >= 0 AS noisy FROM vault.dpvisits WHERE customer <> 7;
SELECT count(*) >= 0 AS noisy FROM vault.dpvisits WHERE customer < 8;
SELECT count(*) >= 0 AS noisy FROM vault.dpvisits WHERE customer < 7;
SELECT attack.spent() AS spent_after;

-- 7. Smuggling the product into a query that runs an inner query many
-- times (fresh noise each time, one spend): refused in every shape.
SELECT (SELECT count(*) FROM vault.dpvisits WHERE customer = g) FROM generate_series(1, 3) g;
SELECT * FROM generate_series(1, 3) g, LATERAL (SELECT count(*) FROM vault.dpvisits WHERE customer = g) s;
SELECT * FROM generate_series(1, 3) g, (SELECT count(*) FROM vault.dpvisits) s;
WITH s AS (SELECT count(*) AS n FROM vault.dpvisits) SELECT * FROM s, s AS t;
SELECT count(*) FROM vault.dpvisits UNION ALL SELECT count(*) FROM vault.dpvisits;
SELECT count(*) FROM vault.dpvisits a JOIN vault.dpvisits b ON a.customer = b.customer;
CREATE VIEW attack.dpv AS SELECT * FROM vault.dpvisits;
SELECT count(*) FROM attack.dpv;
CREATE VIEW attack.dpc AS SELECT count(*) AS n FROM vault.dpvisits;
SELECT * FROM attack.dpc;
SELECT city, count(*) OVER () FROM vault.dpvisits GROUP BY city;
-- the error channel: a condition that fails on the target's row
SELECT count(*) FROM vault.dpvisits WHERE 1 / (amount - 1000) > 0;
SELECT count(*) FROM vault.dpvisits WHERE (CASE WHEN customer = 7 THEN email ELSE '1' END)::int > 0;
SELECT count(*) FROM vault.dpvisits GROUP BY 10 / (amount - 1000);
SELECT amount, count(*) FROM vault.dpvisits GROUP BY amount HAVING 10 / (amount - 1000) > 0;
SELECT city, count(*) > 1 AS shown FROM vault.dpvisits GROUP BY city HAVING city = 'Lyon' AND count(*) > 1;
-- meshpg's own building blocks, called directly
SELECT meshpg.dp_count('{1,1000,1,0,0}') FROM vault.dpvisits;
SELECT meshpg.dp_noise_sample('laplace', 1, 1, 1);
SELECT meshpg.dp_admit(1, 1);
-- statistics: nothing of the rows (pg_stats shows no row of the product)
SELECT count(*) AS stats_rows FROM pg_stats WHERE schemaname = 'vault' AND tablename = 'dpvisits';
EXPLAIN ANALYZE SELECT count(*) FROM vault.dpvisits;
SELECT attack.spent() AS spent_after_refusals;
RESET ROLE;

-- 8. Plan reuse across roles: a statement the owner prepared (exact, the
-- owner is exempt) is planned again for the reader (noisy, spent), and a
-- cursor gives the same noisy answer when read again (no new draw).
SET ROLE vault_team;
PREPARE owner_q AS SELECT count(*) FROM vault.dpvisits WHERE customer = 7;
EXECUTE owner_q;
SET ROLE reader;
SELECT attack.spent() AS spent_before;
EXECUTE owner_q \gset
SELECT :count < 100 AS bounded_for_reader;
SELECT attack.spent() AS spent_after;
BEGIN;
DECLARE c SCROLL CURSOR FOR SELECT count(*) FROM vault.dpvisits;
FETCH NEXT FROM c \gset first_
MOVE BACKWARD ALL IN c;
FETCH NEXT FROM c \gset again_
SELECT :first_count = :again_count AS same_draw;
COMMIT;
SELECT attack.spent() AS spent_after_cursor;
RESET ROLE;
DEALLOCATE owner_q;
