#!/usr/bin/perl
# text_heads_compare.pl KIND GOLDENS.json OUT.jsonl: encore-run's JSON lines for the per-token
# heads (KIND token | qa | mlm; line i answers case i of GOLDENS' KIND list, written by
# tools/reference/text_heads.py) must give the goldens' labels, spans, answers and token ids,
# and their scores within 1e-4. Prints one line per difference; exit 1 if there is any.
use strict;
use warnings;
use JSON::PP;

my ($kind, $goldens_path, $out_path) = @ARGV;
sub slurp { local $/; open(my $f, "<:raw", $_[0]) or die "$_[0]: $!\n"; return scalar <$f>; }
my $goldens = JSON::PP->new->utf8->decode(slurp($goldens_path))->{$kind};
my @lines = grep { /\S/ } split /\n/, slurp($out_path);
my $json = JSON::PP->new->utf8;
my @got = map { $json->decode($_) } @lines;
my $bad = 0;
sub differ { print "$kind: $_[0]\n"; $bad++; }
sub same { my ($what, $a, $b) = @_; differ("$what: got " . ($a // 'null') . ", want " . ($b // 'null')) if ($a // '') ne ($b // ''); }
sub close_to { my ($what, $a, $b) = @_; differ("$what: got $a, want $b") if abs($a - $b) > 1e-4; }

differ(scalar(@got) . " lines for " . scalar(@$goldens) . " cases") if @got != @$goldens;
for my $i (0 .. $#$goldens) {
  my ($g, $o) = ($goldens->[$i], $got[$i]) or last;
  last unless $o;
  if ($kind eq 'token') {
    my ($want, $have) = ($g->{entities}, $o->{entities});
    differ("case $i: " . scalar(@$have) . " entities, want " . scalar(@$want)) if @$have != @$want;
    for my $k (0 .. $#$want) {
      last unless $have->[$k];
      same("case $i entity $k $_", $have->[$k]{$_}, $want->[$k]{$_}) for qw(entity_group word start end);
      close_to("case $i entity $k score", $have->[$k]{score}, $want->[$k]{score});
    }
  } elsif ($kind eq 'qa') {
    same("case $i windows", $o->{windows}, $g->{windows});
    my $have = $g->{top_k} > 1 ? $o->{answers} : [$o];
    my $want = $g->{answers};
    differ("case $i: " . scalar(@$have) . " answers, want " . scalar(@$want)) if @$have != @$want;
    for my $k (0 .. $#$want) {
      last unless $have->[$k];
      same("case $i answer $k $_", $have->[$k]{$_}, $want->[$k]{$_}) for qw(answer start end);
      close_to("case $i answer $k score", $have->[$k]{score}, $want->[$k]{score});
    }
  } else {
    my ($want, $have) = ($g->{masks}, $o->{masks});
    differ("case $i: " . scalar(@$have) . " masks, want " . scalar(@$want)) if @$have != @$want;
    for my $m (0 .. $#$want) {
      last unless $have->[$m];
      same("case $i mask $m position", $have->[$m]{position}, $want->[$m]{position});
      for my $k (0 .. $#{$want->[$m]{predictions}}) {
        my ($h, $w) = ($have->[$m]{predictions}[$k], $want->[$m]{predictions}[$k]);
        if (!$h) { differ("case $i mask $m: no prediction $k"); last; }
        same("case $i mask $m prediction $k $_", $h->{$_}, $w->{$_}) for qw(token_id token);
        close_to("case $i mask $m prediction $k score", $h->{score}, $w->{score});
      }
    }
  }
}
exit($bad ? 1 : 0);
