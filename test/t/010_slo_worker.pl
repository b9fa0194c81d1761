# The SLO scheduler: the launcher starts a worker per database named in
# meshpg.databases; it evaluates SLOs when due (the test drives the
# schedule clock by moving next_due, as a minute is the shortest schedule),
# records exactly one result per scheduled run, records a failing check as
# an error while the others go on, follows SIGHUP, comes back after a
# kill -9 of a backend, and stops cleanly.  The last-change table survives
# a clean restart.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = meshpg_node('slo_worker', conf => q{
meshpg.scheduler = on
meshpg.databases = 'postgres, other'
meshpg.worker_naptime = 1
meshpg.max_workers = 2
restart_after_crash = on
});

$node->safe_psql('postgres', q{
CREATE DATABASE other;
CREATE EXTENSION meshpg;
CREATE ROLE shop_team;
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE shop_team;
CREATE TABLE shop.orders (id int, amount numeric);
INSERT INTO shop.orders SELECT g, g FROM generate_series(1, 10) g;
RESET ROLE;
SELECT meshpg.register_product('shop', 'orders', 'shop.orders');
SELECT meshpg.declare_slo('shop.orders', 'complete', 'completeness',
       '{"columns": ["amount"], "min_ratio": 0.9}', schedule => '1 minute');
SELECT meshpg.declare_slo('shop.orders', 'broken', 'custom',
       '{"query": "SELECT count(*) / 0 FROM shop.orders", "threshold": 0}', schedule => '1 minute');
SELECT meshpg.declare_slo('shop.orders', 'manual_only', 'volume', '{"min_rows": 1}');
INSERT INTO shop.orders VALUES (11, 11);
});

sub results
{
	my ($slo) = @_;
	return $node->safe_psql('postgres', qq{
SELECT count(*) FROM meshpg.cat_slo_result r JOIN meshpg.cat_slo s ON s.id = r.slo_id
 WHERE s.name = '$slo' AND r.trigger = 'scheduled'});
}

# Due at declaration: the worker evaluates both scheduled SLOs.
ok( $node->poll_query_until('postgres', q{
SELECT count(DISTINCT slo_id) = 2 FROM meshpg.cat_slo_result WHERE trigger = 'scheduled'}),
	'the worker evaluates SLOs that are due');
is($node->safe_psql('postgres', q{
SELECT s.name, r.met, r.error IS NOT NULL, r.value
  FROM meshpg.cat_slo_result r JOIN meshpg.cat_slo s ON s.id = r.slo_id
 WHERE r.trigger = 'scheduled' ORDER BY s.name}),
	"broken||t|\ncomplete|t|f|1",
	'a failing check is recorded as an error; the other is measured');
is(results('manual_only'), '0', 'an SLO without a schedule is not evaluated by the worker');
like(slurp_file($node->logfile), qr/SLO "broken" of data product "shop.orders" could not be measured/,
	'the failing check is logged');

# Not due again for a minute: a few more ticks record nothing.
sleep(3);
is(results('complete'), '1', 'one result per scheduled run, no more before the next is due');

# Drive the schedule clock: the next run is due now.
$node->safe_psql('postgres', q{UPDATE meshpg.cat_slo SET next_due = now() WHERE schedule IS NOT NULL});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 4 FROM meshpg.cat_slo_result WHERE trigger = 'scheduled'}),
	'the next run happens when due');
sleep(2);
is($node->safe_psql('postgres', q{
SELECT count(*), count(DISTINCT (slo_id, scheduled_for)) FROM meshpg.cat_slo_result
 WHERE trigger = 'scheduled'}), '4|4', 'exactly one result per scheduled run');

is($node->safe_psql('postgres', q{
SELECT database, task, runs > 0, failures FROM meshpg.worker_tasks()
 WHERE task IN ('slo_schedule', 'history_flush') ORDER BY 1, 2}),
	"other|history_flush|t|0\nother|slo_schedule|t|0\npostgres|history_flush|t|0\npostgres|slo_schedule|t|0",
	'both databases are covered; a database without meshpg is skipped quietly');

# The scheduler trims results older than the compliance window plus
# meshpg.slo_history_days, and keeps the rest.
$node->safe_psql('postgres', q{
INSERT INTO meshpg.cat_slo_result (slo_id, started_at, duration, objective, met, trigger)
SELECT id, now() - interval '400 days', '0', 'x', true, 'manual' FROM meshpg.cat_slo WHERE name = 'manual_only';
INSERT INTO meshpg.cat_slo_result (slo_id, started_at, duration, objective, met, trigger)
SELECT id, now() - interval '20 days', '0', 'x', true, 'manual' FROM meshpg.cat_slo WHERE name = 'manual_only';
ALTER SYSTEM SET meshpg.slo_history_days = 1; SELECT pg_reload_conf();
});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 1 FROM meshpg.cat_slo_result WHERE started_at < now() - interval '1 day'}),
	'results beyond the window and the retention are trimmed; those within the window stay');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET meshpg.slo_history_days; SELECT pg_reload_conf();});

