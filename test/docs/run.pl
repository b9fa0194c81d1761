#!/usr/bin/perl
# test/docs/run.pl: the documentation's SQL examples, run as a reader meets
# them.  Run by test/docs/run.sh (the `docs` suite of scripts/test.sh)
# against a throwaway cluster that preloads meshpg.
#
#   run.pl [--psql PSQL] [--connect "ARGS"] [--out DIR] FILE.md...
#
# Convention, for every Markdown file:
#   - a block fenced ```sql runs;
#   - a block fenced ```sql norun is shown but not run (an example that
#     needs a setup this runner cannot give, such as a Citus cluster or a
#     second server: the text beside it says so);
#   - a ```sql block followed, after nothing but blank lines, by a block
#     fenced ```text (or ```output) is compared with that block: psql's
#     output must be the same, line for line, trailing blanks aside; a line
#     that is just "..." in the shown output stands for any number of lines,
#     and a line that ends in "..." for any line that starts the same (for
#     dates and other values that change from run to run).
#   - A block that raises an error fails, unless its shown output has the
#     same error.
#
# Each file is one scenario: its own fresh database, made by running
# test/docs/prelude.sql (the extension and some sample data a reader can
# assume) unless the file says <!-- docs: fresh --> (a database with
# nothing in it, for a file that shows the install), then
# test/docs/<file name without .md>.sql if it exists (a setup the file
# describes in words but does not show; it may \ir test/docs/sample-mesh.sql,
# the sample mesh several pages share).  The blocks run in order in one
# psql session, as a superuser, the way a reader types them into psql
# (with psql's default settings); each
# example that needs another role says SET ROLE itself.  Afterwards the
# database and every role it made are dropped, so the next file starts
# afresh (settings made with ALTER SYSTEM are reset too).
#
# Output: one line per block, in pg_regress's format ("test FILE:LINE ...
# ok" or "... FAILED"), counted by scripts/test.sh; each failure's file, the
# line of its block, the block and a diff go to DIR/docs.diffs.

use strict;
use warnings;
use File::Basename qw(basename dirname);
use File::Temp qw(tempfile);
use Getopt::Long;
use IPC::Open3;
use Symbol qw(gensym);

my $psql = 'psql';
my $connect = '';
my $outdir = '.';
GetOptions('psql=s' => \$psql, 'connect=s' => \$connect, 'out=s' => \$outdir)
  or die "usage: run.pl [--psql PSQL] [--connect ARGS] [--out DIR] FILE.md...\n";
my $here = dirname(__FILE__);
my @conn = split ' ', $connect;
my $diffs = "$outdir/docs.diffs";
open(my $diffs_fh, '>', $diffs) or die "$diffs: $!\n";

my ($npass, $nfail, $dbno) = (0, 0, 0);

