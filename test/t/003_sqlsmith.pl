# A bounded sqlsmith run, as a consumer of governed products: thousands of
# random queries go through the planner hook (masks, row filters, the
# statistics filter, views, functions) and the server must never crash.
# The security suite checks what the consumer sees; this checks that the
# hooks survive whatever SQL they are given.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run qw(run timeout);

my $queries = $ENV{MESHPG_SQLSMITH_QUERIES} // 2000;

my $node = meshpg_node('smith');

# The security suite's governed products, policies and consumer.
my $setup = slurp_file('test/security/sql/setup.sql');
$node->safe_psql('postgres', $setup);
$node->safe_psql('postgres', q{
ALTER ROLE reader LOGIN;
ALTER ROLE reader SET statement_timeout = '2s';
GRANT USAGE ON SCHEMA vault TO reader;
});

my ($out, $err) = ('', '');
my $connstr = $node->connstr('postgres') . ' user=reader';
my $ok = run [ 'sqlsmith', "--target=$connstr", "--max-queries=$queries", '--seed=20261126' ],
  '>', \$out, '2>', \$err, timeout(600);
note "sqlsmith: " . (split /\n/, $err)[-1] if $err;
ok($ok, "sqlsmith ran $queries queries as a consumer and exited normally");

is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server still answers');
my $log = slurp_file($node->logfile);
my $errors = () = $log =~ /ERROR:/g;
cmp_ok($errors, '>', 100, "the queries reached the server ($errors of them failed, as random SQL does)");
unlike($log, qr/terminated by signal|was terminated by exception|PANIC/,
	'no backend crashed or panicked');

# And governance still holds after the storm.
is($node->safe_psql('postgres', q{
SET ROLE reader;
SELECT count(*) FROM vault.people WHERE ssn LIKE 'CANARY%' OR region <> 'EU';
}), '0', 'the consumer still sees masked values and its own region only');

$node->stop;
done_testing();
