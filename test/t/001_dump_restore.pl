# Dump and restore a mesh: pg_dump -Fc + pg_restore into a new database on
# the same node (roles are cluster-wide, so they exist), then the same with
# a plain-format dump through psql.  The catalog stores relations, roles and
# schemas as reg* types, so the restored catalog must name the restored
# objects (whose OIDs differ) and keep working: grants, search, and new
# registrations (sequences restored, no duplicate key).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('mesh');

# ---------------------------------------------------------------------------
# The mesh to dump.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', q{
CREATE ROLE marketplace_team NOLOGIN;
CREATE ROLE payments_team NOLOGIN;
CREATE ROLE support_team NOLOGIN;
CREATE ROLE analyst_eu LOGIN;
CREATE ROLE growth_analyst LOGIN;
CREATE DATABASE src;
});

$node->safe_psql('src', q{
CREATE EXTENSION meshpg;
SELECT meshpg.create_domain('marketplace', 'marketplace_team',
    description => 'Taskers, tasks and cities', contacts => '{mkt@example.com}');
SELECT meshpg.create_domain('payments', 'payments_team',
    description => 'Charges and payouts');
});

$node->safe_psql('src', q{
SET ROLE marketplace_team;
CREATE TABLE marketplace.cities (city_id int PRIMARY KEY, name text NOT NULL,
                                 launched_on date NOT NULL);
CREATE TABLE marketplace.taskers (tasker_id int PRIMARY KEY,
                                  city_id int NOT NULL REFERENCES marketplace.cities,
                                  joined_on date NOT NULL, churned_on date);
INSERT INTO marketplace.cities VALUES (1, 'London', '2014-01-15'),
    (2, 'Montréal', '2023-09-01'), (3, 'Düsseldorf', '2024-03-01');
INSERT INTO marketplace.taskers
SELECT g, 1 + g % 3, date '2024-01-01' + g,
       CASE WHEN g % 4 = 0 THEN date '2024-01-01' + g + 40 END
  FROM generate_series(1, 60) g;

CREATE VIEW marketplace.tasker_churn_by_city AS
SELECT c.name AS city, count(*) AS taskers,
       count(*) FILTER (WHERE t.churned_on < t.joined_on + 90) AS churned_90d
  FROM marketplace.taskers t JOIN marketplace.cities c USING (city_id)
 GROUP BY c.name;

CREATE TABLE marketplace.tasks (task_id bigint NOT NULL, city_id int NOT NULL,
                                posted_on date NOT NULL, price_eur numeric(10,2))
    PARTITION BY RANGE (posted_on);
CREATE TABLE marketplace.tasks_2024 PARTITION OF marketplace.tasks
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE marketplace.tasks_2025 PARTITION OF marketplace.tasks
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO marketplace.tasks
SELECT g, 1 + g % 3, date '2024-06-01' + g, 20 + g % 7 FROM generate_series(1, 400) g;

SELECT meshpg.register_product('marketplace', 'tasker_churn_by_city',
    'marketplace.tasker_churn_by_city',
    description => 'Tasker churn in newly launched cities', version => '0.9.0',
    contacts => '{mkt@example.com}');
SELECT meshpg.register_product('marketplace', 'tasks', 'marketplace.tasks',
    description => 'Posted tasks, partitioned by year');
SELECT meshpg.document_column('marketplace.tasker_churn_by_city', 'city', 'City name');
SELECT meshpg.document_column('marketplace.tasker_churn_by_city', 'churned_90d',
    'Taskers who left within 90 days');
SELECT meshpg.document_column('marketplace.tasks', 'price_eur', 'Price paid by the client, café tips excluded');
SELECT meshpg.publish('marketplace.tasker_churn_by_city', '1.0.0');
SELECT meshpg.publish('marketplace.tasks');
SELECT meshpg.grant_access('marketplace.tasker_churn_by_city', 'analyst_eu',
    purpose => 'EU expansion review', expires => now() + interval '30 days');
SELECT meshpg.grant_access('marketplace.tasks', 'growth_analyst',
    purpose => 'Demand forecasting');
RESET ROLE;

SET ROLE payments_team;
CREATE TABLE payments.charges (charge_id bigint PRIMARY KEY,
                               amount_eur numeric(10,2) NOT NULL, method text NOT NULL);
INSERT INTO payments.charges SELECT g, 10 + g % 50, (ARRAY['card','paypal'])[1 + g % 2]
  FROM generate_series(1, 200) g;
CREATE MATERIALIZED VIEW payments.revenue_by_method AS
SELECT method, sum(amount_eur) AS revenue_eur FROM payments.charges GROUP BY method;
SELECT meshpg.register_product('payments', 'charges', 'payments.charges',
    description => 'Client charges, one row per paid task');
SELECT meshpg.register_product('payments', 'revenue_by_method', 'payments.revenue_by_method',
    description => 'Revenue per payment method');
SELECT meshpg.document_product('payments.charges', contacts => '{#payments-data}');
SELECT meshpg.publish('payments.charges', '2.0.0');
SELECT meshpg.grant_access('payments.charges', 'growth_analyst', purpose => 'LTV model');
RESET ROLE;
});
pass('mesh built in database src');

