# When the access-history ring is full, a reader waits for room instead of
# dropping reads (meshpg.history_overflow = wait, the default): with the
# scheduler off, a flood of cheap reads by one consumer loses nothing, the
# reader starting a flush of its own.  The wait ends on a statement timeout
# or a cancel like any other, and what it held back is recorded later.  A
# site that prefers to drop says so in its configuration; a consumer cannot.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

# the smallest ring: a few hundred reads fill it
my $node = meshpg_node('history_backpressure', conf => q{
meshpg.history_buffer_size = 64
meshpg.scheduler = off
});

meshpg_shop_orders($node, flush => 1);

my $flood = q{SET ROLE buyer;
DO $$ DECLARE n numeric; BEGIN
  FOR i IN 1..%d LOOP SELECT amount INTO n FROM shop.orders WHERE id = 1; END LOOP;
END $$;};

# 1. A flood with the worker off: every read is recorded, none dropped.
$node->safe_psql('postgres', sprintf($flood, 3000));
is($node->safe_psql('postgres', 'SELECT dropped FROM meshpg.access_history_stats'), 0,
	'a flood with the scheduler off drops nothing');
$node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is($node->safe_psql('postgres', q{SELECT count(*) FROM meshpg.access_history WHERE role = 'buyer'}),
	3000, 'every read of the flood is in the access history');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'meshpg history flush'}),
	'<=', 1, 'at most one helper flush ran');

# 2. A wait that no flush can end (a superuser holds the history table
# locked) ends at the reader's statement timeout; what it held back is
# recorded once the flush can run.
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK meshpg.cat_access_batch IN EXCLUSIVE MODE;');
my ($rc, $out, $err) = $node->psql('postgres',
	"SET statement_timeout = '2s';" . sprintf($flood, 3000));
like($err, qr/canceling statement due to statement timeout/,
	'a reader waiting for room is interrupted by its statement timeout');
$locker->query_safe('COMMIT;');
# the helper flushes what the exited reader handed over
$node->poll_query_until('postgres',
	'SELECT pending = 0 FROM meshpg.access_history_stats') or die 'pending reads never flushed';
$node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is($node->safe_psql('postgres', 'SELECT dropped FROM meshpg.access_history_stats'), 0,
	'nothing was dropped while the flush was blocked');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM meshpg.access_history WHERE role = 'buyer'}),
	'>', 3000, 'the reads before the timeout are recorded');

# 2b. The ring is shared by all databases, and a flush passes over the
# others' batches: a reader waiting behind another database's reads gets
# that database flushed.
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{
CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE shop_team;
CREATE TABLE shop.orders (id int PRIMARY KEY, amount numeric);
INSERT INTO shop.orders VALUES (1, 10);
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.publish('shop.orders', '1.0.0');
SELECT meshpg.grant_access('shop.orders', 'buyer');
});
$node->safe_psql('other', sprintf($flood, 200));
$node->safe_psql('postgres', "SET statement_timeout = '60s';" . sprintf($flood, 3000));
$node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
$node->safe_psql('other', 'SELECT meshpg.flush_access_history()');
is($node->safe_psql('other', q{SELECT count(*) FROM meshpg.access_history WHERE role = 'buyer'}),
	200, 'the reads of the other database are all recorded');
is($node->safe_psql('postgres', 'SELECT dropped FROM meshpg.access_history_stats'), 0,
	'nothing dropped across databases');

# 3. Only the site chooses to drop.
($rc, $out, $err) = $node->psql('postgres', q{SET ROLE buyer; SET meshpg.history_overflow = drop;});
like($err, qr/cannot be changed now/, 'a consumer cannot choose to drop');
$node->append_conf('postgresql.conf', "meshpg.history_overflow = drop\n");
$node->reload;
$locker->query_safe('BEGIN; LOCK meshpg.cat_access_batch IN EXCLUSIVE MODE;');
$node->safe_psql('postgres', sprintf($flood, 3000));
cmp_ok($node->safe_psql('postgres', 'SELECT dropped FROM meshpg.access_history_stats'), '>', 0,
	'with meshpg.history_overflow = drop a full ring drops and counts');
$locker->query_safe('COMMIT;');
$locker->quit;

$node->stop;
done_testing();
