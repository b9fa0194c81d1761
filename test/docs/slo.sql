-- doc/slo.md: domain payments, whose payments.transactions is built by
-- payments_dev as payments_team (50 charges, one without an amount), and
-- domain shop with shop.orders and shop.big_table.
CREATE ROLE payments_team NOLOGIN;
CREATE ROLE payments_dev LOGIN IN ROLE payments_team;
CREATE ROLE shop_team NOLOGIN;
SELECT meshpg.create_domain('payments', 'payments_team');
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE payments_team;
CREATE TABLE payments.transactions (charge_id bigint, amount numeric(12,2), currency text,
                                    paid_at timestamptz);
INSERT INTO payments.transactions
SELECT g, CASE WHEN g = 50 THEN NULL ELSE g END, CASE WHEN g % 4 = 0 THEN 'USD' ELSE 'EUR' END,
       now() - g * interval '1 minute'
  FROM generate_series(1, 50) g;
SELECT meshpg.register_product('payments', 'transactions', 'payments.transactions',
       description => 'Card transactions');
SELECT meshpg.publish('payments.transactions', '1.0.0');
RESET ROLE;
SET ROLE shop_team;
CREATE TABLE shop.orders (id bigint, paid_at timestamptz);
INSERT INTO shop.orders SELECT g, now() - g * interval '1 minute' FROM generate_series(1, 20) g;
CREATE TABLE shop.big_table (id bigint);
INSERT INTO shop.big_table SELECT generate_series(1, 1000);
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.register_product('shop', 'big_table', 'shop.big_table', description => 'Big');
SELECT meshpg.publish('shop.orders', '1.0.0');
SELECT meshpg.publish('shop.big_table', '1.0.0');
RESET ROLE;
