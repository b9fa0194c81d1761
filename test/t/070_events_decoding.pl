# Mesh events reach logical decoding clients (doc/events.md): each event is
# a transactional logical decoding message with the prefix "meshpg" whose
# content is the event's CloudEvents JSON, the same document as the
# outbox's, with the same id.  Read here by the real clients: wal2json
# (Debian's postgresql-15-wal2json) through pg_recvlogical, test_decoding
# through pg_recvlogical and SQL, pgoutput with messages (what Debezium
# reads).  A rolled-back change sends nothing; NOTIFY carries the id only.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use JSON::PP;

my $node = meshpg_node('events_decoding', conf => qq{
wal_level = logical
max_replication_slots = 4
max_wal_senders = 4
meshpg.scheduler = on
meshpg.databases = 'postgres'
meshpg.worker_naptime = 1
});
my $pkglibdir = $node->config_data('--pkglibdir');
my $have_wal2json = -f "$pkglibdir/wal2json.so";
diag("wal2json is not installed ($pkglibdir/wal2json.so): its part is skipped; "
	  . "install postgresql-15-wal2json (scripts/lib.sh lists it)")
  unless $have_wal2json;
# A server that lists the output plugins a slot may name (this build's
# output_plugin_libraries) must list wal2json too.
if ($have_wal2json
	&& $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_settings WHERE name = 'output_plugin_libraries'}) == 1)
{
	$node->safe_psql('postgres', q{ALTER SYSTEM SET output_plugin_libraries = pgoutput, test_decoding, wal2json});
	$node->reload;
}

$node->safe_psql('postgres', q{
SELECT pg_create_logical_replication_slot('ev_td', 'test_decoding');
SELECT pg_create_logical_replication_slot('ev_recv', 'test_decoding');
SELECT pg_create_logical_replication_slot('ev_pgo', 'pgoutput');
CREATE PUBLICATION ev_pub;
});
$node->safe_psql('postgres', q{SELECT pg_create_logical_replication_slot('ev_w2j', 'wal2json')})
  if $have_wal2json;

# The changes: a domain, a product registered, published and granted; a
# tag created in a transaction that rolls back; one committed after it.
meshpg_shop_orders($node);
$node->safe_psql('postgres', q{
BEGIN;
SELECT meshpg.create_tag('rolled_back');
ROLLBACK;
SELECT meshpg.create_tag('kept');
});
my $endpos = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');

# The outbox: what every client must carry, in this order.
my @outbox = map { decode_json($_) } split /\n/, $node->safe_psql('postgres',
	'SELECT event FROM meshpg.events ORDER BY id');
my @types = map { $_->{type} } @outbox;
is_deeply(\@types, [qw(meshpg.domain.created meshpg.product.registered
	  meshpg.product.published meshpg.grant.given meshpg.tag.created)],
	'the outbox holds the committed changes\' events in commit order');

# test_decoding through SQL: "message: transactional: 1 prefix: meshpg, sz: N content:{...}"
sub messages_of_test_decoding
{
	my ($text) = @_;
	my @events;
	for my $line (split /\n/, $text)
	{
		next unless $line =~ /^message: transactional: (\d) prefix: (\S+), sz: \d+ content:(.*)$/;
		is($1, 1, 'the message is transactional');
		is($2, 'meshpg', 'with the prefix meshpg');
		push @events, decode_json($3);
	}
	return @events;
}
my @td = messages_of_test_decoding($node->safe_psql('postgres',
	q{SELECT data FROM pg_logical_slot_get_changes('ev_td', NULL, NULL)}));
is_deeply(\@td, \@outbox, 'test_decoding (SQL): one message per event, the outbox\'s documents, in order');

# test_decoding through pg_recvlogical, the streaming protocol
my $recv_out = "${PostgreSQL::Test::Utils::tmp_check}/ev_recv.out";
$node->command_ok([ 'pg_recvlogical', '-d', $node->connstr('postgres'), '--slot', 'ev_recv',
	'--start', '--endpos', $endpos, '--no-loop', '-f', $recv_out ],
	'pg_recvlogical reads the test_decoding slot');
my @recv = messages_of_test_decoding(slurp_file($recv_out));
is_deeply(\@recv, \@outbox, 'test_decoding (pg_recvlogical): the same events');

# wal2json (format 2: one JSON document per change) through pg_recvlogical
SKIP:
{
	skip "wal2json is not installed ($pkglibdir/wal2json.so): install postgresql-15-wal2json", 3
	  unless $have_wal2json;
	my $w2j_out = "${PostgreSQL::Test::Utils::tmp_check}/ev_w2j.out";
	$node->command_ok([ 'pg_recvlogical', '-d', $node->connstr('postgres'), '--slot', 'ev_w2j',
		'--start', '--endpos', $endpos, '--no-loop', '-o', 'format-version=2',
		'-o', 'include-transaction=false', '-f', $w2j_out ],
		'pg_recvlogical reads the wal2json slot');
	my @w2j;
	my @prefixes;
	for my $line (split /\n/, slurp_file($w2j_out))
	{
		my $change = decode_json($line);
		next unless $change->{action} eq 'M';
		push @prefixes, $change->{prefix} . ($change->{transactional} ? '' : ' (not transactional)');
		push @w2j, decode_json($change->{content});
	}
	is_deeply(\@w2j, \@outbox, 'wal2json: one message per event, the outbox\'s documents, in order');
	is_deeply(\@prefixes, [ ('meshpg') x @outbox ], 'wal2json: transactional, prefix meshpg');
}

