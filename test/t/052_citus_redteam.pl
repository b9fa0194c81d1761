# Red team on Citus: attacks by an ordinary consumer, on the coordinator and
# directly on the workers, through Citus's own functions and execution paths.
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

my $w1_shard = $coord->safe_psql('postgres', sprintf(q{
SELECT 'payments.transactions_' || min(shardid) FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)
  JOIN pg_dist_node USING (groupid)
 WHERE logicalrelid = 'payments.transactions'::regclass AND nodeport = %d}, $w1->port));

my $w1_shardid = ($w1_shard =~ /_(\d+)$/)[0];
my ($ret, $out, $err);

# A reference-table product: it has a placement on every node, the
# coordinator's included (local execution there).
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
SELECT meshpg.grant_access('payments.accounts', 'analyst_eu', purpose => 'fraud-investigation');
});
my $ref_shard = 'payments.accounts_' . $coord->safe_psql('postgres',
	q{SELECT shardid FROM pg_dist_shard WHERE logicalrelid = 'payments.accounts'::regclass});

# --- per-node row counts: Citus's worker_save_query_explain_analyze() ---
# Any role may call it; it runs a query under EXPLAIN ANALYZE without the
# EXPLAIN statement, and "Rows Removed by Filter" counts the hidden rows.
for my $target ($w1_shard, 'payments.transactions')
{
	($ret, $out, $err) = as($w1, 'analyst_eu', qq{
SELECT count(*) FROM worker_save_query_explain_analyze('SELECT id FROM $target', '{}') AS (id bigint);
SELECT explain_analyze_output FROM worker_last_saved_explain_analyze();});
	unlike($out, qr/Rows Removed/, "worker: worker_save_query_explain_analyze() of $target shows no count of hidden rows");
	like($err, qr/EXPLAIN ANALYZE is not allowed on data products whose rows are filtered for you/,
		"worker: worker_save_query_explain_analyze() of $target is refused");
}
($ret, $out, $err) = as($coord, 'analyst_eu', q{
SELECT string_agg(result, E'\n') FROM run_command_on_workers($$
SELECT (SELECT count(*) FROM worker_save_query_explain_analyze('SELECT id FROM payments.transactions', '{}') AS (id bigint))
    || (SELECT explain_analyze_output FROM worker_last_saved_explain_analyze())$$)});
unlike($out, qr/Rows Removed/, 'run_command_on_workers: worker_save_query_explain_analyze() shows no count of hidden rows');
like($out, qr/EXPLAIN ANALYZE is not allowed/, 'run_command_on_workers: it is refused on each worker');
($ret, $out, $err) = as($coord, 'analyst_eu', qq{
SELECT count(*) FROM worker_save_query_explain_analyze('SELECT id FROM $ref_shard', '{}') AS (id bigint);
SELECT explain_analyze_output FROM worker_last_saved_explain_analyze();});
unlike($out, qr/Rows Removed/, 'coordinator: worker_save_query_explain_analyze() of its reference placement shows no hidden count');
like($err, qr/EXPLAIN ANALYZE is not allowed/, 'coordinator: and is refused');

# the domain team, whose rows are not filtered, keeps EXPLAIN ANALYZE on every node
($ret, $out, $err) = as($coord, 'payments_team', q{
SET citus.explain_all_tasks = on;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM payments.transactions});
like($out, qr/Task Count: 8.*actual rows=\d+/s, 'the domain team still runs EXPLAIN ANALYZE of its distributed product')
  or diag "$out\n$err";

# --- EXPLAIN ANALYZE of a cached plan: planned before EXPLAIN ran ---
my $cached = "PREPARE p(bigint) AS SELECT count(*) FROM %s WHERE id < \$1;\n"
  . join('', map { "EXECUTE p(100);\n" } 1 .. 7)
  . "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) EXECUTE p(100);\n";
