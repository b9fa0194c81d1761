# A product published under meshpg 1.0 is under contract after
# ALTER EXTENSION meshpg UPDATE TO '1.1': the update records the contract of
# its current version, breaking DDL is refused, compatible DDL becomes the
# next minor version, and a new major version can be published beside it.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('contract_upgrade');

$node->safe_psql('postgres', q{
CREATE ROLE sales_team NOLOGIN;
CREATE ROLE sales_reader NOLOGIN;
CREATE EXTENSION meshpg VERSION '1.0';
SELECT meshpg.create_domain('sales', 'sales_team');
SET ROLE sales_team;
CREATE TABLE sales.orders (id bigint NOT NULL, amount numeric(10,2), note varchar(10));
SELECT meshpg.register_product('sales', 'orders', 'sales.orders', description => 'Orders');
SELECT meshpg.document_column('sales.orders', 'amount', 'In EUR');
SELECT meshpg.publish('sales.orders', '1.4.0');
SELECT meshpg.grant_access('sales.orders', 'sales_reader');
RESET ROLE;
-- under 1.0, retyping was not guarded
ALTER TABLE sales.orders ALTER COLUMN note TYPE varchar(12);
});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'meshpg'}),
	'1.0', 'installed at 1.0');

$node->safe_psql('postgres', q{ALTER EXTENSION meshpg UPDATE TO '1.1'});
is($node->safe_psql('postgres', q{SELECT extversion FROM pg_extension WHERE extname = 'meshpg'}),
	'1.1', 'updated to 1.1');
is($node->safe_psql('postgres',
		q{SELECT version || ' ' || change || ' ' || (contract->'columns'->1->>'description')
		    FROM meshpg.contracts WHERE product = 'sales.orders'}),
	'1.4.0 upgrade In EUR', 'the update recorded the contract of the published version');

my ($rc, $out, $err) = $node->psql('postgres', q{ALTER TABLE sales.orders DROP COLUMN amount});
like($err, qr/cannot drop column "amount" of data product "sales.orders" version 1\.4\.0/,
	'after the update, breaking DDL is refused');
($rc, $out, $err) = $node->psql('postgres', q{ALTER TABLE sales.orders ALTER COLUMN id TYPE int});
like($err, qr/cannot change the type of column "id"/, 'retyping too');

$node->safe_psql('postgres', q{ALTER TABLE sales.orders ADD COLUMN channel text});
is($node->safe_psql('postgres', q{SELECT version FROM meshpg.products WHERE product = 'sales.orders'}),
	'1.5.0', 'a compatible change is the next minor version');

$node->safe_psql('postgres', q{
SET ROLE sales_team;
CREATE TABLE sales.orders_v2 (id bigint NOT NULL, amount numeric(14,4));
SELECT meshpg.publish_version('sales.orders', 'sales.orders_v2', '2999-01-01');
});
is($node->safe_psql('postgres',
		q{SELECT string_agg(product || ' ' || state || ' ' || consumers::text, ', ' ORDER BY major)
		    FROM meshpg.product_versions WHERE family = 'sales.orders'}),
	'sales.orders deprecated {sales_reader}, sales.orders@2 published {}',
	'the versions side by side, with their consumers');

done_testing();
