# SLO declarations and their history are catalog data: pg_dump keeps them,
# pg_restore brings them back under the restored product, evaluation and
# new declarations work afterwards (sequences restored), and the scheduled
# runs keep their one-result-per-run index.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('slo_dump');

$node->safe_psql('postgres', q{
CREATE DATABASE src;
CREATE ROLE shop_team;
});
$node->safe_psql('src', q{
CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE shop_team;
CREATE TABLE shop.orders (id int PRIMARY KEY, amount numeric, paid_at timestamptz);
INSERT INTO shop.orders SELECT g, CASE WHEN g % 5 <> 0 THEN g END, now() FROM generate_series(1, 20) g;
RESET ROLE;
SELECT meshpg.register_product('shop', 'orders', 'shop.orders');
SELECT meshpg.declare_slo('shop.orders', 'complete', 'completeness',
       '{"columns": ["amount"], "min_ratio": 0.9}', schedule => '1 hour');
SELECT meshpg.declare_slo('shop.orders', 'valid', 'validity',
       '{"expression": "amount > 0", "min_ratio": 0.5}');
SELECT meshpg.declare_slo('shop.orders', 'fresh', 'freshness',
       '{"column": "paid_at", "max_age": "1 day"}');
SELECT count(*) FROM meshpg.evaluate('shop.orders');
SELECT count(*) FROM meshpg.evaluate('shop.orders');
});

my $slos = q{SELECT product, name, kind, spec, compliance_window, severity, schedule
  FROM meshpg.slos ORDER BY name};
my $history = q{SELECT product, slo, value, target, objective, met, trigger
  FROM meshpg.slo_results ORDER BY slo, started_at};
my $status = q{SELECT product, slo, met, runs, attainment, last_breach IS NOT NULL
  FROM meshpg.slo_status ORDER BY slo};
my %src = map { $_ => $node->safe_psql('src', $_) } ($slos, $history, $status);

my $tmp = PostgreSQL::Test::Utils::tempdir;
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'src', '-f', "$tmp/src.dump" ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'restored', "$tmp/src.dump" ],
	'pg_restore into a new database');

is($node->safe_psql('restored', $slos), $src{$slos}, 'the declarations are restored');
is($node->safe_psql('restored', $history), $src{$history}, 'the history is restored');
is($node->safe_psql('restored', $status), $src{$status}, 'the status is the same');
is($node->safe_psql('restored', q{
SELECT s.product_id = p.id AND p.relid = 'shop.orders'::regclass
  FROM meshpg.cat_slo s JOIN meshpg.cat_product p ON p.id = s.product_id LIMIT 1}),
	't', 'the declarations belong to the restored product');

is($node->safe_psql('restored', q{
SELECT string_agg(slo || ':' || met, ',' ORDER BY slo) FROM meshpg.evaluate('shop.orders')}),
	'complete:false,fresh:true,valid:true', 'evaluation works on the restored database');
$node->safe_psql('restored', q{
SELECT meshpg.declare_slo('shop.orders', 'rows', 'volume', '{"min_rows": 1}');
SELECT count(*) FROM meshpg.evaluate('shop.orders', slos => '{rows}');
});
is($node->safe_psql('restored', q{SELECT count(*) FROM meshpg.slos}), '4',
	'new declarations work after restore (the sequences were restored)');
is($node->safe_psql('restored', q{
SELECT count(*) FROM pg_indexes WHERE indexname = 'cat_slo_result_run_idx'}), '1',
	'the one-result-per-run index is there');

done_testing();
