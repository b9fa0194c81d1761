# Output ports (doc/ports.md): one consumer's governed change stream of a
# product, decoded by meshpg's own plugin.  Read through the SQL functions
# and by a real logical decoding client (pg_recvlogical); the attacks of the
# security suite that apply to a stream (a canary in a hidden row or a
# masked column never streamed, through UPDATEs crossing the filter, TOAST,
# replica identity full old rows, TRUNCATE, a grant revoked mid-stream,
# another role reading, a policy changed to a volatile function, a rogue
# slot of the plugin); restart, lag limit, pg_dump/restore, product drop.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $node = meshpg_node('ports', conf => q{
wal_level = logical
max_replication_slots = 10
max_wal_senders = 4
meshpg.scheduler = on
meshpg.databases = 'postgres'
meshpg.worker_naptime = 1
meshpg.port_max_lag = -1
});
# Debian's 15.20 and later decode only with the output plugins the DBA lists.
if ($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_settings WHERE name = 'output_plugin_libraries'}) eq '1')
{
	$node->safe_psql('postgres',
		q{ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, meshpg});
	$node->restart;
}

$node->safe_psql('postgres', q{
CREATE ROLE shop_team;
CREATE ROLE buyer LOGIN;
CREATE ROLE other LOGIN;
CREATE ROLE shop_dev LOGIN IN ROLE shop_team;
CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('shop', 'shop_team');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('geo.region');
SELECT meshpg.create_masking_policy('mask_email', tag => 'pii.email', mask => 'hash');
SELECT meshpg.create_row_policy('own_region', tag => 'geo.region',
       expression => 'value = ANY (meshpg.attribute(''region''))');
SELECT meshpg.set_attribute('buyer', 'region', '{EU}');
SET ROLE shop_team;
CREATE TABLE shop.orders (id int PRIMARY KEY, email text, region text, note text, amount numeric);
INSERT INTO shop.orders VALUES (1, 'one@x.org', 'EU', 'first', 10), (2, 'CANARY_H2@x.org', 'US', 'CANARY_H2', 20);
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.tag_column('shop.orders', 'email', 'pii.email');
SELECT meshpg.tag_column('shop.orders', 'region', 'geo.region');
SELECT meshpg.publish('shop.orders', '1.0.0');
SELECT meshpg.grant_access('shop.orders', 'buyer');
RESET ROLE;
SELECT meshpg.create_masking_policy('mask_note', product => 'shop.orders',
       column_name => 'note', mask => 'partial');
});

# ---------------------------------------------------------------------------
# Who may create a port, and what is refused
# ---------------------------------------------------------------------------
my ($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE other; SELECT meshpg.create_output_port('shop.orders', 'buyer', 'p_other')});
like($err, qr/permission denied/, 'a role outside the domain cannot create a port');

($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE shop_dev; SELECT meshpg.create_output_port('shop.orders', 'other', 'p_nogrant')});
like($err, qr/holds no live grant/, 'no port for a consumer without a grant');

($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE shop_dev; SELECT meshpg.create_output_port('shop.orders', 'buyer', 'p_x')});
like($err, qr/does not log whole old rows.*REPLICA IDENTITY FULL/s,
	'a filtered product needs replica identity full');
$node->safe_psql('postgres', 'ALTER TABLE shop.orders REPLICA IDENTITY FULL');

$node->safe_psql('postgres', q{
CREATE FUNCTION public.region_ok(text) RETURNS boolean LANGUAGE sql VOLATILE AS $$SELECT true$$;
SELECT meshpg.create_row_policy('volatile_rows', product => 'shop.orders',
       expression => 'public.region_ok(region)');
});
($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE shop_dev; SELECT meshpg.create_output_port('shop.orders', 'buyer', 'p_x')});
like($err, qr/policy "volatile_rows" cannot be applied inside logical decoding.*region_ok\(text\), which is not immutable.*HINT/s,
	'a volatile policy is refused for ports, by name');
