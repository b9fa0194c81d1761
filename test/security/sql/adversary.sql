--
-- adversary: attacks beyond the 24 groups of vectors.sql, by the same
-- consumer (reader: EU rows, ssn hashed, email and note masked) and by
-- reader_nogrant (no grant, but wider attributes: EU and US).  As in
-- vectors.sql, this file never writes the word the make target looks for:
-- hidden values that must contain it are built by concatenation.
--
RESET ROLE;
SET compute_query_id = off;

-- The domain team's fixtures: a table product, a view product over a plain
-- table and a materialized-view product, 400 rows each, half of them in
-- the US (hidden from reader) with a value of their own.
SET ROLE vault_team;
CREATE TABLE vault.adv_raw (id int, region text, item text, kind text);
INSERT INTO vault.adv_raw
    SELECT g, CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US' END,
           CASE WHEN g % 2 = 0 THEN 'apple' ELSE 'CAN' || 'ARY-ITEM' END,
           CASE WHEN g % 2 = 0 THEN 'fruit' ELSE 'CAN' || 'ARY-KIND' END
      FROM generate_series(1, 400) g;
CREATE TABLE vault.adv_orders AS SELECT * FROM vault.adv_raw;
CREATE INDEX ON vault.adv_orders (lower(item));
CREATE STATISTICS vault.adv_orders_mcv (mcv, ndistinct) ON item, kind FROM vault.adv_orders;
CREATE VIEW vault.adv_orders_view AS SELECT * FROM vault.adv_raw;
CREATE MATERIALIZED VIEW vault.adv_orders_mv AS SELECT * FROM vault.adv_raw;
SELECT meshpg.register_product('vault', 'adv_orders', 'vault.adv_orders', description => 'Orders');
SELECT meshpg.register_product('vault', 'adv_orders_view', 'vault.adv_orders_view', description => 'Orders view');
SELECT meshpg.register_product('vault', 'adv_orders_mv', 'vault.adv_orders_mv', description => 'Orders mv');
SELECT meshpg.publish('vault.adv_orders', '1.0.0');
SELECT meshpg.publish('vault.adv_orders_view', '1.0.0');
SELECT meshpg.publish('vault.adv_orders_mv', '1.0.0');
SELECT meshpg.grant_access('vault.adv_orders', 'reader');
SELECT meshpg.grant_access('vault.adv_orders_view', 'reader');
SELECT meshpg.grant_access('vault.adv_orders_mv', 'reader');
SELECT meshpg.tag_column('vault.adv_orders', 'region', 'geo.region');
SELECT meshpg.tag_column('vault.adv_orders_view', 'region', 'geo.region');
SELECT meshpg.tag_column('vault.adv_orders_mv', 'region', 'geo.region');
ANALYZE vault.adv_raw, vault.adv_orders, vault.adv_orders_mv;
RESET ROLE;