for my $case ([ $coord, 'payments.transactions' ], [ $coord, 'payments.accounts' ],
	[ $coord, $ref_shard ], [ $w1, $w1_shard ], [ $w1, 'payments.transactions' ])
{
	my ($node, $rel) = @$case;
	($ret, $out, $err) = as($node, 'analyst_eu', sprintf($cached, $rel));
	unlike($out, qr/Rows Removed/, $node->name . ": EXPLAIN ANALYZE EXECUTE of a cached plan of $rel shows no hidden count");
	like($err, qr/EXPLAIN ANALYZE is not allowed/, $node->name . ": EXPLAIN ANALYZE EXECUTE of $rel is refused")
	  or diag "$out\n$err";
}

# --- plan cache and purposes: a plan made under a purpose is not reused without it ---
my ($all, $eu) = split /\|/, $w1->safe_psql('postgres',
	"SELECT count(*), count(*) FILTER (WHERE region = 'EU') FROM $w1_shard WHERE id < 2000");
($ret, $out, $err) = as($w1, 'analyst_eu', qq{
SET meshpg.purpose = 'fraud-investigation';
PREPARE q(bigint) AS SELECT count(*) FROM $w1_shard WHERE id < \$1;
EXECUTE q(2000); EXECUTE q(2000); EXECUTE q(2000); EXECUTE q(2000); EXECUTE q(2000); EXECUTE q(2000); EXECUTE q(2000);
RESET meshpg.purpose;
EXECUTE q(2000);
EXECUTE q(2000);});
is($out, join("\n", ($all) x 7, $eu, $eu), 'worker: a plan of a shard cached under a purpose is planned again without it') or diag $err;
($ret, $out, $err) = as($coord, 'analyst_eu', q{
SET citus.propagate_set_commands = 'local';
PREPARE q(bigint) AS SELECT count(*) FROM payments.accounts WHERE id < $1;
BEGIN;
SET LOCAL meshpg.purpose = 'fraud-investigation';
EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100);
COMMIT;
EXECUTE q(100);
EXECUTE q(100);});
is($out, join("\n", ('99') x 7, '33', '33'),
	'coordinator: a reference product\'s local plan cached under a purpose is not reused without it') or diag $err;
($ret, $out, $err) = as($coord, 'analyst_eu', q{
PREPARE q(bigint) AS SELECT id, customer_email FROM payments.accounts WHERE id = $1;
EXECUTE q(1); EXECUTE q(2); EXECUTE q(3); EXECUTE q(4); EXECUTE q(5); EXECUTE q(6); EXECUTE q(7); EXECUTE q(8);});
ok(!leaks($out) && $out =~ /^3\|\*{5}\@example\.com\n6\|\*{5}\@example\.com$/,
	'coordinator: router reads of a reference product, local placement, prepared: governed') or diag "$out\n$err";

# --- direct reads of placements ---
($ret, $out, $err) = as($coord, 'analyst_eu',
	"SELECT count(*), count(*) FILTER (WHERE region <> 'EU'), min(customer_email) FROM $ref_shard");
is($out, '100|0|*****@example.com', 'coordinator: its own placement of a reference product is governed');
($ret, $out, $err) = as($w2, 'analyst_eu', "COPY $ref_shard TO STDOUT");
ok($out ne '' && !leaks($out), 'worker: COPY of a reference placement is governed');

