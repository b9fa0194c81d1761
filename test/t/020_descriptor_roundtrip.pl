# Descriptors as code, end to end through bin/meshctl (psql only, the file
# sent on psql's stdin): apply a YAML descriptor on one server, export it,
# apply the export on a fresh server, export again: the same document.
# plan --detailed-exitcode tells CI whether anything would change; a bad
# descriptor fails meshctl and changes nothing.  The recorded contracts
# survive pg_dump/pg_restore.

use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $meshctl = dirname(__FILE__) . '/../../bin/meshctl';
$meshctl = Cwd::abs_path($meshctl);
my $tmp = PostgreSQL::Test::Utils::tempdir;

sub new_node
{
	my ($name) = @_;
	my $node = meshpg_node($name);
	# What a descriptor does not create: roles, the domain, tags, relations.
	$node->safe_psql('postgres', q{
CREATE ROLE crm_team NOLOGIN;
CREATE ROLE crm_reader NOLOGIN;
CREATE ROLE crm_auditor NOLOGIN;
CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('crm', 'crm_team', description => 'Customers');
SELECT meshpg.create_tag('pii.email');
SELECT meshpg.create_tag('geo.region', allowed_values => '{EU,US}');
SET ROLE crm_team;
CREATE TABLE crm.customers (id bigint NOT NULL, email text, region text,
                            since date, score numeric(5,2));
CREATE VIEW crm.by_region AS SELECT region, count(*) AS customers FROM crm.customers GROUP BY region;
});
	return $node;
}

sub meshctl
{
	my ($node, @args) = @_;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run(
		[ $meshctl, '-d', $node->connstr('postgres'), @args ],
		'>', \$stdout, '2>', \$stderr,
		init => sub { $ENV{PSQL} = $node->installed_command('psql'); });
	return ($? >> 8, $stdout, $stderr);
}

my $a = new_node('source');
my $b = new_node('target');

my $descriptor = <<'YAML';
apiVersion: v3.0.2
kind: DataContract
id: crm.customers
version: 1.0.0
status: active
description:
  purpose: "Customers: one row each, with 'quotes' and ünïcödé"
team:
  - username: crm@example.com
schema:
  - name: customers
    physicalName: customers
    properties:
      - {name: id, logicalType: integer, physicalType: bigint, required: true, description: Customer number}
      - {name: email, physicalType: text, tags: [pii.email]}
      - {name: region, physicalType: text, tags: [geo.region=EU]}
      - {name: since, logicalType: date, physicalType: date}
      - {name: score, physicalType: "numeric(5,2)"}
roles:
  - role: crm_reader
    purpose: churn analysis
  - role: crm_auditor
    expires: "2999-12-31T00:00:00Z"
policies:
  - name: crm_email
    kind: mask
    column: email
    mask: partial
    args: {keep_last: 4, fill: "#"}
  - name: crm_region
    kind: row
    expression: "region = ANY (meshpg.attribute('region'))"
    exemptRoles: [crm_auditor]
slaProperties:
  - name: fresh
    kind: freshness
    spec: {column: since, max_age: 2 days}
    schedule: 1 hour
quality:
  - name: emails
    kind: completeness
    spec: {columns: [email], min_ratio: 0.99}
    severity: critical
  - name: valid_score
    kind: validity
    spec: {expression: "score BETWEEN 0 AND 100", min_ratio: 0.999}
    window: 7 days
---
apiVersion: v3.0.2
kind: DataContract
id: crm.by_region
version: 0.1.0
status: draft
description: {purpose: Customers per region}
schema:
  - name: by_region
    physicalName: by_region
    physicalType: view
    properties:
      - {name: region, physicalType: text}
      - {name: customers, logicalType: integer, physicalType: bigint}
YAML
my $file = "$tmp/crm.yaml";
open(my $fh, '>', $file) or die;
print $fh $descriptor;
close $fh;

my ($rc, $out, $err) = meshctl($a, '--detailed-exitcode', 'plan', $file);
is($rc, 2, 'plan on an empty catalog reports changes (exit 2)');
like($out, qr/^register\tcrm\.customers/m, 'plan lists the registration');
is($a->safe_psql('postgres', 'SELECT count(*) FROM meshpg.products'), '0', 'plan changed nothing');

