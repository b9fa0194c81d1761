# Federation with postgres_fdw: a domain on its own server (node "source")
# is read from another server (node "consumer") through postgres_fdw.  The
# source governs every read as the role the user mapping names: its masks,
# row filters, purposes, grant expiry and refusals, whatever the consumer
# side pushes down (WHERE, ORDER BY, aggregates, joins), estimates
# included, and its access history records the mapped role's reads.  On
# the consumer, a foreign table registered as a product is governed again,
# on top of what the source allows, and fails closed without the preload.
#
# Every value the source hides from the mapped roles contains CANARY; no
# output of a governed reader on the consumer may contain it.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $source = meshpg_node('source');

my $consumer = meshpg_node('consumer');

# The source: 10 EU rows the mapped roles may see, 990 US rows they may not.
$source->safe_psql('postgres', q{
CREATE EXTENSION meshpg;
CREATE ROLE pay_team;
CREATE ROLE fdw_eu LOGIN;
CREATE ROLE fdw_fraud LOGIN;
CREATE ROLE fdw_expiring LOGIN;
CREATE ROLE fdw_nogrant LOGIN;
SELECT meshpg.create_domain('pay', 'pay_team');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('pii.ssn');
SELECT meshpg.create_tag('geo.region');
SELECT meshpg.create_masking_policy('mask_email', 'email', tag => 'pii.email');
SELECT meshpg.create_masking_policy('hash_ssn', 'hash', tag => 'pii.ssn');
SELECT meshpg.create_row_policy('own_region', 'value = ANY (meshpg.attribute(''region''))',
       tag => 'geo.region', exempt_purposes => '{fraud}');
SELECT meshpg.set_attribute(r::regrole, 'region', '{EU}')
  FROM unnest('{fdw_eu,fdw_fraud,fdw_expiring,fdw_nogrant}'::text[]) r;
SET ROLE pay_team;
CREATE TABLE pay.tx (id int PRIMARY KEY, region text, email text, ssn text, note text);
INSERT INTO pay.tx
SELECT g, CASE WHEN g <= 10 THEN 'EU' ELSE 'US' END,
       'CANARY-MAIL-' || g || '@bank.example', 'CANARY-SSN-' || g,
       CASE WHEN g <= 10 THEN 'eu note ' || g ELSE 'CANARY-NOTE-' || g END
  FROM generate_series(1, 1000) g;
SELECT meshpg.register_product('pay', 'tx', 'pay.tx', description => 'Transactions');
SELECT meshpg.tag_column('pay.tx', 'email', 'pii.email');
SELECT meshpg.tag_column('pay.tx', 'ssn', 'pii.ssn');
SELECT meshpg.tag_column('pay.tx', 'region', 'geo.region');
SELECT meshpg.publish('pay.tx', '1.0.0');
SELECT meshpg.grant_access('pay.tx', 'fdw_eu');
SELECT meshpg.grant_access('pay.tx', 'fdw_fraud', purpose => 'fraud');
ANALYZE pay.tx;
RESET ROLE;
});

