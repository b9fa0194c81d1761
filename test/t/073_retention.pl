# Retention and classification end to end: the background worker enforces a
# retention policy by itself, in batches, records the run and skips a
# product under a legal hold; pg_dump and pg_restore carry the policies,
# the holds, the audit trail and the classification suggestions, and
# everything works on the restored database.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('retention', conf => q{
meshpg.scheduler = on
meshpg.databases = 'postgres'
meshpg.worker_naptime = 1
meshpg.retention_interval = 1
meshpg.retention_batch_size = 50
});

$node->safe_psql('postgres', q{
CREATE EXTENSION meshpg;
CREATE ROLE ops_team;
SELECT meshpg.create_domain('ops', 'ops_team');
SELECT meshpg.create_tag('pii.email');
SET ROLE ops_team;
CREATE TABLE ops.logins (id int PRIMARY KEY, at timestamptz NOT NULL, email text);
INSERT INTO ops.logins SELECT g, now() - (g % 2) * interval '400 days', 'u' || g || '@example.com'
  FROM generate_series(1, 1000) g;
CREATE TABLE ops.audit (id int, at timestamptz NOT NULL);
INSERT INTO ops.audit SELECT g, now() - interval '5 years' FROM generate_series(1, 100) g;
RESET ROLE;
SELECT meshpg.register_product('ops', 'logins', 'ops.logins');
SELECT meshpg.register_product('ops', 'audit', 'ops.audit');
SELECT meshpg.create_retention_policy('logins_1y', interval '1 year', 'at', product => 'ops.logins');
SELECT meshpg.create_retention_policy('audit_1y', interval '1 year', 'at', product => 'ops.audit');
SELECT meshpg.place_legal_hold('ops.audit', 'litigation 2026-114');
});

# The worker runs the policies by itself, 50 rows a batch.
ok($node->poll_query_until('postgres', q{
SELECT count(*) = 500 FROM ops.logins}), 'the worker deleted the expired rows');
ok($node->poll_query_until('postgres', q{
SELECT EXISTS (SELECT 1 FROM meshpg.retention_runs WHERE product = 'ops.logins' AND status = 'done')}),
	'the run is recorded as done');
is($node->safe_psql('postgres', q{
SELECT rows, batches >= 10, run_by FROM meshpg.retention_runs
 WHERE product = 'ops.logins' AND status = 'done' ORDER BY id LIMIT 1}),
	'500|t|meshpg worker', 'the audit trail has the rows and the batches');
is($node->safe_psql('postgres', q{SELECT count(*) FROM ops.logins WHERE at < now() - interval '1 year'}),
	'0', 'no expired row is left');
ok($node->poll_query_until('postgres', q{
SELECT EXISTS (SELECT 1 FROM meshpg.retention_runs WHERE product = 'ops.audit' AND status = 'held')}),
	'the held product is recorded as held');
is($node->safe_psql('postgres', q{SELECT count(*) FROM ops.audit}), '100',
	'the held product keeps its rows');
is($node->safe_psql('postgres', q{
SELECT count(*) > 0 FROM meshpg.events WHERE type = 'meshpg.retention.run' AND subject = 'ops.logins'}),
	't', 'the run emitted its event');
like($node->safe_psql('postgres', q{
SELECT string_agg(task || ':' || runs::text || ':' || failures::text, ',') FROM meshpg.worker_tasks() WHERE task = 'retention'}),
	qr/^retention:[1-9][0-9]*:0$/, 'the retention task runs in the worker, without failures');

# Suggestions, reviewed and pending, and the hold: then dump and restore.
$node->safe_psql('postgres', q{
SELECT count(*) FROM meshpg.classify('ops.logins');
SELECT meshpg.dismiss_suggestion(id, 'test accounts') FROM meshpg.classification_suggestions LIMIT 1;
ALTER SYSTEM SET meshpg.scheduler = off;
SELECT pg_reload_conf();
});

my $snap = q{
SELECT (SELECT string_agg(concat_ws('|', product, column_name, tag, validator, status, reason), ',' ORDER BY id)
          FROM meshpg.classification_suggestions),
       (SELECT string_agg(concat_ws('|', name, product, keep, time_column, action), ',' ORDER BY name)
          FROM meshpg.retention_policies),
       (SELECT string_agg(concat_ws('|', product, reason, placed_by_domain), ',') FROM meshpg.legal_holds),
       (SELECT string_agg(concat_ws('|', policy, product, rows, status), ',' ORDER BY id)
          FROM meshpg.retention_runs WHERE status <> 'held')};
my $before = $node->safe_psql('postgres', $snap);
like($before, qr/ops.logins\|email\|pii.email\|email\|dismissed\|test accounts/, 'a reviewed suggestion');

my $tmp = PostgreSQL::Test::Utils::tempdir;
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'postgres', '-f', "$tmp/src.dump" ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'restored', "$tmp/src.dump" ],
	'pg_restore into a new database');
is($node->safe_psql('restored', $snap), $before,
	'suggestions, policies, holds and the audit trail are restored');

# They work on the restored database: the hold holds, lifting it lets the
# run through, and new suggestions and policies get new ids.
$node->safe_psql('restored', q{
INSERT INTO ops.logins VALUES (5000, now() - interval '3 years', 'late@example.com');
CALL meshpg.run_retention('ops.audit');
});
is($node->safe_psql('restored', q{SELECT count(*) FROM ops.audit}), '100', 'the restored hold holds');
$node->safe_psql('restored', q{
SELECT meshpg.lift_legal_hold('ops.audit');
CALL meshpg.run_retention('ops.audit');
CALL meshpg.run_retention('ops.logins');
SELECT meshpg.create_retention_policy('audit_2y', interval '2 years', 'at', product => 'ops.audit');
});
is($node->safe_psql('restored', q{SELECT (SELECT count(*) FROM ops.audit), (SELECT count(*) FROM ops.logins)}),
	'0|500', 'the restored policies run');
$node->safe_psql('restored', q{
SET ROLE ops_team;
CREATE TABLE ops.people (id int, mail text);
INSERT INTO ops.people SELECT g, 'p' || g || '@example.org' FROM generate_series(1, 10) g;
RESET ROLE;
SELECT meshpg.register_product('ops', 'people', 'ops.people');
SELECT count(*) FROM meshpg.classify('ops.people');
});
is($node->safe_psql('restored', q{
SELECT count(DISTINCT id) = count(*) FROM meshpg.cat_classification_suggestion}), 't',
	'new suggestions after restore (the sequence was restored)');

done_testing();
