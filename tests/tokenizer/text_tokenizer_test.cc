// TextTokenizer (tokenizer.json pipeline): offsets, truncation, options, the behaviours the
// golden files cannot show, and the one-line errors for hostile or unsupported files. Expected
// values follow the Rust `tokenizers` sources (cited per case) or are checked against the text.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "encore/text_tokenizer.h"

namespace encore {
namespace {

using Json = nlohmann::json;

std::string fixture_text(const std::string& name) {
  std::ifstream in(std::string(ENCORE_FIXTURES_DIR) + "/text_tokenizer/" + name, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::unique_ptr<TextTokenizer> make(const std::string& json) {
  auto t = TextTokenizer::create(json);
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  return std::move(t).value();
}

std::unique_ptr<TextTokenizer> fixture(const std::string& name) { return make(fixture_text(name + ".json")); }

TextEncoding enc(const TextTokenizer& t, const std::string& text, TextEncodeOptions o = {}) {
  o.want_tokens = true;
  auto e = t.encode(text, o);
  REQUIRE_MESSAGE(e.ok(), e.status().to_string());
  return std::move(e).value();
}

// A WordPiece tokenizer.json over `words` (plus [UNK]), with the given pre-tokenizer / normalizer.
std::string wordpiece_json(const std::vector<std::string>& words, const Json& pre, const Json& norm = nullptr) {
  Json vocab = Json::object();
  vocab["[UNK]"] = 0;
  for (const auto& w : words) {
    if (!vocab.contains(w)) vocab[w] = static_cast<int>(vocab.size());
  }
  Json j = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}, {"added_tokens", Json::array()},
            {"normalizer", norm}, {"pre_tokenizer", pre}, {"post_processor", nullptr}, {"decoder", nullptr},
            {"model", {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
                       {"max_input_chars_per_word", 100}, {"vocab", vocab}}}};
  return j.dump();
}

std::string error_of(const std::string& json) {
  auto t = TextTokenizer::create(json);
  REQUIRE(!t.ok());
  const std::string m = t.status().message();
  CHECK_MESSAGE(m.find('\n') == std::string::npos, m);
  CHECK_MESSAGE(m.rfind("tokenizer.json: ", 0) == 0, m);
  return m;
}

// ---- offsets ----------------------------------------------------------------------------------

TEST_CASE("text tokenizer: offsets are byte offsets into the text / specials get (0 0)") {
  auto t = fixture("wordpiece_cased");
  const std::string text = "Café au lait";  // é is 2 bytes
  auto e = enc(*t, text);
  REQUIRE(e.ids.size() >= 4);
  CHECK(e.tokens.front() == "[CLS]");
  CHECK(e.offsets.front() == TokenOffset{0, 0});
  CHECK(e.special_tokens_mask.front() == 1);
  CHECK(e.offsets.back() == TokenOffset{0, 0});
  // Every content token covers the bytes it came from (WordPiece: the token minus "##").
  for (size_t i = 1; i + 1 < e.ids.size(); ++i) {
    std::string tok = e.tokens[i];
    if (tok.rfind("##", 0) == 0) tok = tok.substr(2);
    if (tok == "[UNK]") continue;
    CHECK(text.substr(e.offsets[i].begin, e.offsets[i].end - e.offsets[i].begin) == tok);
    CHECK(e.special_tokens_mask[i] == 0);
    CHECK(e.sequence_ids[i] == 0);
  }
  CHECK(e.offsets[e.ids.size() - 2].end == 13);  // "lait" ends at byte 13 (12 characters)
}

TEST_CASE("text tokenizer: offsets of normalized text map back to the original bytes") {
  auto t = fixture("wordpiece_uncased");
  // "Cafe" + U+0301: NFD + strip accents drop the mark; the "e" keeps its own byte (3, 4)
  // (NormalizedString::filter: the kept char before the removed ones keeps its alignment).
  auto e = enc(*t, "CAFE\xcc\x81!");
  std::vector<std::string> toks(e.tokens.begin() + 1, e.tokens.end() - 1);
  REQUIRE(!toks.empty());
  CHECK(e.offsets[1].begin == 0);
  CHECK(e.offsets[e.ids.size() - 2] == TokenOffset{6, 7});  // "!" after the 2-byte mark
  // CJK ideographs are isolated by BertNormalizer with spaces that align to the ideograph itself.
  auto c = enc(*t, "我爱");
  REQUIRE(c.ids.size() == 4);
  CHECK(c.offsets[1] == TokenOffset{0, 3});
  CHECK(c.offsets[2] == TokenOffset{3, 6});
}

TEST_CASE("text tokenizer: byte-level BPE offsets trim_offsets and an lstrip added token (RoBERTa)") {
  auto t = fixture("bpe_roberta");
  // ByteLevel splits "Hello my friend, how" as Hello / Ġmy / Ġfriend / , / Ġhow
  // (pre_tokenizers/byte_level.rs test "pre_tokenization"); with trim_offsets the space of
  // "Ġmy" is not part of its offsets.
  const std::string text = "Hello my friend, how";
  auto e = enc(*t, text);
  for (size_t i = 1; i + 1 < e.ids.size(); ++i) {
    const auto o = e.offsets[i];
    CHECK(o.begin <= o.end);
    CHECK(o.end <= text.size());
    if (e.tokens[i].rfind("\xc4\xa0", 0) == 0) CHECK(text[o.begin] != ' ');  // Ġ trimmed
  }
  // "<mask>" has lstrip: it swallows the space before it, and RobertaProcessing trims it again.
  auto m = enc(*t, "The <mask> sat");
  size_t k = 0;
  while (k < m.ids.size() && m.ids[k] != t->token_to_id("<mask>")) ++k;
  REQUIRE(k < m.ids.size());
  CHECK(m.tokens[k] == " <mask>");  // the token string is the matched text, space included
  CHECK(m.offsets[k] == TokenOffset{4, 10});
  // A multi-byte character split into byte tokens: each piece points at the whole character.
  auto u = enc(*t, "\xe2\x82\xac");  // €
  for (size_t i = 1; i + 1 < u.ids.size(); ++i) CHECK(u.offsets[i] == TokenOffset{0, 3});
}

TEST_CASE("text tokenizer: pair offsets are relative to each segment / type and sequence ids") {
  auto t = fixture("wordpiece_cased");
  auto e = t->encode_pair("ab", "cd", {});
  REQUIRE(e.ok());
  // [CLS] a.. [SEP] c.. [SEP]
  const auto& ids = e->ids;
  REQUIRE(ids.size() >= 5);
  size_t second = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (e->sequence_ids[i] == 1) {
      if (!second) second = i;
      CHECK(e->type_ids[i] == 1);
    }
  }
  REQUIRE(second > 0);
  CHECK(e->offsets[second].begin == 0);
  CHECK(e->type_ids.back() == 1);
  CHECK(e->sequence_ids.back() == 255);
}

TEST_CASE("text tokenizer: word ids are the pre-tokenizer's splits (into_encoding word_idx)") {
  // BertPreTokenizer splits at whitespace and isolates punctuation; WordPiece's pieces of one
  // split share its word.
  auto t = make(wordpiece_json({"london", "##er", "##s", "visited", ","}, {{"type", "BertPreTokenizer"}}));
  auto e = enc(*t, "londoners visited, zz");
  CHECK(e.tokens == std::vector<std::string>{"london", "##er", "##s", "visited", ",", "[UNK]"});
  CHECK(e.word_ids == std::vector<int32_t>{0, 0, 0, 1, 2, 3});
  // Special tokens have none; each segment of a pair counts its own words from 0; truncation
  // keeps them aligned with the ids.
  auto cased = fixture("wordpiece_cased");
  TextEncodeOptions o;
  o.max_length = 6;
  auto p = cased->encode_pair("ab cd", "ef gh ij", o);
  REQUIRE(p.ok());
  REQUIRE(p->word_ids.size() == p->ids.size());
  for (size_t i = 0; i < p->ids.size(); ++i) {
    INFO(i);
    CHECK((p->word_ids[i] < 0) == (p->sequence_ids[i] == 255));
    const bool starts_segment = i > 0 && p->sequence_ids[i] != 255 && p->sequence_ids[i - 1] == 255;
    if (starts_segment) CHECK(p->word_ids[i] == 0);
    if (i > 0 && !starts_segment && p->word_ids[i] >= 0) CHECK(p->word_ids[i] >= p->word_ids[i - 1]);
  }
  // ByteLevel: "Hello my friend, how" is five splits.
  auto b = enc(*fixture("bpe_roberta"), "Hello my friend, how");
  CHECK(b.word_ids.front() == -1);
  CHECK(b.word_ids.back() == -1);
  CHECK(b.word_ids[b.ids.size() - 2] == 4);
}

TEST_CASE("text tokenizer: Unigram offsets (Metaspace Precompiled)") {
  auto t = fixture("unigram_xlmr");
  const std::string text = "Hello  world";
  auto e = enc(*t, text);
  for (size_t i = 1; i + 1 < e.ids.size(); ++i) {
    CHECK(e.offsets[i].end <= text.size());
    CHECK(e.offsets[i].begin < e.offsets[i].end);
  }
  CHECK(e.offsets[e.ids.size() - 2].end == text.size());
}

// ---- options, truncation ----------------------------------------------------------------------

TEST_CASE("text tokenizer: special tokens in the text and the option to read them as text") {
  auto t = fixture("wordpiece_cased");
  const int32_t sep = t->token_to_id("[SEP]");
  REQUIRE(sep >= 0);
  auto e = enc(*t, "a [SEP] b");
  int seps = 0;
  for (auto id : e.ids) seps += id == sep;
  CHECK(seps == 2);  // the one in the text and the final one
  TextEncodeOptions o;
  o.special_tokens_as_text = true;
  auto p = enc(*t, "a [SEP] b", o);
  seps = 0;
  for (auto id : p.ids) seps += id == sep;
  CHECK(seps == 1);
  TextEncodeOptions none;
  none.add_special_tokens = false;
  auto n = enc(*t, "a", none);
  CHECK(n.ids.size() == 1);
  CHECK(t->num_special_tokens(false) == 2);
  CHECK(t->num_special_tokens(true) == 3);
}

TEST_CASE("text tokenizer: truncation longest_first / only_first / only_second (utils/truncation.rs)") {
  auto t = fixture("wordpiece_cased");
  const std::string a = "a b c d e f g h", b = "i j k";  // 8 and 3 tokens
  TextEncodeOptions o;
  o.max_length = 9;  // 6 for content after [CLS] [SEP] [SEP]
  auto e = t->encode_pair(a, b, o);
  REQUIRE(e.ok());
  CHECK(e->ids.size() == 9);
  CHECK(e->truncated);
  int first = 0, second = 0;
  for (size_t i = 0; i < e->ids.size(); ++i) {
    first += e->sequence_ids[i] == 0;
    second += e->sequence_ids[i] == 1;
  }
  CHECK(first == 3);  // n1 = 3, n2 = max(3, 6 - 3) = 3
  CHECK(second == 3);
  o.strategy = TruncationStrategy::kOnlyFirst;
  e = t->encode_pair(a, b, o);
  REQUIRE(e.ok());
  CHECK(e->ids.size() == 9);
  o.strategy = TruncationStrategy::kOnlySecond;
  auto bad = t->encode_pair(a, b, o);  // the second has 3 tokens, 5 must go
  CHECK(!bad.ok());
  auto single_bad = t->encode(a, o);
  CHECK(!single_bad.ok());
  o.strategy = TruncationStrategy::kLongestFirst;
  o.max_length = 1;
  CHECK(!t->encode(a, o).ok());  // no room for [CLS] [SEP]
  o.max_length = 4;
  auto s = enc(*t, a, o);
  CHECK(s.ids.size() == 4);
  CHECK(s.tokens.back() == "[SEP]");
  // Truncation stored in the file applies when the options give none.
  auto j = Json::parse(fixture_text("wordpiece_cased.json"));
  j["truncation"] = {{"max_length", 5}, {"strategy", "LongestFirst"}, {"stride", 0}, {"direction", "Left"}};
  auto tl = make(j.dump());
  auto l = enc(*tl, a);
  CHECK(l.ids.size() == 5);
  auto full = enc(*t, a);
  CHECK(l.ids[1] == full.ids[full.ids.size() - 4]);  // left truncation keeps the end
}

TEST_CASE("text tokenizer: vocabulary lookups and padding settings") {
  auto t = fixture("bpe_roberta");
  CHECK(t->token_to_id("<mask>") == static_cast<int32_t>(t->vocab_size()) - 1);
  CHECK(t->id_to_token(t->token_to_id("<s>")) == "<s>");
  CHECK(t->token_to_id("no such token") == -1);
  CHECK(!t->padding().present);
  auto j = Json::parse(fixture_text("bpe_roberta.json"));
  j["padding"] = {{"strategy", "BatchLongest"}, {"direction", "Right"}, {"pad_to_multiple_of", 8},
                  {"pad_id", 1}, {"pad_type_id", 0}, {"pad_token", "<pad>"}};
  auto p = make(j.dump());
  CHECK(p->padding().present);
  CHECK(p->padding().pad_id == 1);
  CHECK(p->padding().pad_to_multiple_of == 8);
  CHECK(p->padding().pad_token == "<pad>");
}

TEST_CASE("text tokenizer: invalid UTF-8 text is an error not a crash") {
  auto t = fixture("bpe_roberta");
  CHECK(!t->encode("\xff\xfe").ok());
  CHECK(!t->encode_pair("ok", "\xc3").ok());
}

// ---- components by hand ---------------------------------------------------------------------

// The token strings joined by spaces (readable in failures).
std::string content_tokens(const TextTokenizer& t, const std::string& text) {
  auto e = enc(t, text);
  std::string out;
  for (const auto& tok : e.tokens) out += (out.empty() ? "" : " ") + tok;
  return out;
}

TEST_CASE("text tokenizer: Split behaviors on the-final--countdown (NormalizedString::split docs)") {
  const std::vector<std::string> words = {"the", "final", "countdown", "-", "--", "the-", "final-", "-final",
                                          "-countdown"};
  auto split = [&](const char* behavior) {
    Json pre = {{"type", "Split"}, {"pattern", {{"String", "-"}}}, {"behavior", behavior}, {"invert", false}};
    return content_tokens(*make(wordpiece_json(words, pre)), "the-final--countdown");
  };
  CHECK(split("Removed") == "the final countdown");
  CHECK(split("Isolated") == "the - final - - countdown");
  CHECK(split("MergedWithPrevious") == "the- final- - countdown");
  CHECK(split("MergedWithNext") == "the -final - -countdown");
  CHECK(split("Contiguous") == "the - final -- countdown");
  // invert: the pattern names what to keep
  Json inv = {{"type", "Split"}, {"pattern", {{"Regex", "[a-z]+"}}}, {"behavior", "Removed"}, {"invert", true}};
  CHECK(content_tokens(*make(wordpiece_json(words, inv)), "the-final--countdown") == "the final countdown");
}

TEST_CASE("text tokenizer: Punctuation isolated CharDelimiterSplit Metaspace without split") {
  Json punct = {{"type", "Punctuation"}, {"behavior", "Isolated"}};
  CHECK(content_tokens(*make(wordpiece_json({"a", "!"}, punct)), "a!!") == "a ! !");
  Json delim = {{"type", "CharDelimiterSplit"}, {"delimiter", "x"}};
  CHECK(content_tokens(*make(wordpiece_json({"a", "b"}, delim)), "axxb") == "a b");
  Json meta = {{"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "never"}, {"split", false}};
  CHECK(content_tokens(*make(wordpiece_json({"a_b", "a"}, meta)), "a b") == "a_b");
  Json always = {{"type", "Metaspace"}, {"replacement", "_"}, {"prepend_scheme", "always"}, {"split", true}};
  CHECK(content_tokens(*make(wordpiece_json({"_a", "_b"}, always)), "a b") == "_a _b");
}

std::string bpe_json(const Json& vocab, const Json& merges, const Json& extra) {
  Json model = {{"type", "BPE"}, {"dropout", nullptr}, {"vocab", vocab}, {"merges", merges}};
  for (auto it = extra.begin(); it != extra.end(); ++it) model[it.key()] = it.value();
  Json j = {{"model", model}, {"pre_tokenizer", {{"type", "WhitespaceSplit"}}}};
  return j.dump();
}

TEST_CASE("text tokenizer: BPE unk fuse_unk byte_fallback prefix / suffix ignore_merges (bpe/model.rs)") {
  Json vocab = {{"<unk>", 0}, {"a", 1}, {"b", 2}, {"ab", 3}, {"<0x63>", 4}, {"<0x64>", 5}};
  auto plain = make(bpe_json(vocab, Json::array({"a b"}), {{"unk_token", "<unk>"}}));
  CHECK(content_tokens(*plain, "abxyab") == "ab <unk> <unk> ab");
  auto fused = make(bpe_json(vocab, Json::array({"a b"}), {{"unk_token", "<unk>"}, {"fuse_unk", true}}));
  CHECK(content_tokens(*fused, "abxyab") == "ab <unk> ab");
  auto bytes = make(bpe_json(vocab, Json::array({"a b"}), {{"unk_token", "<unk>"}, {"byte_fallback", true}}));
  // merge_word adds a pending unk only before the next known char, not before byte tokens.
  CHECK(content_tokens(*bytes, "cxd") == "<0x63> <0x64> <unk>");
  auto none = make(bpe_json(vocab, Json::array({Json::array({"a", "b"})}), Json::object()));
  CHECK(content_tokens(*none, "axb") == "ab");  // no unk token: unknown chars vanish, a b then merge
  Json v2 = {{"a", 0}, {"##b", 1}, {"ab", 2}, {"b</w>", 3}, {"##b</w>", 4}, {"ab</w>", 5}};
  auto prefixed = make(bpe_json(v2, Json::array({"a ##b</w>"}),
                                {{"continuing_subword_prefix", "##"}, {"end_of_word_suffix", "</w>"}}));
  CHECK(content_tokens(*prefixed, "ab") == "ab</w>");
  Json v3 = {{"a", 0}, {"b", 1}, {"c", 2}, {"bc", 3}, {"abc", 4}};
  auto ranks = make(bpe_json(v3, Json::array({"b c"}), Json::object()));
  CHECK(content_tokens(*ranks, "abc") == "a bc");
  auto ignore = make(bpe_json(v3, Json::array({"b c"}), {{"ignore_merges", true}}));
  CHECK(content_tokens(*ignore, "abc") == "abc");
}

TEST_CASE("text tokenizer: merges apply lowest rank first then leftmost (bpe/word.rs)") {
  Json vocab = {{"a", 0}, {"aa", 1}, {"aaa", 2}};
  // "aaa": (a a) at 0 and 1 have the same rank; the leftmost merges first -> aa a
  auto t = make(bpe_json(vocab, Json::array({"a a", "aa a"}), Json::object()));
  CHECK(content_tokens(*t, "aaa") == "aaa");
  auto t2 = make(bpe_json(vocab, Json::array({"a a"}), Json::object()));
  CHECK(content_tokens(*t2, "aaa") == "aa a");
}

TEST_CASE("text tokenizer: Unigram Viterbi fused unknowns and byte fallback (unigram/model.rs)") {
  Json vocab = Json::array({Json::array({"<unk>", 0.0}), Json::array({"a", -1.0}), Json::array({"b", -1.0}),
                            Json::array({"ab", -1.5}), Json::array({"<0x78>", -5.0})});
  Json j = {{"model", {{"type", "Unigram"}, {"unk_id", 0}, {"vocab", vocab}}}};
  auto t = make(j.dump());
  CHECK(content_tokens(*t, "ab") == "ab");     // -1.5 beats a + b = -2
  auto e = enc(*t, "zzab");                        // "zz" fuses into one unknown piece
  CHECK(e.ids == std::vector<int32_t>{0, 3});
  CHECK(e.offsets[0] == TokenOffset{0, 2});
  j["model"]["byte_fallback"] = true;
  auto b = make(j.dump());
  auto x = enc(*b, "xab");
  CHECK(x.ids == std::vector<int32_t>{4, 3});
  j["model"].erase("unk_id");
  j["model"]["byte_fallback"] = false;
  auto nounk = make(j.dump());
  CHECK(!nounk->encode("z").ok());  // an unknown piece without unk_id is an error, as in Rust
}

TEST_CASE("text tokenizer: WordPiece max_input_chars_per_word and unknown parts (wordpiece/mod.rs)") {
  auto t = make(wordpiece_json({"ab", "##c"}, {{"type", "WhitespaceSplit"}}));
  CHECK(content_tokens(*t, "abc abx") == "ab ##c [UNK]");
  auto j = Json::parse(wordpiece_json({"a", "##a"}, {{"type", "WhitespaceSplit"}}));
  j["model"]["max_input_chars_per_word"] = 3;
  auto m = make(j.dump());
  CHECK(content_tokens(*m, "aaa aaaa") == "a ##a ##a [UNK]");
}

TEST_CASE("text tokenizer: added tokens single_word rstrip normalized (added_vocabulary.rs)") {
  auto j = Json::parse(wordpiece_json({"x", "y", "##x"}, {{"type", "WhitespaceSplit"}}, {{"type", "Lowercase"}}));
  j["added_tokens"] = Json::array(
      {{{"id", 4}, {"content", "TOK"}, {"single_word", true}, {"lstrip", false}, {"rstrip", true},
        {"normalized", false}, {"special", false}},
       {{"id", 5}, {"content", "Low"}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
        {"normalized", true}, {"special", false}}});
  auto t = make(j.dump());
  auto e = enc(*t, "x TOK   y");
  CHECK(e.ids == std::vector<int32_t>{1, 4, 2});
  CHECK(e.tokens[1] == "TOK   ");            // rstrip takes the spaces after it
  CHECK(e.offsets[1] == TokenOffset{2, 8});
  CHECK(content_tokens(*t, "xTOK") == "[UNK]");  // not a single word: plain text, "xtok" is unknown
  auto low = enc(*t, "x LOW y");  // "Low" is normalized: matched after lowercasing
  CHECK(low.ids == std::vector<int32_t>{1, 5, 2});
}

// ---- errors ---------------------------------------------------------------------------------

TEST_CASE("text tokenizer: malformed or hostile files give one-line errors") {
  CHECK(error_of("{").find("parse error") != std::string::npos);
  error_of("[]");
  error_of("{}");
  error_of("\"just a string\"");
  auto base = Json::parse(wordpiece_json({"a"}, {{"type", "WhitespaceSplit"}}));
  {
    auto j = base;
    j["pre_tokenizer"] = {{"type", "UnicodeScripts"}};
    auto t = TextTokenizer::create(j.dump());
    REQUIRE(!t.ok());
    CHECK(t.status().code() == StatusCode::kUnsupported);
    CHECK(t.status().message() == "tokenizer.json: pre_tokenizer type \"UnicodeScripts\" is not supported");
  }
  {
    auto j = base;
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", Json::array({{{"type", "ByteLevel"}}})}};
    CHECK(error_of(j.dump()) == "tokenizer.json: normalizer.normalizers[0] type \"ByteLevel\" is not supported");
  }
  {
    auto j = base;
    j["model"]["type"] = "WordLevel";
    CHECK(error_of(j.dump()) == "tokenizer.json: model type \"WordLevel\" is not supported");
  }
  {
    auto j = base;
    j["post_processor"] = {{"type", "Fancy"}};
    CHECK(error_of(j.dump()).find("post_processor type \"Fancy\"") != std::string::npos);
  }
  {
    auto j = base;
    j["model"]["vocab"]["b"] = -1;
    CHECK(error_of(j.dump()).find("out of range") != std::string::npos);
    j["model"]["vocab"]["b"] = 1u << 30;
    CHECK(error_of(j.dump()).find("too sparse") != std::string::npos);
    j["model"]["vocab"]["b"] = "one";
    error_of(j.dump());
  }
  {
    auto j = base;
    j["normalizer"] = {{"type", "Lowercase"}};
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
    CHECK(error_of(j.dump()).find("regex does not compile") != std::string::npos);
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "a"}}}, {"behavior", "Sideways"}};
    error_of(j.dump());
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "ab"}};
    error_of(j.dump());
    j["pre_tokenizer"] = {{"type", "Metaspace"}, {"replacement", "_"}, {"add_prefix_space", false}};
    error_of(j.dump());  // add_prefix_space false contradicts the default prepend_scheme "always"
    j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", "yes"}};
    error_of(j.dump());
  }
  {
    // 3000 nested Sequences, written as text (a nested Json object would copy recursively).
    std::string deep;
    for (int i = 0; i < 3000; ++i) deep += R"({"type":"Sequence","normalizers":[)";
    deep += R"({"type":"Lowercase"})";
    for (int i = 0; i < 3000; ++i) deep += "]}";
    auto j = base;
    j["normalizer"] = nullptr;
    std::string text = j.dump();
    text.replace(text.find("\"normalizer\":null"), 17, "\"normalizer\":" + deep);
    CHECK(error_of(text).find("nested too deeply") != std::string::npos);
  }
  {
    auto j = base;
    j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "not base64!"}};
    error_of(j.dump());
    j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "AAAA"}};
    error_of(j.dump());
    j["normalizer"] = {{"type", "Precompiled"}, {"precompiled_charsmap", "/////w=="}};  // trie larger than the blob
    error_of(j.dump());
  }
  {
    auto j = base;
    j["truncation"] = {{"max_length", -3}};
    error_of(j.dump());
    j["truncation"] = {{"max_length", 3}, {"strategy", "Sometimes"}};
    error_of(j.dump());
  }
  {
    auto j = base;
    j["post_processor"] = {{"type", "TemplateProcessing"},
                           {"single", Json::array({{{"SpecialToken", {{"id", "[X]"}, {"type_id", 0}}}}})},
                           {"pair", Json::array()}, {"special_tokens", Json::object()}};
    CHECK(error_of(j.dump()).find("\"[X]\" is not in special_tokens") != std::string::npos);
    j["post_processor"] = {{"type", "BertProcessing"}, {"sep", Json::array({"[SEP]"})}, {"cls", Json::array({"[CLS]", 1})}};
    error_of(j.dump());
  }
}