-- The planner's row estimate of a query, as plain EXPLAIN prints it.
CREATE FUNCTION public.adv_rows(query text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::float8;
END $$;
-- and its estimated row width
CREATE FUNCTION public.adv_width(query text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Width')::int;
END $$;

SET ROLE reader;
SET search_path = attack, public;

-- 1. Statistics as an oracle: the estimate for a value only hidden rows
--    hold must be the estimate for a value no row holds.  Most common
--    values, histograms, expression-index and extended statistics of a
--    filtered product are not used for the reader.
SELECT adv_rows($q$SELECT * FROM vault.adv_orders WHERE item = 'CAN' || 'ARY-ITEM'$q$) AS hidden_value,
       adv_rows($q$SELECT * FROM vault.adv_orders WHERE item = 'absent'$q$) AS absent_value;
SELECT adv_rows($q$SELECT * FROM vault.adv_orders_view WHERE item = 'CAN' || 'ARY-ITEM'$q$) AS hidden_value,
       adv_rows($q$SELECT * FROM vault.adv_orders_view WHERE item = 'absent'$q$) AS absent_value;
SELECT adv_rows($q$SELECT * FROM vault.adv_orders_mv WHERE item = 'CAN' || 'ARY-ITEM'$q$) AS hidden_value,
       adv_rows($q$SELECT * FROM vault.adv_orders_mv WHERE item = 'absent'$q$) AS absent_value;
SELECT adv_rows($q$SELECT * FROM vault.adv_orders WHERE lower(item) = lower('CAN' || 'ARY-ITEM')$q$) AS hidden_expr,
       adv_rows($q$SELECT * FROM vault.adv_orders WHERE lower(item) = 'absent'$q$) AS absent_expr;
SELECT adv_rows($q$SELECT * FROM vault.adv_orders WHERE item = 'CAN' || 'ARY-ITEM' AND kind = 'CAN' || 'ARY-KIND'$q$) AS hidden_pair,
       adv_rows($q$SELECT * FROM vault.adv_orders WHERE item = 'absent' AND kind = 'absent'$q$) AS absent_pair;
SELECT adv_rows($q$SELECT * FROM vault.adv_orders WHERE id > 390$q$) AS hidden_range_top,
       adv_rows($q$SELECT * FROM vault.adv_orders WHERE id > 1000$q$) AS empty_range;
SELECT adv_rows($q$SELECT DISTINCT item, kind FROM vault.adv_orders$q$) AS groups;
-- a column's average width, an aggregate of the hidden values too, is its
-- type's default, as in a table never analysed
CREATE TEMP TABLE adv_never_analysed (kind text);
SELECT adv_width('SELECT kind FROM vault.adv_orders') = adv_width('SELECT kind FROM adv_never_analysed')
       AS default_width,
       adv_width('SELECT kind FROM vault.adv_orders_view') = adv_width('SELECT kind FROM adv_never_analysed')
       AS default_width_view;
-- a leaky operator's estimator gets no most common values either
CREATE FUNCTION attack.adv_leak_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
    $$ BEGIN RAISE NOTICE 'adv_leak_eq => %, %', $1, $2; RETURN $1 = $2; END $$;
CREATE OPERATOR attack.=== (PROCEDURE = attack.adv_leak_eq, LEFTARG = text, RIGHTARG = text,
                            RESTRICT = eqsel);
EXPLAIN (COSTS OFF) SELECT id FROM vault.adv_orders WHERE item === 'x';
EXPLAIN (COSTS OFF) SELECT id FROM vault.adv_orders_view WHERE item === 'x';
EXPLAIN (COSTS OFF) SELECT id FROM vault.adv_orders_mv WHERE item === 'x';
SELECT count(*) FROM pg_stats WHERE tablename LIKE 'adv_%';
SELECT count(*) FROM pg_stats_ext WHERE tablename LIKE 'adv_%';
-- the domain team's own estimates still use the statistics
RESET ROLE;
SET ROLE vault_team;
SELECT adv_rows($q$SELECT * FROM vault.adv_orders WHERE item = 'apple'$q$) AS owner_estimate,
       adv_rows($q$SELECT * FROM vault.adv_orders WHERE item = 'absent'$q$) AS owner_absent;
SELECT adv_width('SELECT kind FROM vault.adv_orders') AS owner_width;
RESET ROLE;
SET ROLE reader;
SET search_path = attack, public;

-- 2. A consumer lends its grant, through a view or a rule it owns, to a
--    role without a grant whose own policies are looser: the read shows
--    only what both may see.
CREATE VIEW attack.adv_share AS SELECT * FROM vault.people;
CREATE VIEW attack.adv_share_view AS SELECT * FROM vault.people_view;
CREATE VIEW attack.adv_share_events AS SELECT * FROM vault.events;
CREATE VIEW attack.adv_share_mv AS SELECT id, region, item FROM vault.adv_orders_mv WHERE id < 5;
CREATE TABLE attack.adv_drop (a int);
CREATE TABLE attack.adv_loot (name text, ssn text);
CREATE RULE adv_steal AS ON INSERT TO attack.adv_drop DO ALSO
    INSERT INTO attack.adv_loot SELECT name, ssn FROM vault.people;
GRANT USAGE ON SCHEMA attack TO reader_nogrant;
GRANT SELECT ON attack.adv_share, attack.adv_share_view, attack.adv_share_events,
                attack.adv_share_mv, attack.adv_loot TO reader_nogrant;
GRANT INSERT ON attack.adv_drop TO reader_nogrant;
SET ROLE reader_nogrant;
SELECT id, name, ssn, region FROM attack.adv_share ORDER BY id;
SELECT id, name, region FROM attack.adv_share_view ORDER BY id;
SELECT id, region, detail FROM attack.adv_share_events ORDER BY id;
SELECT id, region, item FROM attack.adv_share_mv ORDER BY id;
INSERT INTO attack.adv_drop VALUES (1);
SELECT name, ssn FROM attack.adv_loot ORDER BY name;
-- without the view, no grant: refused
SELECT id FROM vault.people;
RESET ROLE;
-- a superuser reading the consumer's view sees no more than its owner
SELECT id, name, ssn FROM attack.adv_share ORDER BY id;
SET ROLE reader;
SET search_path = attack, public;

-- 3. Evaluation order: a leaky function anywhere in the query sees only
--    allowed rows and masked values.
SELECT (SELECT f_leak(p.ssn) FROM vault.people p WHERE p.id = g) AS sub FROM generate_series(1, 3) g;
SELECT x.* FROM generate_series(1, 3) g,
       LATERAL (SELECT f_leak(name) AS l FROM vault.people WHERE id = g) x;
SELECT name, count(*) FROM vault.people GROUP BY GROUPING SETS ((name), ()) HAVING f_leak(name)
 ORDER BY name;
SELECT DISTINCT ON (f_leak(name)) id FROM vault.people ORDER BY f_leak(name), id;
SELECT id, row_number() OVER (ORDER BY f_leak(note)) FROM vault.people ORDER BY id;
SELECT g, p.id FROM generate_series(1, 3) g LEFT JOIN vault.people p ON f_leak(p.name) AND p.id = g
 ORDER BY g;
SELECT g, p.id FROM vault.people p FULL JOIN generate_series(1, 3) g ON f_leak(p.email) AND g = p.id
 ORDER BY g, p.id;
SELECT generate_series(1, CASE WHEN f_leak(name) THEN 1 END) FROM vault.people;
SELECT id FROM vault.people WHERE COALESCE(NULLIF(f_leak(ssn), true), false) ORDER BY id;

-- 4. Errors driven by values: only masked values of allowed rows reach
--    them, and a hidden row never raises one.
SELECT id FROM vault.people WHERE ssn::int > 0;
SELECT id FROM vault.people WHERE note::int > 0;
SELECT id FROM vault.people WHERE name::int > 0;
SELECT id FROM vault.people WHERE 1 / (CASE WHEN region = 'US' THEN 0 ELSE 1 END) = 1 ORDER BY id;
SELECT id FROM vault.people WHERE 1 / (CASE WHEN name LIKE 'CAN%' THEN 0 ELSE 1 END) = 1 ORDER BY id;
CREATE DOMAIN attack.adv_short AS text CHECK (length(VALUE) < 10);
SELECT ssn::attack.adv_short FROM vault.people;
CREATE TABLE attack.adv_uniq (v text UNIQUE);
INSERT INTO attack.adv_uniq SELECT note FROM vault.people;
INSERT INTO attack.adv_uniq SELECT email FROM vault.people
    ON CONFLICT (v) DO UPDATE SET v = excluded.v || 'x' RETURNING v;
CREATE TABLE attack.adv_parts (v text) PARTITION BY LIST (v);
CREATE TABLE attack.adv_parts_a PARTITION OF attack.adv_parts FOR VALUES IN ('a');
INSERT INTO attack.adv_parts SELECT name FROM vault.people WHERE id = 1;

-- 5. Whole rows, records and documents are built from masked columns.
SELECT count(*) FROM vault.people p WHERE p::text LIKE '%CAN%';
SELECT array_agg(p ORDER BY p.id) FROM vault.people p;
SELECT jsonb_path_query(to_jsonb(p), '$.ssn') FROM vault.people p ORDER BY p.id;
SELECT (json_populate_record(NULL::vault.people, row_to_json(p))).note FROM vault.people p ORDER BY p.id;
SELECT (SELECT q FROM vault.people q WHERE q.id = 1).ssn;
SELECT id FROM vault.people p WHERE (p.id, p.region) IS DISTINCT FROM (1, 'EU') ORDER BY id;

-- 6. Copies a consumer makes hold masked values of allowed rows only.
CREATE TABLE attack.adv_ctas AS SELECT * FROM vault.people;
SELECT * INTO attack.adv_into FROM vault.people;
CREATE MATERIALIZED VIEW attack.adv_mv AS SELECT id, ssn, note FROM vault.people WITH NO DATA;
CREATE UNIQUE INDEX ON attack.adv_mv (id);
REFRESH MATERIALIZED VIEW attack.adv_mv;
REFRESH MATERIALIZED VIEW CONCURRENTLY attack.adv_mv;
SELECT c.id, c.ssn, c.note, i.email, m.ssn = c.ssn AS same
  FROM attack.adv_ctas c JOIN attack.adv_into i USING (id) JOIN attack.adv_mv m USING (id)
 ORDER BY c.id;

-- 7. Functions: RETURN QUERY, dynamic EXECUTE, a cursor a SECURITY DEFINER
--    function of the domain team opens, and the consumer's own row-security
--    policy reading the product.
CREATE FUNCTION attack.adv_rq() RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY SELECT ssn || note FROM vault.people ORDER BY id;
    RETURN QUERY EXECUTE 'SELECT string_agg(name || email, '','' ORDER BY id) FROM vault.people';
END $$;
SELECT * FROM attack.adv_rq();
RESET ROLE;
CREATE FUNCTION vault.adv_open() RETURNS refcursor LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog AS $$
DECLARE c refcursor := 'adv_c';
BEGIN
    OPEN c FOR SELECT id, name, ssn FROM vault.people ORDER BY id;
    RETURN c;
END $$;
ALTER FUNCTION vault.adv_open() OWNER TO vault_team;
GRANT EXECUTE ON FUNCTION vault.adv_open() TO reader;
SET ROLE reader;
SET search_path = attack, public;
BEGIN;
SELECT vault.adv_open();
FETCH ALL FROM adv_c;
COMMIT;
CREATE TABLE attack.adv_rls (a int);
INSERT INTO attack.adv_rls VALUES (1);
ALTER TABLE attack.adv_rls ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY adv_p ON attack.adv_rls
    USING (EXISTS (SELECT 1 FROM vault.people WHERE f_leak(ssn) AND f_leak(name)));
SELECT * FROM attack.adv_rls;

-- 8. Plan cache: a generic plan made for a superuser through the consumer's
--    view is not served raw to the consumer, nor the consumer's to a role
--    without a grant.
RESET ROLE;
SET plan_cache_mode = force_generic_plan;
PREPARE adv_q AS SELECT id, name, ssn FROM attack.adv_share ORDER BY id;
SET ROLE reader;
EXECUTE adv_q;
SET ROLE reader_nogrant;
EXECUTE adv_q;
RESET ROLE;
DEALLOCATE adv_q;
RESET plan_cache_mode;

RESET ROLE;
