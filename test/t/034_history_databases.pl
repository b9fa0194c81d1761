# One ring for every database: the entries of a database that nobody flushes
# must not hold the ring's tail and make every other database drop its
# reads.  A flush passes over them and puts them back at the head.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('dbs', conf => qq{
meshpg.history_buffer_size = 64
});
$node->safe_psql('postgres', 'CREATE ROLE shop_team; CREATE ROLE buyer LOGIN;');

for my $db ('a', 'b')
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{
CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE shop_team;
CREATE TABLE shop.orders (id int PRIMARY KEY, amount numeric);
INSERT INTO shop.orders VALUES (1, 10);
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.publish('shop.orders', '1.0.0');
SELECT meshpg.grant_access('shop.orders', 'buyer');
});
}

sub reads
{
	my ($db, $n) = @_;
	$node->safe_psql($db, 'SET ROLE buyer; ' . ('SELECT amount FROM shop.orders; ' x $n));
}

# Database a reads and is never flushed; b reads and flushes, 5 times over:
# 20 + 5 x 30 reads go through a ring of 64.
reads('a', 20);
my $flushed = 0;
for (1 .. 5)
{
	reads('b', 30);
	$flushed += $node->safe_psql('b', 'SELECT meshpg.flush_access_history()');
}
is($flushed, 150, "every read of b was flushed");
is($node->safe_psql('b', 'SELECT pending, dropped FROM meshpg.access_history_stats'),
	'20|0', "a's 20 reads are still pending, nothing was dropped");
is($node->safe_psql('a', 'SELECT meshpg.flush_access_history()'), 20,
	"a's reads, passed over and put back, are all there when a flushes");
is($node->safe_psql('a', "SELECT count(*), count(DISTINCT statement) FROM meshpg.access_history"),
	'20|20', 'each once');
is($node->safe_psql('b', "SELECT count(*) FROM meshpg.access_history"), 150, 'b has its 150');

# Reads that take two slots each (a purpose of 63 characters), in rounds
# that leave the ring's head at every offset, so that records straddle its
# end: each comes back whole.
my $purpose = 'audit-' . ('x' x 57);
$node->safe_psql('postgres', 'CREATE ROLE auditor LOGIN');
$node->safe_psql('b', qq{
SET ROLE shop_team;
SELECT meshpg.grant_access('shop.orders', 'auditor', purpose => '$purpose');
});
$flushed = 0;
for (1 .. 6)
{
	$node->safe_psql('b', "SET ROLE auditor; SET meshpg.purpose = '$purpose'; "
		  . ('SELECT amount FROM shop.orders; ' x 19));
	$flushed += $node->safe_psql('b', 'SELECT meshpg.flush_access_history()');
}
is($flushed, 114, 'every two-slot read was flushed');
is($node->safe_psql('b', 'SELECT pending, dropped FROM meshpg.access_history_stats'),
	'0|0', 'none left, none dropped');
is($node->safe_psql('b', qq{
SELECT count(*), count(DISTINCT (backend_pid, backend_start, statement)),
       min(purpose) = '$purpose', min(columns::text)
  FROM meshpg.access_history WHERE role = 'auditor'}),
	'114|114|t|{amount}', 'each once, purpose and columns intact');

$node->stop;
done_testing();
