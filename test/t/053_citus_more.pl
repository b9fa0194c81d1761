# Citus, the rest of the lifecycle: lineage of INSERT ... SELECT into a
# distributed table, the SLO read gate for readers who connect to a worker,
# shard splits and the background rebalancer, the conversions that stay
# refused, and INSERT ... SELECT from a reference product into a
# consumer's own reference table.  One cluster (coordinator, two workers).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../perl";
use MeshCitus;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

MeshCitus::require_citus();

my ($coord, $w1, $w2) = MeshCitus::cluster(2);
MeshCitus::payments_mesh($coord);

sub as { return MeshCitus::as(@_); }

sub leaks
{
	my ($text) = @_;
	return $text =~ /user\d+\@example\.com|4111-0000|\bUS\b|\bAPAC\b/;
}

my ($ret, $out, $err);

# --- lineage of INSERT ... SELECT into a distributed table ---
# Citus runs it without a ModifyTable node (pushed down to colocated shards,
# or repartitioned): the edge product -> target is recorded as on one server.
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
CREATE TABLE payments.tx_copy (id bigint PRIMARY KEY, region text, customer_email text);
SELECT create_distributed_table('payments.tx_copy', 'id', colocate_with => 'payments.transactions');
INSERT INTO payments.tx_copy SELECT id, region, customer_email FROM payments.transactions WHERE id <= 100;
CREATE TABLE payments.tx_by_region (id bigint, region text, amount numeric);
SELECT create_distributed_table('payments.tx_by_region', 'region', shard_count => 2);
INSERT INTO payments.tx_by_region SELECT id, region, amount FROM payments.transactions WHERE id <= 100;
});
$coord->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is($coord->safe_psql('postgres', q{
SELECT string_agg(source || '->' || target || ':' || kind, ',' ORDER BY target::text)
  FROM meshpg.lineage_edges WHERE target IN ('payments.tx_copy', 'payments.tx_by_region')}),
	'payments.transactions->payments.tx_by_region:insert,payments.transactions->payments.tx_copy:insert',
	'INSERT ... SELECT into a distributed table (pushed down, repartitioned): lineage recorded');
is($coord->safe_psql('postgres', q{
SELECT string_agg(source_column || '->' || target_column, ',' ORDER BY target_column)
  FROM meshpg.cat_lineage_column WHERE target = 'payments.tx_copy'::regclass}),
	'customer_email->customer_email,id->id,region->region', 'with its column lineage');
is($coord->safe_psql('postgres', q{
SELECT target FROM meshpg.access_history WHERE command = 'INSERT' AND target = 'payments.tx_copy'}),
	'payments.tx_copy', 'the access history names the target of the pushed-down write');

# fewer shards to move below
$coord->safe_psql('postgres', 'DROP TABLE payments.tx_copy, payments.tx_by_region');

# --- the SLO read gate on a worker ---
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
UPDATE payments.transactions SET customer_email = NULL WHERE id % 10 = 0;
SELECT meshpg.declare_slo('payments.transactions', 'emails', 'completeness',
       '{"columns": ["customer_email"], "min_ratio": 0.99}');
SELECT meshpg.evaluate('payments.transactions');
});
is($w1->safe_psql('postgres', q{SELECT name || ':' || last_met || ':' || (schedule IS NULL) FROM meshpg.cat_slo}),
	'emails:false:true', 'the worker has the SLO as the coordinator measured it (never scheduled there)');
for my $n ($coord, $w1, $w2)
{
	($ret, $out, $err) = as($n, 'analyst_eu',
		'SET meshpg.slo_gate = error; SELECT count(*) FROM payments.transactions');
	like($err, qr/breaches its completeness SLO "emails"/, $n->name . ': a breaching product is refused by the gate');
	is($out, '', $n->name . ': and nothing is returned');
}
my $shard_w1 = $coord->safe_psql('postgres', sprintf(q{
SELECT 'payments.transactions_' || min(shardid) FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)
  JOIN pg_dist_node USING (groupid)
 WHERE logicalrelid = 'payments.transactions'::regclass AND nodeport = %d}, $w1->port));
