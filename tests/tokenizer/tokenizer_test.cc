// WordPiece tokenizer: each normalisation and splitting rule on hand-worked examples over a
// small vocabulary (the golden test against an independent implementation is separate).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "encore/tokenizer.h"

namespace encore {
namespace {

TokenizerInfo small_vocab(bool lower, bool strip_set = false, bool strip = false) {
  TokenizerInfo info;
  info.vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", ",", "!", "un", "##aff",
                "##able", "cafe", "Café", "这", "只", "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82" /* οδος, final sigma */, "\xCF\x83" /* σ */, "a", "b", "c", "d", "##s", "run", "$", "-",
                "i", "\xCC\x87" /* U+0307 */, "Hello",
                "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x83" /* οδοσ */};
  info.do_lower_case = lower;
  info.strip_accents_set = strip_set;
  info.strip_accents = strip;
  return info;
}

std::vector<std::string> pieces(const Tokenizer& t, const std::string& text) {
  std::vector<std::string> out;
  auto ids = t.tokenize(text, &out);
  REQUIRE(ids.ok());
  REQUIRE(ids->size() == out.size());
  return out;
}

using V = std::vector<std::string>;

TEST_CASE("tokenizer: lowercasing, punctuation and WordPiece continuations") {
  auto t = Tokenizer::create(small_vocab(true));
  REQUIRE(t.ok());
  const Tokenizer& tok = **t;
  CHECK(pieces(tok, "Hello, World!") == V{"hello", ",", "world", "!"});
  CHECK(pieces(tok, "unaffable") == V{"un", "##aff", "##able"});
  CHECK(pieces(tok, "runs") == V{"run", "##s"});
  CHECK(pieces(tok, "$-a") == V{"$", "-", "a"});                   // ASCII symbols split like punctuation
  CHECK(pieces(tok, "unknownword") == V{"[UNK]"});                 // no full match: the whole word
  CHECK(pieces(tok, "  \t\n ") == V{});
  CHECK(pieces(tok, "") == V{});
  CHECK(pieces(tok, std::string(101, 'a')) == V{"[UNK]"});         // over 100 characters
  CHECK(pieces(tok, "hel\x01lo") == V{"hello"});                   // control character dropped
  CHECK(pieces(tok, "hello\xE2\x80\xA8world") == V{"hello", "world"});  // U+2028 separates words
}

TEST_CASE("tokenizer: accents stripped with lowercasing, kept when told") {
  auto lower = Tokenizer::create(small_vocab(true));
  REQUIRE(lower.ok());
  CHECK(pieces(**lower, "Café") == V{"cafe"});
  CHECK(pieces(**lower, "Cafe\xCC\x81") == V{"cafe"});  // decomposed e + combining acute
  auto cased = Tokenizer::create(small_vocab(false));
  REQUIRE(cased.ok());
  CHECK(pieces(**cased, "Café") == V{"Café"});
  CHECK(pieces(**cased, "Hello") == V{"Hello"});
  CHECK(pieces(**cased, "hello") == V{"hello"});
  auto cased_stripped = Tokenizer::create(small_vocab(false, true, true));
  REQUIRE(cased_stripped.ok());
  CHECK(pieces(**cased_stripped, "Café") == V{"[UNK]"});  // "Cafe" is not in the vocabulary
  auto lower_kept = Tokenizer::create(small_vocab(true, true, false));
  REQUIRE(lower_kept.ok());
  CHECK(pieces(**lower_kept, "CAFÉ") == V{"[UNK]"});  // "café" is not in the vocabulary
}

TEST_CASE("tokenizer: CJK ideographs are words of their own, Greek final sigma, dotted capital I") {
  auto t = Tokenizer::create(small_vocab(true));
  REQUIRE(t.ok());
  CHECK(pieces(**t, "这只") == V{"这", "只"});
  CHECK(pieces(**t, "a这b") == V{"a", "这", "b"});
  // Capital sigma lowercases to σ wherever it stands, as the Rust tokenizers map each char
  // (what AutoTokenizer runs); Python's str.lower and the JS port use ς at a word's end.
  CHECK(pieces(**t, "\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3") == V{"\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x83"});
  CHECK(pieces(**t, "\xCE\xA3") == V{"\xCF\x83"});
  // U+0130 lowercases to "i" + U+0307, whose mark accent stripping then removes.
  CHECK(pieces(**t, "\xC4\xB0") == V{"i"});
}

TEST_CASE("tokenizer: encode adds [CLS]/[SEP], types and truncation") {
  auto t = Tokenizer::create(small_vocab(true));
  REQUIRE(t.ok());
  auto e = (*t)->encode("a b c d", 16);
  REQUIRE(e.ok());
  CHECK(e->ids == std::vector<int32_t>{2, 18, 19, 20, 21, 3});
  CHECK(e->token_type_ids == std::vector<int32_t>(6, 0));
  CHECK_FALSE(e->truncated);
  e = (*t)->encode("a b c d", 4);
  REQUIRE(e.ok());
  CHECK(e->tokens == V{"[CLS]", "a", "b", "[SEP]"});
  CHECK(e->truncated);
  // Longest first: the longer side gives up its last tokens until the pair fits.
  auto p = (*t)->encode_pair("a b c d", "a b", 7);
  REQUIRE(p.ok());
  CHECK(p->tokens == V{"[CLS]", "a", "b", "[SEP]", "a", "b", "[SEP]"});
  CHECK(p->token_type_ids == std::vector<int32_t>{0, 0, 0, 0, 1, 1, 1});
  p = (*t)->encode_pair("a", "a b c d", 6);
  REQUIRE(p.ok());
  CHECK(p->tokens == V{"[CLS]", "a", "[SEP]", "a", "b", "[SEP]"});
  CHECK((*t)->encode("a", 1).status().code() == StatusCode::kInvalidArgument);
  CHECK((*t)->encode_pair("a", "b", 2).status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("tokenizer: invalid UTF-8 and incomplete vocabularies are errors") {
  auto t = Tokenizer::create(small_vocab(true));
  REQUIRE(t.ok());
  for (std::string bad : {std::string("\xFF"), std::string("ab\xC3"), std::string("\xED\xA0\x80"),
                          std::string("\xC0\xAF")}) {
    auto r = (*t)->tokenize(bad);
    CHECK(r.status().code() == StatusCode::kInvalidArgument);
    CHECK(r.status().message().find("not valid UTF-8") != std::string::npos);
  }
  TokenizerInfo empty;
  CHECK(Tokenizer::create(empty).status().code() == StatusCode::kInvalidModel);
  TokenizerInfo no_cls = small_vocab(true);
  no_cls.vocab[2] = "[CLX]";
  auto r = Tokenizer::create(no_cls);
  CHECK(r.status().message().find("no [CLS]") != std::string::npos);
  CHECK((*t)->pad_id() == 0);
  CHECK((*t)->unk_id() == 1);
}

}  // namespace
}  // namespace encore