# --- Citus functions that read or copy shards ---
($ret, $out, $err) = as($w1, 'analyst_eu', "SELECT worker_copy_table_to_node('$w1_shard'::regclass, 2)");
isnt($ret, 0, 'worker: worker_copy_table_to_node() of a shard fails for the consumer');
ok(!leaks($out . $err), 'and shows nothing');
($ret, $out, $err) = as($w1, 'analyst_eu', qq{
BEGIN;
SELECT count(*) FROM worker_partition_query_result('r1', 'SELECT id, customer_email, region FROM $w1_shard', 0, 'hash',
       '{-2147483648,0}'::text[], '{-1,2147483647}'::text[], true);
SELECT count(*), count(*) FILTER (WHERE r <> 'EU'), min(e) FROM (SELECT * FROM read_intermediate_result('r1_0', 'binary') AS (id bigint, e text, r text)
  UNION ALL SELECT * FROM read_intermediate_result('r1_1', 'binary') AS (id bigint, e text, r text)) x;
COMMIT;});
like($out, qr/\|0\|\*{5}\@example\.com$/, 'worker: worker_partition_query_result() runs the governed read') or diag "$out\n$err";
ok(!leaks($out), 'and its intermediate results hold no raw value');
($ret, $out, $err) = as($coord, 'analyst_eu', q{
SET citus.enable_repartition_joins = on;
SELECT count(*), count(*) FILTER (WHERE t2.region <> 'EU'), min(t1.customer_email)
  FROM payments.transactions t1 JOIN payments.accounts a ON t1.amount = a.id
  JOIN payments.transactions t2 ON t1.code = t2.customer_email});
ok(!leaks($out . $err), 'coordinator: a repartition join shows no raw value') or diag "$out\n$err";
($ret, $out, $err) = as($w1, 'analyst_eu', qq{
SET application_name = 'citus_internal gpid=10000000001';
SELECT citus_internal.delete_shard_metadata($w1_shardid)});
like($err, qr/must be owner/, 'worker: a consumer faking Citus\'s application_name cannot change shard metadata');
($ret, $out, $err) = as($w1, 'analyst_eu', qq{
SET application_name = 'citus_internal gpid=10000000001';
SELECT count(*) FILTER (WHERE region <> 'EU'), min(customer_email) FROM $w1_shard});
is($out, '0|*****@example.com', 'worker: faking Citus\'s application_name changes no policy');
($ret, $out, $err) = as($coord, 'analyst_eu', q{
SET citus.explain_all_tasks = on;
EXPLAIN (VERBOSE, COSTS OFF) SELECT ssn, customer_email FROM payments.transactions WHERE id = 3});
like($out, qr/meshpg\.mask_hash\(ssn\)/, 'EXPLAIN VERBOSE of the tasks shows the mask');
unlike($out, qr/secret|'\\\\x/, 'and no hash key');

# --- a partitioned product: its partitions and their shards ---
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
CREATE TABLE payments.events (id bigint, region text, detail text) PARTITION BY LIST (region);
CREATE TABLE payments.events_eu PARTITION OF payments.events FOR VALUES IN ('EU');
CREATE TABLE payments.events_us PARTITION OF payments.events FOR VALUES IN ('US', 'APAC');
INSERT INTO payments.events
SELECT g, (ARRAY['EU','US','APAC'])[g % 3 + 1], 'user' || g || '@example.com' FROM generate_series(1, 300) g;
SELECT create_distributed_table('payments.events', 'id', shard_count => 4);
SELECT meshpg.register_product('payments', 'events', 'payments.events', description => 'Events');
SELECT meshpg.tag_column('payments.events', 'detail', 'pii.email');
SELECT meshpg.tag_column('payments.events', 'region', 'geo.region');
SELECT meshpg.publish('payments.events');
SELECT meshpg.grant_access('payments.events', 'analyst_eu');
});
($ret, $out, $err) = as($coord, 'analyst_eu',
	"SELECT count(*), count(*) FILTER (WHERE region <> 'EU'), min(detail) FROM payments.events");
