# Upgrade paths: for every installed version V of meshpg other than the
# default, CREATE EXTENSION meshpg VERSION 'V' then ALTER EXTENSION meshpg
# UPDATE must give the same objects as a fresh CREATE EXTENSION meshpg:
# same members, function definitions, columns (in the same order: the C code
# mirrors it in src/catalog/catalog.h), views, constraints, indexes,
# triggers, privileges and pg_dump configuration.  A catalog row written
# before the update must survive it.
#
# While only one version is installed there is no path to test: the
# description of the default version is still compared across two fresh
# databases (so the comparison itself is exercised), and a note says no
# upgrade was performed.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('upgrade');

my $default = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'meshpg'});
ok($default ne '', "meshpg is installed, default version '$default'");

my @versions = split /\n/,
  $node->safe_psql('postgres',
	q{SELECT version FROM pg_available_extension_versions WHERE name = 'meshpg'
	   ORDER BY string_to_array(regexp_replace(version, '[^0-9.]', '', 'g'), '.')::int[], version});
note('installed versions: ' . join(', ', @versions));
my @older = grep { $_ ne $default } @versions;

# A description of the extension that does not depend on OIDs or on the
# order objects were created in.
my $describe_sql = q{
WITH ext AS (SELECT oid FROM pg_extension WHERE extname = 'meshpg'),
members AS (
    SELECT d.classid, d.objid, d.objsubid
      FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
       AND d.deptype = 'e'),
rels AS (SELECT objid AS oid FROM members WHERE classid = 'pg_class'::regclass),
procs AS (SELECT objid AS oid FROM members WHERE classid = 'pg_proc'::regclass)
-- One row per object; its continuation lines indented, so rows can be told apart.
SELECT replace(line, E'\n', E'\n    ') FROM (
    SELECT 1 AS part, 'member: ' || pg_describe_object(classid, objid, objsubid) AS line
      FROM members
    UNION ALL
    SELECT 2, 'function: ' || p.oid::regprocedure::text || E'\n'
              || CASE WHEN p.prokind IN ('f', 'p') THEN pg_get_functiondef(p.oid)
                      ELSE p.prokind::text END
              || E'\nowner: ' || p.proowner::regrole::text
              || E'\nacl: ' || coalesce(p.proacl::text, '(default)')
      FROM pg_proc p JOIN procs USING (oid)
    UNION ALL
    SELECT 3, 'relation: ' || c.oid::regclass::text || ' kind ' || c.relkind::text
              || ' owner ' || c.relowner::regrole::text
              || ' rls ' || c.relrowsecurity
              || ' acl ' || coalesce(c.relacl::text, '(default)')
      FROM pg_class c JOIN rels USING (oid)
    UNION ALL
    SELECT 4, 'column: ' || a.attrelid::regclass::text || ' #' || a.attnum || ' '
              || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
              || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
              || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
      FROM pg_attribute a
      JOIN rels r ON r.oid = a.attrelid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 5, 'view: ' || c.oid::regclass::text || E'\n' || pg_get_viewdef(c.oid, true)
      FROM pg_class c JOIN rels USING (oid)
     WHERE c.relkind IN ('v', 'm')
    UNION ALL
    SELECT 6, 'constraint: ' || co.conrelid::regclass::text || ' ' || co.conname || ' '
              || pg_get_constraintdef(co.oid)
      FROM pg_constraint co JOIN rels r ON r.oid = co.conrelid
    UNION ALL
    SELECT 7, 'index: ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN rels r ON r.oid = i.indrelid
    UNION ALL
    SELECT 8, 'trigger: ' || pg_get_triggerdef(t.oid)
      FROM pg_trigger t JOIN rels r ON r.oid = t.tgrelid
     WHERE NOT t.tgisinternal
    UNION ALL
    SELECT 9, 'policy: ' || po.polrelid::regclass::text || ' ' || po.polname
      FROM pg_policy po JOIN rels r ON r.oid = po.polrelid
    UNION ALL
    SELECT 10, 'sequence: ' || s.seqrelid::regclass::text || ' ' || format_type(s.seqtypid, NULL)
               || ' ' || s.seqstart || ' ' || s.seqincrement
      FROM pg_sequence s JOIN rels r ON r.oid = s.seqrelid
    UNION ALL
    SELECT 11, 'config dump: ' || cfg.rel::regclass::text || ' '
               || coalesce(quote_literal(cfg.cond), '(null)')
      FROM pg_extension e JOIN ext USING (oid),
           unnest(e.extconfig, e.extcondition) AS cfg(rel, cond)
    UNION ALL
    SELECT 12, 'extension: ' || e.extversion || ' relocatable ' || e.extrelocatable
               || ' schema ' || e.extnamespace::regnamespace::text
      FROM pg_extension e, ext WHERE e.oid = ext.oid
    UNION ALL
    SELECT 13, 'schema acl: ' || coalesce(n.nspacl::text, '(default)')
      FROM pg_namespace n WHERE n.nspname = 'meshpg'
) lines
ORDER BY part, line;
};

