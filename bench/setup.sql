-- bench/setup.sql: the world for bench/registration.sh.
--   :n        number of products (tables of 10 columns)
-- Creates 20 domains (meshpg) and the same 20 in a hand-made catalog (hw),
-- the product tables, the product specs (bench.spec), 100 search words
-- (bench.query) and the timing function bench.search_ms().
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT setseed(0.42);

CREATE EXTENSION meshpg;
CREATE SCHEMA bench;

CREATE TABLE bench.vocab (kind text, words text[]);
INSERT INTO bench.vocab VALUES
 ('domain', '{sales,marketing,finance,logistics,support,risk,growth,catalog,ads,payments,
              billing,identity,inventory,pricing,reviews,delivery,partners,staffing,legal,fleet}'),
 ('subject', '{orders,customers,invoices,shipments,refunds,sessions,clicks,subscriptions,
               tickets,bookings,deliveries,returns,carts,listings,sellers,drivers,routes,
               campaigns,coupons,disputes}'),
 ('aspect', '{daily,weekly,monthly,hourly,by_region,by_channel,by_city,by_country,cohort,
              funnel,summary,ledger,snapshot,history,forecast}'),
 ('team', '{finance,growth,marketing,logistics,support,risk,sales,product,operations,legal}'),
 ('metric', '{revenue,margin,churn,latency,conversion,retention,volume,backlog,satisfaction,
              fraud,discounts,taxes}'),
 ('column', '{customer_id,order_id,amount,currency,region,country,city,created_at,updated_at,
              status,channel,device,tax,discount,quantity,price,cost,score,rating,latency_ms,
              distance_km,weight_kg,sku,category,brand,seller_id,driver_id,route_id,
              campaign_id,session_id,ticket_id,priority,agent_id,resolved_at,shipped_at,
              delivered_at,refunded_at,plan,mrr,seats,cohort_month,step,converted,visits,
              bounce_rate,email_domain,age_band,segment,warehouse,carrier,eta,promised_at,
              late,fraud_score,chargeback,vat_rate,fx_rate,coupon_code,payout_id,invoice_no}');