is($out, '100|0|*****@example.com', 'coordinator: a distributed partitioned product is governed') or diag $err;
($ret, $out, $err) = as($coord, 'analyst_eu', 'SELECT count(*), min(detail) FROM payments.events_us');
ok(!leaks($out) && $out !~ /^[1-9]/, 'coordinator: a partition of the product read directly gives no hidden row') or diag "$out\n$err";
my @part_shards = split /\n/, $coord->safe_psql('postgres', sprintf(q{
SELECT 'payments.' || shard_name(logicalrelid, shardid) FROM pg_dist_shard JOIN pg_dist_placement USING (shardid)
  JOIN pg_dist_node USING (groupid)
 WHERE logicalrelid IN ('payments.events'::regclass, 'payments.events_us'::regclass) AND nodeport = %d ORDER BY 1}, $w1->port));
for my $ps (@part_shards)
{
	($ret, $out, $err) = as($w1, 'analyst_eu', "SELECT count(*) FILTER (WHERE region <> 'EU'), min(detail) FROM $ps");
	ok(!leaks($out) && $out !~ /^[1-9]/, "worker: $ps read directly gives no hidden row and no raw value") or diag "$out\n$err";
}

# --- a consumer with a schema of its own (a usual sandbox grant) ---
$coord->safe_psql('postgres', 'CREATE SCHEMA sandbox AUTHORIZATION analyst_eu');
($ret, $out, $err) = as($coord, 'analyst_eu', q{
CREATE TABLE sandbox.copy_colo (id bigint, region text, customer_email text, card text);
SELECT create_distributed_table('sandbox.copy_colo', 'id', colocate_with => 'payments.transactions');
INSERT INTO sandbox.copy_colo SELECT id, region, customer_email, card FROM payments.transactions;
CREATE TABLE sandbox.copy_other (id bigint, region text, customer_email text, card text);
SELECT create_distributed_table('sandbox.copy_other', 'customer_email', shard_count => 3);
INSERT INTO sandbox.copy_other SELECT id, region, customer_email, card FROM payments.transactions;
CREATE TABLE sandbox.copy_ref (id bigint, region text, customer_email text, card text);
SELECT create_reference_table('sandbox.copy_ref');
INSERT INTO sandbox.copy_ref SELECT id, region, customer_email, card FROM payments.transactions ORDER BY id LIMIT 2000;
SELECT 'colo', count(*), count(*) FILTER (WHERE region <> 'EU'), min(customer_email), min(card) FROM sandbox.copy_colo
UNION ALL
SELECT 'other', count(*), count(*) FILTER (WHERE region <> 'EU'), min(customer_email), min(card) FROM sandbox.copy_other
UNION ALL
SELECT 'ref', count(*), count(*) FILTER (WHERE region <> 'EU'), min(customer_email), min(card) FROM sandbox.copy_ref;});
ok(!leaks($out . $err) && $out =~ /^colo\|1000\|0\|\*{5}/m && $out =~ /^other\|1000\|0\|/m && $out =~ /^ref\|1000\|0\|/m,
	'INSERT ... SELECT into the consumer\'s own distributed and reference tables copies governed rows only')
  or diag "$out\n$err";

