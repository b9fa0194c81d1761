-- test/docs/sample-base.sql: the sample mesh without the governance team's
-- part: domain payments, owned by payments_team, with two published
-- products, their own policies and two grants; roles gov (the governance
-- team), analyst_eu, analysts (a group) and its member analyst2, someone.
-- doc/governance.md starts from here and adds the tags and policies.
CREATE ROLE payments_team NOLOGIN;
CREATE ROLE gov LOGIN IN ROLE meshpg_admin;     -- the governance team
CREATE ROLE analyst_eu LOGIN;
CREATE ROLE analysts NOLOGIN;
CREATE ROLE analyst2 LOGIN IN ROLE analysts;
CREATE ROLE someone LOGIN;

SELECT meshpg.create_domain('payments', 'payments_team',
       description => 'Payments and payouts', contacts => '{payments-data@example.com}');

-- the payments team's products
SET ROLE payments_team;
CREATE TABLE payments.transactions (
    id bigint PRIMARY KEY,
    customer_email text NOT NULL,
    amount numeric(12,2),
    region text,
    settled_at timestamptz
);
INSERT INTO payments.transactions VALUES
    (1, 'ann@example.com', 12.00, 'EU', '2026-03-14 09:30:00+00'),
    (2, 'bo@example.com',  24.00, 'US', '2026-04-02 17:05:00+00'),
    (3, 'cy@example.com',  31.00, 'EU', '2026-05-20 11:45:00+00');
CREATE TABLE payments.payouts (
    id bigint PRIMARY KEY,
    tasker_email text NOT NULL,
    amount numeric(12,2) NOT NULL,
    paid_on date NOT NULL
);
INSERT INTO payments.payouts VALUES
    (1, 'dee@example.com', 80.00, '2026-03-31'),
    (2, 'eli@example.com', 45.50, '2026-04-30');
SELECT meshpg.register_product('payments', 'transactions', 'payments.transactions',
       description => 'Settled card transactions, one row per charge', version => '1.0.0');
SELECT meshpg.document_column('payments.transactions', 'amount', 'Charge amount in EUR');
SELECT meshpg.register_product('payments', 'payouts', 'payments.payouts',
       description => 'Payouts to Taskers, one row per transfer', version => '1.0.0');
SELECT meshpg.publish('payments.transactions');
SELECT meshpg.publish('payments.transactions');          -- 1.1.0, after a compatible change
SELECT meshpg.publish('payments.payouts');
SELECT meshpg.create_masking_policy('amount_round', 'round', product => 'payments.transactions',
       column_name => 'amount', args => '{"step": 10}');
SELECT meshpg.create_masking_policy('settled_month', 'date', product => 'payments.transactions',
       column_name => 'settled_at', args => '{"unit": "month"}');
SELECT meshpg.create_row_policy('big_only', 'amount >= 10', product => 'payments.transactions',
       exempt_roles => '{analysts}');
SELECT meshpg.grant_access('payments.transactions', 'analyst_eu', purpose => 'churn analysis');
SELECT meshpg.grant_access('payments.payouts', 'analyst_eu', purpose => 'payout audit');
RESET ROLE;