# The consumer: one server as the source's plain consumers, one whose
# sessions declare the purpose "fraud" (the only way a purpose reaches the
# source: postgres_fdw sends no meshpg setting of the local session).
my $host = $source->host;
my $port = $source->port;
$consumer->safe_psql('postgres', qq{
CREATE EXTENSION meshpg;
CREATE EXTENSION postgres_fdw;
CREATE SERVER src FOREIGN DATA WRAPPER postgres_fdw
       OPTIONS (host '$host', port '$port', dbname 'postgres');
CREATE SERVER src_fraud FOREIGN DATA WRAPPER postgres_fdw
       OPTIONS (host '$host', port '$port', dbname 'postgres',
                options '-c meshpg.purpose=fraud');
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
CREATE ROLE carol LOGIN;
CREATE ROLE dave LOGIN;
CREATE USER MAPPING FOR alice SERVER src OPTIONS (user 'fdw_eu', password_required 'false');
CREATE USER MAPPING FOR bob SERVER src OPTIONS (user 'fdw_nogrant', password_required 'false');
CREATE USER MAPPING FOR carol SERVER src OPTIONS (user 'fdw_expiring', password_required 'false');
CREATE USER MAPPING FOR dave SERVER src_fraud OPTIONS (user 'fdw_fraud', password_required 'false');
CREATE USER MAPPING FOR alice SERVER src_fraud OPTIONS (user 'fdw_eu', password_required 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER src OPTIONS (user 'fdw_eu', password_required 'false');
CREATE SCHEMA remote;
CREATE FOREIGN TABLE remote.tx (id int, region text, email text, ssn text, note text)
       SERVER src OPTIONS (schema_name 'pay', table_name 'tx');
CREATE FOREIGN TABLE remote.tx_fraud (id int, region text, email text, ssn text, note text)
       SERVER src_fraud OPTIONS (schema_name 'pay', table_name 'tx');
GRANT USAGE ON SCHEMA remote TO PUBLIC;
GRANT SELECT ON remote.tx, remote.tx_fraud TO PUBLIC;
});

my $leaked = '';

sub as
{
	my ($role, $sql, %opt) = @_;
	my ($ret, $out, $err) =
	  $consumer->psql('postgres', $sql, extra_params => [ '-U', $role ]);
	# what the reader got, not what it asked
	$leaked .= "$role:\n$out\n$err\n" if !$opt{sees_hidden};
	return wantarray ? ($ret, $out, $err) : $out;
}

# Reads as the mapped role: A's rows, A's masks.
is(as('alice', 'SELECT count(*), min(region), max(region) FROM remote.tx'),
	'10|EU|EU', 'the source filters rows for the mapped role');
like(as('alice', 'SELECT email, ssn FROM remote.tx WHERE id = 1'),
	qr/^\*+\@bank\.example\|[0-9a-f]{64}$/, 'and masks its columns');
is(as('alice', q{SELECT count(*) FROM remote.tx WHERE ssn = 'CANARY-SSN-1'}),
	'0', 'a WHERE on a masked column compares masked values at the source');

# Pushdown: WHERE, ORDER BY, aggregates and joins run at the source, governed.
my $plan = as('alice', q{EXPLAIN (VERBOSE, COSTS OFF)
SELECT region, count(*), max(ssn) FROM remote.tx GROUP BY region});
like($plan, qr/Remote SQL: SELECT region, count\(\*\), max\(ssn\) FROM pay\.tx GROUP BY/,
	'the aggregate is pushed down');
like(as('alice', 'SELECT region, count(*), max(ssn) FROM remote.tx GROUP BY region'),
	qr/^EU\|10\|[0-9a-f]{64}$/, 'and computed on governed rows and masked values');
like(as('alice', 'SELECT ssn FROM remote.tx ORDER BY ssn DESC LIMIT 1'),
	qr/^[0-9a-f]{64}$/, 'ORDER BY ... LIMIT pushed down sorts masked values');
# (a costly remote scan makes one remote join the cheaper plan)
$consumer->safe_psql('postgres', q{ALTER SERVER src OPTIONS (ADD fdw_startup_cost '100000')});
$plan = as('alice', q{EXPLAIN (VERBOSE, COSTS OFF)
SELECT count(*) FROM remote.tx a JOIN remote.tx b ON a.id = b.id + 1});
like($plan, qr/Remote SQL: SELECT count\(\*\) FROM \(pay\.tx r1 INNER JOIN pay\.tx r2/,
	'the join is pushed down');
is(as('alice', 'SELECT count(*) FROM remote.tx a JOIN remote.tx b ON a.id = b.id + 1'),
	'9', 'and joins governed rows only');
$consumer->safe_psql('postgres', q{ALTER SERVER src OPTIONS (DROP fdw_startup_cost)});
my ($ret, $out, $err) = as('alice', q{SELECT id FROM remote.tx WHERE note::int = 1});
like($err, qr/invalid input syntax for type integer: "eu note/,
	'a failing cast pushed down runs after the source\'s row filter');
($ret, $out, $err) = as('alice',
	q{SELECT count(*) FROM remote.tx WHERE 1 / (CASE WHEN note LIKE 'CANARY%' THEN 0 ELSE 1 END) = 1});
is($out, '10', 'a division oracle pushed down never meets a hidden row') or diag $err;

# Estimates: the remote EXPLAIN of use_remote_estimate is planned at the
# source for the mapped role, with the statistics it may not see withheld.
$consumer->safe_psql('postgres',
	q{ALTER FOREIGN TABLE remote.tx OPTIONS (ADD use_remote_estimate 'true')});
my ($remote_rows) = as('alice', 'EXPLAIN SELECT * FROM remote.tx') =~ /rows=(\d+)/;
my ($direct_rows) = $source->safe_psql('postgres', 'SET ROLE fdw_eu; EXPLAIN SELECT * FROM pay.tx')
  =~ /rows=(\d+)/;
my ($raw_rows) = $source->safe_psql('postgres', q{EXPLAIN SELECT * FROM pay.tx WHERE region = 'EU'})
  =~ /rows=(\d+)/;
is($remote_rows, $direct_rows, 'a remote estimate is the mapped role\'s own estimate');
isnt($direct_rows, $raw_rows, 'which does not use the statistics of the hidden rows');
$consumer->safe_psql('postgres',
	q{ALTER FOREIGN TABLE remote.tx OPTIONS (DROP use_remote_estimate)});

# ANALYZE of the foreign table samples the rows its owner's mapping may read.
$consumer->safe_psql('postgres', 'ANALYZE remote.tx');
my $stats = $consumer->safe_psql('postgres', q{
SELECT string_agg(coalesce(most_common_vals::text, '') || coalesce(histogram_bounds::text, ''), ' ')
  FROM pg_stats WHERE schemaname = 'remote' AND tablename = 'tx'});
unlike($stats, qr/CANARY/, 'ANALYZE through the mapping gathers no hidden value');
like($consumer->safe_psql('postgres',
	q{SELECT reltuples FROM pg_class WHERE oid = 'remote.tx'::regclass}),
	qr/^10$/, 'and counts only the rows the mapped role may read');

# Purposes: only the server's option reaches the source, and it lifts a
# policy only where the mapped role's grant names it.
# (the local superuser may declare any purpose; it maps to fdw_eu)
is($consumer->safe_psql('postgres', q{SET meshpg.purpose = 'fraud'; SELECT count(*) FROM remote.tx}),
	'10', 'a local SET meshpg.purpose does not reach the source');
is(as('dave', 'SELECT count(*), count(DISTINCT region) FROM remote.tx_fraud', sees_hidden => 1),
	'1000|2', 'the server\'s purpose lifts the row policy its grant names');
like(as('dave', 'SELECT email FROM remote.tx_fraud WHERE id = 500', sees_hidden => 1),
	qr/^\*+\@bank\.example$/, 'but not the masks');
($ret, $out, $err) = as('alice', 'SELECT count(*) FROM remote.tx_fraud');
like($err, qr/purpose "fraud" is not allowed for role "fdw_eu"/,
	'a mapped role whose grants do not name the purpose cannot connect with it');

# Refusals at the source reach the consumer.
($ret, $out, $err) = as('bob', 'SELECT count(*) FROM remote.tx');
like($err, qr/permission denied for (schema pay|data product "pay\.tx")/,
	'a mapped role with no grant is refused');
$source->safe_psql('postgres', 'GRANT USAGE ON SCHEMA pay TO fdw_nogrant; GRANT SELECT ON pay.tx TO fdw_nogrant');
($ret, $out, $err) = as('bob', 'SELECT count(*) FROM remote.tx');
like($err, qr/permission denied for data product "pay\.tx"/,
	'even with SQL privileges granted by hand at the source');
$source->safe_psql('postgres', q{
SET ROLE pay_team;
SELECT meshpg.grant_access('pay.tx', 'fdw_expiring', expires => now() + interval '2 seconds');
});
($ret, $out, $err) = as('carol', q{
SELECT count(*) FROM remote.tx;
SELECT pg_sleep(2.5);
SELECT count(*) FROM remote.tx;
});
like($out, qr/^10\n/, 'a mapped role reads while its grant holds');
like($err, qr/access grant of role "fdw_expiring" expired/, 'and is refused once it expired');

# The source's access history records the mapped roles' reads.
$source->safe_psql('postgres', 'SELECT meshpg.flush_access_history()');
my $history = $source->safe_psql('postgres', q{
SELECT role, session_role, count(*) > 0, bool_or(masks ? 'email'),
       bool_or(row_policies @> '{own_region}'), coalesce(bool_or(purpose = 'fraud'), false)
  FROM meshpg.access_history WHERE product = 'pay.tx' AND role IN ('fdw_eu', 'fdw_fraud')
 GROUP BY 1, 2 ORDER BY 1});
is($history, "fdw_eu|fdw_eu|t|t|t|f\nfdw_fraud|fdw_fraud|t|t|f|t",
	'the source records the mapped roles\' reads, their masks, filters and purpose');

# On the consumer, the foreign table as a product of its own: governed
# locally on top of what the source allows, through the reader's mapping.
$consumer->safe_psql('postgres', q{
CREATE ROLE fed_team;
SELECT meshpg.create_domain('fed', 'fed_team');
GRANT USAGE ON FOREIGN SERVER src TO fed_team;
SET ROLE fed_team;
CREATE FOREIGN TABLE fed.tx (id int, region text, email text, ssn text, note text)
       SERVER src OPTIONS (schema_name 'pay', table_name 'tx');
SELECT meshpg.register_product('fed', 'tx', 'fed.tx', description => 'Transactions, federated');
SELECT meshpg.create_masking_policy('fed_redact_note', 'redact', product => 'fed.tx', column_name => 'note');
SELECT meshpg.create_row_policy('fed_low_ids', 'id <= 5', product => 'fed.tx');
SELECT meshpg.publish('fed.tx', '1.0.0');
SELECT meshpg.grant_access('fed.tx', 'alice');
});
is(as('alice', q{SELECT count(*), max(note), bool_and(ssn ~ '^[0-9a-f]{64}$') FROM fed.tx}),
	'5|*****|t', 'the local product filters and masks on top of the source\'s policies');
($ret, $out, $err) = as('alice', q{SELECT id FROM fed.tx WHERE ssn::int = 1});
# int4in reports a hash that starts with ten digits or more as out of
# range rather than as bad syntax (the key, and so the hash, is random).
like($err,
	qr/(?:invalid input syntax for type integer: "[0-9a-f]{64}"|value "[0-9a-f]{64}" is out of range for type integer)/,
	'a reader\'s cast sees the source\'s masked value');
($ret, $out, $err) = as('bob', 'SELECT count(*) FROM fed.tx');
like($err, qr/permission denied for (schema fed|data product "fed\.tx")/,
	'a reader without a local grant is refused locally');

unlike($leaked, qr/CANARY/, 'no hidden value reached a governed reader on the consumer')
  or diag $leaked;

# Without meshpg preloaded on the consumer, its foreign-table product is
# not readable at all: consumers hold no SQL privilege on it.
$consumer->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$consumer->restart;
($ret, $out, $err) = as('alice', 'SELECT count(*) FROM fed.tx');
like($err, qr/permission denied for (foreign )?table tx/,
	'without the preload, the foreign-table product is refused');

$consumer->stop;
$source->stop;
done_testing();
