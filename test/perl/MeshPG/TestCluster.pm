# test/perl/MeshPG/TestCluster.pm: the cluster setup every TAP test of
# meshpg shares.  A test script loads it with
#
#   use FindBin;
#   use lib "$FindBin::RealBin/../perl";
#   use MeshPG::TestCluster;
#
#   my $node = meshpg_node('name');                        # started
#   my $node = meshpg_node('name', conf => q{meshpg.history = off});
#   my $primary = meshpg_node('primary', init => { allows_streaming => 1 });
#   my $node = meshpg_node('name', start => 0);            # left stopped
#   my $node = meshpg_node('name', preload => 'citus,meshpg');  # MeshCitus.pm
#
#   meshpg_shop_orders($node);           # the published product shop.orders
#   meshpg_shop_orders($node, db => 'a', roles => 0, rows => 'VALUES (1, 10)');
#
# The node is a PostgreSQL::Test::Cluster: UTF8 and no locale (as the
# regression suites, --encoding=UTF8 --no-locale), meshpg in
# shared_preload_libraries (it refuses to load otherwise; preload gives the
# whole list when another library must come first), then the extra
# settings given in conf.
package MeshPG::TestCluster;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT = qw(meshpg_node meshpg_shop_orders);

sub meshpg_node
{
	my ($name, %opts) = @_;
	my %init = %{ $opts{init} // {} };
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init(%init, extra => [ '--encoding=UTF8', '--no-locale' ]);
	my $preload = $opts{preload} // 'meshpg';

	$node->append_conf('postgresql.conf', "shared_preload_libraries = '$preload'");
	$node->append_conf('postgresql.conf', $opts{conf}) if defined $opts{conf};
	$node->start if $opts{start} // 1;
	return $node;
}

# The product most TAP tests read: shop.orders (id, amount) of domain shop
# (owner shop_team), published and granted to the login role buyer.  Options:
# db (postgres), roles (1: create shop_team and buyer first; 0 when another
# database of the cluster made them), rows (the INSERT's source, one row by
# default), flush (1: flush the history the setup itself left, so that a
# test starts from an empty history).
sub meshpg_shop_orders
{
	my ($node, %opts) = @_;
	my $db = $opts{db} // 'postgres';
	my $rows = $opts{rows} // 'VALUES (1, 10)';
	my $sql = '';

	$sql .= "CREATE ROLE shop_team;\nCREATE ROLE buyer LOGIN;\n" if $opts{roles} // 1;
	$sql .= qq{CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE shop_team;
CREATE TABLE shop.orders (id int PRIMARY KEY, amount numeric);
INSERT INTO shop.orders $rows;
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.publish('shop.orders', '1.0.0');
SELECT meshpg.grant_access('shop.orders', 'buyer');
RESET ROLE;
};
	$sql .= "SELECT meshpg.flush_access_history();\n" if $opts{flush};
	$node->safe_psql($db, $sql);
	return;
}

1;
