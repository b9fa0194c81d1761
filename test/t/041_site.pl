# `meshctl site DIR`: the static HTML catalog.  It is written as the
# connecting role, so it shows what that role may see and no more (another
# consumer's grant is not on a consumer's pages, and is on the governance
# team's); values are HTML-escaped; every link resolves.  Then the pages are
# loaded in a real headless browser (Debian's chromium, skipped when it is
# not installed): they load with no script error, their script runs, and a
# screenshot is taken.

use strict;
use warnings;

use File::Temp qw(tempdir);
use PostgreSQL::Test::Cluster;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use MeshPG::TestCluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = meshpg_node('site');

my $bindir = $node->config_data('--bindir');
my $meshctl = "$bindir/meshctl";

$node->safe_psql('postgres', q{
CREATE EXTENSION meshpg;
CREATE ROLE shop_team;
CREATE ROLE buyer LOGIN;
CREATE ROLE rival LOGIN;
CREATE ROLE gov LOGIN IN ROLE meshpg_admin;
SELECT meshpg.create_domain('shop', 'shop_team', description => 'The web shop');
SET ROLE shop_team;
CREATE TABLE shop.orders (id bigint NOT NULL, amount numeric, placed_at timestamptz);
INSERT INTO shop.orders SELECT g, g * 10, now() FROM generate_series(1, 20) g;
CREATE VIEW shop.order_totals AS SELECT count(*) AS n, sum(amount) AS total FROM shop.orders;
SELECT meshpg.register_product('shop', 'orders', 'shop.orders',
       description => 'Orders <script>alert("x")</script> & more');
SELECT meshpg.register_product('shop', 'order_totals', 'shop.order_totals',
       description => 'Totals of the orders');
SELECT meshpg.document_column('shop.orders', 'amount', 'Amount in EUR');
SELECT meshpg.publish('shop.orders', '1.0.0');
SELECT meshpg.publish('shop.order_totals', '1.0.0');
SELECT meshpg.grant_access('shop.orders', 'buyer', purpose => 'monthly reporting');
SELECT meshpg.grant_access('shop.orders', 'rival', purpose => 'rival-secret-purpose');
SELECT meshpg.declare_slo('shop.orders', 'enough_rows', 'volume', '{"min_rows": 10}');
SELECT count(*) FROM meshpg.evaluate('shop.orders');
RESET ROLE;
});

# meshctl site as ROLE into a new directory; returns the directory
sub site_as
{
	my ($role) = @_;
	my $dir = tempdir(DIR => $PostgreSQL::Test::Utils::tmp_check, CLEANUP => 0);
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run(
		[ $meshctl, '-d', $node->connstr('postgres') . " user=$role", 'site', "$dir/site" ],
		'>', \$out, '2>', \$err,
		init => sub { $ENV{PSQL} = "$bindir/psql" });
	ok($ok, "meshctl site as $role") or diag $err;
	like($out, qr/wrote 3 pages/, "... writes the index and one page per product ($role)");
	return "$dir/site";
}

sub slurp_dir
{
	my ($dir) = @_;
	my %pages;
	opendir(my $dh, $dir) or die "$dir: $!";
	for my $f (grep { /\.html$/ } readdir $dh)
	{
		$pages{$f} = slurp_file("$dir/$f");
	}
	closedir $dh;
	return %pages;
}

my $buyer_dir = site_as('buyer');
my %buyer = slurp_dir($buyer_dir);
ok(exists $buyer{'index.html'}, 'index.html is written');
ok(-s "$buyer_dir/style.css" && -s "$buyer_dir/site.js", 'with its stylesheet and script');
my ($orders_page) = grep { /^product-shop\.orders-/ } keys %buyer;
my ($totals_page) = grep { /^product-shop\.order_totals-/ } keys %buyer;
ok($orders_page && $totals_page, 'a page per product');

