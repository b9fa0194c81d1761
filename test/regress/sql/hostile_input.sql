--
-- hostile_input: hostile values straight into meshpg's C entry points (the
-- mask functions, names, the descriptor reader, policy expressions).  Each
-- gets a clean error with its SQLSTATE, never a crash, and a failed apply
-- leaves the catalog as it was.
--
CREATE ROLE regress_hostile_team;
CREATE ROLE regress_hostile_dev IN ROLE regress_hostile_team;
SELECT meshpg.create_domain('hostile', 'regress_hostile_team');
GRANT CREATE ON SCHEMA hostile TO regress_hostile_team;
SET ROLE regress_hostile_dev;
CREATE TABLE hostile.items (id bigint NOT NULL, email text, amount numeric);
SELECT meshpg.register_product('hostile', 'items', 'hostile.items');
RESET ROLE;

-- mask_partial: keep counts at the edges, empty values and fills,
-- grapheme clusters, CR LF
SELECT meshpg.mask_partial('4111111111111111', 2147483647, 2147483647) AS int_max,
       meshpg.mask_partial('4111111111111111', 2147483647, 0) AS int_max_first,
       meshpg.mask_partial('', 0, 0, '') AS empty,
       meshpg.mask_partial('abcdef', 1, 1, '') AS empty_fill,
       meshpg.mask_partial('abcdef', 1, 1, 'é') AS multibyte_fill,
       meshpg.mask_partial(E'ab\r\ncd', 1, 1) AS crlf_one_grapheme,
       meshpg.mask_partial(E'e\u0301t\u00e9 \U0001F469\u200D\U0001F469\u200D\U0001F467 x', 1, 1) AS clusters;
SELECT stmt, expect_error(stmt) AS result FROM (VALUES
    ($$ SELECT meshpg.mask_partial('x', -1, 0) $$),
    ($$ SELECT meshpg.mask_partial('x', 0, -2147483648) $$),
    -- a result over 1 GB is a limit (54000), on both paths, before any
    -- of it is built
    ($$ SELECT meshpg.mask_partial(repeat('a', 1000), 0, 0, repeat('x', 1100000)) $$),
    ($$ SELECT meshpg.mask_partial(repeat('é', 1000), 0, 0, repeat('x', 1100000)) $$),
    ($$ SELECT meshpg.mask_partial(repeat('a', 4000), 0, 0, repeat('x', 270000)) $$),
    -- the SQL masks raise PostgreSQL's own errors
    ($$ SELECT meshpg.mask_round(1, 0) $$),
    ($$ SELECT meshpg.mask_bucket(1, 0) $$),
    ($$ SELECT meshpg.mask_round(1e130000, 1e-16000) $$),
    ($$ SELECT meshpg.mask_date(now(), 'fortnight') $$),
    ($$ SELECT meshpg.mask_date(current_date, '') $$)
) AS cases(stmt);
SELECT meshpg.mask_partial(NULL) IS NULL AS strict_null,
       meshpg.mask_partial('abc', 0, 0, NULL) IS NULL AS strict_null_fill,
       meshpg.mask_email(NULL) IS NULL AS strict_email;
SELECT meshpg.mask_email('@') AS at, meshpg.mask_email('a@') AS no_domain,
       meshpg.mask_email('@@@') AS ats, meshpg.mask_email('') AS empty,
       meshpg.mask_email(E'a@b@\u00e9.example') AS last_at,
       meshpg.mask_email(E'\r\n@x') AS crlf;
SELECT meshpg.mask_round('NaN', 10) AS nan, meshpg.mask_bucket('Infinity', 10) AS inf,
       meshpg.mask_bucket(5, 'NaN') AS nan_width,
       meshpg.mask_date('infinity'::date, 'month') AS inf_date;
SET ROLE regress_hostile_dev;
SELECT expect_error($$ SELECT meshpg.mask_hash('guess') $$);
RESET ROLE;

