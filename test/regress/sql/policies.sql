--
-- policies: tags, attributes, masking and row policies, their validation,
-- their rights, and explain_access.  (Enforcement through every read path
-- is the security suite's job: test/security.)
--
-- Tags: the governance team's vocabulary.
SET ROLE regress_gov;
SELECT meshpg.create_tag('PII.Email', description => 'E-mail addresses');
SELECT meshpg.create_tag('geo.region', allowed_values => '{region}');
SELECT meshpg.create_tag('pii.card');
SELECT meshpg.create_tag('finance.amount');
SELECT expect_error($$ SELECT meshpg.create_tag('pii.email') $$);
SELECT expect_error($$ SELECT meshpg.create_tag('') $$);
SELECT expect_error($$ SELECT meshpg.create_tag('pii..email') $$);
SELECT expect_error($$ SELECT meshpg.create_tag('pii.e mail') $$);
SELECT expect_error($$ SELECT meshpg.create_tag('.pii') $$);
SELECT expect_error($$ SELECT meshpg.create_tag(NULL) $$);
SELECT expect_error($$ SELECT meshpg.create_tag('x', allowed_values => '{a,NULL}') $$);
RESET ROLE;
SELECT name, description, allowed_values FROM meshpg.tags ORDER BY name;
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.create_tag('mine') $$);
RESET ROLE;

-- Tagging: the domain team says which of its columns are what.
SET ROLE regress_pay_dev;
SELECT meshpg.tag_column('payments.transactions', 'customer_email', 'pii.email');
SELECT meshpg.tag_column('payments.transactions', 'region', 'geo.region', value => 'region');
SELECT expect_error($$ SELECT meshpg.tag_column('payments.transactions', 'region', 'geo.region', value => 'country') $$);
SELECT expect_error($$ SELECT meshpg.tag_column('payments.transactions', 'region', 'geo.region') $$);
SELECT expect_error($$ SELECT meshpg.tag_column('payments.transactions', 'nope', 'pii.email') $$);
SELECT expect_error($$ SELECT meshpg.tag_column('payments.transactions', 'amount', 'no.such.tag') $$);
SELECT expect_error($$ SELECT meshpg.tag_column('payments.transactions', 'amount', 'pii.email', value => '') $$);
SELECT expect_error($$ SELECT meshpg.untag_column('payments.transactions', 'amount', 'pii.email') $$);
RESET ROLE;
SET ROLE regress_market_dev;
SELECT expect_error($$ SELECT meshpg.tag_column('payments.transactions', 'amount', 'pii.card') $$);
RESET ROLE;
SELECT product, column_name, tag, value, tagged_by FROM meshpg.column_tags ORDER BY 1, 2, 3;

-- Attributes: set by the governance team only, visible to it and the role.
SET ROLE regress_gov;
SELECT meshpg.set_attribute('regress_analyst', 'region', '{EU}');
SELECT meshpg.set_attribute('regress_analysts_group', 'region', '{US}');
SELECT meshpg.set_attribute('regress_analyst', 'clearance', '{high}');
SELECT expect_error($$ SELECT meshpg.set_attribute('regress_analyst', 'region', NULL) $$);
SELECT expect_error($$ SELECT meshpg.set_attribute('regress_analyst', '', '{x}') $$);
SELECT expect_error($$ SELECT meshpg.set_attribute('regress_analyst', 'k', '{NULL}') $$);
SELECT expect_error($$ SELECT meshpg.set_attribute('regress_no_such_role', 'k', '{x}') $$);
SELECT expect_error($$ SELECT meshpg.unset_attribute('regress_analyst', 'nothing') $$);
SELECT meshpg.unset_attribute('regress_analyst', 'clearance');
RESET ROLE;
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.set_attribute('regress_pay_dev', 'region', '{ALL}') $$);
RESET ROLE;
SET ROLE regress_analyst;
SELECT role, key, "values" FROM meshpg.attributes ORDER BY 1, 2;
SELECT meshpg.attribute('region');
RESET ROLE;
SET ROLE regress_analyst2;               -- inherits its group's attribute
SELECT meshpg.attribute('region'), meshpg.attribute('nothing');
RESET ROLE;

-- Masking policies: validated by compiling them for every tagged column.
SET ROLE regress_gov;
SELECT meshpg.create_masking_policy('email_mask', 'email', tag => 'pii.email',
                                    description => 'Keep the domain');