# Every link and every script or stylesheet reference resolves.
my @broken;
for my $f (sort keys %buyer)
{
	while ($buyer{$f} =~ /(?:href|src)="([^"#]*)"/g)
	{
		my $target = $1;
		next if $target eq '';
		push @broken, "$f -> $target" if $target =~ m{[:/]} || !-f "$buyer_dir/$target";
	}
}
is(join(', ', @broken), '', 'every link resolves to a page of the site');

like($buyer{'index.html'}, qr/href="\Q$orders_page\E"/, 'the index links to the product pages');
like($buyer{$orders_page}, qr/Orders &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; more/,
	'values are HTML-escaped');
unlike(join('', values %buyer), qr/<script>alert/, '... and never written raw');
like($buyer{$orders_page}, qr/<svg[^>]*class="lineage".*href="\Q$totals_page\E".*<\/svg>/s,
	'the lineage is drawn as SVG, linking to the derived product');
like($buyer{$orders_page}, qr/enough_rows.*class="met"/s, 'the SLO status is shown');
like($buyer{$orders_page}, qr/<h3>History<\/h3><table/, 'with its history');
like($buyer{$orders_page}, qr/Amount in EUR/, 'the columns with their documentation');
like($buyer{$orders_page}, qr/&quot;columns&quot;/, 'the recorded contract');

# Only what the role may see: its own grant, not the other consumer's.
like($buyer{$orders_page}, qr/monthly reporting/, "the buyer's pages show its own grant");
unlike(join('', values %buyer), qr/rival-secret-purpose/, "... and not another consumer's");
my %gov = slurp_dir(site_as('gov'));
like(join('', values %gov), qr/rival-secret-purpose/, 'the governance team sees every grant');

# A directory that cannot be written is an error.
my ($out, $err) = ('', '');
IPC::Run::run([ $meshctl, '-d', $node->connstr('postgres'), 'site', '/proc/meshpg-site' ],
	'>', \$out, '2>', \$err, init => sub { $ENV{PSQL} = "$bindir/psql" });
isnt($? >> 8, 0, 'an unwritable directory fails');

# In a real browser.
SKIP:
{
	my $chromium = '/usr/bin/chromium';
	skip 'chromium is not installed', 4 unless -x $chromium;

	my @flags = (
		'--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		'--disable-background-networking', '--disable-component-update', '--disable-sync',
		'--enable-logging=stderr', '--v=0');
	my (@errors, @not_ready);
	for my $page ('index.html', $orders_page, $totals_page)
	{
		my $profile = tempdir(DIR => $PostgreSQL::Test::Utils::tmp_check, CLEANUP => 1);
		my ($dom, $log) = ('', '');
		IPC::Run::run(
			[ $chromium, @flags, "--user-data-dir=$profile", '--dump-dom', "file://$buyer_dir/$page" ],
			'>', \$dom, '2>', \$log, IPC::Run::timeout(120));
		push @errors, map { "$page: $_" } grep { /CONSOLE|Uncaught/ } split /\n/, $log;
		push @not_ready, $page unless $dom =~ /<body[^>]*data-ready="1"/;
	}
	is(join("\n", @errors), '', 'the pages load with no script error or console message');
	is(join(', ', @not_ready), '', 'and their script ran');

	my $profile = tempdir(DIR => $PostgreSQL::Test::Utils::tmp_check, CLEANUP => 1);
	my $shot = "$PostgreSQL::Test::Utils::log_path/site_product.png";
	my ($o, $e) = ('', '');
	IPC::Run::run(
		[ $chromium, @flags, "--user-data-dir=$profile", '--window-size=1200,900',
		  "--screenshot=$shot", "file://$buyer_dir/$orders_page" ],
		'>', \$o, '2>', \$e, IPC::Run::timeout(120));
	ok(-s $shot, "a screenshot of a product page is taken ($shot)");
	my $png = -s $shot ? slurp_file($shot) : '';
	is(substr($png, 0, 8), "\x89PNG\r\n\x1a\n", '... as a PNG');
}

$node->stop;
done_testing();