-- names: bytes at NAMEDATALEN after normalisation, expansions, invisibles,
-- LIKE metacharacters, quotes
SELECT meshpg.normalize_name(repeat('é', 31) || 'a') AS sixty_three_bytes,
       meshpg.normalize_name('ǅemo') AS titlecase,
       meshpg.normalize_name('Straße') AS sharp_s,
       meshpg.normalize_name('Ｐａｙｍｅｎｔｓ') AS fullwidth,
       meshpg.normalize_name(E'pay\u200Dments') AS zwj_ignorable;
SELECT stmt, expect_error(stmt) AS result FROM (VALUES
    ($$ SELECT meshpg.normalize_name(repeat('é', 32)) $$),
    ($$ SELECT meshpg.normalize_name(repeat('a', 62) || 'ß') $$),
    ($$ SELECT meshpg.normalize_name(E'\uFDFA') $$),
    ($$ SELECT meshpg.normalize_name(E'pay\x01ments') $$),
    ($$ SELECT meshpg.normalize_name('pay%') $$),
    ($$ SELECT meshpg.normalize_name('_') $$),
    ($$ SELECT meshpg.normalize_name('%') $$),
    ($$ SELECT meshpg.normalize_name(E'\t') $$),
    ($$ SELECT meshpg.normalize_name(E'e\u0301\u0301\u0301') $$),
    ($$ SELECT meshpg.normalize_name(E'\u0301e') $$),
    ($$ SELECT meshpg.normalize_name(NULL) $$),
    ($$ SELECT meshpg.create_domain('HOSTILE', 'regress_hostile_team') $$),
    ($$ SELECT meshpg.register_product('hostile', 'item%', 'hostile.items') $$),
    ($$ SELECT meshpg.publish('hostile.item_') $$),
    ($$ SELECT meshpg.publish('hostile.item%') $$),
    ($$ SELECT meshpg.publish('hostile.items.x') $$),
    ($$ SELECT meshpg.publish('"hostile".items') $$),
    ($$ SELECT meshpg.create_tag('pii.' || repeat('é', 30)) $$),
    ($$ SELECT meshpg.create_tag('pii.%') $$),
    ($$ SELECT meshpg.create_tag('pii', allowed_values => '{{a},{b}}') $$),
    ($$ SELECT meshpg.create_tag('pii', allowed_values => '{a,NULL}') $$),
    ($$ SELECT meshpg.document_product('hostile.items', contacts => '{NULL}') $$),
    ($$ SELECT meshpg.document_product('hostile.items', contacts => '{{a,b},{c,d}}') $$)
) AS cases(stmt);

-- descriptors: nesting, NUL, control characters, tags, anchors, streams
CREATE TEMP TABLE catalog_before AS
    SELECT (SELECT count(*) FROM meshpg.cat_product) AS products,
           (SELECT string_agg(product || ':' || coalesce(description, ''), ',' ORDER BY product)
              FROM meshpg.products) AS descriptions,
           (SELECT string_agg(column_name || ':' || coalesce(description, ''), ',' ORDER BY column_name)
              FROM meshpg.product_columns WHERE product = 'hostile.items') AS columns;
SET ROLE regress_hostile_dev;
SELECT stmt, expect_error(stmt) AS result FROM (VALUES
    ($$ SELECT meshpg.plan(repeat('[', 100000)) $$),
    ($$ SELECT meshpg.plan(repeat('{a: ', 100000)) $$),
    ($$ SELECT meshpg.plan(repeat('- ', 100000) || 'x') $$),
    ($$ SELECT meshpg.plan(repeat('a: ', 1000) || 'x') $$),
    ($$ SELECT meshpg.plan(E'"\\0": x') $$),
    ($$ SELECT meshpg.plan(E'{"id": "hostile.items\\u0000junk"}') $$),
    ($$ SELECT meshpg.plan(E'id: \x01') $$),
    ($$ SELECT meshpg.plan(E'"\\ud800": x') $$),
    ($$ SELECT meshpg.plan(E'\tid: x') $$),
    ($$ SELECT meshpg.plan(E'%TAG ! tag:x,2000:\n---\n!foo id: x') $$),
    ($$ SELECT meshpg.plan(E'id: !!binary aGVsbG8=') $$),
    ($$ SELECT meshpg.plan(E'? [a]\n: b') $$),
    ($$ SELECT meshpg.plan(E'a: &x [1]\nb: *x') $$),
    ($$ SELECT meshpg.plan(E'---\n') $$),
    ($$ SELECT meshpg.plan(E'id: x\n---\n- {}') $$),
    ($$ SELECT meshpg.plan('[[]]') $$),
    ($$ SELECT meshpg.plan(E'\uFEFFid: x') $$)
) AS cases(stmt);
-- an empty JSON list is an empty stream: nothing to do
SELECT count(*) AS empty_stream FROM meshpg.plan('[]');
-- A NUL in a value cuts neither the description nor a column name short,
-- and the first document of a failing stream is not applied either.
SELECT expect_error($$ SELECT meshpg.apply(replace(meshpg.export('hostile.items'), 'status: draft',
                                                   E'status: draft\ndescription: {purpose: "abc\\0def"}')) $$);