# pgoutput with messages (Debezium's plugin): the binary protocol carries
# each event's JSON as the content of a message ('M') of the prefix.
my $pgo = $node->safe_psql('postgres', q{
SELECT string_agg(encode(data, 'hex'), ',')
  FROM pg_logical_slot_get_binary_changes('ev_pgo', NULL, NULL,
       'proto_version', '1', 'publication_names', 'ev_pub', 'messages', 'true')
 WHERE get_byte(data, 0) = ascii('M')});
my @pgo;
for my $hex (split /,/, $pgo)
{
	my $bytes = pack('H*', $hex);
	# 'M', flags (1: transactional), LSN (8), prefix\0, length (4), content
	my ($flags, $rest) = (ord(substr($bytes, 1, 1)), substr($bytes, 10));
	my ($prefix, $after) = split /\0/, $rest, 2;
	my $len = unpack('N', substr($after, 0, 4));
	is($flags & 1, 1, 'pgoutput: the message is transactional');
	is($prefix, 'meshpg', 'pgoutput: prefix meshpg');
	push @pgo, decode_json(substr($after, 4, $len));
}
is_deeply(\@pgo, \@outbox, 'pgoutput with messages: the outbox\'s documents, in order');

# What a message carries is the CloudEvent, id and all.
my $first = $outbox[0];
is($first->{specversion}, '1.0', 'specversion 1.0');
like($first->{source}, qr{^/meshpg/\d+/postgres$}, 'source /meshpg/<system identifier>/<database>');
is($first->{datacontenttype}, 'application/json', 'datacontenttype');
is($first->{data}{domain}, 'shop', 'data names the domain');
ok(!grep({ $_->{subject} eq 'rolled_back' } @td, @recv, @pgo), 'the rolled-back change sent nothing');

# NOTIFY meshpg_events at commit, with the event's id only
my ($rc, $out, $err) = $node->psql('postgres', q{
LISTEN meshpg_events;
SELECT meshpg.create_tag('notified');
SELECT 1;
});
my $id = $node->safe_psql('postgres',
	q{SELECT id FROM meshpg.events WHERE type = 'meshpg.tag.created' AND subject = 'notified'});
like($out . $err, qr/notification "meshpg_events" with payload "$id" received/,
	'NOTIFY meshpg_events carries the id of the event');

# The worker: a grant past its expiry is announced once (grant_expiry);
# events older than meshpg.events_retention are pruned (events_prune).
$node->safe_psql('postgres', q{UPDATE meshpg.cat_grant SET expires_at = now() - interval '1 minute'});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM meshpg.events WHERE type = 'meshpg.grant.expired'}),
	'the worker announces the expired grant');
$node->safe_psql('postgres', q{
UPDATE meshpg.cat_event SET time = now() - interval '2 hours' WHERE type = 'meshpg.domain.created';
ALTER SYSTEM SET meshpg.events_retention = '1h';
SELECT pg_reload_conf();
});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM meshpg.cat_event WHERE type = 'meshpg.domain.created'}),
	'the worker prunes events older than meshpg.events_retention');
is($node->safe_psql('postgres', q{
SELECT (SELECT count(*) FROM meshpg.events WHERE type = 'meshpg.grant.expired'),
       (SELECT string_agg(task || ' ' || failures, ', ' ORDER BY task) FROM meshpg.worker_tasks()
         WHERE task IN ('grant_expiry', 'events_prune') AND runs > 0)}),
	'1|events_prune 0, grant_expiry 0', 'announced once; both tasks ran without failure');

# Events outlive a restart; the ids go on.
$node->restart;
$node->safe_psql('postgres', q{SELECT meshpg.create_tag('after_restart')});
is($node->safe_psql('postgres',
	q{SELECT id > } . $id . q{ FROM meshpg.events WHERE subject = 'after_restart'}), 't',
	'ids go on after a restart');

# pg_dump carries the outbox (and the announced expiries): a restored
# database has every event, with its id, and numbers the next after them.
my $dump = "${PostgreSQL::Test::Utils::tmp_check}/events.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
my $events_sql = q{SELECT string_agg(id || ' ' || type || ' ' || subject || ' ' || data::text, E'\n' ORDER BY id)
                     FROM meshpg.events};
is($node->safe_psql('restored', $events_sql), $node->safe_psql('postgres', $events_sql),
	'the restored database has every event, id and data');
is($node->safe_psql('restored', q{SELECT count(*) FROM meshpg.cat_grant_expired}), 1,
	'and the expiry already announced (not announced again)');
$node->safe_psql('restored', q{SELECT meshpg.create_tag('restored_tag')});
is($node->safe_psql('restored', q{SELECT max(id) FROM meshpg.events WHERE subject = 'restored_tag'}),
	$node->safe_psql('postgres', q{SELECT max(id) FROM meshpg.events}) + 1,
	'the next event is numbered after them');

$node->stop;
done_testing();
