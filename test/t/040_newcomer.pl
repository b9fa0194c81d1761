# A newcomer's first commands: `make install` put meshctl beside psql in
# PostgreSQL's bindir, `meshctl --help` prints the usage and exits 0, a
# misuse exits 64 (EX_USAGE) with the usage on standard error, and the
# installed meshctl talks to a server.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('newcomer');

my $bindir = $node->config_data('--bindir');
my $meshctl = "$bindir/meshctl";
ok(-f $meshctl && -x $meshctl, 'make install put an executable meshctl in the bindir')
  or BAIL_OUT("no $meshctl");

my ($out, $err) = ('', '');
my $ok = IPC::Run::run([ $meshctl, '--help' ], '>', \$out, '2>', \$err);
ok($ok, 'meshctl --help exits 0');
like($out, qr/^Usage:\n\s+meshctl .* plan FILE$/m, '... with the usage on standard output');
is($err, '', '... and nothing on standard error');

($out, $err) = ('', '');
IPC::Run::run([ $meshctl, 'help' ], '>', \$out, '2>', \$err);
like($out, qr/^Usage:/m, 'meshctl help prints the usage too');

($out, $err) = ('', '');
IPC::Run::run([ $meshctl ], '>', \$out, '2>', \$err);
is($? >> 8, 64, 'meshctl without a command exits 64');
like($err, qr/^Usage:/m, '... with the usage on standard error');

($out, $err) = ('', '');
IPC::Run::run([ $meshctl, '--bogus', 'plan', 'x' ], '>', \$out, '2>', \$err);
is($? >> 8, 64, 'an unknown option exits 64');
like($err, qr/unknown option --bogus/, '... and names the option');

# The installed copy works against a server.
$node->safe_psql('postgres', q{
CREATE EXTENSION meshpg;
CREATE ROLE shop_team;
SELECT meshpg.create_domain('shop', 'shop_team');
CREATE TABLE shop.orders (id int, amount numeric);
ALTER TABLE shop.orders OWNER TO shop_team;
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
});
($out, $err) = ('', '');
$ok = IPC::Run::run(
	[ $meshctl, '-d', $node->connstr('postgres'), 'export', 'shop.orders' ],
	'>', \$out, '2>', \$err,
	init => sub { $ENV{PSQL} = "$bindir/psql" });
ok($ok, 'the installed meshctl exports a product') or diag $err;
like($out, qr/^  purpose: Orders$/m, '... as a descriptor');

# An unknown product: the error suggests the nearest name.
my ($ret, $stdout, $stderr) = $node->psql('postgres', q{SELECT meshpg.describe('shop.order')});
isnt($ret, 0, 'describing an unknown product fails');
like($stderr, qr/HINT:  Did you mean "shop.orders"\?/, '... and suggests the nearest name');

$node->stop;
done_testing();
