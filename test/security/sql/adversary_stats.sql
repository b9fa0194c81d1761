--
-- adversary_stats: governed statistics (issue 15).  A reader's plans are
-- now estimated from statistics of the rows it may see and of masked
-- values.  Each case tries to read a hidden row or a raw masked value back
-- through an estimate: most common values, histogram (and the index probe
-- the planner makes at a histogram's ends), distinct count, correlation,
-- row count, extended statistics, an expression index, a partitioned
-- product.  The yardstick: a twin table holding exactly what the reader
-- may see (its rows, masked), analysed by PostgreSQL; every estimate the
-- reader gets must be the twin's.  Hidden values hold the suite's canary word.
--
SET compute_query_id = off;

-- The owner's product: EU rows visible to reader, US rows hidden; account
-- masked (email); every hidden value and every raw account a canary.
CREATE SCHEMA twin;
SET ROLE vault_team;
CREATE TABLE vault.ledger (
    id int PRIMARY KEY,
    region text NOT NULL,
    code text NOT NULL,
    amount int NOT NULL,
    account text NOT NULL
);
INSERT INTO vault.ledger
SELECT i, CASE WHEN i % 4 = 0 THEN 'EU' ELSE 'US' END,
       CASE WHEN i % 4 = 0 THEN 'ok-' || (i % 7) ELSE 'CANA' || 'RY-CODE-' || (i % 11) END,
       CASE WHEN i % 4 = 0 THEN i % 100 ELSE 100000 + i END,
       'CANA' || 'RY-ACCT-' || i || '@' || CASE WHEN i % 4 = 0 THEN 'eu.example' ELSE 'us.example' END
  FROM generate_series(1, 4000) i;
CREATE INDEX ledger_amount ON vault.ledger (amount);
CREATE INDEX ledger_code_upper ON vault.ledger (upper(code));
CREATE STATISTICS vault.ledger_ext (mcv, ndistinct, dependencies) ON region, code FROM vault.ledger;
SELECT meshpg.register_product('vault', 'ledger', 'vault.ledger', description => 'Ledger');
SELECT meshpg.publish('vault.ledger', '1.0.0');
SELECT meshpg.grant_access('vault.ledger', 'reader');
SELECT meshpg.tag_column('vault.ledger', 'region', 'geo.region');
SELECT meshpg.tag_column('vault.ledger', 'account', 'pii.email');
ANALYZE vault.ledger;
RESET ROLE;

-- The twin: what reader may see, as the reader sees it.
CREATE TABLE twin.ledger AS
SELECT id, region, code, amount, meshpg.mask_email(account) AS account
  FROM vault.ledger WHERE region = 'EU' ORDER BY id;
ANALYZE twin.ledger;
GRANT USAGE ON SCHEMA twin TO reader;
GRANT SELECT ON twin.ledger TO reader;

-- The estimate of a query, from its plain EXPLAIN (all a reader gets).
CREATE FUNCTION public.est(q text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END $$;

SELECT meshpg.refresh_statistics('vault.ledger') AS sets;
SELECT meshpg.refresh_statistics('vault.people') AS people_sets;
SELECT meshpg.refresh_statistics('vault.events') AS partitioned_sets;

SET ROLE reader;
SET search_path = attack, public;

-- 0. Which statistics reader's plans use.
SELECT subject, effect FROM meshpg.explain_access('vault.ledger', 'reader')
 WHERE subject = 'statistics';
SELECT subject, effect, reason FROM meshpg.explain_access('vault.events', 'reader')
 WHERE subject = 'statistics';

-- 1. Every estimate is the twin's: row count, most common values (visible,
-- hidden, absent), histogram (inside, past the visible end, hidden range),
-- distinct count, masked column, extended statistics' pairs, expression
-- index.  A row is printed only when they differ.
SELECT p AS differs, est(format('SELECT * FROM vault.ledger %s', p)) AS governed,
       est(format('SELECT * FROM twin.ledger %s', p)) AS twin
  FROM unnest(ARRAY[
    '',
    'WHERE code = ''ok-3''',
    'WHERE code = ''CANA'' || ''RY-CODE-5''',
    'WHERE code = ''never''',
    'WHERE amount < 50',
    'WHERE amount > 95',
    'WHERE amount > 100000',
    'WHERE amount BETWEEN 100100 AND 100200',
    'WHERE region = ''US''',
    'WHERE region = ''US'' AND code = ''CANA'' || ''RY-CODE-1''',
    'WHERE region = ''EU'' AND code = ''ok-1''',
    'WHERE upper(code) = ''CANA'' || ''RY-CODE-1''',
    'ORDER BY amount LIMIT 10']) p
 WHERE est(format('SELECT * FROM vault.ledger %s', p)) IS DISTINCT FROM
       est(format('SELECT * FROM twin.ledger %s', p));

-- distinct counts (GROUP BY), the masked column's too
SELECT g AS differs
  FROM unnest(ARRAY['code', 'amount', 'account', 'region, code']) g
 WHERE est(format('SELECT %s FROM vault.ledger GROUP BY %s', g, g)) IS DISTINCT FROM
       est(format('SELECT %s FROM twin.ledger GROUP BY %s', g, g));

-- 2. The estimator of a leaky operator is handed histogram and MCV values:
-- only the reader's visible codes may come out (the notices).
EXPLAIN (COSTS OFF) SELECT * FROM vault.ledger WHERE code <<< 'ok-2';
-- on a masked column the reader's comparison is on the mask, whose
-- estimator gets no statistics
EXPLAIN (COSTS OFF) SELECT * FROM vault.ledger WHERE account <<< 'x';

-- 3. The index probe at a histogram's end: a hidden row past every visible
-- amount changes nothing (the planner never reads the index's actual ends
-- for a served relation); the query still runs through the index.
SELECT est('SELECT * FROM vault.ledger WHERE amount > 98') AS before_insert;
RESET ROLE;
INSERT INTO vault.ledger VALUES (99999, 'US', 'CANA' || 'RY-CODE-X', 2000000000, 'CANA' || 'RY-ACCT-X@us.example');
INSERT INTO vault.ledger VALUES (99998, 'US', 'CANA' || 'RY-CODE-Y', -2000000000, 'CANA' || 'RY-ACCT-Y@us.example');
SET ROLE reader;
SELECT est('SELECT * FROM vault.ledger WHERE amount > 98') AS after_insert;
SELECT est('SELECT * FROM vault.ledger WHERE amount < 1') AS low_end;
SELECT est('SELECT * FROM twin.ledger WHERE amount < 1') AS twin_low_end;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*), max(amount) FROM vault.ledger WHERE amount > 90;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- 4. Nothing of the catalog of sets is readable by a consumer.
SELECT count(*) FROM meshpg.cat_stat_column;
SELECT count(*) FROM meshpg.statistic_sets;
SELECT count(*) AS stats_rows FROM pg_stats WHERE schemaname = 'vault';
SELECT count(*) AS ext_stats FROM pg_stats_ext WHERE schemaname = 'vault';
-- nor may it refresh them (it would choose when the sample is taken)
SELECT meshpg.refresh_statistics('vault.ledger');

