# The access history across the 1.2 upgrade, which stores reads as arrays
# in one row per shape and flush (meshpg.cat_access_batch) instead of one
# row per read (1.1's meshpg.cat_access_history):
#   - the new library flushes into a database still at 1.1, into 1.1's
#     table, so that its reads neither wait in the ring nor crowd out other
#     databases';
#   - ALTER EXTENSION meshpg UPDATE moves every recorded read over, and
#     meshpg.access_history shows the same reads before and after;
#   - reads a 1.1 server kept in its shutdown file (fixed-size entries), and
#     reads a 1.2.0 server kept (a record per read), come back when the new
#     library starts;
#   - a damaged shutdown file gives back the reads before the damage.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('history_upgrade');
$node->init(extra => [ '--encoding=UTF8', '--no-locale' ]);
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'meshpg'");
$node->start;

$node->safe_psql('postgres', q{
CREATE ROLE shop_team;
CREATE ROLE buyer LOGIN;
CREATE EXTENSION meshpg VERSION '1.1';
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE shop_team;
CREATE TABLE shop.orders (id int PRIMARY KEY, amount numeric, note text);
INSERT INTO shop.orders VALUES (1, 10, 'a'), (2, 20, 'b');
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.publish('shop.orders', '1.0.0');
SELECT meshpg.grant_access('shop.orders', 'buyer');
});

sub reads
{
	my ($n, $sql) = @_;
	$sql //= 'SELECT amount FROM shop.orders;';
	$node->safe_psql('postgres', 'SET ROLE buyer; ' . ("$sql " x $n));
}

my $trail = q{SELECT string_agg(format('%s %s %s %s %s', read_at, role, columns, rows, statement),
                                E'\n' ORDER BY read_at, statement)
                FROM meshpg.access_history WHERE product = 'shop.orders'};

# At 1.1, with the new library.
reads(3);
reads(1, 'SELECT id, note FROM shop.orders WHERE id = 1;');
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 4,
	'the new library flushes a database still at 1.1');
is($node->safe_psql('postgres', 'SELECT count(*) FROM meshpg.cat_access_history'), 4,
	"into 1.1's table, one row per read");
my $before = $node->safe_psql('postgres', $trail);
reads(2);    # waiting in the ring across the update

$node->safe_psql('postgres', q{ALTER EXTENSION meshpg UPDATE TO '1.2'});
is($node->safe_psql('postgres',
		q{SELECT extversion, to_regclass('meshpg.cat_access_history') IS NULL
		    FROM pg_extension WHERE extname = 'meshpg'}),
	'1.2|t', "updated to 1.2; 1.1's table is gone");
is($node->safe_psql('postgres', 'SELECT count(*), sum(reads) FROM meshpg.cat_access_batch'),
	'4|4', 'each recorded read became a batch of one');
is($node->safe_psql('postgres', $trail), $before,
	'meshpg.access_history shows the same reads after the update');
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 2,
	'the reads captured before the update are flushed after it');
is($node->safe_psql('postgres',
		q{SELECT count(*), sum(reads) FROM meshpg.cat_access_batch WHERE reads > 1}),
	'1|2', 'into one row: one backend, one shape');
is($node->safe_psql('postgres',
		q{SELECT column_name, consumers, queries FROM meshpg.product_usage
		   WHERE product = 'shop.orders' ORDER BY column_name NULLS FIRST}),
	"|1|6\namount|1|5\nid|1|1\nnote|1|1", 'product_usage counts old and new reads');

# A shutdown file written by 1.1: a header, then fixed-size entries.
my ($dbid, $relid, $buyer, $product_id) = split /\|/,
  $node->safe_psql('postgres', q{
SELECT d.oid, 'shop.orders'::regclass::oid, 'buyer'::regrole::oid, p.id
  FROM pg_database d, meshpg.cat_product p
 WHERE d.datname = current_database() AND p.name = 'orders'});
$node->stop;

my $pg_epoch = 946684800;    # 2000-01-01 in Unix time
my $now_us = (time() - $pg_epoch) * 1_000_000;