($ret, $out, $err) = as($w1, 'analyst_eu', "SET meshpg.slo_gate = error; SELECT count(*) FROM $shard_w1");
like($err, qr/breaches its completeness SLO/, 'a shard read directly on the worker is gated too');
($ret, $out, $err) = as($w1, 'analyst_eu', 'SET meshpg.slo_gate = warn; SELECT count(*) FROM payments.transactions');
is($out, '1000', 'warn mode on the worker: the read runs, governed');
like($err, qr/WARNING:.*breaches its completeness SLO/, 'warn mode on the worker: it warns');

# recovery reaches the workers with the measurement that records it
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
UPDATE payments.transactions SET customer_email = 'user' || id::text || '@example.com' WHERE customer_email IS NULL;
SELECT meshpg.evaluate('payments.transactions');
});
is($w1->safe_psql('postgres', 'SELECT last_met FROM meshpg.cat_slo'), 't', 'the recovery reached the worker');
($ret, $out, $err) = as($w1, 'analyst_eu',
	'SET meshpg.slo_gate = error; SELECT count(*), min(customer_email) FROM payments.transactions');
is($out, '1000|*****@example.com', 'after recovery: the worker lets the read through, governed');

# a consumer cannot feed the workers SLO state
($ret, $out, $err) = as($w1, 'analyst_eu', q{SELECT meshpg._citus_receive_catalog('{}'::jsonb)});
like($err, qr/permission denied|only a superuser/, 'a consumer cannot replace a worker\'s catalog');
($ret, $out, $err) = as($w1, 'analyst_eu', q{UPDATE meshpg.cat_slo SET last_met = true});
like($err, qr/permission denied/, 'a consumer cannot write the worker\'s SLO state');

# --- shard splits and the background rebalancer keep the product governed ---
my $split = $coord->safe_psql('postgres', sprintf(q{
SELECT shardid || ' ' || shardminvalue || ' ' || nodeid FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)
  JOIN pg_dist_node USING (groupid)
 WHERE logicalrelid = 'payments.transactions'::regclass AND nodeport = %d ORDER BY shardid LIMIT 1}, $w1->port));
my ($split_id, $split_min, $split_node) = split / /, $split;
my $count_shards = q{SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'payments.transactions'::regclass};
my $shards_before = $coord->safe_psql('postgres', $count_shards);
$coord->safe_psql('postgres', sprintf(q{
SELECT citus_split_shard_by_split_points(%s, ARRAY['%d'], ARRAY[%d, %d], shard_transfer_mode => 'block_writes')},
	$split_id, $split_min + 1000, $split_node, $split_node));
my @new = split /\n/, $coord->safe_psql('postgres', sprintf(q{
SELECT s.shardid || ' ' || n.nodeport FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid)
  JOIN pg_dist_node n USING (groupid)
 WHERE logicalrelid = 'payments.transactions'::regclass AND shardid > %s AND n.nodeport IN (%d, %d)
 ORDER BY 1}, $split_id, $w1->port, $w2->port));
is($coord->safe_psql('postgres', $count_shards), $shards_before + 1, "citus_split_shard_by_split_points split shard $split_id in two");
is($coord->safe_psql('postgres', "SELECT count(*) FROM pg_dist_shard WHERE shardid = $split_id"), '0',
	'the split shard is gone');
my %node = ($w1->port => $w1, $w2->port => $w2);
for my $s (@new)
{
	my ($id, $port) = split / /, $s;
	($ret, $out, $err) = as($node{$port}, 'analyst_eu', qq{
SELECT count(*) FILTER (WHERE region <> 'EU'), min(customer_email) FROM payments.transactions_$id});
	ok(!leaks($out . $err), "split shard $id on its worker: no raw or hidden value") or diag "$out $err";
	is($ret, 0, "split shard $id on its worker: read governed (not refused)") or diag $err;
}
($ret, $out) = as($coord, 'analyst_eu', 'SELECT count(*), min(customer_email) FROM payments.transactions');
is($out, '1000|*****@example.com', 'after the split: governed on the coordinator');

