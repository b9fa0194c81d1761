-- bench/governance_catalog.sql: grows the catalog for bench/governance.sh's
-- planning-time measurement (B3), around the benchmark's own product.
--   :products   small product tables to register and publish, in 20 domains
--   :policies   policies to create (besides the benchmark's own)
--
-- A fifth of the policies are bound to tags (100 tags at the defaults: four
-- in five masking email columns, one in five filtering rows on region), each
-- tag on the columns of 5 products; the rest are bound to products (three in
-- four masking card or amount, one in four filtering rows).  The consumer is
-- granted every fifth product.  None of this touches bench_dom.customers.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TABLE bench.cat_spec AS
SELECT i, format('cat_d%s', lpad((1 + i % 20)::text, 2, '0')) AS domain,
       format('t_%s', lpad(i::text, 5, '0')) AS name
  FROM generate_series(1, :products) i;
CREATE TABLE bench.cat_domain AS SELECT DISTINCT domain FROM bench.cat_spec;

SELECT format('CREATE ROLE %I NOLOGIN', domain || '_team') FROM bench.cat_domain ORDER BY 1
\gexec
SELECT meshpg.create_domain(domain, (domain || '_team')::regrole) FROM bench.cat_domain ORDER BY 1;

SELECT format('SET ROLE %I; CREATE TABLE %I.%I (id bigint PRIMARY KEY, email text, card text, '
              'region text, amount numeric); RESET ROLE', domain || '_team', domain, name)
  FROM bench.cat_spec ORDER BY i
\gexec

SELECT format('BEGIN; SET LOCAL ROLE %I; SELECT meshpg.register_product(%L, %L, %L, description => %L); '
              'SELECT meshpg.publish(%L, ''1.0.0''); %s COMMIT',
              domain || '_team', domain, name, format('%I.%I', domain, name),
              'Catalog filler ' || name, domain || '.' || name,
              CASE WHEN i % 5 = 0
                   THEN format('SELECT meshpg.grant_access(%L, ''bench_consumer'');',
                               domain || '.' || name)
                   ELSE '' END)
  FROM bench.cat_spec ORDER BY i
\gexec

-- Tag-bound policies (the governance team): one tag each.
CREATE TABLE bench.cat_tag AS
SELECT k, format('cat.tag%s', lpad(k::text, 3, '0')) AS tag,
       CASE WHEN k % 5 = 0 THEN 'row'
            ELSE (ARRAY['email', 'redact', 'null', 'hash'])[1 + k % 4] END AS kind
  FROM generate_series(1, greatest(:policies / 5, 1)) k;
SELECT meshpg.create_tag(tag) FROM bench.cat_tag ORDER BY k;
SELECT CASE WHEN kind = 'row'
            THEN meshpg.create_row_policy(format('cat_tag_row_%s', k),
                                          'value = ANY (meshpg.attribute(''region''))', tag => tag)
            ELSE meshpg.create_masking_policy(format('cat_tag_mask_%s', k), kind, tag => tag) END
  FROM bench.cat_tag ORDER BY k;
-- each tag on 5 products: the region column for row tags, email for masks
SELECT format('SET ROLE %I; SELECT meshpg.tag_column(%L, %L, %L); RESET ROLE',
              s.domain || '_team', s.domain || '.' || s.name,
              CASE WHEN t.kind = 'row' THEN 'region' ELSE 'email' END, t.tag)
  FROM bench.cat_tag t
  JOIN bench.cat_spec s
    ON s.i IN (SELECT t.k + j * (SELECT count(*) FROM bench.cat_tag) FROM generate_series(0, 4) j)
 ORDER BY t.k, s.i
\gexec

-- Product-bound policies (the domain teams), spread over the products.
SELECT format('SET ROLE %I; SELECT %s; RESET ROLE', s.domain || '_team',
              CASE WHEN j % 4 = 0
                   THEN format('meshpg.create_row_policy(%L, ''amount >= 0'', product => %L)',
                               'cat_prod_row_' || j, s.domain || '.' || s.name)
                   WHEN j % 2 = 0
                   THEN format('meshpg.create_masking_policy(%L, ''round'', product => %L, '
                               'column_name => ''amount'', args => ''{"step": 10}'')',
                               'cat_prod_mask_' || j, s.domain || '.' || s.name)
                   ELSE format('meshpg.create_masking_policy(%L, ''partial'', product => %L, '
                               'column_name => ''card'', args => ''{"keep_last": 4}'')',
                               'cat_prod_mask_' || j, s.domain || '.' || s.name) END)
  FROM generate_series(1, :policies - (SELECT count(*) FROM bench.cat_tag)) j
  JOIN bench.cat_spec s
    ON s.i = 1 + ((j - 1) * :products) / greatest(:policies - (SELECT count(*) FROM bench.cat_tag), 1)
 ORDER BY j
\gexec

ANALYZE meshpg.cat_domain, meshpg.cat_product, meshpg.cat_column, meshpg.cat_grant,
        meshpg.cat_tag, meshpg.cat_column_tag, meshpg.cat_policy;
