# Structures a user builds to make meshpg's own walks crash or hang: deep
# and wide inheritance, diamond graphs (2^depth paths), views of views,
# CTEs that name the one below twice, nested SQL and PL/pgSQL functions,
# deeply nested subqueries, all over a governed product, as a consumer
# with nothing but its own schema.  Every statement runs under a
# statement_timeout; none may crash the server, and none may run past its
# timeout by more than a second (an error is fine: PostgreSQL's own limits,
# such as "stack depth limit exceeded" or the parser's "memory exhausted",
# are clean errors, and so is a timeout of PostgreSQL's own join search
# over views of views that expand into 2^depth relations).
#
# The server runs with a 1 MB stack (ulimit -s 1024; PostgreSQL then sets
# max_stack_depth to 512kB), so that a walk recursing once per level,
# which on an 8 MB stack overflows only past tens of thousands of levels,
# overflows here within a few thousand: the chain of 6000 below crashed
# the server before the ancestor walk became iterative.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = meshpg_node('fuzz', start => 0, conf => q{
jit = off
});

# Started by hand, with the small stack; the node object tracks it after.
my $pgdata = $node->data_dir;
my $logfile = $node->logfile;
system_or_bail('bash', '-c',
	"ulimit -s 1024 && exec pg_ctl -D '$pgdata' -l '$logfile' -w start");
$node->_update_pid(1);
is($node->safe_psql('postgres', 'SHOW max_stack_depth'), '512kB', 'the server runs on a small stack');

my $setup = slurp_file('test/security/sql/setup.sql');
$node->safe_psql('postgres', $setup);
$node->safe_psql('postgres', q{
ALTER ROLE reader LOGIN;
GRANT USAGE ON SCHEMA vault TO reader;
});