$node->safe_psql('postgres', q{SELECT meshpg.drop_policy('volatile_rows')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_replication_slots}), '0',
	'refused creations left no slot behind');

# the domain team creates two ports for buyer: one read through SQL, one by
# pg_recvlogical
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.create_output_port('shop.orders', 'buyer', 'buyer_sql')});
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.create_output_port('shop.orders', 'buyer', 'buyer_recv')});
my $recv_slot = $node->safe_psql('postgres', q{SELECT slot_name FROM meshpg.output_ports WHERE name = 'buyer_recv'});
like($recv_slot, qr/^meshpg_port_\d+_buyer_recv$/, 'the port owns a slot named after it');

# ---------------------------------------------------------------------------
# Changes: crossing the filter, TOAST, deletes, TRUNCATE
# ---------------------------------------------------------------------------
my $long = 'CANARY_TOAST' x 4000;
$node->safe_psql('postgres', qq{
INSERT INTO shop.orders VALUES (3, 'three\@x.org', 'EU', 'visible note', 30),
                               (4, 'CANARY_H4\@x.org', 'US', 'CANARY_H4', 40);
UPDATE shop.orders SET region = 'EU' WHERE id = 2;                 -- into view
UPDATE shop.orders SET region = 'US', note = 'CANARY_OUT' WHERE id = 3;  -- out of view
UPDATE shop.orders SET note = 'CANARY_HID' WHERE id = 4;           -- hidden to hidden
DELETE FROM shop.orders WHERE id = 4;                              -- hidden delete
INSERT INTO shop.orders VALUES (5, 'five\@x.org', 'EU', '$long', 50);
UPDATE shop.orders SET amount = 51 WHERE id = 5;                   -- unchanged TOAST
DELETE FROM shop.orders WHERE id = 1;                              -- visible delete
});
$node->safe_psql('postgres', q{TRUNCATE shop.orders});

my $sql_stream = $node->safe_psql('postgres',
	q{SET ROLE buyer; SELECT change FROM meshpg.port_changes('buyer_sql')});
unlike($sql_stream, qr/CANARY/, 'no hidden row or raw masked value in the stream');
my @ops = map { /"op":"(\w)"/ ? $1 : '?' } split /\n/, $sql_stream;
is(join(',', @ops), 'm,c,c,d,c,u,d,t',
	'created, insert, update into view as c, out of view as d, TOAST insert and update, delete, truncate');

# the pseudonym in SQL equals the one in the stream (row 2, now in view)
$node->safe_psql('postgres', q{INSERT INTO shop.orders VALUES (2, 'CANARY_H2@x.org', 'EU', 'CANARY_H2', 20)});
my $sql_row = $node->safe_psql('postgres',
	q{SET ROLE buyer; SELECT email || '|' || note FROM shop.orders WHERE id = 2});
my ($sql_email, $sql_note) = split /\|/, $sql_row;
like($sql_stream, qr/"id":2,"email":"\Q$sql_email\E","region":"EU","note":"\Q$sql_note\E"/,
	'masked values equal what a SELECT by the consumer shows (hash pseudonym and partial mask)');
like($sql_stream, qr/"op":"d".*"source":\{"name":"meshpg","db":"postgres","schema":"shop","table":"orders","lsn":\d+,"txId":\d+,"port":"buyer_sql","product":"shop.orders","version":"1.0.0"\}/,
	'Debezium envelope with source');
my ($toast_update) = grep { /"op":"u"/ } split /\n/, $sql_stream;
like($toast_update, qr/"after":\{"id":5,[^}]*"note":"\*+OAST"/, 'an unchanged TOAST value arrives masked, from the old row');

# pg_recvlogical reads the other port: the same governed changes
my $endpos = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
my $recv_file = $node->basedir . '/recv.json';
$node->command_ok([ 'pg_recvlogical', '-d', $node->connstr('postgres'), '-S', $recv_slot,
	'--start', '--endpos', $endpos, '--no-loop', '-f', $recv_file ],
	'pg_recvlogical streams the port');
