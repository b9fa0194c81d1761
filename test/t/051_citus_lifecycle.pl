# Citus: a product stays registered and governed through the life of its
# table: registered before or after distributing, made a reference table,
# its shards moved and rebalanced, a node added.  Conversions that replace
# the table (alter_distributed_table, undistribute_table) are refused with
# what to do instead, never silently unregistering a draft.  Also: the
# guard names no relation, Citus needs login roles, lineage and SLOs work.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../perl";
use MeshCitus;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

MeshCitus::require_citus();

# one worker now, the second one added later
my ($coord, $w1) = MeshCitus::cluster(1);
my $w2 = MeshCitus::new_node('worker2');

sub as { return MeshCitus::as(@_); }

$coord->safe_psql('postgres', q{
CREATE ROLE payments_team LOGIN;
CREATE ROLE analyst_eu LOGIN;
SELECT meshpg.create_domain('payments', 'payments_team', description => 'Payments');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('geo.region');
SELECT meshpg.create_masking_policy('mask_email', 'email', tag => 'pii.email');
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))',
       tag => 'geo.region');
SELECT meshpg.set_attribute('analyst_eu', 'region', '{EU}');
});

# --- registered before it is distributed ---
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
CREATE TABLE payments.transactions (id bigint PRIMARY KEY, region text, customer_email text, amount numeric);
INSERT INTO payments.transactions
SELECT g, (ARRAY['EU','US','APAC'])[g % 3 + 1], 'user' || g || '@example.com', g
  FROM generate_series(1, 3000) g;
SELECT meshpg.register_product('payments', 'transactions', 'payments.transactions',
       description => 'Settled card transactions');
SELECT meshpg.tag_column('payments.transactions', 'customer_email', 'pii.email');
SELECT meshpg.tag_column('payments.transactions', 'region', 'geo.region');
});
my ($ret, $out, $err) = as($coord, 'payments_team',
	q{SELECT create_distributed_table('payments.transactions', 'id', shard_count => 8)});
is($ret, 0, 'a registered draft can be distributed (the guard names no relation)') or diag $err;
is($w1->safe_psql('postgres', q{
SELECT DISTINCT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polname = 'meshpg_guard'}),
	'meshpg.guard()', 'the shards carry the guard without a relation name');
is($coord->safe_psql('postgres', 'SELECT state FROM meshpg.cat_product'), 'draft',
	'the product is still registered, as a draft');

# the conversion functions are refused, for a draft too, and keep it registered
for my $call (
	q{SELECT alter_distributed_table('payments.transactions', shard_count => 4, cascade_to_colocated => false)},
	q{SELECT undistribute_table('payments.transactions')},
	q{SELECT alter_table_set_access_method('payments.transactions', 'heap')})
{
	($ret, $out, $err) = as($coord, 'payments_team', $call);
	like($err, qr/cannot run \w+\(\) on the table of data product "payments.transactions"/,
		"refused on a draft: $call");
}
($ret, $out, $err) = as($coord, 'payments_team',
	q{SELECT undistribute_table(relid) FROM meshpg.cat_product});
isnt($ret, 0, 'a conversion that does not name its table with a constant is refused');
is($coord->safe_psql('postgres', 'SELECT count(*) FROM meshpg.cat_product'), '1',
	'the draft is still registered');

$coord->safe_psql('postgres', q{
SET ROLE payments_team;
SELECT meshpg.publish('payments.transactions');
SELECT meshpg.grant_access('payments.transactions', 'analyst_eu');
});
($ret, $out) = as($coord, 'analyst_eu',
	'SELECT region, count(*), min(customer_email) FROM payments.transactions GROUP BY 1');
is($out, 'EU|1000|*****@example.com', 'published after distributing: governed');
($ret, $out, $err) = as($coord, 'payments_team', q{SELECT undistribute_table('payments.transactions')});
like($err, qr/cannot run undistribute_table/, 'undistribute_table refused on a published product');

# DDL on the published distributed product: compatible changes propagate,
# breaking ones are refused on the coordinator before they reach a worker
($ret, $out, $err) = as($coord, 'payments_team', q{
ALTER TABLE payments.transactions ADD COLUMN note text;
CREATE INDEX ON payments.transactions (region);});
is($ret, 0, 'ADD COLUMN and CREATE INDEX on a published distributed product') or diag $err;
is($w1->safe_psql('postgres', q{
SELECT count(*) FROM pg_attribute WHERE attrelid = 'payments.transactions'::regclass AND attname = 'note'}),
	'1', 'the new column reached the worker');
