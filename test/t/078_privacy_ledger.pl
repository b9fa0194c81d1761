# The privacy budget's ledger: spends are taken in shared memory when a
# reader's query starts (outside its transaction); the worker writes them
# to meshpg.cat_privacy_ledger; after a restart, which empties shared
# memory, the budget still counts them, so the reader stays refused.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('privacy_ledger', conf => q{
meshpg.scheduler = on
meshpg.databases = 'postgres'
meshpg.worker_naptime = 1
});

$node->safe_psql('postgres', q{
CREATE EXTENSION meshpg;
CREATE ROLE dp_team;
CREATE ROLE dp_reader;
SELECT meshpg.create_domain('dp', 'dp_team');
SET ROLE dp_team;
CREATE TABLE dp.visits (id int PRIMARY KEY, customer int NOT NULL);
INSERT INTO dp.visits SELECT g, g % 10 FROM generate_series(1, 100) g;
SELECT meshpg.register_product('dp', 'visits', 'dp.visits', description => 'Visits');
SELECT meshpg.publish('dp.visits', '1.0.0');
SELECT meshpg.grant_access('dp.visits', 'dp_reader');
SELECT meshpg.create_privacy_policy('visits_dp', 'dp.visits', 'customer',
       epsilon => 1, budget_epsilon => 3);
});

my $query = q{SET ROLE dp_reader; SELECT count(*) >= 0 FROM dp.visits};
# three answers, one of them in a transaction rolled back
is($node->safe_psql('postgres', $query), 't', 'first answer');
is($node->safe_psql('postgres', "BEGIN; $query; ROLLBACK"), 't', 'second answer, rolled back');
is($node->safe_psql('postgres', $query), 't', 'third answer');

ok( $node->poll_query_until('postgres', q{
SELECT count(*) = 3 FROM meshpg.cat_privacy_ledger WHERE reader = 'dp_reader'}),
	'the worker writes the three spends to the ledger');
is($node->safe_psql('postgres', q{
SELECT count(*) FILTER (WHERE pending), count(*), sum(epsilon) FROM meshpg.privacy_spends}),
	'0|3|3', 'nothing pending: every spend is in the ledger once');

my ($rc, $out, $err) = $node->psql('postgres', $query);
like($err, qr/privacy budget exhausted for data product "dp\.visits": this query needs epsilon 1, 0 of 3 is left/,
	'the fourth query is refused');

$node->restart;
($rc, $out, $err) = $node->psql('postgres', $query);
like($err, qr/privacy budget exhausted/, 'after a restart the ledger still holds the budget spent');
is($node->safe_psql('postgres', q{SELECT count(*), sum(epsilon) FROM meshpg.privacy_spends}),
	'3|3', 'refused queries spent nothing');

$node->stop;
done_testing();