# a distributed function of the consumer's, its calls delegated to the workers
($ret, $out, $err) = as($coord, 'analyst_eu', q{
CREATE FUNCTION sandbox.peek(bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  SELECT string_agg(region || ':' || customer_email, ',') INTO r FROM payments.transactions WHERE id = $1;
  RETURN coalesce(r, '-');
END $$;
SELECT create_distributed_function('sandbox.peek(bigint)', '$1', colocate_with => 'payments.transactions');
SELECT sandbox.peek(1) || '/' || sandbox.peek(3) || '/' || sandbox.peek(5);});
ok(!leaks($out . $err) && $out =~ /\/EU:\*{5}\@example\.com\//,
	'a delegated distributed function of the consumer reads governed rows on the worker') or diag "$out\n$err";
($ret, $out, $err) = as($coord, 'analyst_eu', q{
CREATE PROCEDURE sandbox.pull(bigint, INOUT r text) LANGUAGE plpgsql AS $$
BEGIN
  SELECT string_agg(region || ':' || customer_email || ':' || card, ',') INTO r FROM payments.transactions WHERE id = $1;
END $$;
SELECT create_distributed_function('sandbox.pull(bigint,text)', '$1', colocate_with => 'payments.transactions');
CALL sandbox.pull(1, NULL); CALL sandbox.pull(2, NULL); CALL sandbox.pull(3, NULL);});
ok(!leaks($out . $err) && $out =~ /EU:\*{5}\@example\.com/,
	'a delegated distributed procedure of the consumer reads governed rows on the worker') or diag "$out\n$err";

# --- a faked Citus application_name on the coordinator: its reads are recorded ---
$coord->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
my $mark = $coord->safe_psql('postgres', 'SELECT clock_timestamp()');
($ret, $out, $err) = as($coord, 'analyst_eu', qq{
SET application_name = 'citus_internal gpid=10000000001';
SELECT count(*) FROM $ref_shard WHERE id < 40;});
is($out, '13', 'coordinator: a consumer faking Citus\'s application_name reads its placement governed') or diag $err;
sleep 1;
$coord->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
is($coord->safe_psql('postgres', qq{
SELECT count(*) FROM meshpg.access_history WHERE role = 'analyst_eu' AND product = 'payments.accounts'
   AND read_at >= '$mark' AND relation = '$ref_shard'}),
	'1', 'coordinator: and the read is in the coordinator\'s access history')
  or diag $coord->safe_psql('postgres', qq{SELECT * FROM meshpg.access_history WHERE read_at >= '$mark'});

# --- a SECURITY DEFINER distributed function of the domain team, delegated ---
$coord->safe_psql('postgres', q{
SET ROLE payments_team;
CREATE FUNCTION payments.lookup(bigint) RETURNS text SECURITY DEFINER LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  SELECT string_agg(region || ':' || customer_email, ',') INTO r FROM payments.transactions WHERE id = $1;
  RETURN coalesce(r, '-');
END $$;
SELECT create_distributed_function('payments.lookup(bigint)', '$1', colocate_with => 'payments.transactions');
GRANT EXECUTE ON FUNCTION payments.lookup(bigint) TO analyst_eu;
});
($ret, $out, $err) = as($coord, 'analyst_eu', "SELECT payments.lookup(1);\nSELECT payments.lookup(3);");
ok(!leaks($out), 'coordinator: a delegated SECURITY DEFINER function of the domain team returns no hidden row')
  or diag "$out\n$err";
like($err, qr/SECURITY DEFINER function's reader changes its policies/, 'it is refused, as a read in a SECURITY DEFINER function');

# --- grant expiry under a cached plan of the coordinator's local placement ---
$coord->safe_psql('postgres', q{SET ROLE payments_team;
SELECT meshpg.grant_access('payments.accounts', 'analyst_late', expires => now() + interval '4 seconds')});
($ret, $out, $err) = as($coord, 'analyst_late', q{
PREPARE q(bigint) AS SELECT count(*) FROM payments.accounts WHERE id < $1;
EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100); EXECUTE q(100);
SELECT pg_sleep(5);
EXECUTE q(100);});
is($out, join("\n", ('33') x 7, ''), 'coordinator: a cached plan of a reference product reads until the grant expires');
like($err, qr/expired/, 'coordinator: and is refused after it expired') or diag $err;

# --- writes into the consumer's own tables that read the product ---
($ret, $out, $err) = as($coord, 'analyst_eu', q{
TRUNCATE sandbox.copy_colo;
INSERT INTO sandbox.copy_colo SELECT g, 'X', 'x', 'x' FROM generate_series(1, 60) g;
UPDATE sandbox.copy_colo c SET region = t.region, customer_email = t.customer_email, card = t.card
  FROM payments.transactions t WHERE c.id = t.id;
SELECT count(*) FILTER (WHERE region = 'X'), count(*) FILTER (WHERE region NOT IN ('X', 'EU')), min(customer_email)
  FROM sandbox.copy_colo;});
ok(!leaks($out . $err) && $out =~ /^40\|0\|/, 'UPDATE ... FROM the product into the consumer\'s table copies governed rows only')
  or diag "$out\n$err";
($ret, $out, $err) = as($coord, 'analyst_eu', q{
UPDATE sandbox.copy_colo c SET card = t.card FROM payments.transactions t WHERE c.id = t.id
RETURNING c.id, t.region, t.customer_email, t.card;});
ok(!leaks($out . $err), 'UPDATE ... FROM ... RETURNING the product\'s columns returns governed values') or diag "$out\n$err";
($ret, $out, $err) = as($coord, 'analyst_eu', q{
TRUNCATE sandbox.copy_colo;
MERGE INTO sandbox.copy_colo c USING payments.transactions t ON c.id = t.id
  WHEN NOT MATCHED THEN INSERT VALUES (t.id, t.region, t.customer_email, t.card);
TRUNCATE sandbox.copy_other;
MERGE INTO sandbox.copy_other c USING (SELECT DISTINCT ON (customer_email) * FROM payments.transactions ORDER BY customer_email, id) t
  ON c.customer_email = t.customer_email
  WHEN MATCHED THEN UPDATE SET card = t.card
  WHEN NOT MATCHED THEN INSERT VALUES (t.id, t.region, t.customer_email, t.card);
SELECT count(*), count(*) FILTER (WHERE region <> 'EU'), min(customer_email), min(card) FROM sandbox.copy_colo
UNION ALL
SELECT count(*), count(*) FILTER (WHERE region <> 'EU'), min(customer_email), min(card) FROM sandbox.copy_other;});
ok(!leaks($out . $err) && $out =~ /^1000\|0\|\*{5}/ && $out !~ /^\d+\|[1-9]/m, 'MERGE from the product into the consumer\'s tables copies governed rows only')
  or diag "$out\n$err";

# --- the catalog a consumer's statement sends: Citus's logging of remote commands ---
# create_distributed_table() of the consumer's own table, named other than
# by a constant, is followed by a send of the governance catalog (with the
# hash key) on a connection of the extension owner (a constant that names
# no product sends nothing); citus.log_remote_commands is the consumer's
# to set.  A catalog change is sent at commit, with the setting still on.
my $key = $coord->safe_psql('postgres', q{SELECT encode(hmac_key, 'hex') FROM meshpg.cat_secret});
($ret, $out, $err) = as($coord, 'analyst_eu', q{
SET citus.log_remote_commands = on;
SET client_min_messages = debug5;
CREATE TABLE sandbox.spy (id bigint);
SELECT create_distributed_table(t, 'id') FROM (VALUES ('sandbox.spy'::regclass)) v(t);});
unlike($err, qr/\Q$key\E|hmac|_citus_receive_catalog/i,
	'a consumer\'s create_distributed_table() does not show it the catalog sent to the workers, nor the hash key');
($ret, $out, $err) = as($coord, 'payments_team', q{
SET citus.log_remote_commands = on;
SELECT meshpg.grant_access('payments.transactions', 'analyst_none', expires => now() + interval '1 day');});
unlike($err, qr/\Q$key\E|hmac|_citus_receive_catalog/i,
	'a domain team changing the catalog does not see the catalog sent to the workers, nor the hash key');
is($w1->safe_psql('postgres', 'SELECT count(*) FROM meshpg.cat_grant'),
	$coord->safe_psql('postgres', 'SELECT count(*) FROM meshpg.cat_grant'),
	'and the catalog still reached the workers');
($ret, $out, $err) = as($coord, 'analyst_eu', q{
SET citus.log_remote_commands = on;
SELECT count(*) FROM payments.transactions WHERE id = 3;});
like($err, qr/NOTICE:  issuing SELECT count/, 'Citus still reports the consumer\'s own remote commands');

done_testing();
