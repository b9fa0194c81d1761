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

our @EXPORT = qw(meshpg_node);

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

1;
