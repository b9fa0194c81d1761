# Access requests, their steps, auto-approval rules and the governance
# history are catalog data: pg_dump keeps them and pg_restore brings them
# back as they were.  The restore loads the catalog tables with COPY, and
# the history triggers record nothing then: the history after the restore
# is the history before it (no version starting at restore time), and
# explain_access(at => t) answers the same for a moment before the dump.
# Requests and the history go on working afterwards (sequences restored).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('access_requests_dump');

$node->safe_psql('postgres', q{
CREATE DATABASE src;
CREATE ROLE shop_team;
CREATE ROLE shop_dev IN ROLE shop_team;
CREATE ROLE ana;
CREATE ROLE bo;
});
$node->safe_psql('src', q{
CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('shop', 'shop_team');
CREATE TABLE shop.orders (id int PRIMARY KEY, email text, amount numeric);
INSERT INTO shop.orders VALUES (1, 'a@example.com', 10), (2, 'b@example.com', 20);
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.publish('shop.orders');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_masking_policy('mask_email', 'email', tag => 'pii.email',
                                    exempt_attributes => '{"clearance": ["high"]}');
SELECT meshpg.tag_column('shop.orders', 'email', 'pii.email');
SELECT meshpg.set_auto_approval('shop.orders', '[{"purposes": ["audit"], "max_duration": "7 days"}]');
SET ROLE ana;
SELECT meshpg.request_access('shop.orders', 'churn', 'model', interval '30 days');
RESET ROLE;
SET ROLE shop_dev;
SELECT meshpg.approve_request(1, duration => interval '10 days');
RESET ROLE;
SET ROLE bo;
SELECT meshpg.request_access('shop.orders', 'audit', 'yearly', interval '3 days');
SELECT meshpg.request_access('shop.orders', 'fraud', 'pending one', interval '3 days') IS NULL;
RESET ROLE;
});
# a moment with the grant to ana and the mask in force, then changes after it
my $moment = $node->safe_psql('src', 'SELECT clock_timestamp()');
$node->safe_psql('src', q{
SELECT meshpg.set_attribute('ana', 'clearance', '{high}');
SELECT meshpg.revoke_access('shop.orders', 'bo');
});

my $requests = q{SELECT id, product, requester, purpose, justification, duration, state,
  decided_by, grant_purpose, grant_expires FROM meshpg.access_requests ORDER BY id};
my $steps = q{SELECT request_id, step, actor, at, detail FROM meshpg.access_request_steps
  ORDER BY request_id, at, step};
my $rules = q{SELECT product, rules, set_by, set_at FROM meshpg.auto_approval_rules};
my $history = q{SELECT id, catalog, key, "row", valid, changed_by, ended_by
  FROM meshpg.cat_governance_history ORDER BY id};
my $explain = qq{SELECT * FROM meshpg.explain_access('shop.orders', 'ana', at => '$moment')};
my %src = map { $_ => $node->safe_psql('src', $_) } ($requests, $steps, $rules, $history, $explain);
like($src{$explain}, qr/email\|mask_email\|email\|masked/, 'at the moment, ana saw the mask');

my $tmp = PostgreSQL::Test::Utils::tempdir;
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'src', '-f', "$tmp/src.dump" ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'restored', "$tmp/src.dump" ],
	'pg_restore into a new database');

is($node->safe_psql('restored', $requests), $src{$requests}, 'the requests are restored');
is($node->safe_psql('restored', $steps), $src{$steps}, 'their steps are restored');
is($node->safe_psql('restored', $rules), $src{$rules}, 'the auto-approval rules are restored');
is($node->safe_psql('restored', $history), $src{$history},
	'the governance history is restored as it was: the restore recorded nothing');
is($node->safe_psql('restored', $explain), $src{$explain},
	'explain_access at a moment before the dump answers the same');

# the restored database goes on: requests, approvals and the history
$node->safe_psql('restored', q{
SET ROLE shop_dev;
SELECT meshpg.approve_request((SELECT id FROM meshpg.access_requests WHERE purpose = 'fraud'));
RESET ROLE;
});
is($node->safe_psql('restored', q{
SELECT state, (SELECT count(*) FROM meshpg.cat_access_request_step s WHERE s.request_id = r.id)
  FROM meshpg.access_requests r WHERE purpose = 'fraud'}), 'approved|2',
	'a request restored pending is approved afterwards (sequences restored)');
is($node->safe_psql('restored', q{
SELECT count(*) FROM meshpg.cat_governance_history
 WHERE catalog = 'grant' AND key->>'grantee' = 'bo' AND upper_inf(valid) AND changed_by = 'shop_dev'}), '1',
	'the approval is in the history, by its author');
is($node->safe_psql('restored', q{
SELECT count(*) FROM meshpg.cat_governance_history h
 WHERE NOT EXISTS (SELECT 1 FROM meshpg.cat_governance_history o
                    WHERE o.id <> h.id AND o.catalog = h.catalog AND o.key = h.key
                      AND upper_inf(o.valid) AND upper_inf(h.valid))}),
	$node->safe_psql('restored', 'SELECT count(*) FROM meshpg.cat_governance_history'),
	'no row has two versions in force');

# An upgrade from 1.3 starts the history with the rows it finds, in force
# from the upgrade on; explain_access refuses a moment before it.
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', q{
CREATE EXTENSION meshpg VERSION '1.3';
SELECT meshpg.create_domain('shop', 'shop_team');
CREATE TABLE shop.orders (id int PRIMARY KEY, email text);
SELECT meshpg.register_product('shop', 'orders', 'shop.orders', description => 'Orders');
SELECT meshpg.publish('shop.orders');
SELECT meshpg.grant_access('shop.orders', 'ana', purpose => 'churn');
SELECT meshpg.set_attribute('ana', 'clearance', '{high}');
});
my $before = $node->safe_psql('old', 'SELECT clock_timestamp()');
$node->safe_psql('old', 'ALTER EXTENSION meshpg UPDATE');
is($node->safe_psql('old', q{
SELECT string_agg(catalog || ':' || changed_by, ',' ORDER BY catalog)
  FROM meshpg.cat_governance_history WHERE upper_inf(valid)}), 'attribute:postgres,grant:postgres',
	'the upgrade records the rows it finds as in force');
is($node->safe_psql('old', q{SELECT count(*) FROM meshpg.cat_governance_horizon}), '1',
	'the history starts at the upgrade');
my ($rc, $out, $err) = $node->psql('old',
	qq{SELECT * FROM meshpg.explain_access('shop.orders', 'ana', at => '$before')});
like($err, qr/does not reach back/, 'a moment before the upgrade is refused');
is($node->safe_psql('old', q{
SELECT effect FROM meshpg.explain_access('shop.orders', 'ana', at => clock_timestamp()) WHERE subject = 'access'}),
	'allowed', 'a moment after it is answered');

done_testing();
