# Citus: every node that holds a product's rows enforces its policies.
# A coordinator and two workers preload 'citus,meshpg'.  Each case is an
# attack, as a consumer on the coordinator and directly on a worker: the
# reader must get exactly what a single server gives (EU rows only, masks
# applied once), or a clear refusal, never a raw value or a hidden row.

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

# A raw value of a hidden (non-EU) row or of a masked column.
sub leaks
{
	my ($text) = @_;
	return $text =~ /user\d+\@example\.com|4111-0000|\bUS\b|\bAPAC\b/;
}

# A shard of the product on each worker, by placement.
my %shard_on;
for my $row (split /\n/, $coord->safe_psql('postgres', q{
SELECT nodeport, min(shardid) FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)
  JOIN pg_dist_node USING (groupid)
 WHERE logicalrelid = 'payments.transactions'::regclass GROUP BY nodeport}))
{
	my ($port, $shardid) = split /\|/, $row;
	$shard_on{$port} = "payments.transactions_$shardid";
}
my $w1_shard = $shard_on{ $w1->port };
my $w2_shard = $shard_on{ $w2->port };
ok($w1_shard && $w2_shard, "each worker holds a shard ($w1_shard, $w2_shard)");

# The workers learned the catalog from the coordinator, in its transactions.
is($w1->safe_psql('postgres', 'SELECT relid FROM meshpg.cat_product'),
	'payments.transactions', 'worker 1 knows the product');
is($w2->safe_psql('postgres', q{SELECT string_agg(name, ',' ORDER BY name) FROM meshpg.cat_policy}),
	'mask_card,mask_code,mask_email,mask_ssn,own_region', 'worker 2 knows every policy');

# --- as the consumer, on the coordinator ---
my ($ret, $out, $err);
($ret, $out) = as($coord, 'analyst_eu',
	'SELECT region, count(*) FROM payments.transactions GROUP BY 1 ORDER BY 1');
is($out, 'EU|1000', 'coordinator: multi-shard aggregate sees only EU rows');

($ret, $out) = as($coord, 'analyst_eu',
	'SELECT id, customer_email, card FROM payments.transactions WHERE id IN (1, 3)');
is($out, '3|*****@example.com|***************0003',
	'coordinator: router lookup of a US row returns nothing, an EU row masked once');

# the keyed hash: applied once (a hash of the hash would differ), with the
# coordinator's key on every node (the workers received it)
my $expected_ssn = $coord->safe_psql('postgres', q{SELECT meshpg.mask_hash('ssn-3')});
($ret, $out) = as($coord, 'analyst_eu', 'SELECT ssn FROM payments.transactions WHERE id = 3');
is($out, $expected_ssn, 'coordinator: the hash mask is applied exactly once, with the coordinator\'s key');
for my $w ($w1, $w2)
{
	($ret, $out) = as($w, 'analyst_eu', 'SELECT ssn FROM payments.transactions WHERE id = 3');
	is($out, $expected_ssn, $w->name . ': the same pseudonym on the worker');
}
# router reads on the node that holds the shard: Citus plans those itself
# (local fast path); meshpg turns that off for governed reads, and refuses
# any plan of a product it did not govern
for my $w ($w1, $w2)
{
	my $sql = "SET citus.enable_local_fast_path_query_optimization = on;\n"
	  . join('', map { "SELECT id, customer_email, ssn FROM payments.transactions WHERE id = $_;\n" } map { 3 * $_ } 1 .. 12)
	  . "PREPARE r(bigint) AS SELECT id, customer_email, ssn FROM payments.transactions WHERE id = \$1;\n"
	  . join('', map { "EXECUTE r($_);\n" } (3, 6, 9, 12, 15, 18, 21, 24, 27));
	($ret, $out, $err) = as($w, 'analyst_eu', $sql);
	my @rows = grep { /\|/ } split /\n/, $out;
	is(scalar(@rows), 21, $w->name . ': router reads of the distributed table, local and remote shards, plain and prepared');
	ok(!leaks($out) && $out !~ /\|ssn-\d/ && $err eq '', $w->name . ': every one masked') or diag "$out\n$err";
}