# SIGHUP: switching the scheduler off stops the workers, on brings them back.
$node->safe_psql('postgres', q{ALTER SYSTEM SET meshpg.scheduler = off; SELECT pg_reload_conf();});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'meshpg worker'}),
	'workers stop when the scheduler is switched off');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET meshpg.scheduler; SELECT pg_reload_conf();});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'meshpg worker'}),
	'and start again when it is switched back on');

# Concurrency limit: with one worker for two databases, they take turns.
$node->safe_psql('postgres', q{ALTER SYSTEM SET meshpg.max_workers = 1; SELECT pg_reload_conf();});
my %runs = map { split /\|/ } split /\n/, $node->safe_psql('postgres',
	q{SELECT database, runs FROM meshpg.worker_tasks()});
my $most = 0;
for (1 .. 50)
{
	my $n = $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'meshpg worker'});
	$most = $n if $n > $most && $_ > 20;    # two seconds to settle after the reload
	usleep(100_000);
}
ok($most <= 1, 'at most meshpg.max_workers workers run at once');
ok( $node->poll_query_until('postgres', qq{
SELECT bool_and(runs > CASE database WHEN 'postgres' THEN $runs{postgres} ELSE $runs{other} END + 1)
  FROM meshpg.worker_tasks()}),
	'both databases are still served, in turn');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET meshpg.max_workers; SELECT pg_reload_conf();});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'meshpg worker'}),
	'with the limit back at 2, both workers stay');

# The worker also flushes the access history: a read is in the history
# table without anyone calling meshpg.flush_access_history().
$node->safe_psql('postgres', q{SELECT count(*) FROM shop.orders /* history probe */});
ok( $node->poll_query_until('postgres', q{
SELECT count(*) > 0 FROM meshpg.access_history WHERE product = 'shop.orders' AND command = 'SELECT'}),
	'the worker flushes the access history');
like($node->safe_psql('postgres', q{
SELECT string_agg(database || ' ' || task, ', ' ORDER BY database, task) FROM meshpg.worker_tasks()
 WHERE runs > 0 AND task IN ('slo_schedule', 'history_flush')}),
	qr/postgres history_flush, postgres slo_schedule/, 'both tasks run in each database');

# A database that does not exist: its worker fails to connect, and the
# launcher retries after a delay that doubles, instead of every tick.
my $log_offset = -s $node->logfile;
$node->safe_psql('postgres', q{ALTER SYSTEM SET meshpg.databases = 'postgres, other, nosuchdb'; SELECT pg_reload_conf();});
ok( $node->wait_for_log(qr/worker for database "nosuchdb" stopped before running its tasks; retrying in 4 s/, $log_offset),
	'a database that cannot be reached is retried later, the delay doubling');
like(slurp_file($node->logfile, $log_offset),
	qr/retrying in 2 s.*\n(?:.*\n)*.*retrying in 4 s/,
	'first after 2 s, then after 4 s (naptime 1 s)');
$node->safe_psql('postgres', q{ALTER SYSTEM SET meshpg.databases = 'postgres, other'; SELECT pg_reload_conf();});

# A clean restart keeps the last-change table.
my $before = $node->safe_psql('postgres', q{SELECT meshpg.last_change('shop.orders')});
isnt($before, '', 'the insert was tracked');
$node->restart;
is($node->safe_psql('postgres', q{SELECT meshpg.last_change('shop.orders')}), $before,
	'the last change survives a clean restart');

# kill -9 of a backend: the postmaster reinitialises; the launcher and the
# workers come back and keep the schedule.
my $pid = $node->safe_psql('postgres', q{
SELECT pid FROM pg_stat_activity WHERE backend_type = 'meshpg worker' AND datname = 'postgres'});
ok($pid =~ /^\d+$/, 'found the worker of database postgres');
kill 'KILL', $pid;
ok( $node->poll_query_until('postgres', q{
SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'meshpg worker'}),
	'the workers are back after the crash restart');
like(slurp_file($node->logfile), qr/terminated by signal 9/, 'the server went through a crash restart');
$node->safe_psql('postgres', q{UPDATE meshpg.cat_slo SET next_due = now() WHERE schedule IS NOT NULL});
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 6 FROM meshpg.cat_slo_result WHERE trigger = 'scheduled'}),
	'scheduled evaluation goes on after the crash');
is($node->safe_psql('postgres', q{
SELECT count(*), count(DISTINCT (slo_id, scheduled_for)) FROM meshpg.cat_slo_result
 WHERE trigger = 'scheduled'}), '6|6', 'still exactly one result per run');

# Stops cleanly on shutdown.
$node->stop('fast');
unlike(slurp_file($node->logfile), qr/meshpg (launcher|worker).*(PANIC|terminated by signal 11)/,
	'no crash of a meshpg process');
done_testing();
