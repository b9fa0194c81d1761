# A flush's reads leave the ring when its transaction commits.  A prepared
# transaction neither commits nor aborts then: if its flush let go of the
# reads (they stay in the ring, for the next flush) and COMMIT PREPARED
# later wrote its rows too, every read would be recorded twice.  So a
# transaction that flushed reads cannot be prepared; one that flushed
# nothing can.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('history_prepare', conf => qq{
max_prepared_transactions = 2
});

meshpg_shop_orders($node, flush => 1);

$node->safe_psql('postgres', 'SET ROLE buyer; SELECT amount FROM shop.orders; SELECT id FROM shop.orders;');
my ($rc, $out, $err) = $node->psql('postgres', q{
BEGIN;
SELECT meshpg.flush_access_history();
PREPARE TRANSACTION 'flushed';
});
like($err, qr/cannot PREPARE a transaction that flushed the access history/,
	'a transaction that flushed reads cannot be prepared');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), 0, 'it was rolled back');
is($node->safe_psql('postgres', 'SELECT pending FROM meshpg.access_history_stats'), 2,
	'its reads are still pending');
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 2, 'and the next flush takes them');
# Had it been prepared, committing it now would record them a second time.
$node->psql('postgres', "COMMIT PREPARED 'flushed'");
is($node->safe_psql('postgres', 'SELECT count(*) FROM meshpg.access_history'), 2,
	'each once');

$node->safe_psql('postgres', q{
BEGIN;
SELECT meshpg.flush_access_history();
PREPARE TRANSACTION 'nothing';
COMMIT PREPARED 'nothing';
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM meshpg.access_history'), 2,
	'a transaction whose flush found nothing can be prepared');

$node->stop;
done_testing();