SELECT meshpg.create_masking_policy('card_hash', 'hash', tag => 'pii.card');   -- creates the key
SELECT expect_error($$ SELECT meshpg.create_masking_policy('email_mask', 'null', tag => 'pii.email') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'scramble', tag => 'pii.email') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'partial', tag => 'pii.email', args => '{"keep_lasts": 4}') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'partial', tag => 'pii.email', args => '[1]') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'custom', tag => 'pii.email') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'null', tag => 'pii.email', expression => 'value') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'null') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'null', tag => 'pii.email', product => 'payments.transactions') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'null', tag => 'pii.email', column_name => 'x') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'null', product => 'payments.transactions') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'null', product => 'payments.transactions', column_name => 'nope') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'null', tag => 'pii.email', exempt_attributes => '{"k": 1}') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'null', tag => 'pii.email', exempt_roles => '{NULL}') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'null', tag => 'pii.email', exempt_purposes => '{""}') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('bad name', 'null', tag => 'pii.email') $$);
-- a mask that cannot apply to a tagged column is refused, not stored
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'round', tag => 'pii.email', args => '{"step": 10}') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m1', 'date', tag => 'pii.email') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m2', 'custom', product => 'payments.transactions', column_name => 'amount', expression => '''~'' || value') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m3', 'custom', tag => 'pii.email', expression => 'count(value)') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m4', 'custom', tag => 'pii.email', expression => 'value FROM pg_authid') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m5', 'custom', tag => 'pii.email', expression => 'value; DROP TABLE payments.transactions') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m6', 'custom', tag => 'pii.email', expression => 'no_such_function(value)') $$);
SELECT name FROM meshpg.policies ORDER BY 1;
RESET ROLE;
-- a domain team binds policies to its own products, not to tags
SET ROLE regress_pay_dev;
SELECT meshpg.create_masking_policy('amount_round', 'round', product => 'payments.transactions',
                                    column_name => 'amount', args => '{"step": 10}');
SELECT meshpg.create_masking_policy('settled_month', 'date', product => 'payments.transactions',
                                    column_name => 'settled_at', args => '{"unit": "month"}');
SELECT expect_error($$ SELECT meshpg.create_masking_policy('tagged', 'null', tag => 'pii.email') $$);
RESET ROLE;
SET ROLE regress_market_dev;
SELECT expect_error($$ SELECT meshpg.create_masking_policy('theirs', 'null', product => 'payments.transactions', column_name => 'amount') $$);
RESET ROLE;

-- Row policies: boolean, no aggregates, no reading other governed products.
SET ROLE regress_gov;
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))',
                                tag => 'geo.region', exempt_purposes => '{audit}');
SELECT expect_error($$ SELECT meshpg.create_row_policy('r1', 'value', tag => 'geo.region') $$);
SELECT expect_error($$ SELECT meshpg.create_row_policy('r1', 'count(*) > 0', tag => 'geo.region') $$);
SELECT expect_error($$ SELECT meshpg.create_row_policy('r1', 'row_number() OVER () > 0', tag => 'geo.region') $$);
SELECT expect_error($$ SELECT meshpg.create_row_policy('r1', 'generate_series(1, 2) > 0', tag => 'geo.region') $$);
SELECT expect_error($$ SELECT meshpg.create_row_policy('r1', 'EXISTS (SELECT 1 FROM payments.payouts)', tag => 'geo.region') $$);
SELECT expect_error($$ SELECT meshpg.create_row_policy('r1', 'no_such_column = 1', tag => 'geo.region') $$);
SELECT expect_error($$ SELECT meshpg.create_row_policy('r1', 'true) OR (true', tag => 'geo.region') $$);
SELECT expect_error($$ SELECT meshpg.create_row_policy('r1', NULL, tag => 'geo.region') $$);
RESET ROLE;
-- a product-bound policy is stored in canonical, qualified form
SET ROLE regress_pay_dev;
SELECT meshpg.create_row_policy('big_only', 'amount >= 10', product => 'payments.transactions',
                                exempt_roles => '{regress_analysts_group}');
SELECT name, kind, tag, product, column_name, mask, mask_args, expression, exempt_roles,
       exempt_purposes, applies_to_domain
  FROM meshpg.policies ORDER BY name;

-- explain_access: for the role itself, its domain and the governance team.
SELECT * FROM meshpg.explain_access('payments.transactions', 'regress_analyst');
SELECT * FROM meshpg.explain_access('payments.transactions', 'regress_analyst2');
RESET ROLE;
SET ROLE regress_analyst;
SELECT subject, effect FROM meshpg.explain_access('payments.transactions') ORDER BY 1;
SELECT expect_error($$ SELECT * FROM meshpg.explain_access('payments.transactions', 'regress_analyst2') $$);
SELECT expect_error($$ SELECT * FROM meshpg.explain_access('payments.nothing') $$);
-- and what the analyst reads agrees with the explanation
SELECT id, customer_email, amount, region, date_trunc('day', settled_at) = settled_at AS month_start
  FROM payments.transactions ORDER BY id;
SELECT expect_error($$ SET meshpg.purpose = 'audit' $$);   -- no grant names it yet
RESET ROLE;
SET ROLE regress_pay_dev;
SELECT meshpg.grant_access('payments.transactions', 'regress_analyst', purpose => 'audit');
RESET ROLE;
SET ROLE regress_analyst;
SET meshpg.purpose = 'audit';            -- own_region exempts this purpose
SELECT meshpg.purpose(), count(*) FROM payments.transactions;
RESET meshpg.purpose;
SELECT count(*) FROM payments.transactions;
RESET ROLE;

-- The domain team reads its own data raw, unless a policy says otherwise.
SET ROLE regress_pay_dev;
SELECT id, customer_email, amount FROM payments.transactions ORDER BY id;
SELECT meshpg.create_masking_policy('card_for_all', 'partial', product => 'payments.transactions',
                                    column_name => 'customer_email', applies_to_domain => true,
                                    args => '{"keep_first": 2, "keep_last": 0, "fill": "#"}');
SELECT id, customer_email FROM payments.transactions ORDER BY id;
SELECT meshpg.drop_policy('card_for_all');
SELECT id, customer_email FROM payments.transactions ORDER BY id;
RESET ROLE;

-- Dropping: policies first, then tags.
SET ROLE regress_gov;
SELECT expect_error($$ SELECT meshpg.drop_tag('pii.email') $$);
SELECT expect_error($$ SELECT meshpg.drop_policy('amount_round') $$);
SELECT meshpg.drop_policy('email_mask');
SELECT meshpg.drop_policy('card_hash');
SELECT expect_error($$ SELECT meshpg.drop_policy('email_mask') $$);
RESET ROLE;
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.drop_policy('own_region') $$);
SELECT meshpg.untag_column('payments.transactions', 'customer_email', 'pii.email');
RESET ROLE;
SET ROLE regress_gov;
SELECT meshpg.drop_tag('pii.email');
SELECT meshpg.drop_tag('pii.card');
RESET ROLE;

-- Mask functions, directly: graphemes, not code points or bytes.
SELECT meshpg.mask_partial('4111111111111111');
SELECT meshpg.mask_partial('4111111111111111', keep_first => 4, keep_last => 0, fill => 'x');
SELECT meshpg.mask_partial('41111111', 0, 4, fill => '<>');          -- a fill of several characters
SELECT meshpg.mask_partial(E'Re\u0301sume\u0301', 1, 1, fill => '·'); -- a multi-byte fill, ICU path
SELECT meshpg.mask_partial(E'Cafe\u0301 Re\u0301sume\u0301', 2, 2);      -- combining accents
SELECT meshpg.mask_partial('👩‍👩‍👧‍👦👨‍👩‍👧🧑‍🚀🏳️‍🌈', 1, 1);               -- emoji ZWJ sequences
SELECT meshpg.mask_partial('東京都千代田区', 0, 2);                       -- CJK
SELECT meshpg.mask_partial('שלום עולם', 1, 1);                           -- right to left
SELECT meshpg.mask_partial('abc', 2, 2);                                 -- too short: all hidden
SELECT meshpg.mask_partial('', 1, 1), meshpg.mask_partial(NULL, 1, 1);
SELECT expect_error($$ SELECT meshpg.mask_partial('abc', -1, 0) $$);
SELECT meshpg.mask_email('Ana.Lopez@Example.COM'), meshpg.mask_email('not an address'),
       meshpg.mask_email('@x'), meshpg.mask_email('a@');
SELECT meshpg.mask_date('2026-11-26'::date, 'year'), meshpg.mask_date('2026-11-26 13:14'::timestamp, 'month');
SELECT meshpg.mask_round(1234.5, 100), meshpg.mask_bucket(1234.5, 1000), meshpg.mask_round(-15, 10);
-- the keyed hash: deterministic within the database, 64 hex digits, keyed
SELECT length(meshpg.mask_hash('x')), meshpg.mask_hash('x') = meshpg.mask_hash('x') AS stable,
       meshpg.mask_hash('x') <> encode(sha256('x'), 'hex') AS keyed;
SELECT length(hmac_key) AS key_bytes, hmac_key <> decode(repeat('00', 32), 'hex') AS not_zero
  FROM meshpg.cat_secret;
SELECT meshpg.mask_partial('é'::text COLLATE "C", 0, 0);

-- DDL on governed columns keeps tags and policies right.
SET ROLE regress_market_dev;
CREATE TABLE marketplace.leads (id int, contact text, score int, region text);
SELECT meshpg.register_product('marketplace', 'leads', 'marketplace.leads', description => 'Leads');
SELECT meshpg.tag_column('marketplace.leads', 'region', 'geo.region', value => 'region');
SELECT meshpg.create_masking_policy('lead_contact', 'partial', product => 'marketplace.leads',
                                    column_name => 'contact');
SELECT meshpg.create_row_policy('lead_score', 'score > 0', product => 'marketplace.leads');
ALTER TABLE marketplace.leads RENAME COLUMN region TO area;
ALTER TABLE marketplace.leads RENAME COLUMN contact TO person;
SELECT product, column_name, tag FROM meshpg.column_tags WHERE product = 'marketplace.leads';
SELECT name, column_name, expression FROM meshpg.policies WHERE product = 'marketplace.leads' ORDER BY 1;
-- a rename that would leave a policy expression unenforceable is refused
SELECT expect_error($$ ALTER TABLE marketplace.leads RENAME COLUMN score TO points $$);
-- dropping a draft's column takes its tags and column policies along
ALTER TABLE marketplace.leads DROP COLUMN person;
ALTER TABLE marketplace.leads DROP COLUMN area;
SELECT count(*) AS tags FROM meshpg.column_tags WHERE product = 'marketplace.leads';
SELECT name FROM meshpg.policies WHERE product = 'marketplace.leads';
SELECT meshpg.drop_policy('lead_score');
DROP TABLE marketplace.leads;
RESET ROLE;

-- Mask arguments are checked when the policy is created, not at first read.
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m7', 'date', product => 'payments.transactions', column_name => 'settled_at', args => '{"unit": "fortnight"}') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m8', 'partial', product => 'payments.transactions', column_name => 'region', args => '{"keep_last": -1}') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m9', 'round', product => 'payments.transactions', column_name => 'amount', args => '{"step": 0}') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m10', 'bucket', product => 'payments.transactions', column_name => 'amount', args => '{"step": 5}') $$);
SELECT expect_error($$ SELECT meshpg.create_masking_policy('m11', 'partial', product => 'payments.transactions', column_name => 'region', args => '{"fill": ""}') $$);
RESET ROLE;

-- Redact's stand-in fits every type: a short varchar, a time of day.
SET ROLE regress_market_dev;
CREATE TABLE marketplace.shifts (id int, code varchar(3), starts time, region text);
INSERT INTO marketplace.shifts VALUES (1, 'ABC', '08:30', 'EU');
SELECT meshpg.register_product('marketplace', 'shifts', 'marketplace.shifts', description => 'Shifts');
SELECT meshpg.create_masking_policy('shift_code', 'redact', product => 'marketplace.shifts', column_name => 'code');
SELECT meshpg.create_masking_policy('shift_start', 'redact', product => 'marketplace.shifts', column_name => 'starts');
SELECT meshpg.publish('marketplace.shifts', '1.0.0');
SELECT meshpg.grant_access('marketplace.shifts', 'regress_analyst');
-- a column's type may change under a policy: it is analysed again (a
-- published product's contract allows widening a varchar only)
SELECT meshpg.create_row_policy('shift_id', 'id > 0', product => 'marketplace.shifts');
ALTER TABLE marketplace.shifts ALTER COLUMN code TYPE varchar(5);
RESET ROLE;
SET ROLE regress_analyst;
SELECT * FROM marketplace.shifts;
RESET ROLE;

-- Identity in a policy's subquery is the reader's too, even inside a
-- SECURITY DEFINER function owned by a superuser.
CREATE TABLE public.shift_readers (who name, region text);
INSERT INTO public.shift_readers VALUES ('regress_analyst', 'US'), (current_user, 'EU');
GRANT SELECT ON public.shift_readers TO PUBLIC;
SET ROLE regress_market_dev;
SELECT meshpg.create_row_policy('shift_acl',
    'region IN (SELECT r.region FROM public.shift_readers r WHERE r.who = current_user)',
    product => 'marketplace.shifts');
RESET ROLE;
CREATE FUNCTION public.all_shifts() RETURNS bigint LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT count(*) FROM marketplace.shifts $$;
SET ROLE regress_analyst;
SELECT count(*) AS visible FROM marketplace.shifts;           -- the analyst may read US only
SELECT public.all_shifts() AS through_definer;               -- the same through a definer
RESET ROLE;
DROP FUNCTION public.all_shifts();
SET ROLE regress_market_dev;
SELECT meshpg.drop_policy('shift_acl');
RESET ROLE;
DROP TABLE public.shift_readers;

-- Attribute keys are names: 'Region' is 'region'.
SET ROLE regress_analyst;
SELECT meshpg.attribute('Region') = meshpg.attribute('region') AS same;
RESET ROLE;

-- A dropped role takes its attributes and its exemptions along.
CREATE ROLE regress_short_lived;
SET ROLE regress_gov;
SELECT meshpg.set_attribute('regress_short_lived', 'region', '{EU}');
SELECT meshpg.create_masking_policy('lived', 'null', product => 'marketplace.shifts',
                                    column_name => 'region', exempt_roles => '{regress_short_lived}');
RESET ROLE;
DROP ROLE regress_short_lived;
SELECT count(*) AS orphan_attributes FROM meshpg.cat_attribute a
  LEFT JOIN pg_roles r ON r.oid = a.role WHERE r.oid IS NULL;
SELECT exempt_roles FROM meshpg.policies WHERE name = 'lived';

-- The ASCII fast path of the partial mask counts like ICU: CR LF is one
-- grapheme, so such text takes the ICU path.
SELECT meshpg.mask_partial(E'abc\r\ndef', 1, 1) AS crlf, meshpg.mask_partial('abcdefg', 1, 1) AS ascii;

-- A function a policy calls cannot be dropped while the policy stays.
CREATE FUNCTION public.shift_ok(bigint) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 > 0';
SET ROLE regress_market_dev;
SELECT meshpg.create_row_policy('shift_fn', 'public.shift_ok(id)', product => 'marketplace.shifts');
RESET ROLE;
SELECT depends_functions FROM meshpg.cat_policy WHERE name = 'shift_fn';
SELECT expect_error($$ DROP FUNCTION public.shift_ok(bigint) $$);
SELECT expect_error($$ DROP FUNCTION public.shift_ok(bigint) CASCADE $$);
SET ROLE regress_market_dev;
SELECT meshpg.drop_policy('shift_fn');
RESET ROLE;
DROP FUNCTION public.shift_ok(bigint);

-- The keyed hash runs only where a policy put it: no one else can hash
-- values of their choosing and compare them with pseudonyms.
SET ROLE regress_analyst;
SELECT expect_error($$ SELECT meshpg.mask_hash('123-45-6789') $$);
SELECT expect_error($$ SELECT count(*) FROM payments.transactions WHERE meshpg.mask_hash('x') = customer_email $$);
SELECT expect_error($$ DO $d$ BEGIN PERFORM meshpg.mask_hash('x'); END $d$ $$);
RESET ROLE;
CREATE SCHEMA hash_attempts AUTHORIZATION regress_analyst;
SET ROLE regress_analyst;
SELECT expect_error($$ CREATE TABLE hash_attempts.g (x text, h text GENERATED ALWAYS AS (meshpg.mask_hash(x)) STORED) $$);
SELECT expect_error($$ CREATE TABLE hash_attempts.d (x text DEFAULT meshpg.mask_hash('guess')) $$);
SELECT expect_error($$ CREATE VIEW hash_attempts.v AS SELECT meshpg.mask_hash('guess') $$);
SELECT expect_error($$ CREATE FUNCTION hash_attempts.f(text) RETURNS text LANGUAGE sql RETURN meshpg.mask_hash($1) $$);
CREATE FUNCTION hash_attempts.late(text) RETURNS text LANGUAGE sql AS 'SELECT meshpg.mask_hash($1)';
SELECT expect_error($$ SELECT hash_attempts.late('guess') $$);
RESET ROLE;
DROP SCHEMA hash_attempts CASCADE;
-- the governance team may
SET ROLE regress_gov;
SELECT length(meshpg.mask_hash('x')) AS governance_may;
RESET ROLE;
