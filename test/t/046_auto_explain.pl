# auto_explain with log_analyze asks for per-node row counts from its own
# executor hook, and a consumer can receive its log lines with
# client_min_messages = log.  Of a plan whose rows are filtered for the
# reader, those counts ("Rows Removed by Filter", "actual rows") would count
# the hidden rows.  Listed before meshpg, auto_explain's hook runs after
# meshpg's, which takes the instrumentation away again: the read runs and
# the plan is logged without counts.  Listed after meshpg, the counts are
# asked for before meshpg's hook runs, and the read is refused.  A reader
# whose rows are not filtered keeps the counts either way.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('auto_explain', preload => 'auto_explain,meshpg', conf => q{
auto_explain.log_min_duration = 0
auto_explain.log_analyze = on
auto_explain.log_level = notice
});

$node->safe_psql('postgres', q{
CREATE EXTENSION meshpg;
CREATE ROLE shop_team;
CREATE ROLE buyer LOGIN;
SELECT meshpg.create_domain('shop', 'shop_team');
SELECT meshpg.create_tag('geo.region');
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))',
       tag => 'geo.region');
SELECT meshpg.set_attribute('buyer', 'region', '{EU}');
SET ROLE shop_team;
CREATE TABLE shop.orders (id int, region text);
INSERT INTO shop.orders SELECT g, CASE WHEN g % 3 = 0 THEN 'EU' ELSE 'US' END
  FROM generate_series(1, 30) g;
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.tag_column('shop.orders', 'region', 'geo.region');
SELECT meshpg.publish('shop.orders', '1.0.0');
SELECT meshpg.grant_access('shop.orders', 'buyer');
});

sub read_as
{
	my ($role) = @_;
	return $node->psql('postgres', 'SELECT count(*) FROM shop.orders',
		extra_params => [ '-U', $role ]);
}

# auto_explain before meshpg: counted nothing, logged without counts.
my ($ret, $out, $err) = read_as('buyer');
is($ret, 0, 'auto_explain listed first: the filtered read runs') or diag $err;
is($out, '10', 'and returns the visible rows only');
like($err, qr/Seq Scan on orders/, 'auto_explain logs its plan to the reader');
unlike($err, qr/Rows Removed|actual time=|rows=30/, 'without any row count');

($ret, $out, $err) = read_as('postgres');
like($err, qr/actual time=\S+ rows=30 loops/, 'an exempt reader keeps the counts');

# auto_explain after meshpg: the counts are asked for before meshpg's hook.
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'meshpg,auto_explain'");
$node->restart;
($ret, $out, $err) = read_as('buyer');
isnt($ret, 0, 'auto_explain listed after meshpg: the filtered read is refused');
like($err, qr/EXPLAIN ANALYZE is not allowed on data products whose rows are filtered for you/,
	'with the EXPLAIN ANALYZE error');
unlike($err, qr/Rows Removed|actual time=|rows=30/, 'and no row count reaches the reader');

($ret, $out, $err) = read_as('postgres');
like($err, qr/actual time=\S+ rows=30 loops/, 'an exempt reader still reads, with counts');

$node->stop;
done_testing();