# the background rebalancer (citus_rebalance_start), after two shards moved
# from worker2 to worker1 by hand
my $on_node = q{SELECT string_agg(shardid::text, ' ' ORDER BY shardid) FROM pg_dist_shard
  JOIN pg_dist_placement USING (shardid) JOIN pg_dist_node USING (groupid)
 WHERE logicalrelid = 'payments.transactions'::regclass AND nodeport = %d};
for my $id ((split / /, $coord->safe_psql('postgres', sprintf($on_node, $w2->port)))[0 .. 1])
{
	$coord->safe_psql('postgres', sprintf(q{
SELECT citus_move_shard_placement(%s, '%s', %d, '%s', %d, shard_transfer_mode => 'block_writes')},
		$id, $w2->host, $w2->port, $w1->host, $w1->port));
}
my %was_on_w1 = map { $_ => 1 } split / /, $coord->safe_psql('postgres', sprintf($on_node, $w1->port));
$coord->safe_psql('postgres', q{
SELECT citus_rebalance_start(shard_transfer_mode => 'block_writes');
SELECT citus_rebalance_wait();});
my @moved = grep { $was_on_w1{$_} } split / /, $coord->safe_psql('postgres', sprintf($on_node, $w2->port));
ok(@moved > 0, 'citus_rebalance_start moved shards to worker2 (' . join(' ', @moved) . ')');
for my $id (@moved)
{
	($ret, $out, $err) = as($w2, 'analyst_eu',
		"SELECT count(*) FILTER (WHERE region <> 'EU'), min(customer_email) FROM payments.transactions_$id");
	like($out, qr/^0\|/, "shard $id, moved by the background rebalancer, is governed on its new node") or diag $err;
	ok(!leaks($out . $err), "shard $id on its new node shows no raw value");
}
($ret, $out) = as($coord, 'analyst_eu', 'SELECT count(*), min(customer_email) FROM payments.transactions');
is($out, '1000|*****@example.com', 'after the rebalance: governed on the coordinator');

# --- conversions stay refused, with what to do instead ---
($ret, $out, $err) = as($coord, 'payments_team',
	q{SELECT alter_distributed_table('payments.transactions', shard_count => 16)});
like($err, qr/cannot run alter_distributed_table\(\) on the table of data product/, 'alter_distributed_table refused');
like($err, qr/citus_split_shard_by_split_points/, 'the hint names the conversion-free way to more shards');

# --- INSERT ... SELECT from a reference product into the consumer's own reference table ---
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
CREATE TABLE payments.accounts (id bigint PRIMARY KEY, region text, customer_email text);
INSERT INTO payments.accounts
SELECT g, (ARRAY['EU','US','APAC'])[g % 3 + 1], 'user' || g || '@example.com' FROM generate_series(1, 300) g;
SELECT create_reference_table('payments.accounts');
SELECT meshpg.register_product('payments', 'accounts', 'payments.accounts', description => 'Accounts');
SELECT meshpg.tag_column('payments.accounts', 'customer_email', 'pii.email');
SELECT meshpg.tag_column('payments.accounts', 'region', 'geo.region');
SELECT meshpg.publish('payments.accounts');
SELECT meshpg.grant_access('payments.accounts', 'analyst_eu');
RESET ROLE;
CREATE SCHEMA analyst AUTHORIZATION analyst_eu;
-- a reference table that is no product, readable by the consumer
CREATE TABLE public.plain_ref (id bigint, region text, customer_email text);
SELECT create_reference_table('public.plain_ref');
INSERT INTO public.plain_ref VALUES (1, 'EU', 'a@example.com');
GRANT SELECT ON public.plain_ref TO analyst_eu;
});
as($coord, 'analyst_eu', q{
CREATE TABLE analyst.my_accounts (id bigint, region text, customer_email text);
SELECT create_reference_table('analyst.my_accounts');});
# Citus serialises a write into a reference table that reads another one by
# locking the source's shard on the first worker (lock_shard_resources),
# which needs UPDATE, DELETE or TRUNCATE on the source: plain Citus, not meshpg.
($ret, $out, $err) = as($coord, 'analyst_eu',
	'INSERT INTO analyst.my_accounts SELECT * FROM public.plain_ref');
