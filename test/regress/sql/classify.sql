--
-- classify: PII suggestions from a bounded sample, their evidence (never a
-- value), the review by the domain team, and publish's check.
--
SET ROLE regress_gov;
SELECT meshpg.create_domain('crm', 'regress_payments_team');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('pii.phone');
SELECT meshpg.create_tag('pii.payment_card');
SELECT meshpg.create_tag('pii.national_id');
SELECT meshpg.create_tag('pii.name');
RESET ROLE;

-- The kinds table.
SELECT * FROM meshpg.validators() ORDER BY 1;

SET ROLE regress_pay_dev;
CREATE TABLE crm.customers (
    id bigint PRIMARY KEY,
    email text,
    "prénom" text,
    "名" text,
    telefono text,
    tel_fw text,
    card text,
    card_num bigint,
    iban text,
    ssn text,
    nino text,
    nir text,
    dni text,
    cf text,
    client_ip inet,
    last_ip text,
    date_of_birth date,
    status text,
    amount numeric
);
INSERT INTO crm.customers
SELECT i,
       'user' || i || '@example.com',
       (ARRAY['Zoé', 'Jean-Luc', 'Ana María', 'O''Brien'])[1 + i % 4],
       (ARRAY['太郎', '花子', '健'])[1 + i % 3],
       '+34 612 345 ' || lpad((i % 1000)::text, 3, '0'),
       '＋３３６１２３４５６７' || chr(65296 + i % 10),     -- full-width digits
       (ARRAY['4111 1111 1111 1111', '5555-5555-5555-4444', '378282246310005', '6011111111111117'])[1 + i % 4],
       (ARRAY[4111111111111111, 5555555555554444, 4012888888881881])[1 + i % 3],
       (ARRAY['DE89 3704 0044 0532 0130 00', 'GB82WEST12345698765432', 'FR1420041010050500013M02606'])[1 + i % 3],
       lpad((100 + i % 600)::text, 3, '0') || '-' || lpad((1 + i % 99)::text, 2, '0') || '-' || lpad((1 + i)::text, 4, '0'),
       'AB' || lpad((100000 + i)::text, 6, '0') || 'C',
       n::text || lpad((97 - (n % 97))::text, 2, '0'),
       lpad(d::text, 8, '0') || substr('TRWAGMYFPDXBNJZSQVHLCKE', (d % 23)::int + 1, 1),
       (ARRAY['RSSMRA85T10A562S', 'MRTMTT25D09F205Z'])[1 + i % 2],
       ('10.0.' || (i % 250) || '.' || (i % 200))::inet,
       CASE WHEN i % 2 = 0 THEN '2001:db8::' || to_hex(i) ELSE '192.168.0.' || (i % 250) END,
       date '1960-01-01' + (i * 37) % 15000,
       (ARRAY['active', 'closed'])[1 + i % 2],
       i * 1.5
  FROM generate_series(1, 500) i,
       LATERAL (SELECT (1850578006000 + i)::numeric AS n, (12345000 + i)::bigint AS d) x;
SELECT meshpg.register_product('crm', 'customers', 'crm.customers', description => 'Customers');
RESET ROLE;

-- The domain team classifies its product: one suggestion per column.
SET ROLE regress_pay_dev;
SELECT column_name, tag, validator, matched_share, sampled, status
  FROM meshpg.classify('crm.customers') ORDER BY 1;
RESET ROLE;

-- Re-running refreshes pending suggestions, never duplicates them.
SET ROLE regress_pay_dev;
SELECT count(*) FROM meshpg.classify('crm.customers', sample_size => 100);
SELECT count(*), count(DISTINCT id) FROM meshpg.classification_suggestions;
RESET ROLE;

-- Bad input: SQLSTATE and hint.
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT * FROM meshpg.classify('crm.customers', sample_size => 0) $$);
SELECT expect_error($$ SELECT * FROM meshpg.classify('crm.customers', min_share => 1.5) $$);
SELECT expect_error($$ SELECT * FROM meshpg.classify('crm.nope') $$);
SELECT expect_error($$ SELECT * FROM meshpg.classify(NULL) $$);
SELECT expect_error($$ SELECT meshpg.accept_suggestion(999999) $$);
SELECT expect_error($$ SELECT meshpg.dismiss_suggestion((SELECT id FROM meshpg.classification_suggestions WHERE column_name = 'status'), '') $$);
RESET ROLE;

