# Access history under concurrent load: reads from several clients while a
# flusher runs (as the background worker will), then a clean shutdown with
# entries still in shared memory.  After the restart every read is there
# exactly once: nothing lost, nothing duplicated, also after an immediate
# shutdown.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('history', conf => qq{
meshpg.history_buffer_size = 20000
max_connections = 30
});

meshpg_shop_orders($node, rows => 'SELECT g, g FROM generate_series(1, 1000) g', flush => 1);

sub history_count
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM meshpg.access_history WHERE product = 'shop.orders'");
}

sub pending
{
	return $node->safe_psql('postgres', 'SELECT pending FROM meshpg.access_history_stats');
}

# 4 clients x 300 reads, while another client flushes every few ms.
my $flusher = $node->background_psql('postgres');
# One flush per transaction, as the worker does: a procedure commits each.
$flusher->query_safe(q{
CREATE PROCEDURE flush_each(n int) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. n LOOP
    PERFORM meshpg.flush_access_history();
    COMMIT;
    PERFORM pg_sleep(0.005);
  END LOOP;
END $$;
});
$flusher->query_until(qr/started/, q{
\echo started
CALL flush_each(150);
});

$node->pgbench(
	'--no-vacuum --client=4 --transactions=300 --username=buyer',
	0, [qr{processed: 1200/1200}], [qr{^$}],
	'concurrent reads of a product',
	{ '030_read' => q{
\set id random(1, 1000)
SELECT amount FROM shop.orders WHERE id = :id;
} }, 'postgres');
$flusher->query_safe('SELECT 1');	# waits for the CALL to finish
$flusher->quit;

# Reads that stay in shared memory until the shutdown.
$node->pgbench(
	'--no-vacuum --client=2 --transactions=100 --username=buyer',
	0, [qr{processed: 200/200}], [qr{^$}],
	'more reads, not flushed',
	{ '030_read2' => q{
\set id random(1, 1000)
SELECT id FROM shop.orders WHERE id = :id;
} }, 'postgres');

my $flushed = history_count();
my $left = pending();
cmp_ok($flushed, '>', 0, 'the concurrent flusher moved reads to the table');
is($flushed + $left, 1400, 'every read is either flushed or pending');
cmp_ok($left, '>=', 200, 'the unflushed reads are pending at shutdown');

$node->stop('fast');
ok(-f $node->data_dir . '/pg_stat/meshpg_history.dat', 'a clean shutdown writes the pending reads to a file');
$node->start;
ok(!-f $node->data_dir . '/pg_stat/meshpg_history.dat', 'the file is consumed at startup');
is(pending(), $left, 'the pending reads are back after the restart');

$node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is(history_count(), 1400, 'after the restart and a flush, all 1400 reads are recorded');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM (SELECT backend_pid, backend_start, statement
                        FROM meshpg.access_history WHERE product = 'shop.orders'
                       GROUP BY 1, 2, 3 HAVING count(*) > 1) d}),
	0, 'no read is recorded twice');
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE columns = '{id,amount}'),
       count(*) FILTER (WHERE columns = '{id}'),
       count(DISTINCT role), bool_and(complete), sum(rows)
  FROM meshpg.access_history WHERE product = 'shop.orders'}),
	'1200|200|1|t|1400', 'each read has its columns, reader, and row count');

# An immediate shutdown is no crash for the postmaster: it keeps them too.
# (A backend crash loses them: 031_history_crash.pl.)
$node->pgbench(
	'--no-vacuum --client=2 --transactions=50 --username=buyer',
	0, [qr{processed: 100/100}], [qr{^$}],
	'reads before an immediate shutdown',
	{ '030_read3' => q{SELECT 1 FROM shop.orders WHERE id = 1;} }, 'postgres');
is(pending(), 100, 'reads pending before the immediate shutdown');
$node->stop('immediate');
$node->start;
is(pending(), 100, 'an immediate shutdown keeps the pending reads');
$node->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is(history_count(), 1500, 'and they are flushed after the restart');
is($node->safe_psql('postgres', q{
SELECT count(*) - count(DISTINCT (backend_pid, backend_start, statement))
  FROM meshpg.access_history WHERE product = 'shop.orders'}),
	0, 'still no read recorded twice');

$node->stop;
done_testing();
