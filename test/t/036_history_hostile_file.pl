# The shutdown file is checked, not trusted: a damaged or hostile
# pg_stat/meshpg_history.dat must never crash the server or leave in the
# ring a read that the flush, or meshpg.access_history, cannot handle.
#   - a read whose time is out of range ends what is kept (the view prints
#     it: one such read would make the whole view fail to read);
#   - a purpose cut mid-character (as meshpg 1.2.0 cut a purpose longer
#     than 63 bytes) is recorded up to its last whole character;
#   - the reads of a database that no longer exists are dropped by the next
#     flush instead of being passed over and put back for ever; the same
#     holds for the reads of a database dropped while they were pending;
#   - malformed shapes (too many policies, a purpose or column bitmap past
#     its limit, a first entry without a shape, a batch past 4 kB) end what
#     is kept, and the server starts.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('history_hostile');

my $setup = q{
CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE shop_team;
CREATE TABLE shop.orders (id int PRIMARY KEY, amount numeric);
INSERT INTO shop.orders VALUES (1, 10), (2, 20);
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.publish('shop.orders', '1.0.0');
SELECT meshpg.grant_access('shop.orders', 'buyer');
RESET ROLE;
};
$node->safe_psql('postgres', "CREATE ROLE shop_team; CREATE ROLE buyer LOGIN; $setup");
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', $setup);

sub stats
{
	return $node->safe_psql('postgres', 'SELECT pending, dropped FROM meshpg.access_history_stats');
}

# A database dropped with reads pending: the next flush drops them.
$node->safe_psql('other', 'SET ROLE buyer; SELECT amount FROM shop.orders; SELECT id FROM shop.orders;');
$node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is(stats(), '2|0', "another database's reads wait for its flush");
$node->safe_psql('postgres', 'DROP DATABASE other');
$node->safe_psql('postgres', 'SET ROLE buyer; SELECT amount FROM shop.orders;');
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 1,
	"the flush takes its own database's read");
is(stats(), '0|2', "and drops the dropped database's reads, which no flush would take");

my ($dbid, $relid, $buyer, $product_id) = split /\|/,
  $node->safe_psql('postgres', q{
SELECT d.oid, 'shop.orders'::regclass::oid, 'buyer'::regrole::oid, p.id
  FROM pg_database d, meshpg.cat_product p
 WHERE d.datname = current_database() AND p.name = 'orders'});
$node->safe_psql('postgres', 'DELETE FROM meshpg.cat_access_batch');

my $file = $node->data_dir . '/pg_stat/meshpg_history.dat';
my $pg_epoch = 946684800;    # 2000-01-01 in Unix time
my $now_us = (time() - $pg_epoch) * 1_000_000;
my $bad_ts = -(2**62);       # before 4714 BC: out of range
my $damaged = 'is truncated or damaged; the entries before the damage are kept';

