# Governance survives pg_dump and pg_restore: tags, column tags, policies
# (stored as canonical SQL, analysed again after restore, so new OIDs do not
# matter), attributes and the hash key, so pseudonyms stay the same.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('govdump');

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', slurp_file('test/security/sql/setup.sql'));

my $read = q{
SET ROLE reader;
SELECT id, name, ssn, email, note FROM vault.people ORDER BY id;
SELECT id, detail FROM vault.events ORDER BY id;
SELECT id, ssn FROM vault.people_view ORDER BY id;
};
my $before = $node->safe_psql('src', $read);
like($before, qr/\*\*\*\*\*\@example\.com/, 'the source masks e-mail addresses');
unlike($before, qr/CANARY/, 'the source shows no hidden value');

my $dump = $node->basedir . '/gov.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
	'pg_dump of a governed database');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ],
	'pg_restore into a new database');

my $after = $node->safe_psql('dst', $read);
is($after, $before, 'the restored database shows the consumer exactly the same: masks, pseudonyms, rows');

my $catalog = q{
SELECT name, kind, tag, product, column_name, mask, expression FROM meshpg.policies ORDER BY name;
SELECT product, column_name, tag FROM meshpg.column_tags ORDER BY 1, 2, 3;
SELECT role, key, "values" FROM meshpg.attributes ORDER BY 1, 2;
};
is($node->safe_psql('dst', $catalog), $node->safe_psql('src', $catalog),
	'tags, policies and attributes are restored');
is($node->safe_psql('dst', q{
SELECT effect FROM meshpg.explain_access('vault.people', 'reader') WHERE subject = 'rows';
}), 'filtered', 'explain_access works on the restored catalog');

# New governance works after restore (sequences restored).
$node->safe_psql('dst', q{
SELECT meshpg.create_masking_policy('name_partial', 'partial', product => 'vault.people',
                                    column_name => 'name', args => '{"keep_first": 1, "keep_last": 0}');
});
is($node->safe_psql('dst', q{SET ROLE reader; SELECT string_agg(name, ',' ORDER BY id) FROM vault.people;}),
	'A**,B*', 'a policy created after restore is enforced');

$node->stop;
done_testing();