sub entry_v1
{
	my ($read_at, $statement) = @_;
	my @policies = (0) x 16;
	my @attnos = (0) x 16;
	return pack('q< Q< Q< Q< q< q<16 q< L< L< L< L< L< l< S< C a1 s<16 a64 a32 a200 x4',
		$read_at, 0, 1, $statement, $product_id, @policies,
		$now_us - 60_000_000, $dbid, $relid, $buyer, $buyer, 0, 4242,
		0, 0, 's', @attnos, 'audit', '1.0.0', "\x02");
}
my $entry = entry_v1($now_us - 1_000_000, 901);
is(length($entry), 536, "1.1's entry layout");
my $file = $node->data_dir . '/pg_stat/meshpg_history.dat';
open(my $fh, '>:raw', $file) or die "could not write $file: $!";
print $fh pack('L< L< Q< Q<', 0x4d485331, length($entry), 2, 7);
print $fh $entry, entry_v1($now_us, 902);
close($fh);

$node->start;
ok($node->log_contains('meshpg: reloaded 2 unflushed access history entries'),
	"the 1.1 server's shutdown file is read");
is($node->safe_psql('postgres', 'SELECT pending, dropped FROM meshpg.access_history_stats'),
	'2|7', 'its reads and its drop count');
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 2, 'both flushed');
is($node->safe_psql('postgres', q{
SELECT string_agg(format('%s %s %s %s', role, columns, purpose, statement), ', ' ORDER BY statement)
  FROM meshpg.access_history WHERE backend_pid = 4242}),
	'buyer {amount} audit 901, buyer {amount} audit 902', 'as 1.1 captured them');

# A shutdown file written by 1.2.0: a header, then a record per read, a
# 32-byte head and its encoded shape (purpose, version, columns {amount}).
$node->stop;
sub record_v2
{
	my ($read_at, $statement) = @_;
	my $shape = pack('C q< q< L< L< l< S< a1 C C a5 C a5 C C',
		0x18, $product_id, $now_us - 60_000_000, $relid, $buyer, 4243, 0, 's', 0,
		5, 'audit', 5, '1.0.0', 1, 2);
	return pack('L< S< S< q< Q< Q<', $dbid, length($shape), 1, $read_at, 1, $statement)
	  . $shape;
}
open($fh, '>:raw', $file) or die "could not write $file: $!";
print $fh pack('L< L< Q< Q<', 0x4d485332, 32, 2, 3);
print $fh record_v2($now_us - 1_000_000, 911), record_v2($now_us, 912);
close($fh);
$node->start;
is($node->safe_psql('postgres', 'SELECT pending, dropped FROM meshpg.access_history_stats'),
	'2|3', "a 1.2.0 server's shutdown file is read");
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 2, 'both flushed');
is($node->safe_psql('postgres', q{
SELECT string_agg(format('%s %s %s %s', role, columns, purpose, statement), ', ' ORDER BY statement)
  FROM meshpg.access_history WHERE backend_pid = 4243}),
	'buyer {amount} audit 911, buyer {amount} audit 912', 'as 1.2.0 captured them');

# A damaged shutdown file: the reads before the damage come back, the
# server starts, nothing is read past it.  Two reads of one backend are kept
# at a clean stop, as one batch (a 16-byte head, then each read's 26-byte
# head and, for the first, its shape); the second read's shape length is
# set past the batch's end.
reads(2);
$node->stop;
open($fh, '<:raw', $file) or die "could not read $file: $!";
my $data = do { local $/; <$fh> };
close($fh);
my $first = 24 + 16;    # after the file header and the batch head
my $first_len = unpack('v', substr($data, $first, 2));
substr($data, $first + 26 + $first_len, 2) = pack('v', 0x7fff);
open($fh, '>:raw', $file) or die "could not write $file: $!";
print $fh $data;
close($fh);
$node->start;
ok($node->log_contains('is truncated or damaged; the entries before the damage are kept'),
	'the damage is logged');
is($node->safe_psql('postgres', 'SELECT pending FROM meshpg.access_history_stats'), 1,
	'the read before the damage is back');
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 1, 'and flushed');

$node->stop;
done_testing();