($ret, $out, $err) = as($coord, 'analyst_eu', q{SELECT meshpg.mask_hash('ssn-3')});
like($err, qr/cannot be called directly/, 'the consumer cannot hash guesses');
($ret, $out, $err) = as($w1, 'analyst_eu', q{SELECT meshpg.mask_hash('ssn-3')});
like($err, qr/cannot be called directly/, 'nor on a worker');

($ret, $out) = as($coord, 'analyst_eu', q{
WITH c AS MATERIALIZED (SELECT * FROM payments.transactions)
SELECT count(*), count(DISTINCT region), min(customer_email) FROM c});
is($out, '1000|1|*****@example.com', 'coordinator: materialized CTE governed');

($ret, $out) = as($coord, 'analyst_eu', 'COPY payments.transactions TO STDOUT');
my @lines = split /\n/, $out;
is(scalar(@lines), 1000, 'coordinator: COPY TO returns the EU rows only');
ok(!leaks($out), 'coordinator: COPY TO shows no raw value');

($ret, $out) = as($coord, 'analyst_eu',
	q{SELECT count(*) FROM payments.transactions WHERE customer_email LIKE 'user1%' OR card LIKE '4111%'});
is($out, '0', 'coordinator: a WHERE on masked columns filters masked values');

($ret, $out) = as($coord, 'analyst_eu',
	q{SELECT result FROM run_command_on_workers($$SELECT count(*) || ':' || min(customer_email) || ':' || count(*) FILTER (WHERE region <> 'EU') FROM payments.transactions$$) ORDER BY 1});
is($out, "1000:*****\@example.com:0\n1000:*****\@example.com:0",
	'run_command_on_workers returns governed results');

($ret, $out) = as($coord, 'analyst_eu',
	q{SELECT string_agg(result, ',') FROM run_command_on_shards('payments.transactions', $$SELECT coalesce(string_agg(DISTINCT region, '/'), '-') || min(customer_email) FROM %s$$)});
ok(!leaks($out) && $out =~ /EU\*\*\*\*\*\@example\.com/, 'run_command_on_shards returns governed results');

($ret, $out, $err) = as($coord, 'analyst_eu',
	'EXPLAIN ANALYZE SELECT * FROM payments.transactions');
like($err, qr/EXPLAIN ANALYZE is not allowed/, 'coordinator: EXPLAIN ANALYZE of filtered rows refused');

# vectors of the single-server security suite, on the distributed product
# (Citus propagates the function to the workers)
$coord->safe_psql('postgres', q{
CREATE FUNCTION public.leak(text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS
$$BEGIN RAISE NOTICE 'leak: %', $1; RETURN true; END$$;});
($ret, $out, $err) = as($coord, 'analyst_eu', q{
SELECT count(*) FROM payments.transactions WHERE public.leak(customer_email || '/' || region || '/' || card)});
is($out, '1000', 'leaky function in WHERE: the query still counts the EU rows');
ok($err =~ /leak: / && !leaks($err), 'leaky function in WHERE: it sees only EU rows and masked values (notices relayed from the workers)');
($ret, $out, $err) = as($w1, 'analyst_eu', qq{
SELECT count(*) > 0 FROM $w1_shard WHERE public.leak(customer_email || '/' || region)});
ok($err =~ /leak: / && !leaks($err), 'worker: a leaky function on the shard sees only EU rows, masked');
($ret, $out) = as($coord, 'analyst_eu', q{
SELECT string_agg(DISTINCT row_to_json(t)::text, '') FROM (SELECT * FROM payments.transactions WHERE id = 3) t});
ok($out =~ /"customer_email":"\*{5}\@example\.com"/ && !leaks($out), 'whole-row reference is masked');
($ret, $out) = as($coord, 'analyst_eu', q{
SELECT count(*) FROM payments.transactions TABLESAMPLE SYSTEM (100) WHERE region <> 'EU'});
is($out, '0', 'TABLESAMPLE: no hidden row');
($ret, $out) = as($coord, 'analyst_eu', q{
SELECT count(*) FROM (SELECT id FROM payments.transactions ORDER BY customer_email LIMIT 10) s});
is($out, '10', 'ORDER BY a masked column runs on masked values');
($ret, $out, $err) = $coord->psql('postgres', q{
SET ROLE analyst_eu;
PREPARE q AS SELECT count(*) FROM payments.transactions WHERE id < $1;
EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100);
RESET ROLE;
EXECUTE q(100);
SET ROLE payments_team;
EXECUTE q(100);});
is($out, join("\n", ('33') x 6, '99', '99'),
	'a prepared statement is planned again for each role (33 EU rows, then 99 for exempt roles)');
