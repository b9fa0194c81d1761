# A hot standby: reads of products are captured there too and are never an
# error, in read-only transactions included; flushing is refused with a clear
# error during recovery.  A standby's clean shutdown keeps its entries, and
# after promotion they are flushed.  Lineage and propagation written on the
# primary replicate.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = meshpg_node('primary', init => { allows_streaming => 1 });

$primary->safe_psql('postgres', q{
CREATE EXTENSION meshpg;
CREATE ROLE shop_team;
CREATE ROLE buyer LOGIN;
CREATE ROLE gov IN ROLE meshpg_admin;
SELECT meshpg.create_domain('shop', 'shop_team');
SET ROLE gov;
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_masking_policy('mask_email', 'email', tag => 'pii.email');
RESET ROLE;
SET ROLE shop_team;
CREATE TABLE shop.customers (id int PRIMARY KEY, email text);
INSERT INTO shop.customers VALUES (1, 'ann@example.com');
SELECT meshpg.register_product('shop', 'customers', 'shop.customers', description => 'Customers');
SELECT meshpg.tag_column('shop.customers', 'email', 'pii.email');
SELECT meshpg.publish('shop.customers', '1.0.0');
SELECT meshpg.grant_access('shop.customers', 'buyer');
CREATE TABLE shop.mailing AS SELECT id, email AS address FROM shop.customers;
SELECT meshpg.register_product('shop', 'mailing', 'shop.mailing', description => 'Mailing list');
SELECT meshpg.publish('shop.mailing', '1.0.0');
SELECT meshpg.grant_access('shop.mailing', 'buyer');
RESET ROLE;
});

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', q{
SET ROLE buyer;
SELECT email FROM shop.customers;
SELECT address FROM shop.mailing;
}), '*****@example.com' . "\n" . '*****@example.com',
	'reads on the standby are governed, the propagated tag included');
is($standby->safe_psql('postgres', q{
BEGIN READ ONLY; SET ROLE buyer; SELECT count(*) FROM shop.customers; COMMIT;}),
	'1', 'a read-only transaction on the standby is no error');
is($standby->safe_psql('postgres', 'SELECT pending FROM meshpg.access_history_stats'),
	'3', 'the standby captured its 3 reads');
my ($ret, $out, $err) = $standby->psql('postgres', 'SELECT meshpg.flush_access_history()');
like($err, qr/cannot flush the access history during recovery/, 'flushing during recovery is refused');
is($standby->safe_psql('postgres', q{
SELECT product, column_name, tag FROM meshpg.column_tags ORDER BY 1}),
	"shop.customers|email|pii.email\nshop.mailing|address|pii.email",
	'propagation written on the primary is on the standby');

# A clean restart of the standby keeps its entries; promoted, it flushes them.
$standby->restart;
is($standby->safe_psql('postgres', 'SELECT pending FROM meshpg.access_history_stats'),
	'3', 'the standby kept its entries across a clean restart');
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'no promotion';
is($standby->safe_psql('postgres', 'SELECT meshpg.flush_access_history()'), '3',
	'after promotion the entries are flushed');
is($standby->safe_psql('postgres', q{
SELECT product, role, columns, masks FROM meshpg.access_history ORDER BY product, columns}),
	'shop.customers|buyer|{}|{}' . "\n"
	  . 'shop.customers|buyer|{email}|{"email": "mask_email"}' . "\n"
	  . 'shop.mailing|buyer|{address}|{"address": "mask_email"}',
	'what was read on the standby, with the masks applied');

$standby->stop;
$primary->stop;
done_testing();
