--
-- ports: the errors of output ports that need no logical decoding.  This
-- suite's server runs with wal_level = replica, so creating, resuming and
-- recreating ports is refused up front, before anything is written; the
-- streams themselves are tested in test/t/071_ports.pl.
--
CREATE ROLE regress_port_team;
CREATE ROLE regress_port_reader;
SELECT meshpg.create_domain('portshop', 'regress_port_team');
SET ROLE regress_port_team;
CREATE TABLE portshop.orders (id int PRIMARY KEY, amount numeric);
SELECT meshpg.register_product('portshop', 'orders', 'portshop.orders', description => 'Orders');
SELECT meshpg.publish('portshop.orders', '1.0.0');
SELECT meshpg.grant_access('portshop.orders', 'regress_port_reader');

-- bad names, before anything else
SELECT meshpg.create_output_port('portshop.orders', 'regress_port_reader', 'Bad-Name');
SELECT meshpg.create_output_port('portshop.orders', 'regress_port_reader', '');
SELECT meshpg.create_output_port('portshop.orders', 'regress_port_reader', repeat('a', 41));
SELECT meshpg.create_output_port('portshop.orders', 'regress_port_reader', NULL);
SELECT meshpg.create_output_port('portshop.orders', 'regress_no_such_role', 'p');
-- no logical decoding here
SELECT meshpg.create_output_port('portshop.orders', 'regress_port_reader', 'orders_stream');
SELECT meshpg.resume_output_port('orders_stream');
RESET ROLE;
SELECT meshpg.port_recreate_slots();

-- nothing was written: no port, no slot
SELECT count(*) FROM meshpg.output_ports;
SELECT count(*) FROM pg_replication_slots;

-- unknown ports
SET ROLE regress_port_reader;
SELECT * FROM meshpg.port_changes('orders_stream');
SELECT * FROM meshpg.port_peek('orders_stream', 10);
SELECT * FROM meshpg.port_changes('orders_stream', -1);
SELECT meshpg.drop_output_port('orders_stream');
-- the catalog table itself is not theirs
SELECT * FROM meshpg.cat_port;
SELECT name, state FROM meshpg.output_ports;
RESET ROLE;

-- the lag limit is the DBA's
SET meshpg.port_max_lag = 10;
SHOW meshpg.port_max_lag;

-- clean up
SELECT meshpg.drop_domain('portshop', cascade => true);
DROP ROLE regress_port_team, regress_port_reader;