# run(label, sql, timeout): as the consumer, one session per call.  Returns
# the SQLSTATE of the error, or '' on success.
my @runs;
sub run_as_reader
{
	my ($label, $sql, $timeout) = @_;
	my ($out, $err) = ('', '');
	my $t0 = time;
	$node->psql('postgres',
		"SET statement_timeout = '${timeout}s'; SET search_path = attack, public;\n$sql",
		extra_params => [ '-U', 'reader', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=sqlstate' ],
		stdout => \$out, stderr => \$err);
	my $elapsed = time - $t0;
	my ($state) = $err =~ /ERROR:\s+([0-9A-Z]{5})/;
	$state //= '';
	note sprintf("%-40s %6.2f s %s", $label, $elapsed, $state || 'ok');
	cmp_ok($elapsed, '<=', $timeout + 1, "$label: within its statement_timeout of ${timeout}s");
	unlike($err, qr/server closed the connection|connection to server was lost/,
		"$label: the session survived");
	push @runs, $state;
	return $state;
}

# Builds by batches of 500 per transaction: no lock per table piling up.
sub build
{
	my ($label, $count, $stmt) = @_;
	my $sql = qq{DO \$\$
BEGIN
    FOR i IN 1..$count LOOP
        EXECUTE $stmt;
        IF i % 500 = 0 THEN COMMIT; END IF;
    END LOOP;
END \$\$;};
	is(run_as_reader("build $label", $sql, 120), '', "built $label");
}

# 1. A deep chain.
run_as_reader('chain root', 'CREATE TABLE chain0 (id int, secret text)', 10);
build('a chain of 6000', 6000,
	q{format('CREATE TABLE chain%s () INHERITS (chain%s)', i, i - 1)});
is(run_as_reader('read the deepest', 'SELECT * FROM chain6000', 5), '', 'the deepest child reads');
is(run_as_reader('write from the deepest', 'CREATE TABLE chain_copy AS SELECT * FROM chain6000', 5), '',
	'a write reading it (lineage) goes through');
run_as_reader('read the middle, its descendants', 'SELECT count(*) FROM chain5500', 5);
is($node->psql('postgres', 'SET statement_timeout = 5000; DROP TABLE attack.chain6000'), 0,
	'a superuser drops the deepest (DDL guard)');

# 2. Wide: one parent, 2000 children.
run_as_reader('wide root', 'CREATE TABLE wide (id int)', 10);
build('2000 siblings', 2000, q{format('CREATE TABLE wide%s () INHERITS (wide)', i)});
is(run_as_reader('read the wide parent', 'SELECT count(*) FROM wide', 10), '', 'the wide parent reads');

# 3. Diamonds: each level inherits from both tables of the level below.
run_as_reader('diamond base', 'CREATE TABLE d0a (id int); CREATE TABLE d0b (id int)', 10);
build('a diamond of depth 40', 40,
	q{format('CREATE TABLE d%sa () INHERITS (d%sa, d%sb); CREATE TABLE d%sb () INHERITS (d%sa, d%sb)', i, i - 1, i - 1, i, i - 1, i - 1)});
is(run_as_reader('read the diamond top', 'SELECT * FROM d40a', 1), '', 'the top of the diamond reads');
is(run_as_reader('write from the diamond', 'INSERT INTO d0a SELECT * FROM d40b', 1), '',
	'a write reading the diamond goes through');
is(run_as_reader('read the diamond bottom', 'SELECT count(*) FROM d0b', 2), '', 'the bottom expands all');

# 4. Views of views over the product: a chain, and a doubling one.
# (Each view created over a tagged product runs tag propagation, which
# looks at every view downstream of a tagged product: building a chain
# costs the square of its length, so this one is short.)
run_as_reader('view chain', q{
CREATE VIEW vc0 AS SELECT id, ssn, region FROM vault.people;
DO $$ BEGIN FOR i IN 1..40 LOOP
    EXECUTE format('CREATE VIEW vc%s AS SELECT * FROM vc%s', i, i - 1);
END LOOP; END $$;}, 90);
is(run_as_reader('read the view chain', 'SELECT count(*) FROM vc40', 5), '', 'a chain of 40 views reads');
run_as_reader('view doubling', q{
CREATE VIEW vd0 AS SELECT id, ssn FROM vault.people;
DO $$ BEGIN FOR i IN 1..8 LOOP
    EXECUTE format('CREATE VIEW vd%s AS SELECT a.id, greatest(a.ssn, b.ssn) AS ssn FROM vd%s a JOIN vd%s b USING (id)', i, i - 1, i - 1);
END LOOP; END $$;}, 30);
for my $depth (3, 6, 8)
{
	run_as_reader("read doubled views, depth $depth", "SELECT count(*) FROM vd$depth", 2);
}

# 5. CTEs naming the one below twice: 2^28 derivation paths (lineage).
my $ctes = join(', ',
	map { "c$_ AS (SELECT a.id, greatest(a.ssn, b.ssn) AS ssn FROM c" . ($_ - 1) . ' a JOIN c' . ($_ - 1) . ' b USING (id))' }
	  1 .. 28);
run_as_reader('cte target', 'CREATE TABLE cte_sink (id int, ssn text)', 10);
is(run_as_reader('write through CTE diamonds',
	"INSERT INTO cte_sink WITH c0 AS (SELECT id, ssn FROM vault.people), $ctes SELECT id, ssn FROM c28", 2),
	'', 'the write derives its lineage at once');

# 6. Nested functions over the product: SQL (not inlined: set-returning),
# and a recursive PL/pgSQL one.
run_as_reader('nested SQL functions', q{
CREATE FUNCTION sf0() RETURNS SETOF text LANGUAGE sql STABLE AS 'SELECT ssn FROM vault.people';
DO $$ BEGIN FOR i IN 1..150 LOOP
    EXECUTE format('CREATE FUNCTION sf%s() RETURNS SETOF text LANGUAGE sql STABLE AS ''SELECT * FROM sf%s()''', i, i - 1);
END LOOP; END $$;}, 30);
run_as_reader('call nested SQL functions', 'SELECT count(*) FROM sf150()', 5);
run_as_reader('recursive PL/pgSQL', q{
CREATE FUNCTION pf(n int) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF n = 0 THEN RETURN (SELECT count(*) FROM vault.people); END IF;
    RETURN pf(n - 1);
END $$;}, 10);
run_as_reader('call recursive PL/pgSQL, 100000 deep', 'SELECT pf(100000)', 5);
run_as_reader('call recursive PL/pgSQL, 50 deep', 'SELECT pf(50)', 5);

# 7. Deeply nested subqueries and expressions over the product.
for my $levels (500, 2000)
{
	my $nested = 'SELECT id, ssn FROM vault.people';
	$nested = "SELECT id, ssn FROM ($nested) s$_" for 1 .. $levels;
	run_as_reader("$levels nested subqueries", "SELECT count(*) FROM ($nested) top", 5);
	my $sublinks = 'SELECT ssn FROM vault.people LIMIT 1';
	$sublinks = "SELECT ($sublinks)" for 1 .. $levels;
	run_as_reader("$levels nested sublinks", $sublinks, 5);
}
run_as_reader('a deep expression', 'SELECT ' . ('(' x 5000) . 'ssn' . (')' x 5000) . ' FROM vault.people', 5);

# The server never went down, and no backend died.
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'the server still answers');
my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|was terminated by exception|PANIC/, 'no backend crashed');
my $errors = grep { $_ ne '' } @runs;
note "$errors of " . scalar(@runs) . ' statements ended in an error';

# Governance still holds.
is($node->safe_psql('postgres', q{
SET ROLE reader;
SELECT count(*) FROM vault.people WHERE ssn LIKE 'CANARY%' OR region <> 'EU';
}), '0', 'the consumer still sees masked values and its own region only');

$node->stop;
done_testing();