# An encoded shape: presence byte, product, backend start, relation,
# current user, pid, flags, command, policies; then the purpose and
# version (presence 0x08 and 0x10) and the column bitmap.
sub shape
{
	my (%o) = @_;
	my @policies = @{ $o{policies} // [] };
	my $purpose = $o{purpose};
	my $columns = $o{columns} // "\x01";
	my $s = pack('C q< q< L< L< l< S< a1 C',
		0x10 | (defined $purpose ? 0x08 : 0), $product_id,
		$o{backend_start} // $now_us - 60_000_000, $relid, $buyer, 4245, 0, 's',
		scalar(@policies));
	$s .= pack('q< s<', @$_) for @policies;
	$s .= pack('C', length($purpose)) . $purpose if defined $purpose;
	return $s . pack('C', 5) . '1.0.0' . pack('C', length($columns)) . $columns;
}

# An entry: shape length, time, rows, statement, then the shape (none:
# the previous entry's).
sub entry
{
	my ($statement, $shape, $read_at) = @_;
	return pack('S< q< Q< Q<', length($shape), $read_at // $now_us, 1, $statement) . $shape;
}

# A batch: database, the transaction a shutdown found committing a flush of
# it (0: none), slots, reads, bytes, then the entries.
sub batch_of
{
	my ($db, $xid, $len, @entries) = @_;
	my $body = join('', @entries);
	return pack('L< L< S< S< L<', $db, $xid, int((16 + length($body) + 119) / 120),
		scalar(@entries), $len // length($body)) . $body;
}

sub batch
{
	my ($db, $len, @entries) = @_;
	return batch_of($db, 0, $len, @entries);
}

# Writes a file of MHS3 batches, restarts, and returns the reads loaded.
sub load
{
	my ($data, $magic, $size, $n) = @_;
	$node->stop;
	open(my $fh, '>:raw', $file) or die "could not write $file: $!";
	print $fh pack('L< L< Q< Q<', $magic // 0x4d485333, $size // 16, $n // 1, 0), $data;
	close($fh);
	my $offset = -s $node->logfile;
	$node->start;
	my $logged = $node->log_contains(qr/\Q$damaged\E/, $offset) ? 'damaged' : 'whole';
	return ($node->safe_psql('postgres', 'SELECT pending FROM meshpg.access_history_stats'),
		$logged);
}

my $readable = q{
SELECT count(*), string_agg(coalesce(purpose, '-'), ',' ORDER BY statement),
       sum(length(convert_to(coalesce(purpose, ''), 'UTF8')))
  FROM meshpg.access_history a WHERE length(a::text) > 0};

# A purpose cut mid-character, then a read out of time range.
is(join(' ', load(batch($dbid, undef, entry(1, shape(purpose => "audit-\xc3")),
					entry(2, '', $bad_ts)))),
	'1 damaged', 'a read out of time range ends what is kept');
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 1, 'the read before it is flushed');
is($node->safe_psql('postgres', $readable), '1|audit-|6',
	'the history reads back, its purpose cut to its whole characters');

is(join(' ', load(batch($dbid, undef, entry(3, shape(backend_start => $bad_ts))))),
	'0 damaged', 'a shape whose backend start is out of range is not loaded');

# meshpg 1.1's fixed entry, with its read time out of range.
my $v1 = pack('q< Q< Q< Q< q< q<16 q< L< L< L< L< L< l< S< C a1 s<16 a64 a32 a200 x4',
	$bad_ts, 0, 1, 4, $product_id, (0) x 16, $now_us, $dbid, $relid, $buyer, $buyer, 0, 4246,
	0, 0, 's', (0) x 16, '', '1.0.0', "\x01");
is(join(' ', load($v1, 0x4d485331, length($v1))), '0 damaged',
	"a 1.1 entry's time is checked too");

# A database that does not exist: its batch is dropped by the first flush.
is(join(' ', load(batch(4000000000, undef, entry(5, shape()), entry(6, ''))
			. batch($dbid, undef, entry(7, shape())), undef, undef, 2)),
	'3 whole', "a batch of a database that does not exist is loaded");
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 1,
	'the flush takes its own read');
is(stats(), '0|2', 'and drops the reads of the database that does not exist');

# Malformed shapes: nothing past them is loaded, the server starts.
my %malformed = (
	'17 policies' => batch($dbid, undef, entry(8, shape(policies => [ ([ 1, 2 ]) x 17 ]))),
	'a 64-byte purpose' => batch($dbid, undef, entry(9, shape(purpose => 'p' x 64))),
	'a 201-byte column bitmap' => batch($dbid, undef, entry(10, shape(columns => "\xff" x 201))),
	'a first entry without a shape' => batch($dbid, undef, entry(11, ''), entry(12, shape())),
	'a batch past 4 kB' => batch($dbid, 4097, entry(13, shape())));
for my $what (sort keys %malformed)
{
	is(join(' ', load($malformed{$what})), '0 damaged', "$what: not loaded");
}
# The limits themselves are fine.
is(join(' ', load(batch($dbid, undef, entry(14, shape(policies => [ ([ 1, 2 ]) x 16 ],
							purpose => 'p' x 63, columns => "\xff" x 200))))),
	'1 whole', '16 policies, a 63-byte purpose and a 200-byte column bitmap are loaded');
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 1, 'and flushed');
is($node->safe_psql('postgres', q{
SELECT cardinality(columns), octet_length(purpose) FROM meshpg.access_history WHERE statement = 14}),
	'1600|63', 'as they were (columns the table lacks are named by number)');

# An immediate shutdown that caught a flush between its commit and its
# release of the reads it claimed: the file names that flush's transaction
# in their batch.  Committed, the reads are recorded already and are not
# flushed again; rolled back (or lost with the crash), they are flushed.
my $committed = $node->safe_psql('postgres', 'SELECT txid_current() % 4294967296');
my $aborted = $node->safe_psql('postgres',
	'BEGIN; SELECT txid_current() % 4294967296; ROLLBACK;');
$aborted =~ s/\n.*//s;
is(join(' ', load(batch_of($dbid, $committed, undef, entry(15, shape()), entry(16, ''))
			. batch_of($dbid, $aborted, undef, entry(17, shape()))
			. batch_of($dbid, 4000000000, undef, entry(18, shape())), undef, undef, 3)),
	'4 whole', 'batches a flush was committing are loaded');
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 2,
	'only those of a flush that did not commit, or of an unknown one, are flushed');
is($node->safe_psql('postgres', q{
SELECT string_agg(statement::text, ',' ORDER BY statement) FROM meshpg.access_history
 WHERE backend_pid = 4245 AND statement BETWEEN 15 AND 18}), '17,18', 'the committed flush\'s reads are not recorded twice');
is($node->safe_psql('postgres', 'SELECT pending FROM meshpg.access_history_stats'), 0,
	'and are no longer pending');

$node->stop;
done_testing();