like($err, qr/permission denied for table plain_ref/,
	'Citus refuses INSERT ... SELECT from a reference table the consumer may only read (no product involved)');
($ret, $out, $err) = as($coord, 'analyst_eu',
	'INSERT INTO analyst.my_accounts SELECT * FROM payments.accounts');
like($err, qr/permission denied for table accounts/, 'the same refusal, for the same reason, from a reference product');
($ret, $out, $err) = as($coord, 'analyst_eu', q{
WITH s AS MATERIALIZED (SELECT * FROM payments.accounts)
INSERT INTO analyst.my_accounts SELECT * FROM s});
is($ret, 0, 'through a materialized CTE the consumer copies what it may read') or diag $err;
for my $n ($coord, $w1, $w2)
{
	($ret, $out, $err) = as($n, 'analyst_eu',
		q{SELECT count(*), count(*) FILTER (WHERE region <> 'EU'), min(customer_email) FROM analyst.my_accounts});
	is($out, '100|0|*****@example.com', $n->name . ': the copy holds the governed rows only');
}
$coord->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is($coord->safe_psql('postgres', q{
SELECT count(*) FROM meshpg.lineage_edges WHERE source = 'payments.accounts' AND target = 'analyst.my_accounts'}),
	'1', 'and the copy has its lineage');

# --- the catalog is sent once per transaction, at commit ---
$w1->safe_psql('postgres', "ALTER SYSTEM SET track_functions = 'pl'");
$w1->safe_psql('postgres', 'SELECT pg_reload_conf()');
my $receives = q{SELECT pg_stat_clear_snapshot(), coalesce((SELECT calls FROM pg_stat_user_functions
                  WHERE funcname = '_citus_receive_catalog'), 0)};
sub receives { my ($n) = $w1->safe_psql('postgres', $receives) =~ /\|(\d+)$/; return $n; }
my $r0 = receives();
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
BEGIN;
SELECT meshpg.grant_access('payments.accounts', 'analyst_late');
SELECT meshpg.grant_access('payments.transactions', 'analyst_late');
SELECT meshpg.revoke_access('payments.transactions', 'analyst_late');
SELECT meshpg.revoke_access('payments.accounts', 'analyst_late');
SELECT meshpg.grant_access('payments.accounts', 'analyst_late');
COMMIT;});
is(receives() - $r0, 1, 'five catalog changes in one transaction: the worker receives the catalog once');
($ret, $out) = as($w1, 'analyst_late', 'SELECT count(*), min(customer_email) FROM payments.accounts');
is($out, '100|*****@example.com', 'and governs with it');

# a consumer distributing a table of its own sends no catalog
$r0 = receives();
($ret, $out, $err) = as($coord, 'analyst_eu', q{
CREATE TABLE analyst.mine (id bigint PRIMARY KEY);
SELECT create_distributed_table('analyst.mine', 'id', shard_count => 2);});
is($ret, 0, 'a consumer distributes a table of its own') or diag $err;
is(receives() - $r0, 0, 'and no catalog is sent for it');

# a change rolled back never reaches the workers; a revocation does, at commit
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
BEGIN;
SELECT meshpg.grant_access('payments.accounts', 'analyst_none');
ROLLBACK;
SELECT meshpg.revoke_access('payments.accounts', 'analyst_late');});
for my $n ($w1, $w2)
{
	($ret, $out, $err) = as($n, 'analyst_none', 'SELECT count(*) FROM payments.accounts');
	isnt($ret, 0, $n->name . ': a grant rolled back on the coordinator gives nothing on the worker');
	($ret, $out, $err) = as($n, 'analyst_late', 'SELECT count(*) FROM payments.accounts');
	like($err, qr/permission denied|holds no meshpg access grant/, $n->name . ': a committed revocation holds on the worker');
}

done_testing();