($ret, $out) = as($coord, 'analyst_eu', q{
SELECT count(*) FROM payments.transactions t JOIN payments.transactions u USING (id) WHERE u.region <> 'EU'});
is($out, '0', 'a self-join is filtered on both sides');
($ret, $out, $err) = as($coord, 'analyst_eu', q{
DECLARE c CURSOR WITH HOLD FOR SELECT customer_email, region FROM payments.transactions ORDER BY id;
FETCH 5 FROM c;});
ok($out =~ /\*{5}\@example\.com\|EU/ && !leaks($out), 'a cursor returns masked EU rows');

# a custom mask that fails: the message is withheld, and no node logs it
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
UPDATE payments.transactions SET code = 'CANARYcode42' WHERE id = 3;
});
($ret, $out, $err) = as($coord, 'analyst_eu', 'SELECT code FROM payments.transactions WHERE id = 3');
like($err, qr/message withheld/, 'coordinator: a failing custom mask withholds its message');
unlike($err, qr/CANARY/, 'coordinator: the raw value is not in the error');
for my $n ($coord, $w1, $w2)
{
	my $log = slurp_file($n->logfile);
	# (the domain team's own UPDATE is in the statement log: not a leak)
	unlike($log, qr/(ERROR|DETAIL|CONTEXT):[^\n]*CANARYcode42/,
		$n->name . ': the raw value is not in the server log\'s errors');
}
$coord->safe_psql('postgres',
	q{SET ROLE payments_team; UPDATE payments.transactions SET code = '21' WHERE id = 3;});

# purpose: Citus does not carry meshpg.purpose to its connections
($ret, $out, $err) = as($coord, 'analyst_eu', q{
SET meshpg.purpose = 'fraud-investigation';
SELECT count(*) FROM payments.transactions});
like($err, qr/session's purpose changes its policies/,
	'coordinator: a purpose the workers cannot see is refused, not ignored');

# ... but a SET LOCAL that Citus carries to its connections is the workers' purpose too
($ret, $out, $err) = as($coord, 'analyst_eu', q{
SET citus.propagate_set_commands = 'local';
BEGIN;
SET LOCAL meshpg.purpose = 'fraud-investigation';
SELECT count(*) FROM payments.transactions;
COMMIT;});
is($out, '3000', 'coordinator: a purpose set with SET LOCAL and carried by Citus lifts the row policy');
($ret, $out, $err) = as($coord, 'analyst_eu', q{
SET citus.propagate_set_commands = 'local';
BEGIN;
SELECT set_config('meshpg.purpose', 'fraud-investigation', true);
SELECT count(*) FROM payments.transactions;
COMMIT;});
like($err, qr/session's purpose changes its policies/, 'coordinator: set_config() is not carried: refused');
($ret, $out) = as($w1, 'analyst_eu', qq{
SET meshpg.purpose = 'fraud-investigation';
SELECT count(*) > 0, count(*) FILTER (WHERE region <> 'EU') > 0 FROM $w1_shard});
is($out, "t|t", 'worker: a purpose declared on the worker lifts the row policy there');
($ret, $out, $err) = as($w1, 'analyst_none', q{SET meshpg.purpose = 'fraud-investigation'});
like($err, qr/purpose "fraud-investigation" is not allowed/, 'worker: a purpose the role has no grant for is refused');

# a SECURITY DEFINER function of the domain team: the workers would see its owner
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
CREATE FUNCTION payments.all_rows() RETURNS bigint SECURITY DEFINER LANGUAGE sql
AS 'SELECT count(*) FROM payments.transactions';
GRANT EXECUTE ON FUNCTION payments.all_rows() TO analyst_eu;
});
($ret, $out, $err) = as($coord, 'analyst_eu', 'SELECT payments.all_rows()');
like($err, qr/SECURITY DEFINER function's reader/, 'coordinator: SECURITY DEFINER read refused');
($ret, $out) = as($coord, 'payments_team', 'SELECT payments.all_rows()');
is($out, '3000', 'the domain team still reads its own product whole');

# a view of the domain team over the product: governed for the reader
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
CREATE VIEW payments.tx_view AS SELECT id, region, customer_email FROM payments.transactions;
GRANT SELECT ON payments.tx_view TO analyst_eu;
});
($ret, $out) = as($coord, 'analyst_eu',
	'SELECT count(*), min(region), max(region), min(customer_email) FROM payments.tx_view');
