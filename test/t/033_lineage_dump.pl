# pg_dump and pg_restore keep the access history, the lineage, propagated
# tags, their provenance and declassifications; in the restored database a
# propagated tag still masks and still cannot be removed by the domain team.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('lindump');

$node->safe_psql('postgres', q{
CREATE ROLE shop_team;
CREATE ROLE buyer LOGIN;
});
$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', q{
CREATE EXTENSION meshpg;
CREATE ROLE gov IN ROLE meshpg_admin;
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE gov;
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('pii.name');
SELECT meshpg.create_masking_policy('mask_email', 'email', tag => 'pii.email');
SELECT meshpg.create_masking_policy('mask_name', 'redact', tag => 'pii.name');
RESET ROLE;
SET ROLE shop_team;
CREATE TABLE shop.customers (id int PRIMARY KEY, name text, email text);
INSERT INTO shop.customers VALUES (1, 'Ann', 'ann@example.com');
SELECT meshpg.register_product('shop', 'customers', 'shop.customers', description => 'Customers');
SELECT meshpg.tag_column('shop.customers', 'email', 'pii.email');
SELECT meshpg.tag_column('shop.customers', 'name', 'pii.name');
SELECT meshpg.publish('shop.customers', '1.0.0');
SELECT meshpg.grant_access('shop.customers', 'buyer');
CREATE TABLE shop.mailing AS SELECT id, name AS who, email AS address FROM shop.customers;
SELECT meshpg.register_product('shop', 'mailing', 'shop.mailing', description => 'Mailing list');
SELECT meshpg.publish('shop.mailing', '1.0.0');
SELECT meshpg.grant_access('shop.mailing', 'buyer');
CREATE VIEW shop.names AS SELECT upper(name) AS name FROM shop.customers;
SELECT meshpg.register_product('shop', 'names', 'shop.names', description => 'Names');
RESET ROLE;
SET ROLE gov;
SELECT meshpg.declassify('shop.mailing', 'who', 'pii.name', 'First names only, reviewed');
RESET ROLE;
SET ROLE buyer;
SELECT * FROM shop.mailing;
RESET ROLE;
SELECT meshpg.flush_access_history();
});

my $catalog = q{
SELECT 'tag', product, column_name, tag FROM meshpg.column_tags
UNION ALL SELECT 'prop', product, column_name || ' <- ' || source, tag FROM meshpg.tag_propagation
UNION ALL SELECT 'declass', product, column_name, reason FROM meshpg.declassifications
UNION ALL SELECT 'edge', source, target, kind FROM meshpg.lineage_edges
UNION ALL SELECT 'read', product, role, array_to_string(columns, ',') FROM meshpg.access_history
ORDER BY 1, 2, 3, 4};
my $before = $node->safe_psql('src', $catalog);
like($before, qr/prop\|shop.mailing\|address <- shop.customers.email\|pii.email/, 'propagated before the dump');
like($before, qr/read\|shop.mailing\|buyer\|id,who,address/, 'a read recorded before the dump');

my $dump = $node->basedir . '/lin.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ], 'pg_restore');

is($node->safe_psql('dst', $catalog), $before, 'history, lineage, propagation and declassification restored as they were');
is($node->safe_psql('dst', 'SET ROLE buyer; SELECT who, address FROM shop.mailing'),
	'Ann|*****@example.com', 'the propagated tag masks in the restored database, the declassified column does not');
my ($ret, $out, $err) = $node->psql('dst',
	"SET ROLE shop_team; SELECT meshpg.untag_column('shop.mailing', 'address', 'pii.email')");
like($err, qr/was propagated and cannot be removed/, 'and the domain team still cannot remove it');

$node->stop;
done_testing();