# ---------------------------------------------------------------------------
# What must survive: the catalog views, and the relations the catalog names.
# ---------------------------------------------------------------------------
my %queries = (
	domains => q{SELECT name, owner, schema, description, contacts, products,
	                    created_at, updated_at
	               FROM meshpg.domains ORDER BY name},
	products => q{SELECT product, domain, name, relation, kind, state, version,
	                     description, owner, contacts, sunset, successor,
	                     created_at, updated_at, published_at
	                FROM meshpg.products ORDER BY product},
	product_columns => q{SELECT product, column_name, position, type, nullable,
	                            description, published_type, published_nullable,
	                            published_position
	                       FROM meshpg.product_columns
	                      ORDER BY product, position NULLS LAST, column_name},
	grants => q{SELECT product, grantee, purpose, expires_at, active, granted_by,
	                   granted_at
	              FROM meshpg.grants ORDER BY product, grantee},
	# relid must be the OID of the relation it names, in each database.
	relations => q{SELECT d.name || '.' || p.name, p.relid::text,
	                      p.relid::oid = to_regclass(p.relid::text)::oid,
	                      c.relkind, c.relnamespace::regnamespace::text,
	                      c.relowner::regrole::text
	                 FROM meshpg.cat_product p
	                 JOIN meshpg.cat_domain d ON d.id = p.domain_id
	                 JOIN pg_class c ON c.oid = p.relid
	                ORDER BY 1},
	describe => q{SELECT meshpg.describe('marketplace.tasker_churn_by_city')},
	search => q{SELECT product, rank FROM meshpg.search('churn')},);

my %source;
$source{$_} = $node->safe_psql('src', $queries{$_}) for sort keys %queries;

is( $source{relations},
	join("\n",
		'marketplace.tasker_churn_by_city|marketplace.tasker_churn_by_city|t|v|marketplace|marketplace_team',
		'marketplace.tasks|marketplace.tasks|t|p|marketplace|marketplace_team',
		'payments.charges|payments.charges|t|r|payments|payments_team',
		'payments.revenue_by_method|payments.revenue_by_method|t|m|payments|payments_team'),
	'source catalog names the four products');