is($out, '1000|EU|EU|*****@example.com', 'coordinator: a view over the product is governed');

# explain_access and the access history tell what was applied
($ret, $out) = as($coord, 'analyst_eu', q{
SELECT string_agg(subject || '=' || effect, ',' ORDER BY subject)
  FROM meshpg.explain_access('payments.transactions')});
like($out, qr/customer_email=masked.*rows=filtered/, 'explain_access: masked and filtered');

$coord->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
$w1->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
as($coord, 'analyst_eu', 'SELECT id, customer_email, amount FROM payments.transactions WHERE id < 31');
sleep 1;
$coord->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
$w1->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is($coord->safe_psql('postgres', q{
SELECT count(*) || ':' || max(rows) || ':' || max(row_policies::text) || ':' || max(masks::text)
  FROM meshpg.access_history WHERE role = 'analyst_eu' AND columns = '{id,customer_email,amount}'}),
	'1:10:{own_region}:{"customer_email": "mask_email"}',
	'access history: one read recorded once, with the 10 rows the reader got');
is($w1->safe_psql('postgres', q{
SELECT count(*) FROM meshpg.access_history WHERE role = 'analyst_eu' AND columns = '{id,customer_email,amount}'}),
	'0', 'access history: the shard reads of that query are not recorded again on the worker');

# --- as the consumer, directly on a worker ---
for my $case ([ $w1, $w1_shard ], [ $w2, $w2_shard ])
{
	my ($w, $shard) = @$case;
	my $name = $w->name;
	($ret, $out) = as($w, 'analyst_eu',
		"SELECT count(*) FILTER (WHERE region <> 'EU'), count(*) > 0, min(customer_email), min(card) FROM $shard");
	like($out, qr/^0\|t\|\*{5}\@example\.com\|\*{15}\d{4}$/, "$name: the shard is filtered and masked");
	($ret, $out) = as($w, 'analyst_eu', "COPY $shard TO STDOUT");
	ok($out ne '' && !leaks($out), "$name: COPY of the shard is governed");
	($ret, $out) = as($w, 'analyst_eu',
		'SELECT region, count(*), min(customer_email) FROM payments.transactions GROUP BY 1');
	is($out, 'EU|1000|*****@example.com', "$name: the distributed table read on a worker is governed");
	($ret, $out, $err) = as($w, 'analyst_none', "SELECT count(*) FROM $shard");
	isnt($ret, 0, "$name: a role without a grant cannot read the shard");
	ok(!leaks($out), "$name: and gets nothing");
	($ret, $out, $err) = as($w, 'analyst_eu', 'SELECT meshpg.guard()');
	like($err, qr/can only be used in the row-security policy/, "$name: meshpg.guard() cannot be called");
	# catalog replacement is for the coordinator's superuser connection only
	($ret, $out, $err) = as($w, 'payments_team', q{
SET application_name = 'citus_internal gpid=10000000001';
SELECT meshpg._citus_receive_catalog('{}')});
	isnt($ret, 0, "$name: a domain team cannot replace the worker's catalog");
}