my $recv = slurp_file($recv_file);
unlike($recv, qr/CANARY/, 'no canary through pg_recvlogical');
my @recv_ops = map { /"op":"(\w)"/ ? $1 : '?' } grep { /\S/ } split /\n/, $recv;
is(join(',', @recv_ops), 'm,c,c,d,c,u,d,t,c', 'pg_recvlogical gets the same operations');

# ---------------------------------------------------------------------------
# Who reads
# ---------------------------------------------------------------------------
($ret, $out, $err) = $node->psql('postgres', q{SET ROLE other; SELECT * FROM meshpg.port_changes('buyer_sql')});
like($err, qr/permission denied for output port "buyer_sql"/, 'another role cannot read the port');
($ret, $out, $err) = $node->psql('postgres', q{SET ROLE other; SELECT * FROM meshpg.port_peek('buyer_sql')});
like($err, qr/permission denied for output port/, 'nor peek at it');
($ret, $out, $err) = $node->psql('postgres', q{SET ROLE buyer; SELECT * FROM pg_logical_slot_get_changes('} . $recv_slot . q{', NULL, NULL)});
like($err, qr/must be superuser or replication role/, 'the consumer has no raw access to the slot');

is($node->safe_psql('postgres', q{SET ROLE other; SELECT count(*) FROM meshpg.output_ports}), '0',
	'who streams what is not shown to others');
is($node->safe_psql('postgres', q{SET ROLE buyer; SELECT string_agg(name, ',' ORDER BY name) FROM meshpg.output_ports}),
	'buyer_recv,buyer_sql', 'the consumer sees its ports');

# a slot of meshpg's plugin that is no port streams nothing
$node->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('rogue', 'meshpg')});
($ret, $out, $err) = $node->psql('postgres', q{SELECT * FROM pg_logical_slot_get_changes('rogue', NULL, NULL)});
like($err, qr/replication slot "rogue" is not a meshpg output port/, 'a rogue slot of the plugin is refused');
$node->safe_psql('postgres', q{SELECT pg_drop_replication_slot('rogue')});

# ---------------------------------------------------------------------------
# A policy changed to a volatile function: suspended, not streamed raw
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{SET ROLE buyer; SELECT count(*) FROM meshpg.port_changes('buyer_sql')});
$node->safe_psql('postgres', q{
SELECT meshpg.create_row_policy('volatile_rows', product => 'shop.orders',
       expression => 'public.region_ok(region)');
INSERT INTO shop.orders VALUES (6, 'six@x.org', 'EU', 'CANARY_SUSPENDED', 60);
});
is($node->safe_psql('postgres', q{SELECT state FROM meshpg.output_ports WHERE name = 'buyer_sql'}),
	'suspended', 'a policy decoding cannot run suspends the port');
($ret, $out, $err) = $node->psql('postgres', q{SET ROLE buyer; SELECT * FROM meshpg.port_changes('buyer_sql')});
like($err, qr/output port "buyer_sql" is suspended.*volatile_rows.*resume_output_port/s,
	'reading a suspended port is refused with the reason');
my $raw = $node->safe_psql('postgres',
	q{SELECT string_agg(data, E'\n') FROM pg_logical_slot_peek_changes(
	    (SELECT slot_name FROM meshpg.output_ports WHERE name = 'buyer_sql'), NULL, NULL)});
like($raw, qr/"message":\{"type":"meshpg.port.suspended"/, 'the stream says it was suspended');
is($node->safe_psql('postgres', q{SET ROLE buyer; SELECT string_agg(DISTINCT type, ',' ORDER BY type) FROM meshpg.events
	WHERE type LIKE 'meshpg.port.%' AND data->>'port' = 'buyer_sql'}),
	'meshpg.port.created,meshpg.port.suspended', 'mesh events for the port, seen by its consumer');
unlike($raw, qr/CANARY/, 'nothing is decoded while suspended');
($ret, $out, $err) = $node->psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.resume_output_port('buyer_sql')});
like($err, qr/volatile_rows/, 'resume is refused while the policy cannot run');
$node->safe_psql('postgres', q{SELECT meshpg.drop_policy('volatile_rows')});
is($node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.resume_output_port('buyer_sql')}),
	'active', 'resumed once the policy is gone');