# Blocks of one file: [line, info, text] for every fenced block.
sub parse_blocks
{
	my ($file) = @_;
	open(my $fh, '<', $file) or die "$file: $!\n";
	my @lines = <$fh>;
	close $fh;
	my (@blocks, $cur, $fence);
	for my $i (0 .. $#lines)
	{
		my $l = $lines[$i];
		if (!$cur)
		{
			if ($l =~ /^(\s*)(```+|~~~+)\s*(.*?)\s*$/)
			{
				$fence = $2;
				$cur = { line => $i + 1, info => $3, text => '', indent => length($1) };
			}
			elsif ($l =~ /\S/)
			{
				# prose between blocks: a sql block is compared only with an
				# output block that directly follows it
				push @blocks, { prose => 1, line => $i + 1 };
			}
		}
		elsif ($l =~ /^\s*\Q$fence\E\s*$/)
		{
			push @blocks, $cur;
			$cur = undef;
		}
		else
		{
			$l =~ s/^ {0,$cur->{indent}}//;
			$cur->{text} .= $l;
		}
	}
	push @blocks, { %$cur, unterminated => 1 } if $cur;
	return @blocks;
}

# Lines of an output, without trailing blanks nor blank lines at either end.
sub norm_lines
{
	my ($text) = @_;
	my @l = map { s/\s+$//r } split /\n/, $text, -1;
	shift @l while @l && $l[0] eq '';
	pop @l while @l && $l[-1] eq '';
	return @l;
}

# Whether the actual lines match the shown ones ("..." matches any run).
sub lines_match
{
	my ($shown, $actual) = @_;
	my ($s, $a) = (@_);
	return _match($shown, 0, $actual, 0);
}

sub _match
{
	my ($s, $i, $a, $j) = @_;
	while ($i < @$s)
	{
		if ($s->[$i] eq '...')
		{
			return 1 if $i == $#$s;
			for my $k ($j .. scalar(@$a))
			{
				return 1 if _match($s, $i + 1, $a, $k);
			}
			return 0;
		}
		return 0 if $j >= @$a;
		if ($s->[$i] =~ /^(.+?)\s*\.\.\.$/)
		{
			# a line ending in "..." matches any line that starts the same
			return 0 if index($a->[$j], $1) != 0;
		}
		elsif ($s->[$i] ne $a->[$j])
		{
			return 0;
		}
		$i++;
		$j++;
	}
	return $j == @$a;
}

sub unified_diff
{
	my ($shown, $actual) = @_;
	my ($fa, $na) = tempfile(UNLINK => 1);
	my ($fb, $nb) = tempfile(UNLINK => 1);
	print $fa map { "$_\n" } @$shown;
	print $fb map { "$_\n" } @$actual;
	close $fa;
	close $fb;
	my $d = `diff -U3 --label shown --label actual $na $nb`;
	return $d;
}

# Runs psql on the script; returns its output, stdout and stderr in order.
sub run_psql
{
	my ($db, $script, @extra) = @_;
	my ($in, $out);
	my $pid = open3($in, $out, undef, $psql, '-X', '-q', '-P', 'pager=off', @conn, '-d', $db, @extra);
	my $collected = '';
	# write in a child, so a large output can't block a large input
	my $writer = fork();
	die "fork: $!" unless defined $writer;
	if ($writer == 0)
	{
		close $out;
		print $in $script;
		close $in;
		exit 0;
	}
	close $in;
	local $/;
	$collected = <$out> // '';
	close $out;
	waitpid($writer, 0);
	waitpid($pid, 0);
	return ($collected, $? >> 8);
}

sub slurp
{
	my ($f) = @_;
	open(my $fh, '<', $f) or die "$f: $!\n";
	local $/;
	my $t = <$fh>;
	close $fh;
	return $t;
}

sub report
{
	my ($name, $ok, $detail) = @_;
	printf "test %-40s ... %s\n", $name, $ok ? 'ok' : 'FAILED';
	if ($ok)
	{
		$npass++;
	}
	else
	{
		$nfail++;
		print $diffs_fh "======== $name\n$detail\n";
	}
}

for my $file (@ARGV)
{
	my $text = slurp($file);
	my @blocks = parse_blocks($file);
	my $base = basename($file, '.md');
	my $label = $file =~ s{^\./}{}r;
	$dbno++;
	my $db = "docs_$dbno";

	# the blocks this file runs, each with the shown output that follows it
	my @run;
	for my $k (0 .. $#blocks)
	{
		my $b = $blocks[$k];
		next if $b->{prose};
		if ($b->{unterminated})
		{
			report("$label:$b->{line}", 0, "$label:$b->{line}: the fence of this block is never closed");
			next;
		}
		next unless $b->{info} =~ /^sql(\s|$)/;
		next if $b->{info} =~ /^sql\s+norun\b/;
		if ($b->{info} ne 'sql')
		{
			report("$label:$b->{line}", 0,
				"$label:$b->{line}: unknown info string \"```$b->{info}\": use ```sql or ```sql norun");
			next;
		}
		my $shown;
		my $n = $blocks[ $k + 1 ];
		$shown = $n if $n && !$n->{prose} && $n->{info} =~ /^(text|output)$/;
		push @run, { block => $b, shown => $shown };
	}
	next unless @run;

	# a fresh database for the file
	my ($o, $rc) = run_psql('postgres', "CREATE DATABASE $db;\n", '-v', 'ON_ERROR_STOP=1');
	die "could not create database $db: $o" if $rc;
	my $setup = '';
	$setup .= slurp("$here/prelude.sql") unless $text =~ /<!--\s*docs:\s*fresh\s*-->/;
	$setup .= slurp("$here/$base.sql") if -f "$here/$base.sql";
	# \ir FILE in a setup: a file of test/docs (psql reads the setup on
	# standard input, where \ir would look in the current directory)
	for (1 .. 5)
	{
		last unless $setup =~ s{^\\ir\s+(\S+)\s*$}{slurp("$here/$1")}mge;
	}
	if ($setup ne '')
	{
		($o, $rc) = run_psql($db, $setup, '-v', 'ON_ERROR_STOP=1');
		if ($rc || $o =~ /^(ERROR|FATAL|psql:)/m)
		{
			report("$label:setup", 0, "$label: the setup (test/docs/prelude.sql, test/docs/$base.sql) failed:\n$o");
			next;
		}
	}

	# one session: a marker before each block splits the output
	my $script = "";
	for my $i (0 .. $#run)
	{
		my $body = $run[$i]{block}{text};
		$body .= "\n" unless $body =~ /\n$/;
		# a block that leaves a statement open would swallow the marker
		$script .= "\\echo '\@\@docs-block $i\@\@'\n$body;\n";
	}
	$script .= "\\echo '\@\@docs-end\@\@'\n";
	($o, $rc) = run_psql($db, $script);
	my @parts = split /^\@\@docs-(?:block \d+|end)\@\@\n/m, $o, -1;
	my $before = shift @parts;
	for my $i (0 .. $#run)
	{
		my $b = $run[$i]{block};
		my $name = "$label:$b->{line}";
		my $actual = $parts[$i];
		my $where = "$label, the ```sql block at line $b->{line}";
		my $sql = $b->{text} =~ s/^/    /mgr;
		if (!defined $actual)
		{
			report($name, 0, "$where: psql stopped before it (exit code $rc)\n$o");
			next;
		}
		# the extra ";" after a block that ended with one is an empty query
		my @actual = norm_lines($actual);
		if ($run[$i]{shown})
		{
			my @shown = norm_lines($run[$i]{shown}{text});
			if (lines_match(\@shown, \@actual))
			{
				report($name, 1);
			}
			else
			{
				# psql's output, to review and paste into the page
				mkdir "$outdir/actual";
				my $af = "$outdir/actual/" . ($name =~ s{[/:]}{_}gr) . '.out';
				if (open(my $afh, '>', $af))
				{
					print $afh map { "$_\n" } @actual;
					close $afh;
				}
				report($name, 0,
					"$where: psql's output differs from the output shown at line $run[$i]{shown}{line}\n$sql\n"
					  . unified_diff(\@shown, \@actual));
			}
		}
		elsif (grep { /^(ERROR|FATAL|PANIC):|^psql:|^invalid command/ } @actual)
		{
			report($name, 0, "$where failed:\n$sql\n" . join("\n", @actual) . "\n");
		}
		else
		{
			report($name, 1);
		}
	}

	# drop the database and the roles it made, for the next file
	run_psql('postgres', "DROP DATABASE $db WITH (FORCE);\nALTER SYSTEM RESET ALL;\nSELECT pg_reload_conf();\n");
	my ($roles) = run_psql('postgres',
		"SELECT string_agg(format('DROP ROLE %I;', rolname), E'\\n') FROM pg_roles WHERE oid >= 16384;\n",
		'-At');
	run_psql('postgres', $roles) if $roles =~ /\S/;
}

close $diffs_fh;
printf "docs: %d passed, %d failed%s\n", $npass, $nfail, $nfail ? " (details in $diffs)" : '';
exit($nfail ? 1 : 0);