($rc, $out, $err) = meshctl($a, 'apply', $file);
is($rc, 0, 'apply succeeds') or diag($err);
($rc, $out, $err) = meshctl($a, '--detailed-exitcode', 'plan', $file);
is($rc, 0, 'after apply, plan reports nothing to do (exit 0)') or diag($out);

# export -> apply on a fresh server -> export: the same document
my ($rc1, $exp_customers) = meshctl($a, 'export', 'crm.customers');
my ($rc2, $exp_region) = meshctl($a, 'export', 'crm.by_region');
is($rc1 + $rc2, 0, 'export succeeds');
open($fh, '>', "$tmp/export.yaml") or die;
print $fh $exp_customers, "---\n", $exp_region;
close $fh;
($rc, $out, $err) = meshctl($b, 'apply', "$tmp/export.yaml");
is($rc, 0, 'the export applies on a fresh server') or diag($err);
my (undef, $again_customers) = meshctl($b, 'export', 'crm.customers');
my (undef, $again_region) = meshctl($b, 'export', 'crm.by_region');
is($again_customers, $exp_customers, 'round trip: the same crm.customers document');
is($again_region, $exp_region, 'round trip: the same crm.by_region document');
like($exp_customers, qr/keep_last: 4/, 'the export carries the policies');
like($exp_customers, qr/role: crm_reader/, 'the export carries the grants');
like($exp_customers, qr/name: valid_score/, 'the export carries the SLOs');
is($b->safe_psql('postgres', q{SELECT string_agg(name || ' ' || kind || ' ' || spec::text, E'\n' ORDER BY name) FROM meshpg.slos}),
   $a->safe_psql('postgres', q{SELECT string_agg(name || ' ' || kind || ' ' || spec::text, E'\n' ORDER BY name) FROM meshpg.slos}),
   'the second server declares the same SLOs');
($rc) = meshctl($b, '--detailed-exitcode', 'plan', $file);
is($rc, 0, 'the original descriptor is converged on the second server too');

# JSON export round trip
my (undef, $json) = meshctl($a, '--json', 'export', 'crm.customers');
open($fh, '>', "$tmp/customers.json") or die;
print $fh $json;
close $fh;
($rc) = meshctl($b, '--detailed-exitcode', 'plan', "$tmp/customers.json");
is($rc, 0, 'the JSON export is converged too');

# A bad descriptor: meshctl fails, with the path, and nothing changes.
(my $bad = $descriptor) =~ s/purpose: "Customers: one row each/purpose: "Customers, changed: one row each/;
$bad =~ s/physicalType: bigint\}\n\z/physicalType: integer}\n/;
open($fh, '>', "$tmp/bad.yaml") or die;
print $fh $bad;
close $fh;
($rc, $out, $err) = meshctl($b, 'apply', "$tmp/bad.yaml");
isnt($rc, 0, 'a bad descriptor fails meshctl');
like($err, qr/document 2: schema\[0\]\.properties\[1\]\.physicalType/, 'the error names the document and the path');
my (undef, $after) = meshctl($b, 'export', 'crm.customers');
is($after, $exp_customers, 'nothing changed: the first document was rolled back with the second');

# The catalog, contracts included, survives dump and restore.
my $dump = "$tmp/mesh.dump";
$a->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $a->connstr('postgres') ], 'pg_dump');
$a->safe_psql('postgres', 'CREATE DATABASE restored');
$a->command_ok([ 'pg_restore', '-d', $a->connstr('restored'), $dump ], 'pg_restore');
is($a->safe_psql('restored', 'SELECT product, version, change FROM meshpg.contracts ORDER BY 1, 2'),
	$a->safe_psql('postgres', 'SELECT product, version, change FROM meshpg.contracts ORDER BY 1, 2'),
	'the recorded contracts are restored');
my $restored_export = $a->safe_psql('restored', q{SELECT meshpg.export('crm.customers')});
is($restored_export . "\n", $exp_customers, 'the restored catalog exports the same document');
$a->safe_psql('restored', 'SET ROLE crm_team; ALTER TABLE crm.customers ADD COLUMN tier text');
is($a->safe_psql('restored', q{SELECT version FROM meshpg.products WHERE product = 'crm.customers'}),
	'1.1.0', 'after restore, a compatible change is recorded as the next minor version');
my ($res, $so, $se) = $a->psql('restored', 'SET ROLE crm_team; ALTER TABLE crm.customers DROP COLUMN email');
like($se, qr/cannot drop column "email" of data product "crm.customers"/, 'after restore, the contract still holds');

done_testing();
