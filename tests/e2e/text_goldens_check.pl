#!/usr/bin/perl
# text_goldens_check.pl OUT.jsonl GOLDENS.json MODE COUNT: encore-run's text-mode JSON lines
# against a text model's text_goldens.json (tools/reference/text_models.py).
#   MODE f32:    tokens as the golden ids' (see below), logits (or embedding: the golden <s> row)
#                within 1e-4 of their scale (max |golden|, at least 1)
#   MODE int8:   tokens likewise, argmax of the logits as the golden's, cosine >= 0.995 for each
#                line and >= 0.999 on average (as tests/e2e/sentence_test.cc: int8 noise of a
#                32-wide encoder on a text of a few tokens)
#   MODE f32-mean / int8-mean: the embedding against the golden mean row (--pooling mean).
# Every line must have a golden (same text, same pair); COUNT lines are expected. Offsets
# must be [begin, end] character spans inside their segment. Prints one summary line; exits 1
# with a line per problem otherwise.
use strict;
use warnings;
use JSON::PP;
binmode STDOUT, ":utf8";

my ($out_path, $gold_path, $mode, $count) = @ARGV;
my $pooling = $mode =~ s/-mean$// ? "mean" : "cls";
sub slurp { local $/; open(my $f, "<:raw", $_[0]) or die "$_[0]: $!\n"; <$f> }
my $gold = decode_json(slurp($gold_path));
my %cases;
for my $c (@{$gold->{cases}}) {
  $cases{$c->{text} . "\x00" . ($c->{pair} // "\x01")} = $c;
}

my ($lines, $worst, $min_cos, $sum_cos, @problems) = (0, 0, 1, 0);
open(my $in, "<:raw", $out_path) or die "$out_path: $!\n";
while (my $line = <$in>) {
  $lines++;
  my $j = decode_json($line);
  my $c = $cases{$j->{text} . "\x00" . ($j->{pair} // "\x01")};
  if (!$c) { push @problems, "line $lines: no golden for this text"; next; }
  my $name = substr($j->{text}, 0, 24);
  # Token strings without surrounding spaces: an added token matched with lstrip / rstrip is
  # reported with the spaces it took (" <mask>"), as the Rust crate's AddedVocabulary
  # split_with_indices does; the golden's are vocabulary strings.
  # A golden <unk> matches any string: a Unigram model reports an unknown piece by its own text
  # (tokenizers' unigram/model.rs tokenize: Token::new(id, string, offsets)), BPE and WordPiece
  # by the unk token's.
  my @got = @{$j->{tokens}};
  my @want = @{$c->{tokens}};
  for my $t (0 .. $#want) { $got[$t] = $want[$t] if $want[$t] =~ /^(<unk>|\[UNK\])$/ && $t < @got; }
  my $strip = sub { join("\x1f", map { (my $t = $_) =~ s/^[ \t\n]+|[ \t\n]+$//g; $t } @_) };
  if ($strip->(@got) ne $strip->(@want)) {
    push @problems, "line $lines ($name): tokens differ from the golden ids' tokens";
  }
  for my $t (0 .. $#{$j->{offsets}}) {
    my ($b, $e) = @{$j->{offsets}[$t]};
    my $seg = $j->{sequence_ids} && defined $j->{sequence_ids}[$t] && $j->{sequence_ids}[$t] == 1 ? $j->{pair} : $j->{text};
    push @problems, "line $lines ($name): offsets of token $t [$b, $e] are outside its text" if $b > $e || $e > length($seg);
  }
  my $want = $c->{logits} // $c->{$pooling};
  my $got = $j->{logits} // $j->{embedding};
  if (@$got != @$want) { push @problems, "line $lines ($name): " . scalar(@$got) . " values, golden " . scalar(@$want); next; }
  my ($err, $scale, $dot, $na, $nb) = (0, 1, 0, 0, 0);
  for my $i (0 .. $#$want) {
    my $d = abs($got->[$i] - $want->[$i]);
    $err = $d if $d > $err;
    $scale = abs($want->[$i]) if abs($want->[$i]) > $scale;
    $dot += $got->[$i] * $want->[$i];
    $na += $got->[$i] ** 2;
    $nb += $want->[$i] ** 2;
  }
  $worst = $err / $scale if $err / $scale > $worst;
  my $cos = $dot / sqrt($na * $nb);
  $min_cos = $cos if $cos < $min_cos;
  $sum_cos += $cos;
  if ($mode eq "f32" && $err / $scale > 1e-4) { push @problems, "line $lines ($name): error " . $err / $scale . " of the scale"; }
  if ($mode eq "int8") {
    push @problems, "line $lines ($name): cosine $cos" if $cos < 0.995;
    if ($c->{logits}) {
      my ($ga, $wa) = (0, 0);
      for my $i (0 .. $#$want) { $ga = $i if $got->[$i] > $got->[$ga]; $wa = $i if $want->[$i] > $want->[$wa]; }
      push @problems, "line $lines ($name): argmax $ga, golden $wa" if $ga != $wa;
    }
  }
}
push @problems, "$lines lines, expected $count" if $lines != $count;
push @problems, "mean cosine " . $sum_cos / $lines if $mode eq "int8" && $lines && $sum_cos / $lines < 0.999;
if (@problems) { print "$_\n" for @problems; exit 1; }
printf "%d lines: tokens as the golden ids, worst error %.2g of the scale, cosine mean %.6f min %.6f\n", $lines, $worst,
  $sum_cos / $lines, $min_cos;
exit 0;