$node->safe_psql('postgres', q{INSERT INTO shop.orders VALUES (7, 'seven@x.org', 'EU', 'after resume', 70)});
$sql_stream = $node->safe_psql('postgres', q{SET ROLE buyer; SELECT change FROM meshpg.port_changes('buyer_sql')});
like($sql_stream, qr/meshpg.port.resumed.*"id":7/s, 'resumed record, then changes again');
unlike($sql_stream, qr/CANARY/, 'the change made while suspended is not streamed');

# ---------------------------------------------------------------------------
# meshctl stream: one JSON document per line, consumed once printed
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{INSERT INTO shop.orders VALUES (12, 'twelve@x.org', 'EU', 'by meshctl', 120),
	(13, 'CANARY_M@x.org', 'US', 'CANARY_M', 130)});
my $bindir = $node->config_data('--bindir');
my ($mout, $merr) = ('', '');
my $mok = IPC::Run::run([ "$bindir/meshctl", '-d', $node->connstr('postgres') . ' user=buyer',
	'--once', '--batch', '1', 'stream', 'buyer_sql' ], '>', \$mout, '2>', \$merr);
ok($mok, 'meshctl stream --once exits 0') or diag($merr);
like($mout, qr/\A\{"before":null,"after":\{"id":12,[^\n]*"op":"c"[^\n]*\}\n\z/, 'meshctl prints the change as one JSON line');
unlike($mout, qr/CANARY/, 'and only what the consumer may see');
is($node->safe_psql('postgres', q{SET ROLE buyer; SELECT count(*) FROM meshpg.port_changes('buyer_sql')}), '0',
	'what meshctl printed is consumed');
($mok) = IPC::Run::run([ "$bindir/meshctl", '-d', $node->connstr('postgres') . ' user=other',
	'--once', 'stream', 'buyer_sql' ], '>', \$mout, '2>', \$merr);
ok(!$mok && $merr =~ /permission denied for output port/, 'meshctl stream as another role is refused');

# ---------------------------------------------------------------------------
# Restart
# ---------------------------------------------------------------------------
$node->restart;
$node->safe_psql('postgres', q{INSERT INTO shop.orders VALUES (8, 'eight@x.org', 'EU', 'after restart', 80)});
$sql_stream = $node->safe_psql('postgres', q{SET ROLE buyer; SELECT change FROM meshpg.port_changes('buyer_sql')});
like($sql_stream, qr/"id":8/, 'the port streams after a restart');

# ---------------------------------------------------------------------------
# A column added: the port is compiled again in the same transaction
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{SET ROLE shop_team; ALTER TABLE shop.orders ADD COLUMN extra text;
	INSERT INTO shop.orders VALUES (16, 'sixteen@x.org', 'EU', 'with extra', 160, 'new column')});
$sql_stream = $node->safe_psql('postgres', q{SET ROLE buyer; SELECT change FROM meshpg.port_changes('buyer_sql')});
like($sql_stream, qr/"type":"meshpg.port.rules_changed".*"id":16,[^\n]*"extra":"new column"/s,
	'an added column is streamed from its transaction on');

# ---------------------------------------------------------------------------
# A policy's function runs as the consumer, never as the role that decodes
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{
CREATE FUNCTION public.only_as_buyer(text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF current_user <> 'buyer' THEN RAISE EXCEPTION 'policy function ran as %', current_user; END IF;
    RETURN true;
END $$;
SELECT meshpg.create_row_policy('as_consumer', product => 'shop.orders',
       expression => 'public.only_as_buyer(region)');
INSERT INTO shop.orders VALUES (20, 'twenty@x.org', 'EU', 'as consumer', 200);
});
$raw = $node->safe_psql('postgres',
	q{SELECT string_agg(data, E'\n') FROM pg_logical_slot_peek_changes(
	    (SELECT slot_name FROM meshpg.output_ports WHERE name = 'buyer_sql'), NULL, NULL)});