# statistics of a shard: withheld for a filtered reader
$w1->safe_psql('postgres', "ANALYZE $w1_shard");
($ret, $out) = as($w1, 'analyst_eu', qq{
SELECT count(*) FROM pg_stats WHERE schemaname = 'payments'
   AND tablename = '} . (split /\./, $w1_shard)[1] . q{' AND attname IN ('customer_email', 'card', 'region')
   AND (most_common_vals IS NOT NULL OR histogram_bounds IS NOT NULL)});
is($out, '0', 'worker: pg_stats of a shard withheld from the filtered reader');

# grant expiry: checked wherever the rows are read
$coord->safe_psql('postgres', q{SET ROLE payments_team;
SELECT meshpg.grant_access('payments.transactions', 'analyst_late', expires => now() + interval '3 seconds')});
($ret, $out) = as($w2, 'analyst_late', "SELECT count(*) > 0 FROM $w2_shard");
is($out, 't', 'worker: a grant reads until it expires');
sleep 4;
($ret, $out, $err) = as($w2, 'analyst_late', "SELECT count(*) FROM $w2_shard");
like($err, qr/expired/, 'worker: an expired grant is refused on the worker');
($ret, $out, $err) = as($coord, 'analyst_late', 'SELECT count(*) FROM payments.transactions');
like($err, qr/expired/, 'coordinator: an expired grant is refused');

# the policies change in the coordinator's transaction, on every node at once
$coord->safe_psql('postgres', q{SELECT meshpg.set_attribute('analyst_eu', 'region', '{EU,US}')});
($ret, $out) = as($w1, 'analyst_eu', 'SELECT count(*) FROM payments.transactions');
is($out, '2000', 'an attribute change reaches the workers with its transaction');
$coord->safe_psql('postgres', q{
BEGIN;
SELECT meshpg.set_attribute('analyst_eu', 'region', '{APAC}');
ROLLBACK;});
($ret, $out) = as($w2, 'analyst_eu', 'SELECT count(*) FROM payments.transactions');
is($out, '2000', 'a rolled-back change does not reach the workers');
$coord->safe_psql('postgres', q{SELECT meshpg.set_attribute('analyst_eu', 'region', '{EU}')});

# the sends are serialised and read the committed catalog: not from a transaction snapshot
($ret, $out, $err) = $coord->psql('postgres', q{
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT meshpg.set_attribute('analyst_eu', 'region', '{EU,US,APAC}');
COMMIT;});
like($err, qr/cannot change the meshpg catalog of a Citus cluster in a REPEATABLE READ transaction/,
	'a catalog change in a REPEATABLE READ transaction is refused');
($ret, $out) = as($w1, 'analyst_eu', 'SELECT count(*) FROM payments.transactions');
is($out, '1000', 'and reached no node');

# --- fail closed: a node that does not know the product refuses ---
$w2->safe_psql('postgres', q{
DELETE FROM meshpg.cat_policy; DELETE FROM meshpg.cat_column_tag; DELETE FROM meshpg.cat_grant;
DELETE FROM meshpg.cat_column; DELETE FROM meshpg.cat_product;});
($ret, $out, $err) = as($w2, 'analyst_eu', "SELECT * FROM $w2_shard");
like($err, qr/policies of relation "transactions_\d+" are not known on this node/,
	'a worker without the catalog refuses a read of the shard');
ok(!leaks($out), 'and returns nothing');
($ret, $out, $err) = as($w2, 'analyst_eu', "COPY $w2_shard TO STDOUT");
like($err, qr/not known on this node/, 'and refuses COPY of the shard');
($ret, $out, $err) = as($coord, 'analyst_eu', 'SELECT count(*) FROM payments.transactions');
like($err, qr/not known on this node/, 'the coordinator read fails with the worker\'s error');
($ret, $out) = as($coord, 'analyst_eu',
	q{SELECT bool_and(NOT success) FROM run_command_on_workers($$SELECT min(customer_email) FROM payments.transactions$$)});
is($out, 't', 'run_command_on_workers fails on every worker (the shell table reads both)');
$coord->safe_psql('postgres', 'SELECT meshpg.citus_sync()');
($ret, $out) = as($coord, 'analyst_eu', 'SELECT count(*) FROM payments.transactions');
is($out, '1000', 'meshpg.citus_sync() restores governed reads');

done_testing();
