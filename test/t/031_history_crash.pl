# A backend killed with SIGKILL in the middle of a flush: the server
# restarts, the history table holds exactly what committed flushes wrote (no
# partial batch, no duplicate), the reads that were in shared memory are
# lost (the bounded, documented loss), and capture and flushing work again.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('crash', conf => qq{
restart_after_crash = on
});

meshpg_shop_orders($node, rows => 'SELECT g, g FROM generate_series(1, 100) g');

sub reads
{
	my $n = shift;
	$node->safe_psql('postgres',
		"SET ROLE buyer; SELECT amount FROM shop.orders WHERE id = $_;") for 1 .. $n;
}

sub history_count
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM meshpg.access_history WHERE product = 'shop.orders'");
}

# 10 reads flushed and committed.
reads(10);
$node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is(history_count(), 10, '10 reads flushed');

# 20 more; the flush of them blocks on a lock held elsewhere.
reads(20);
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK meshpg.cat_access_batch IN ACCESS EXCLUSIVE MODE;');
my $flusher = $node->background_psql('postgres', on_error_stop => 0);
$flusher->query_until(qr/started/, q{
\echo started
SELECT meshpg.flush_access_history();
});
$node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM pg_stat_activity
 WHERE query LIKE 'SELECT meshpg.flush_access_history()%' AND wait_event_type = 'Lock'})
  or die 'the flush never blocked';
is($node->safe_psql('postgres', 'SELECT pending FROM meshpg.access_history_stats'),
	20, 'the blocked flush has claimed 20 reads, still pending');
isnt($node->safe_psql('postgres', 'SELECT flusher_pid FROM meshpg.access_history_stats'),
	'', 'a flush is in progress');

my $pid = $node->safe_psql('postgres', q{
SELECT pid FROM pg_stat_activity
 WHERE query LIKE 'SELECT meshpg.flush_access_history()%' AND wait_event_type = 'Lock'});
kill 'KILL', $pid;

# The postmaster reinitialises: every session goes, then it is back.
$flusher->quit;
$locker->quit;
$node->poll_query_until('postgres', 'SELECT true') or die 'no restart';
my $log = slurp_file($node->logfile);
like($log, qr/was terminated by signal 9/, 'the flushing backend was killed');
like($log, qr/all server processes terminated; reinitializing/, 'the server reinitialised');

is(history_count(), 10, 'only the committed flush is in the table: no partial batch');
is($node->safe_psql('postgres',
	'SELECT pending, flusher_pid IS NULL FROM meshpg.access_history_stats'),
	'0|t', 'the 20 reads in shared memory are lost (bounded by the buffer), no flush left claimed');

reads(5);
is($node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), 5,
	'capture and flush work after the crash');
is(history_count(), 15, '15 reads recorded');
is($node->safe_psql('postgres', q{
SELECT count(*) - count(DISTINCT (backend_pid, backend_start, statement))
  FROM meshpg.access_history}), 0, 'none twice');
ok(!-f $node->data_dir . '/pg_stat/meshpg_history.dat', 'no file written by the crash');

$node->stop;
done_testing();