-- 5. The existing statistics attacks, with governed sets in place.
EXPLAIN (COSTS OFF) SELECT * FROM vault.people WHERE ssn <<< 'x';
SELECT id FROM vault.people WHERE name <<< 'zzz' ORDER BY id;
SELECT est('SELECT * FROM vault.people WHERE name = ''CANA'' || ''RY-ROW-Cy''') =
       est('SELECT * FROM vault.people WHERE name = ''nobody''') AS hidden_name_unseen;
-- the partitioned product stays withheld: a hidden partition's value and a
-- value never written are estimated alike
SELECT est('SELECT * FROM vault.events WHERE detail = ''CANA'' || ''RY-ROW-DETAIL''') =
       est('SELECT * FROM vault.events WHERE detail = ''nothing''') AS partition_unseen;

-- 6. A specialisation of its own: a reader whose attribute changes is not
-- served the former set (its key is another), until a refresh.
RESET ROLE;
SELECT meshpg.set_attribute('reader', 'region', '{EU,US}');
SET ROLE reader;
SELECT subject, effect FROM meshpg.explain_access('vault.ledger', 'reader')
 WHERE subject = 'statistics';
SELECT est('SELECT * FROM vault.ledger WHERE code = ''CANA'' || ''RY-CODE-5''') =
       est('SELECT * FROM vault.ledger WHERE code = ''never''') AS stale_set_not_served;
RESET ROLE;
SELECT meshpg.set_attribute('reader', 'region', '{EU}');
DROP FUNCTION public.est(text);
DROP SCHEMA twin CASCADE;
-- leave the suite as it was for whatever runs next
DELETE FROM meshpg.cat_stat_set;