# ---------------------------------------------------------------------------
# Checks run on each restored database.
# ---------------------------------------------------------------------------
sub check_restored
{
	my ($db, $how) = @_;

	for my $q (sort keys %queries)
	{
		is($node->safe_psql($db, $queries{$q}),
			$source{$q}, "$how: $q same as in the source");
	}

	my $oids = $node->safe_psql('src',
		q{SELECT string_agg(relid::oid::text, ',' ORDER BY relid::text) FROM meshpg.cat_product});
	isnt(
		$node->safe_psql($db,
			q{SELECT string_agg(relid::oid::text, ',' ORDER BY relid::text) FROM meshpg.cat_product}),
		$oids,
		"$how: relation OIDs were remapped (the comparison above means something)");

	# Consumers: granted products readable, the rest refused.
	is( $node->safe_psql(
			$db,
			q{SET ROLE analyst_eu; SELECT sum(taskers) FROM marketplace.tasker_churn_by_city}),
		'60',
		"$how: analyst_eu reads its granted product");
	is( $node->safe_psql(
			$db, q{SET ROLE growth_analyst; SELECT count(*) FROM marketplace.tasks}),
		'400',
		"$how: growth_analyst reads the partitioned product");
	is( $node->safe_psql(
			$db, q{SET ROLE growth_analyst; SELECT count(*) FROM payments.charges}),
		'200',
		"$how: growth_analyst reads payments.charges");

	my ($ret, $out, $err) =
	  $node->psql($db, q{SET ROLE analyst_eu; SELECT count(*) FROM payments.charges});
	isnt($ret, 0, "$how: analyst_eu is refused an ungranted product");
	like($err, qr/permission denied/, "$how: ... with permission denied");
	($ret, $out, $err) =
	  $node->psql($db, q{SET ROLE analyst_eu; SELECT count(*) FROM marketplace.taskers});
	isnt($ret, 0, "$how: analyst_eu is refused an internal table");
	like($err, qr/permission denied/, "$how: ... with permission denied");

	# Search finds products through the restored index, folding accents.
	like(
		$node->safe_psql($db, q{SET ROLE analyst_eu; SELECT product FROM meshpg.search('cafe')}),
		qr/^marketplace\.tasks$/m,
		"$how: search finds a product by a column description ('cafe' for 'café')");

	# New registrations: the sequences were restored, so no duplicate key.
	my $max_product = $node->safe_psql($db, 'SELECT max(id) FROM meshpg.cat_product');
	my $max_domain  = $node->safe_psql($db, 'SELECT max(id) FROM meshpg.cat_domain');
	$node->safe_psql($db, q{
		SET ROLE marketplace_team;
		CREATE VIEW marketplace.city_list AS SELECT city_id, name FROM marketplace.cities;
		SELECT meshpg.register_product('marketplace', 'city_list', 'marketplace.city_list',
		    description => 'Cities we operate in');
		SELECT meshpg.publish('marketplace.city_list');
	});
	cmp_ok($node->safe_psql($db, q{SELECT id FROM meshpg.cat_product WHERE name = 'city_list'}),
		'>', $max_product, "$how: register_product works after restore, with a new id");
	$node->safe_psql($db, q{SELECT meshpg.create_domain('support', 'support_team')});
	cmp_ok($node->safe_psql($db, q{SELECT id FROM meshpg.cat_domain WHERE name = 'support'}),
		'>', $max_domain, "$how: create_domain works after restore, with a new id");
	is($node->safe_psql($db, q{SELECT schema || ' ' || owner FROM meshpg.domains WHERE name = 'support'}),
		'support support_team', "$how: the new domain owns its schema");

	# A look-alike of a restored product (Cyrillic 'а') is still refused: the
	# restored skeletons are in force.
	$node->safe_psql($db,
		q{SET ROLE payments_team; CREATE VIEW payments.lookalike AS SELECT 1 AS x});
	($ret, $out, $err) = $node->psql($db, q{
		SET ROLE payments_team;
		SELECT meshpg.register_product('payments', U&'ch\0430rges', 'payments.lookalike');
	});
	isnt($ret, 0, "$how: a look-alike of a restored product name is refused");
	unlike($err, qr/permission denied/, "$how: ... as a look-alike, not for rights");
	return;
}

# ---------------------------------------------------------------------------
# Custom format: pg_dump -Fc, pg_restore into a new database.
# ---------------------------------------------------------------------------
my $tmp  = PostgreSQL::Test::Utils::tempdir;
my $dump = "$tmp/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-d', 'src', '-f', $dump ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'restored', $dump ],
	'pg_restore into a new database');
check_restored('restored', 'pg_restore');

# ---------------------------------------------------------------------------
# Plain format through psql.
# ---------------------------------------------------------------------------
my $plain = "$tmp/src.sql";
$node->command_ok([ 'pg_dump', '-Fp', '-d', 'src', '-f', $plain ], 'pg_dump -Fp');
$node->safe_psql('postgres', 'CREATE DATABASE restored_plain');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'restored_plain', '-f', $plain ],
	'plain dump replayed with psql');
check_restored('restored_plain', 'plain dump');

$node->stop;
done_testing();
