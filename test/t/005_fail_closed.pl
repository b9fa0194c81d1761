# Fail closed: with meshpg not preloaded, no product is readable by its
# consumers, whatever its kind.  Tables carry the row-security guard, which
# only a preloaded meshpg can plan; views and materialized views carry no
# SQL privilege for consumers at all, their reads being let through by
# meshpg's planner on the catalog grant.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('closed');

$node->safe_psql('postgres', q{
CREATE EXTENSION meshpg;
CREATE ROLE shop_team;
CREATE ROLE buyer LOGIN;
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE shop_team;
CREATE TABLE shop.orders (id int, amount numeric);
INSERT INTO shop.orders SELECT g, g * 10 FROM generate_series(1, 5) g;
CREATE VIEW shop.order_view AS SELECT id, amount FROM shop.orders;
CREATE MATERIALIZED VIEW shop.order_totals AS SELECT count(*) AS n, sum(amount) AS total FROM shop.orders;
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.register_product('shop', 'order_view', 'shop.order_view', description => 'Orders, as a view');
SELECT meshpg.register_product('shop', 'order_totals', 'shop.order_totals', description => 'Totals');
SELECT meshpg.publish(product, '1.0.0') FROM meshpg.products;
SELECT meshpg.grant_access(product, 'buyer') FROM meshpg.products;
});

my %read = (
	table => 'SELECT count(*) FROM shop.orders',
	view => 'SELECT count(*) FROM shop.order_view',
	matview => 'SELECT n FROM shop.order_totals',
	'copy of a matview' => 'COPY shop.order_totals TO STDOUT',
	'copy of a view query' => 'COPY (SELECT * FROM shop.order_view) TO STDOUT',);

sub as_buyer
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', $sql, extra_params => [ '-U', 'buyer' ]);
	return ($ret, $out, $err);
}

for my $kind (sort keys %read)
{
	my ($ret, $out, $err) = as_buyer($read{$kind});
	is($ret, 0, "preloaded: the consumer reads the $kind product") or diag $err;
}
is($node->safe_psql('postgres', q{
SELECT has_table_privilege('buyer', 'shop.orders', 'SELECT'),
       has_table_privilege('buyer', 'shop.order_view', 'SELECT'),
       has_table_privilege('buyer', 'shop.order_totals', 'SELECT');
}), 't|f|f', 'tables carry the SQL privilege; views and materialized views do not');

# A grant that expires while a plan is cached: the plan was made while the
# grant held, and the executor stops it once the grant has expired.
$node->safe_psql('postgres', q{
UPDATE meshpg.cat_grant SET expires_at = now() + interval '3 seconds'
 WHERE product_id = (SELECT id FROM meshpg.cat_product WHERE name = 'order_view');
});
my ($ret, $out, $err) = as_buyer(q{
SET plan_cache_mode = force_generic_plan;
PREPARE p AS SELECT count(*) FROM shop.order_view;
EXECUTE p;
SELECT pg_sleep(4);
EXECUTE p;
});
like($out, qr/^5\n/, 'the cached plan read while the grant held');
like($err, qr/access grant of role "buyer" expired/, 'and is stopped once it expired');
$node->safe_psql('postgres', q{
UPDATE meshpg.cat_grant SET expires_at = NULL;
});

# Restart without meshpg.
$node->stop;
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "''");
$node->start;

for my $kind (sort keys %read)
{
	my ($ret, $out, $err) = as_buyer($read{$kind});
	isnt($ret, 0, "not preloaded: the $kind product is refused");
	like($err, qr/(meshpg must be loaded via shared_preload_libraries|permission denied)/,
		"... with a clear error ($kind)");
	is($out, '', "... and nothing is returned ($kind)");
}

# Back with meshpg, everything reads again.
$node->stop;
$node->adjust_conf('postgresql.conf', 'shared_preload_libraries', "'meshpg'");
$node->start;
for my $kind (sort keys %read)
{
	my ($ret, $out, $err) = as_buyer($read{$kind});
	is($ret, 0, "preloaded again: the $kind product reads") or diag $err;
}

$node->stop;
done_testing();