($ret, $out, $err) = as($coord, 'payments_team', 'ALTER TABLE payments.transactions DROP COLUMN amount');
isnt($ret, 0, 'a breaking change (DROP COLUMN) is refused');
is($w1->safe_psql('postgres', q{
SELECT count(*) FROM pg_attribute WHERE attrelid = 'payments.transactions'::regclass AND attname = 'amount' AND NOT attisdropped}),
	'1', 'and never reached the worker');
($ret, $out) = as($w1, 'analyst_eu',
	'SELECT count(*), min(customer_email) FROM payments.transactions');
is($out, '1000|*****@example.com', 'after the DDL: governed on the worker');

# --- registered after distributing, as a reference table ---
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
CREATE TABLE payments.regions (region text PRIMARY KEY, manager_email text);
INSERT INTO payments.regions VALUES ('EU', 'eu@example.com'), ('US', 'us@example.com');
SELECT create_reference_table('payments.regions');
SELECT meshpg.register_product('payments', 'regions', 'payments.regions', description => 'Regions');
SELECT meshpg.tag_column('payments.regions', 'manager_email', 'pii.email');
SELECT meshpg.tag_column('payments.regions', 'region', 'geo.region');
SELECT meshpg.publish('payments.regions');
SELECT meshpg.grant_access('payments.regions', 'analyst_eu');
});
my $ref_shard = 'payments.regions_' . $coord->safe_psql('postgres',
	q{SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'payments.regions'::regclass});
for my $n ($coord, $w1)
{
	($ret, $out) = as($n, 'analyst_eu', 'SELECT * FROM payments.regions');
	is($out, 'EU|*****@example.com', $n->name . ': the reference table is governed');
	($ret, $out) = as($n, 'analyst_eu', "SELECT * FROM $ref_shard");
	is($out, 'EU|*****@example.com', $n->name . ": its placement $ref_shard is governed");
}
($ret, $out) = as($coord, 'analyst_eu', q{
SELECT r.region, count(*) FROM payments.transactions t JOIN payments.regions r USING (region) GROUP BY 1});
is($out, 'EU|1000', 'a join of a distributed and a reference product is governed');

# --- a node added: it receives the catalog; rebalancing moves governed shards there ---
$coord->safe_psql('postgres', MeshCitus::add_node_sql($w2));
is($w2->safe_psql('postgres', 'SELECT count(*) FROM meshpg.cat_product'), '2',
	'citus_add_node: the new node received the catalog');
($ret, $out) = as($w2, 'analyst_eu', 'SELECT * FROM payments.regions');
is($out, 'EU|*****@example.com', 'the new node governs its reference placement');
$coord->safe_psql('postgres',
	q{SELECT rebalance_table_shards('payments.transactions', shard_transfer_mode => 'block_writes')});
my $on_w2 = $coord->safe_psql('postgres', sprintf(q{
SELECT min(shardid) FROM pg_dist_shard JOIN pg_dist_placement USING (shardid) JOIN pg_dist_node USING (groupid)
 WHERE logicalrelid = 'payments.transactions'::regclass AND nodeport = %d}, $w2->port));
ok($on_w2 ne '', "the rebalancer moved shards to the new node ($on_w2)");
($ret, $out) = as($w2, 'analyst_eu',
	"SELECT count(*) FILTER (WHERE region <> 'EU'), min(customer_email) FROM payments.transactions_$on_w2");
is($out, '0|*****@example.com', 'a rebalanced shard is governed on its new node');
($ret, $out) = as($coord, 'analyst_eu', 'SELECT count(*) FROM payments.transactions');
is($out, '1000', 'after rebalancing: governed on the coordinator');

# --- a shard move ---
my $mover = $coord->safe_psql('postgres', sprintf(q{
SELECT min(shardid) FROM pg_dist_shard JOIN pg_dist_placement USING (shardid) JOIN pg_dist_node USING (groupid)
 WHERE logicalrelid = 'payments.transactions'::regclass AND nodeport = %d}, $w1->port));
$coord->safe_psql('postgres', sprintf(q{
SELECT citus_move_shard_placement(%s, '%s', %d, '%s', %d, shard_transfer_mode => 'block_writes')},
	$mover, $w1->host, $w1->port, $w2->host, $w2->port));
($ret, $out) = as($w2, 'analyst_eu',
	"SELECT count(*) FILTER (WHERE region <> 'EU'), count(*) > 0, min(customer_email) FROM payments.transactions_$mover");