like($raw, qr/"id":20/, 'decoded by a superuser, the policy function ran as the consumer');
$node->safe_psql('postgres', q{SELECT meshpg.drop_policy('as_consumer');
	SET ROLE buyer; SELECT count(*) FROM meshpg.port_changes('buyer_sql')});

# ---------------------------------------------------------------------------
# pg_dump / restore: the port's row is dumped, its slot is not
# ---------------------------------------------------------------------------
my $dump = $node->basedir . '/ports.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'postgres', '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'restored', $dump ], 'pg_restore');
is($node->safe_psql('restored', q{SELECT name || ':' || state FROM meshpg.output_ports ORDER BY 1}),
	"buyer_recv:suspended\nbuyer_sql:active", 'the ports are restored, in their states');
($ret, $out, $err) = $node->psql('restored', q{SET ROLE buyer; SELECT * FROM meshpg.port_changes('buyer_sql')});
like($err, qr/has no slot in this database.*port_recreate_slots/s, 'a restored port without its slot is refused');
is($node->safe_psql('restored', q{SELECT count(*) FROM meshpg.port_recreate_slots()}), '2',
	'port_recreate_slots creates the restored ports\' slots');
$node->safe_psql('restored', q{INSERT INTO shop.orders VALUES (9, 'CANARY_R@x.org', 'US', 'CANARY_R', 90),
	(10, 'ten@x.org', 'EU', 'restored', 100)});
$sql_stream = $node->safe_psql('restored', q{SET ROLE buyer; SELECT change FROM meshpg.port_changes('buyer_sql')});
like($sql_stream, qr/"id":10/, 'the restored port streams');
unlike($sql_stream, qr/CANARY/, 'governed after restore');

# ---------------------------------------------------------------------------
# Role memberships change without a catalog trigger: a consumer compiled as
# a member of the domain (raw), then revoked, gets nothing raw
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{SET ROLE buyer; SELECT count(*) FROM meshpg.port_changes('buyer_sql')});
$node->safe_psql('postgres', q{GRANT shop_team TO buyer});
($ret, $out, $err) = $node->psql('postgres', q{SET ROLE buyer; SELECT * FROM meshpg.port_changes('buyer_sql')});
like($err, qr/the rules of output port "buyer_sql" changed since it was compiled.*resume_output_port/s,
	'a read with rules older than the memberships is refused');
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.resume_output_port('buyer_sql')});
$node->safe_psql('postgres', q{INSERT INTO shop.orders VALUES (14, 'member@x.org', 'US', 'raw for a member', 140)});
$node->safe_psql('postgres', q{REVOKE shop_team FROM buyer});
$node->safe_psql('postgres', q{INSERT INTO shop.orders VALUES (15, 'CANARY_MEMBER@x.org', 'US', 'CANARY_MEMBER', 150)});
$raw = $node->safe_psql('postgres',
	q{SELECT string_agg(data, E'\n') FROM pg_logical_slot_peek_changes(
	    (SELECT slot_name FROM meshpg.output_ports WHERE name = 'buyer_sql'), NULL, NULL)});
like($raw, qr/"id":14.*"type":"meshpg.port.rules_stale"/s,
	'raw while a member, then the stream stops when the membership goes');
unlike($raw, qr/CANARY/, 'nothing raw after the membership was revoked');
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.resume_output_port('buyer_sql')});
$node->safe_psql('postgres', q{SET ROLE buyer; SELECT count(*) FROM meshpg.port_changes('buyer_sql')});

# ---------------------------------------------------------------------------
# Grant revoked mid-stream: the stream ends with a record, nothing after
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.revoke_access('shop.orders', 'buyer')});
$node->safe_psql('postgres', q{INSERT INTO shop.orders VALUES (11, 'eleven@x.org', 'EU', 'CANARY_REVOKED', 110)});
is($node->safe_psql('postgres', q{SELECT state FROM meshpg.output_ports WHERE name = 'buyer_sql'}),
	'ended', 'the port ends with the grant');