SELECT expect_error($$ SELECT meshpg.apply(replace(meshpg.export('hostile.items'), '- name: email',
                                                   E'- name: "email\\0junk"')) $$);
SELECT expect_error($$ SELECT meshpg.apply(replace(meshpg.export('hostile.items'), 'status: draft',
                                                   E'status: draft\ndescription: {purpose: first}')
                                           || E'---\n' ||
                                           replace(replace(meshpg.export('hostile.items'), 'items', 'other'),
                                                   'status: draft', E'status: draft\ndescription: {purpose: "x\\0"}')) $$);
RESET ROLE;
SELECT (SELECT count(*) FROM meshpg.cat_product) = products AS products_unchanged,
       (SELECT string_agg(product || ':' || coalesce(description, ''), ',' ORDER BY product)
          FROM meshpg.products) IS NOT DISTINCT FROM descriptions AS descriptions_unchanged,
       (SELECT string_agg(column_name || ':' || coalesce(description, ''), ',' ORDER BY column_name)
          FROM meshpg.product_columns WHERE product = 'hostile.items') IS NOT DISTINCT FROM columns
           AS columns_unchanged
  FROM catalog_before;

-- policy expressions: nesting past the parser's and the stack's limits,
-- several statements, subqueries, aggregates, window and set-returning
-- functions, parameters
SET ROLE regress_hostile_dev;
SELECT stmt, expect_error(stmt) AS result FROM (VALUES
    ($$ SELECT meshpg.create_row_policy('h1', repeat('(', 100000) || 'id > 0' || repeat(')', 100000), product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', repeat('(select ', 3000) || 'true' || repeat(')', 3000), product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', 'id > 0; DROP TABLE hostile.items', product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', 'true UNION SELECT false', product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', 'id > 0) OR (true', product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', 'id > 0 /* unterminated', product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', 'count(*) > 0', product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', 'row_number() OVER () > 0', product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', 'generate_series(1, 2) > 0', product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', '$1 > 0', product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', 'id', product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_row_policy('h1', '', product => 'hostile.items') $$),
    ($$ SELECT meshpg.create_masking_policy('h2', 'partial', product => 'hostile.items', column_name => 'email', args => '{"keep_first": 1e30}') $$),
    ($$ SELECT meshpg.create_masking_policy('h2', 'partial', product => 'hostile.items', column_name => 'email', args => '{"keep_first": 1.5}') $$),
    ($$ SELECT meshpg.create_masking_policy('h2', 'partial', product => 'hostile.items', column_name => 'email', args => '[1]') $$),
    ($$ SELECT meshpg.create_masking_policy('h2', 'round', product => 'hostile.items', column_name => 'amount', args => '{"step": 0}') $$),
    ($$ SELECT meshpg.create_masking_policy('h2', 'bucket', product => 'hostile.items', column_name => 'amount', args => '{"width": "NaN"}') $$)
) AS cases(stmt);
RESET ROLE;
SELECT count(*) AS hostile_policies FROM meshpg.policies WHERE product = 'hostile.items';

SET ROLE regress_hostile_dev;
SELECT meshpg.unregister_product('hostile.items');
DROP TABLE hostile.items;
RESET ROLE;
SELECT meshpg.drop_domain('hostile');
DROP ROLE regress_hostile_dev;
DROP ROLE regress_hostile_team;