is($out, '0|t|*****@example.com', 'a moved shard is governed on its new node');
($ret, $out) = as($coord, 'analyst_eu', 'SELECT count(*), min(customer_email) FROM payments.transactions');
is($out, '1000|*****@example.com', 'after the move: governed on the coordinator');

# --- truthful reporting: lineage and SLOs on a distributed product ---
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
CREATE TABLE payments.by_region AS SELECT region, count(*) AS n FROM payments.transactions GROUP BY 1;
SELECT meshpg.declare_slo('payments.transactions', 'emails', 'completeness',
       '{"columns": ["customer_email"], "min_ratio": 0.99}');
SELECT meshpg.declare_slo('payments.transactions', 'amounts', 'validity',
       '{"expression": "amount >= 0", "min_ratio": 0.99}');
});
$coord->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is($coord->safe_psql('postgres', q{
SELECT source || '->' || target || ':' || kind FROM meshpg.lineage_edges WHERE target = 'payments.by_region'}),
	'payments.transactions->payments.by_region:create table as',
	'lineage of a table built from a distributed product');
is($coord->safe_psql('postgres', q{
SET ROLE payments_team;
SELECT string_agg(slo || '=' || coalesce(value::text, error), ',' ORDER BY slo)
  FROM meshpg.evaluate('payments.transactions')}),
	'amounts=1,emails=1', 'SLO evaluation of a distributed product');

# --- distributed and registered in one transaction ---
($ret, $out, $err) = as($coord, 'payments_team', q{
BEGIN;
CREATE TABLE payments.refunds (id bigint PRIMARY KEY, region text, customer_email text);
INSERT INTO payments.refunds SELECT g, (ARRAY['EU','US','APAC'])[g % 3 + 1], 'r' || g || '@example.com'
  FROM generate_series(1, 300) g;
SELECT create_distributed_table('payments.refunds', 'id');
SELECT meshpg.register_product('payments', 'refunds', 'payments.refunds', description => 'Refunds');
SELECT meshpg.tag_column('payments.refunds', 'customer_email', 'pii.email');
SELECT meshpg.tag_column('payments.refunds', 'region', 'geo.region');
SELECT meshpg.publish('payments.refunds');
SELECT meshpg.grant_access('payments.refunds', 'analyst_eu');
COMMIT;});
is($ret, 0, 'distributed and registered in one transaction') or diag $err;
# The workers could not see the new table from the catalog's connection
# during the transaction; after commit, the "meshpg citus sync" worker sends
# the catalog again, with no meshpg.citus_sync() from anyone.  Until it has,
# every read is refused or governed, never raw, on every node.
my %seen;
my $governed = 0;
for my $try (1 .. 150)
{
	for my $n ($coord, $w1)
	{
		($ret, $out, $err) = as($n, 'analyst_eu',
			'SELECT count(*), min(customer_email) FROM payments.refunds');
		if ($ret != 0)
		{
			$seen{ ($err =~ /not known on this node/) ? 'refused' : "error: $err" }++;
		}
		else
		{
			$seen{ $out eq '100|*****@example.com' ? 'governed' : "raw: $out" }++;
		}
	}
	($ret, $out) = as($w1, 'analyst_eu', 'SELECT count(*), min(customer_email) FROM payments.refunds');
	if ($out eq '100|*****@example.com')
	{
		$governed = 1;
		last;
	}
	usleep(100_000);
}
is(join(',', grep { !/^(refused|governed)$/ } sort keys %seen), '',
	'until the catalog is sent again, a read is refused or governed, never raw');
ok($governed, 'after commit the catalog reaches the workers by itself (no meshpg.citus_sync())')
  or diag explain \%seen;
is($w1->safe_psql('postgres', q{SELECT count(*) FROM meshpg.cat_product WHERE relid = 'payments.refunds'::regclass}),
	'1', 'the worker knows the product distributed and registered in one transaction');

# --- owner roles: Citus connects as the current user ---
$coord->safe_psql('postgres', q{
CREATE ROLE ledger_team NOLOGIN;
CREATE ROLE ledger_dev LOGIN IN ROLE ledger_team;
SELECT meshpg.create_domain('ledger', 'ledger_team', description => 'Ledger');
});
($ret, $out, $err) = as($coord, 'ledger_dev', q{
SET ROLE ledger_team;
CREATE TABLE ledger.entries (id bigint PRIMARY KEY);
SELECT create_distributed_table('ledger.entries', 'id');});
like($err, qr/not permitted to log in/,
	'a NOLOGIN owner role cannot distribute: Citus connects to the workers as that role (doc/citus.md)');

done_testing();
