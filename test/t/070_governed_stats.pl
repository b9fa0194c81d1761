# Governed statistics refreshed by the worker (issue 15): the task
# stats_refresh computes a product's sets when its readers have a
# specialisation without one, again after PostgreSQL analyses the product
# (a manual ANALYZE here; autovacuum's sets the same last-analyse time),
# and again when a reader's attribute changes its specialisation; the
# reader's plan is estimated from the refreshed set.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('governed_stats', conf => q{
meshpg.scheduler = on
meshpg.databases = 'postgres'
meshpg.worker_naptime = 1
autovacuum = off
});

$node->safe_psql('postgres', q{
CREATE EXTENSION meshpg;
CREATE ROLE gs_team;
CREATE ROLE gs_reader;
SELECT meshpg.create_domain('gs', 'gs_team');
SET ROLE gs_team;
CREATE TABLE gs.orders (id int PRIMARY KEY, region text NOT NULL, amount int NOT NULL);
INSERT INTO gs.orders SELECT g, CASE WHEN g % 2 = 0 THEN 'EU' ELSE 'US' END, g % 100
  FROM generate_series(1, 2000) g;
SELECT meshpg.register_product('gs', 'orders', 'gs.orders', description => 'Orders');
SELECT meshpg.publish('gs.orders', '1.0.0');
SELECT meshpg.grant_access('gs.orders', 'gs_reader');
RESET ROLE;
SELECT meshpg.create_row_policy('gs_region', 'region = ANY (meshpg.attribute(''region''))',
                                product => 'gs.orders');
SELECT meshpg.set_attribute('gs_reader', 'region', '{EU}');
ANALYZE gs.orders;
});

sub sets
{
	return $node->safe_psql('postgres',
		q{SELECT count(*) || ':' || coalesce(sum(visible_rows), 0) FROM meshpg.statistic_sets});
}

sub estimate
{
	my $plan = $node->safe_psql('postgres',
		q{SET ROLE gs_reader; EXPLAIN SELECT * FROM gs.orders});
	return $plan =~ /rows=(\d+)/ ? $1 : $plan;
}

ok($node->poll_query_until('postgres', q{SELECT count(*) = 1 FROM meshpg.statistic_sets}),
	'the worker computes the set of a new specialisation');
is(sets(), '1:1000', 'one set, of the 1000 EU rows');
is(estimate(), '1000', 'the reader is estimated from its set');

my $first = $node->safe_psql('postgres', 'SELECT computed_at FROM meshpg.statistic_sets');
$node->safe_psql('postgres', q{
INSERT INTO gs.orders SELECT g, 'EU', 1 FROM generate_series(2001, 3000) g;
ANALYZE gs.orders;});
ok($node->poll_query_until('postgres',
		qq{SELECT computed_at > '$first' FROM meshpg.statistic_sets}),
	'the worker refreshes the set after ANALYZE');
is(sets(), '1:2000', 'the refreshed set has the new EU rows');
is(estimate(), '2000', 'and the reader is estimated from it');

# A changed attribute is another specialisation: withheld until the worker
# has computed its set, and the old one is dropped.
$node->safe_psql('postgres', q{SELECT meshpg.set_attribute('gs_reader', 'region', '{US}')});
ok($node->poll_query_until('postgres', q{SELECT sum(visible_rows) = 1000 FROM meshpg.statistic_sets}),
	'a new specialisation gets its set, the old one goes');
is(estimate(), '1000', 'the reader is estimated from the US set');
is($node->safe_psql('postgres', q{
SELECT failures FROM meshpg.worker_tasks() WHERE task = 'stats_refresh'}), '0',
	'the task never failed');

$node->stop;
done_testing();
