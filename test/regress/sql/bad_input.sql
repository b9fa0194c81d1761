--
-- bad_input: every function against NULLs, empty strings, unknown names,
-- long names, quoting and Unicode; each asserts its SQLSTATE and leaves the
-- catalog as it was.
--
CREATE TEMP TABLE before AS
    SELECT (SELECT count(*) FROM meshpg.cat_domain) AS domains,
           (SELECT count(*) FROM meshpg.cat_product) AS products,
           (SELECT count(*) FROM meshpg.cat_column) AS columns,
           (SELECT count(*) FROM meshpg.cat_grant) AS grants,
           (SELECT count(*) FROM pg_namespace) AS schemas,
           (SELECT count(*) FROM pg_policy) AS policies;

SELECT stmt, expect_error(stmt) AS result FROM (VALUES
    -- create_domain
    ($$ SELECT meshpg.create_domain('', 'regress_market_team') $$),
    ($$ SELECT meshpg.create_domain('   ', 'regress_market_team') $$),
    ($$ SELECT meshpg.create_domain('a' || repeat('b', 63), 'regress_market_team') $$),
    ($$ SELECT meshpg.create_domain('x"; DROP SCHEMA payments CASCADE; --', 'regress_market_team') $$),
    ($$ SELECT meshpg.create_domain('x''y', 'regress_market_team') $$),
    ($$ SELECT meshpg.create_domain(E'x\\y', 'regress_market_team') $$),
    ($$ SELECT meshpg.create_domain(E'x\ny', 'regress_market_team') $$),
    ($$ SELECT meshpg.create_domain(E'\u202Epayments', 'regress_market_team') $$),
    ($$ SELECT meshpg.create_domain('pay-ments', 'regress_market_team') $$),
    ($$ SELECT meshpg.create_domain('x', '-') $$),
    ($$ SELECT meshpg.create_domain('x', 'PUBLIC') $$),
    ($$ SELECT meshpg.create_domain('x', 99999::oid::regrole) $$),
    -- alter/drop
    ($$ SELECT meshpg.alter_domain(NULL) $$),
    ($$ SELECT meshpg.alter_domain('', description => 'x') $$),
    ($$ SELECT meshpg.alter_domain('payments', owner => 99999::oid::regrole) $$),
    ($$ SELECT meshpg.drop_domain('') $$),
    ($$ SELECT meshpg.drop_domain(NULL) $$),
    ($$ SELECT meshpg.drop_domain('payments') $$),
    -- register_product
    ($$ SELECT meshpg.register_product('payments', '', 'payments.raw_charges') $$),
    ($$ SELECT meshpg.register_product('payments', repeat('é', 40), 'payments.raw_charges') $$),
    ($$ SELECT meshpg.register_product('payments', 'raw;charges', 'payments.raw_charges') $$),
    ($$ SELECT meshpg.register_product('payments', 'raw', 'payments.raw_charges', contacts => '{NULL}') $$),
    ($$ SELECT meshpg.register_product('payments', 'raw', 'payments.raw_charges', version => '') $$),
    ($$ SELECT meshpg.register_product('payments', 'raw', 'payments.raw_charges', version => '1.2.3-') $$),
    ($$ SELECT meshpg.register_product('payments', 'raw', 'payments.raw_charges', version => '1.2.3-be ta') $$),
    ($$ SELECT meshpg.register_product('payments', 'raw', 'payments.raw_charges', version => '9999999999.0.0') $$),
    ($$ SELECT meshpg.register_product('pay''ments', 'raw', 'payments.raw_charges') $$),
    ($$ SELECT meshpg.register_product('payments', 'raw', 'no_such_table') $$),
    -- product references
    ($$ SELECT meshpg.publish('') $$),
    ($$ SELECT meshpg.publish('.') $$),
    ($$ SELECT meshpg.publish('payments.') $$),
    ($$ SELECT meshpg.publish('payments.transactions; DROP TABLE payments.transactions') $$),
    ($$ SELECT meshpg.publish('payments."transactions"') $$),
    ($$ SELECT meshpg.publish('payments.' || repeat('t', 100)) $$),
    ($$ SELECT meshpg.publish(NULL) $$),
    ($$ SELECT meshpg.unregister_product(NULL) $$),
    ($$ SELECT meshpg.deprecate(NULL, current_date) $$),
    ($$ SELECT meshpg.retire(NULL) $$),
    ($$ SELECT meshpg.grant_access(NULL, 'regress_analyst') $$),
    ($$ SELECT meshpg.revoke_access(NULL, 'regress_analyst') $$),
    ($$ SELECT meshpg.revoke_access('payments.transactions', NULL) $$),
    ($$ SELECT meshpg.document_column('payments.transactions', '', 'x') $$),
    ($$ SELECT meshpg.document_column('payments.transactions', 'amount; --', 'x') $$),
    ($$ SELECT meshpg.document_product('payments.transactions', contacts => '{{a}}') $$)
) AS cases(stmt);

SELECT (SELECT count(*) FROM meshpg.cat_domain) = domains AS domains_unchanged,
       (SELECT count(*) FROM meshpg.cat_product) = products AS products_unchanged,
       (SELECT count(*) FROM meshpg.cat_column) = columns AS columns_unchanged,
       (SELECT count(*) FROM meshpg.cat_grant) = grants AS grants_unchanged,
       (SELECT count(*) FROM pg_namespace) = schemas AS schemas_unchanged,
       (SELECT count(*) FROM pg_policy) = policies AS policies_unchanged
  FROM before;

-- Long, multilingual documentation is fine: it is data, not a name.
SET ROLE regress_pay_dev;
SELECT meshpg.document_column('payments.transactions', 'amount',
                              'Montant réglé — 金额 — сумма — مبلغ — 👩‍👩‍👧 ' || repeat('x', 10000));
SELECT length(description) FROM meshpg.product_columns
 WHERE product = 'payments.transactions' AND column_name = 'amount';
SELECT meshpg.document_column('payments.transactions', 'amount', 'Charge amount in EUR');
RESET ROLE;