CREATE FUNCTION bench.pick(kind text, i bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT words[1 + (i % array_length(words, 1))] FROM bench.vocab v WHERE v.kind = pick.kind
$$;

-- Domains: an owner role each, in meshpg and in the hand-made catalog.
CREATE TABLE bench.domain AS
SELECT g AS n, bench.pick('domain', g - 1) AS name
  FROM generate_series(1, 20) g;
SELECT format('CREATE ROLE %I NOLOGIN', name || '_team') FROM bench.domain ORDER BY n
\gexec
SELECT meshpg.create_domain(name, (name || '_team')::regrole,
                            description => 'The ' || name || ' domain')
  FROM bench.domain ORDER BY n;

-- The hand-written equivalent: a catalog of plain tables, maintained with
-- INSERT/UPDATE, and an ILIKE search over names, descriptions and columns.
CREATE SCHEMA hw;
CREATE TABLE hw.domain (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    owner       regrole NOT NULL,
    nsp         regnamespace NOT NULL UNIQUE,
    description text
);
CREATE TABLE hw.product (
    id           bigserial PRIMARY KEY,
    domain_id    bigint NOT NULL REFERENCES hw.domain,
    name         text NOT NULL,
    relid        regclass NOT NULL UNIQUE,
    state        text NOT NULL DEFAULT 'draft',
    version      text NOT NULL DEFAULT '0.1.0',
    description  text,
    contacts     text[] NOT NULL DEFAULT '{}',
    column_names text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    UNIQUE (domain_id, name)
);
CREATE TABLE hw.product_column (
    product_id bigint NOT NULL REFERENCES hw.product ON DELETE CASCADE,
    name       text NOT NULL,
    type       text,
    position   int,
    PRIMARY KEY (product_id, name)
);
GRANT USAGE ON SCHEMA hw TO PUBLIC;
GRANT ALL ON ALL TABLES IN SCHEMA hw TO PUBLIC;
GRANT ALL ON ALL SEQUENCES IN SCHEMA hw TO PUBLIC;
INSERT INTO hw.domain (name, owner, nsp, description)
SELECT name, (name || '_team')::regrole, name::regnamespace, 'The ' || name || ' domain'
  FROM bench.domain ORDER BY n;

CREATE FUNCTION hw.search(query text, max_results int DEFAULT 20)
RETURNS TABLE (product text, description text)
LANGUAGE sql STABLE AS $$
    SELECT d.name || '.' || p.name, p.description
      FROM hw.product p JOIN hw.domain d ON d.id = p.domain_id
     WHERE p.state <> 'retired'
       AND (p.name ILIKE '%' || query || '%'
            OR p.description ILIKE '%' || query || '%'
            OR p.column_names ILIKE '%' || query || '%')
     ORDER BY 1
     LIMIT max_results
$$;

-- Products: product i lives in domain 1 + i % 20, has a two-word name, a
-- description of a few words, and 10 distinct columns from the vocabulary.
CREATE TABLE bench.spec AS
SELECT i,
       d.name AS domain,
       format('%s_%s_%s', bench.pick('subject', i * 7 + i / 20),
              bench.pick('aspect', i * 3 + i / 15), lpad(i::text, 5, '0')) AS name,
       format('%s %s for the %s team, with %s and %s',
              initcap(replace(bench.pick('aspect', i * 3 + i / 15), '_', ' ')),
              bench.pick('subject', i * 7 + i / 20),
              bench.pick('team', (random() * 1000)::int),
              bench.pick('metric', (random() * 1000)::int),
              bench.pick('metric', (random() * 1000)::int)) AS description,
       (SELECT array_agg(c ORDER BY random() + i * 0)
          FROM unnest((SELECT words FROM bench.vocab WHERE kind = 'column')) c) AS pool
  FROM generate_series(1, :n) i
  JOIN bench.domain d ON d.n = 1 + i % 20;
ALTER TABLE bench.spec ADD PRIMARY KEY (i);

SELECT format('SET ROLE %I; CREATE TABLE %I.%I (%s); RESET ROLE',
              domain || '_team', domain, name,
              (SELECT string_agg(format('%I %s', c,
                          CASE WHEN c LIKE '%\_id' OR c IN ('quantity', 'seats', 'step', 'visits')
                               THEN 'bigint'
                               WHEN c LIKE '%\_at' THEN 'timestamptz'
                               WHEN c IN ('converted', 'late', 'chargeback') THEN 'boolean'
                               WHEN c IN ('amount', 'tax', 'discount', 'price', 'cost', 'mrr',
                                          'score', 'rating', 'latency_ms', 'distance_km',
                                          'weight_kg', 'bounce_rate', 'fraud_score',
                                          'vat_rate', 'fx_rate') THEN 'numeric'
                               ELSE 'text' END), ', ')
                 FROM unnest(pool[1:10]) c))
  FROM bench.spec ORDER BY i
\gexec

-- 100 search words: subjects, teams, metrics and column names, from very
-- common to rare ones.
CREATE TABLE bench.query AS
SELECT n, word
  FROM (SELECT row_number() OVER (ORDER BY w) AS n, w AS word
          FROM (SELECT DISTINCT unnest(words) AS w FROM bench.vocab
                 WHERE kind IN ('subject', 'team', 'metric', 'column')) a) b
 WHERE n <= 100;

-- Median and 90th percentile (ms) of one run of each search word, after a
-- warm-up run of all of them.  kind: 'meshpg' or 'hw'.
CREATE FUNCTION bench.search_ms(kind text, OUT median float8, OUT p90 float8, OUT hits float8)
LANGUAGE plpgsql AS $$
DECLARE
    q text;
    t0 timestamptz;
    rows bigint;
    total bigint := 0;
    times float8[] := '{}';
    pass int;
BEGIN
    FOR pass IN 1..2 LOOP
        FOR q IN SELECT word FROM bench.query ORDER BY bench.query.n LOOP
            t0 := clock_timestamp();
            IF kind = 'meshpg' THEN
                SELECT count(*) INTO rows FROM meshpg.search(q);
            ELSE
                SELECT count(*) INTO rows FROM hw.search(q);
            END IF;
            IF pass = 2 THEN
                times := times || (extract(epoch FROM clock_timestamp() - t0) * 1000)::float8;
                total := total + rows;
            END IF;
        END LOOP;
    END LOOP;
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY t),
           percentile_cont(0.9) WITHIN GROUP (ORDER BY t)
      INTO median, p90
      FROM unnest(times) t;
    hits := total::float8 / array_length(times, 1);
END
$$;

SELECT count(*) AS product_tables FROM bench.spec;
