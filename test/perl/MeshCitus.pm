# MeshCitus: a Citus cluster on this machine for meshpg's TAP tests (a
# coordinator and workers, each a node of MeshPG::TestCluster preloading
# 'citus,meshpg'), and the skip rule when Citus is not installed.  The
# scripts put test/perl in @INC (use lib), which finds both modules.
package MeshCitus;

use strict;
use warnings;

use MeshPG::TestCluster;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Skips the whole script when citus.so is not installed and no build
# script is at hand; when the script is at hand (scripts/test.sh builds
# Citus before the TAP suite) a missing citus.so is a failure.
sub require_citus
{
	my $libdir = `pg_config --pkglibdir`;
	chomp $libdir;
	return if -f "$libdir/citus.so";
	my $script = $ENV{MESHPG_CITUS_BUILD_SCRIPT} // '';
	if ($script ne '' && -f $script)
	{
		# this script fails; the other TAP scripts still run
		plan tests => 1;
		fail("citus.so is not in $libdir although $script is at hand: the Citus build failed");
		exit 0;
	}
	plan skip_all =>
	  "Citus is not installed ($libdir/citus.so is missing) and ../shared/vendor/build-citus.sh is not at hand";
}

# new_node(name): a node preloading citus then meshpg, started, with the
# citus extension created.
sub new_node
{
	my ($name) = @_;
	my $node = meshpg_node($name, preload => 'citus,meshpg', start => 0, conf => q{
max_prepared_transactions = 20
citus.node_conninfo = 'sslmode=disable'
max_worker_processes = 16
});
	# Citus connects to itself (shard copies, reference tables): by socket
	$node->append_conf('postgresql.conf', "citus.local_hostname = '" . $node->host . "'");
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION citus');
	return $node;
}

# cluster(nworkers): (coordinator, workers...), the coordinator in the
# metadata (so reference tables have a placement there), meshpg created on
# the coordinator (Citus propagates it).
sub cluster
{
	my ($nworkers) = @_;
	my $coord = new_node('coord');
	my @workers = map { new_node("worker$_") } 1 .. $nworkers;
	$coord->safe_psql('postgres',
		sprintf("SELECT citus_set_coordinator_host('%s', %d)", $coord->host, $coord->port));
	for my $w (@workers)
	{
		$coord->safe_psql('postgres',
			sprintf("SELECT citus_add_node('%s', %d)", $w->host, $w->port));
	}
	$coord->safe_psql('postgres', 'CREATE EXTENSION meshpg');
	return ($coord, @workers);
}

# The payments mesh of the tests: a distributed product (email mask,
# partial mask on the card, a custom mask that fails on non-digits, a row
# policy by region that purpose 'fraud-investigation' lifts), 3000 rows
# of which 1000 are EU, and its consumers.
sub payments_mesh
{
	my ($coord) = @_;
	$coord->safe_psql('postgres', q{
CREATE ROLE payments_team LOGIN;
CREATE ROLE analyst_eu LOGIN;
CREATE ROLE analyst_none LOGIN;
CREATE ROLE analyst_late LOGIN;
SELECT meshpg.create_domain('payments', 'payments_team', description => 'Payments');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('pii.card');
SELECT meshpg.create_tag('ops.code');
SELECT meshpg.create_tag('geo.region');
SELECT meshpg.create_tag('pii.ssn');
SELECT meshpg.create_masking_policy('mask_email', 'email', tag => 'pii.email');
SELECT meshpg.create_masking_policy('mask_ssn', 'hash', tag => 'pii.ssn');
SELECT meshpg.create_masking_policy('mask_card', 'partial', tag => 'pii.card', args => '{"keep_last": 4}');
SELECT meshpg.create_masking_policy('mask_code', 'custom', tag => 'ops.code',
       expression => '(value::int / 100 * 100)::text');
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))',
       tag => 'geo.region', exempt_purposes => '{fraud-investigation}');
SELECT meshpg.set_attribute('analyst_eu', 'region', '{EU}');
SELECT meshpg.set_attribute('analyst_late', 'region', '{EU}');
});
	$coord->safe_psql('postgres', q{
SET ROLE payments_team;
CREATE TABLE payments.transactions (id bigint PRIMARY KEY, region text, customer_email text,
                                    card text, code text, amount numeric, ssn text);
INSERT INTO payments.transactions
SELECT g, (ARRAY['EU','US','APAC'])[g % 3 + 1], 'user' || g || '@example.com',
       '4111-0000-0000-' || lpad(g::text, 4, '0'), (g * 7)::text, g, 'ssn-' || g
  FROM generate_series(1, 3000) g;
SELECT create_distributed_table('payments.transactions', 'id', shard_count => 8);
SELECT meshpg.register_product('payments', 'transactions', 'payments.transactions',
       description => 'Settled card transactions');
SELECT meshpg.tag_column('payments.transactions', 'customer_email', 'pii.email');
SELECT meshpg.tag_column('payments.transactions', 'card', 'pii.card');
SELECT meshpg.tag_column('payments.transactions', 'code', 'ops.code');
SELECT meshpg.tag_column('payments.transactions', 'region', 'geo.region');
SELECT meshpg.tag_column('payments.transactions', 'ssn', 'pii.ssn');
SELECT meshpg.publish('payments.transactions');
SELECT meshpg.grant_access('payments.transactions', 'analyst_eu', purpose => 'fraud-investigation');
});
}

sub add_node_sql
{
	my ($node) = @_;
	return sprintf("SELECT citus_add_node('%s', %d)", $node->host, $node->port);
}

# as(node, role, sql): (exit code, stdout, stderr) of sql run as role.
sub as
{
	my ($node, $role, $sql) = @_;
	my ($ret, $out, $err) =
	  $node->psql('postgres', $sql, extra_params => [ '-U', $role ]);
	return ($ret, $out // '', $err // '');
}

1;