# Compare two descriptions; on a mismatch, show only the differing lines.
sub same_objects
{
	my ($got, $want, $name) = @_;
	my %in_got  = map { $_ => 1 } split /\n(?! )/, $got;
	my %in_want = map { $_ => 1 } split /\n(?! )/, $want;
	my @extra   = grep { !$in_want{$_} } sort keys %in_got;
	my @lacking = grep { !$in_got{$_} } sort keys %in_want;
	my $ok = ok($got eq $want, $name);
	diag("only here:\n  " . join("\n  ", @extra))  if @extra;
	diag("missing:\n  " . join("\n  ", @lacking)) if @lacking;
	diag('same objects, in another order') if !$ok && !@extra && !@lacking;
	return $ok;
}

sub describe_extension
{
	my ($db) = @_;
	return $node->safe_psql($db, $describe_sql);
}

sub fresh_db
{
	my ($db) = @_;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	$node->safe_psql($db, 'CREATE EXTENSION meshpg');
	return describe_extension($db);
}

my $fresh = fresh_db('fresh');
like($fresh, qr/^member: function meshpg\.search\(/m,
	'the description lists the extension members');
like($fresh, qr/^column: meshpg\.cat_product #1 id bigint not null/m,
	'the description lists catalog columns in order');

if (!@older)
{
	note("no upgrade path exists yet: only meshpg $default is installed, "
		  . 'so no ALTER EXTENSION ... UPDATE was performed');
	my $again = fresh_db('fresh_again');
	same_objects($again, $fresh,
		"meshpg $default described identically in two fresh databases (baseline for upgrade checks)");
}

my $n = 0;
for my $v (@older)
{
	$n++;
	my $db = "upgrade_$n";
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	$node->safe_psql($db, qq{CREATE ROLE "upgrade_team_$n" NOLOGIN});
	$node->safe_psql($db, qq{CREATE EXTENSION meshpg VERSION '$v'});
	# A catalog row from the old version must come through the update.
	$node->safe_psql($db,
		qq{SELECT meshpg.create_domain('upgrade_check', 'upgrade_team_$n', 'written by $v')});

	my $path = $node->safe_psql($db,
		qq{SELECT path FROM pg_extension_update_paths('meshpg')
		    WHERE source = '$v' AND target = '$default'});
	ok($path ne '', "an update path exists from $v to $default ($path)");

	$node->safe_psql($db, 'ALTER EXTENSION meshpg UPDATE');
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'meshpg'}),
		$default, "$v updated to $default");
	same_objects(describe_extension($db), $fresh,
		"meshpg $v -> $default has the objects of a fresh $default");
	is($node->safe_psql($db,
			q{SELECT description FROM meshpg.domains WHERE name = 'upgrade_check'}),
		"written by $v", "catalog data written by $v survives the update");
}

$node->stop;
done_testing();