($ret, $out, $err) = $node->psql('postgres', q{SET ROLE buyer; SELECT * FROM meshpg.port_changes('buyer_sql')});
like($err, qr/output port "buyer_sql" is ended/, 'reading after the grant ended is refused');
$raw = $node->safe_psql('postgres',
	q{SELECT string_agg(data, E'\n') FROM pg_logical_slot_peek_changes(
	    (SELECT slot_name FROM meshpg.output_ports WHERE name = 'buyer_sql'), NULL, NULL)});
like($raw, qr/"type":"meshpg.port.ended","reason":"role \\"buyer\\" holds no live grant/, 'the end of the grant is in the stream');
unlike($raw, qr/CANARY/, 'no change after the grant ended is decoded');

# ---------------------------------------------------------------------------
# A consumer role dropped (it read through a group's grant): the port ends,
# and the mesh's catalog changes go on
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{CREATE ROLE readers; CREATE ROLE temp_reader LOGIN IN ROLE readers;
	SET ROLE shop_dev; SELECT meshpg.grant_access('shop.orders', 'readers')});
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.create_output_port('shop.orders', 'temp_reader', 'temp_port')});
$node->safe_psql('postgres', q{DROP ROLE temp_reader});
$node->safe_psql('postgres', q{SELECT meshpg.set_attribute('buyer', 'region', '{EU}')});
is($node->safe_psql('postgres', q{SELECT state || ': ' || reason FROM meshpg.output_ports WHERE name = 'temp_port'}),
	'ended: the port\'s consumer role was dropped', 'a dropped consumer ends its port');
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.drop_output_port('temp_port')});

# ---------------------------------------------------------------------------
# Lag limit: the worker suspends the port and drops its slot
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.grant_access('shop.orders', 'buyer')});
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.create_output_port('shop.orders', 'buyer', 'buyer_lag')});
$node->safe_psql('postgres', q{ALTER SYSTEM SET meshpg.port_max_lag = 1; SELECT pg_reload_conf()});
$node->safe_psql('postgres', q{CREATE TABLE public.filler AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g});
ok($node->poll_query_until('postgres',
	q{SELECT state = 'suspended' AND NOT slot_exists FROM meshpg.output_ports WHERE name = 'buyer_lag'}),
	'a port past meshpg.port_max_lag is suspended and its slot dropped');
like($node->safe_psql('postgres', q{SELECT reason FROM meshpg.output_ports WHERE name = 'buyer_lag'}),
	qr/port_max_lag/, 'the reason names the limit');
ok($node->poll_query_until('postgres',
	q{SELECT NOT slot_exists FROM meshpg.output_ports WHERE name = 'buyer_sql'}),
	'an ended port\'s slot past the limit is dropped too');
$node->safe_psql('postgres', q{ALTER SYSTEM SET meshpg.port_max_lag = -1; SELECT pg_reload_conf()});

# ---------------------------------------------------------------------------
# Retiring the product ends its ports; unregistering it drops them and
# their slots
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.drop_output_port('buyer_lag')});
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.grant_access('shop.orders', 'buyer');
	SELECT meshpg.create_output_port('shop.orders', 'buyer', 'buyer_last')});
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.deprecate('shop.orders', current_date + 30); SELECT meshpg.retire('shop.orders', force => true)});
is($node->safe_psql('postgres', q{SELECT state FROM meshpg.output_ports WHERE name = 'buyer_last'}),
	'ended', 'retiring the product ends its ports');
$node->safe_psql('postgres', q{SET ROLE shop_dev; SELECT meshpg.unregister_product('shop.orders')});
is($node->safe_psql('postgres', q{SELECT count(*) FROM meshpg.output_ports}), '0', 'the product\'s ports are gone');
ok($node->poll_query_until('postgres',
	q{SELECT count(*) = 0 FROM pg_replication_slots WHERE database = 'postgres'}),
	'and their slots');

$node->stop;
done_testing();