TEST_CASE("text tokenizer: BPE files with bad merges dropout or unigram ids are refused") {
  Json vocab = {{"a", 0}, {"b", 1}, {"ab", 2}};
  CHECK(error_of(bpe_json(vocab, Json::array({"a"}), Json::object())).find("expected \"a b\"") != std::string::npos);
  CHECK(error_of(bpe_json(vocab, Json::array({"a c"}), Json::object())).find("\"c\" is not in the vocabulary") !=
        std::string::npos);
  CHECK(error_of(bpe_json({{"a", 0}, {"b", 1}}, Json::array({"a b"}), Json::object()))
            .find("\"ab\" is not in the vocabulary") != std::string::npos);
  CHECK(error_of(bpe_json(vocab, Json::array({42}), Json::object())).find("merges[0]") != std::string::npos);
  auto t = TextTokenizer::create(bpe_json(vocab, Json::array({"a b"}), {{"dropout", 0.1}}));
  REQUIRE(!t.ok());
  CHECK(t.status().code() == StatusCode::kUnsupported);
  CHECK(TextTokenizer::create(bpe_json(vocab, Json::array({"a b"}), {{"dropout", 0.0}})).ok());
  Json uni = {{"model", {{"type", "Unigram"}, {"unk_id", 7}, {"vocab", Json::array({Json::array({"a", -1.0})})}}}};
  CHECK(error_of(uni.dump()).find("unk_id") != std::string::npos);
  uni["model"]["vocab"] = Json::array({Json::array({"a"})});
  error_of(uni.dump());
  Json nomodel = {{"normalizer", nullptr}};
  CHECK(error_of(nomodel.dump()).find("missing \"model\"") != std::string::npos);
}

}  // namespace
}  // namespace encore