-- Rights: another domain's team and a consumer can neither classify nor
-- review, and see no suggestion.
SET ROLE regress_market_dev;
SELECT expect_error($$ SELECT * FROM meshpg.classify('crm.customers') $$);
SELECT expect_error($$ SELECT * FROM meshpg.classify_domain('crm') $$);
SELECT expect_error($$ SELECT meshpg.accept_suggestion((SELECT min(id) FROM meshpg.cat_classification_suggestion)) $$);
SELECT count(*) FROM meshpg.classification_suggestions;
RESET ROLE;
SET ROLE regress_analyst;
SELECT expect_error($$ SELECT meshpg.dismiss_suggestion(1, 'nope') $$);
SELECT count(*) FROM meshpg.classification_suggestions;
SELECT expect_error($$ SELECT * FROM meshpg.cat_classification_suggestion $$);
RESET ROLE;

-- publish refuses unreviewed suggestions while the setting is on.
SET meshpg.publish_requires_classification_review = on;
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.publish('crm.customers') $$);
SELECT expect_error($$ SET meshpg.publish_requires_classification_review = off $$);  -- only a superuser may
RESET ROLE;

-- Review: accepted, a suggestion becomes a tag (tag_column's path, so an
-- unknown tag is refused); dismissed, it keeps its reason.
SET ROLE regress_pay_dev;
SELECT expect_error($$ SELECT meshpg.accept_suggestion((SELECT id FROM meshpg.classification_suggestions WHERE column_name = 'iban')) $$);
SELECT meshpg.accept_suggestion(id) FROM meshpg.classification_suggestions
 WHERE tag IN ('pii.email', 'pii.phone', 'pii.payment_card', 'pii.national_id', 'pii.name') ORDER BY id;
SELECT meshpg.accept_suggestion(id, tag => 'pii.national_id') FROM meshpg.classification_suggestions
 WHERE column_name = 'iban';
SELECT meshpg.dismiss_suggestion(id, 'network equipment, not people') FROM meshpg.classification_suggestions
 WHERE tag = 'pii.ip_address' ORDER BY id;
SELECT meshpg.dismiss_suggestion(id, 'synthetic test dates') FROM meshpg.classification_suggestions
 WHERE tag = 'pii.birth_date';
SELECT expect_error($$ SELECT meshpg.dismiss_suggestion((SELECT min(id) FROM meshpg.classification_suggestions WHERE status = 'accepted'), 'late') $$);
SELECT column_name, tag, status, accepted_tag, reason FROM meshpg.classification_suggestions ORDER BY column_name;
SELECT column_name, tag FROM meshpg.column_tags WHERE product = 'crm.customers' ORDER BY 1;
-- a reviewed suggestion stays reviewed (a tagged column is not suggested again)
SELECT column_name, tag, status FROM meshpg.classify('crm.customers') ORDER BY 1;
RESET ROLE;
SET meshpg.publish_requires_classification_review = on;
SET ROLE regress_pay_dev;
SELECT meshpg.publish('crm.customers');
RESET ROLE;
RESET meshpg.publish_requires_classification_review;

-- classify_domain: every draft product of the domain (published ones are
-- left alone); the governance team may run it too.
SET ROLE regress_pay_dev;
CREATE TABLE crm.leads (id int, contact text, "Vorname" text);
INSERT INTO crm.leads SELECT i, 'lead' || i || '@example.org', 'Jürgen' FROM generate_series(1, 50) i;
SELECT meshpg.register_product('crm', 'leads', 'crm.leads');
RESET ROLE;
SET ROLE regress_gov;
SELECT product, column_name, tag, validator, matched_share FROM meshpg.classify_domain('crm') ORDER BY 1, 2;
RESET ROLE;

-- The sample is bounded: a small sample reads no more rows than asked.
SET ROLE regress_pay_dev;
SELECT max(sampled) <= 20 FROM meshpg.classify('crm.leads', sample_size => 20, min_share => 0.5);
RESET ROLE;

-- Suggestions go with their product.
SET ROLE regress_pay_dev;
SELECT meshpg.unregister_product('crm.leads');
RESET ROLE;
SELECT count(*) FROM meshpg.cat_classification_suggestion s
 WHERE NOT EXISTS (SELECT 1 FROM meshpg.cat_product p WHERE p.id = s.product_id);

-- Each pending suggestion is an event for the domain team: names and
-- figures, never a sampled value.
SET ROLE regress_pay_dev;
SELECT subject, data->>'column' AS column_name, data->>'tag' AS tag, data->>'validator' AS validator
  FROM meshpg.events WHERE type = 'meshpg.classification.suggested'
 ORDER BY id LIMIT 3;
SELECT count(*) AS events_with_values FROM meshpg.events
 WHERE type = 'meshpg.classification.suggested' AND data::text ~ '@example|太郎|4111';
RESET ROLE;
SET ROLE regress_analyst;
SELECT count(*) FROM meshpg.events WHERE type = 'meshpg.classification.suggested';
RESET ROLE;
