// The converter's tokenizer reading (tools/convert/tokenizer_files.h): legacy files turned into a
// tokenizer.json must reproduce the goldens of the tokenizer.json they came from (goldens made by
// independent implementations: the JS tokenizers, python3-sentencepiece); tokenizer_config.json
// changes a tokenizer.json as transformers' fast classes do at load; every refusal is one line.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "convert/tokenizer_files.h"
#include "encore/text_tokenizer.h"
#include "text_tokenizer_golden_util.h"

namespace encore {
namespace {

using text_golden::check_goldens;
using text_golden::fixture;
using text_golden::read_file;

// A scratch model directory, removed with its files at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/encore_tokfiles_XXXXXX";
    REQUIRE(::mkdtemp(tmpl) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    for (const auto& f : files_) std::remove((path_ + "/" + f).c_str());
    ::rmdir(path_.c_str());
  }
  void write(const std::string& name, const std::string& bytes) {
    std::ofstream out(path_ + "/" + name, std::ios::binary);
    out << bytes;
    REQUIRE(out.good());
    files_.push_back(name);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> files_;
};

std::unique_ptr<TextTokenizer> build(const convert::TokenizerFiles& f) {
  REQUIRE(!f.json.empty());
  auto t = TextTokenizer::create(f.json);
  REQUIRE_MESSAGE(t.ok(), t.status().to_string());
  return std::move(t).value();
}

std::vector<int32_t> ids(const TextTokenizer& t, const std::string& text) {
  auto e = t.encode(text);
  REQUIRE_MESSAGE(e.ok(), e.status().to_string());
  return e->ids;
}

// The error of reading `dir`; it must be one line.
std::string error_of(const std::string& dir) {
  auto r = convert::read_tokenizer_files(dir);
  REQUIRE_MESSAGE(!r.ok(), "expected an error for " << dir);
  const std::string m = r.status().message();
  CHECK_MESSAGE(m.find('\n') == std::string::npos, m);
  return m;
}

TEST_CASE("tokenizer files: vocab.json + merges.txt (RobertaTokenizer) reproduce the byte-level BPE goldens") {
  auto r = convert::read_tokenizer_files(fixture("legacy_roberta"));
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  CHECK(r->source == "vocab.json + merges.txt");
  CHECK(r->model_max_length == 512);
  CHECK(r->warnings.empty());
  auto t = build(*r);
  // RobertaProcessing type ids are all 0 in the Rust crate, 1 for the second segment in the JS
  // goldens (tests/tokenizer/README.md): ids only, as the tokenizer.json golden test does.
  const auto n = check_goldens(*t, "goldens_bpe_roberta.jsonl", false);
  CHECK(n.singles >= 400);
  CHECK(n.pairs >= 60);
  CHECK(n.mismatched == 0);
  // <mask> keeps its lstrip from special_tokens_map.json: " <mask>" is one token.
  CHECK(ids(*t, "a <mask>") == ids(*t, "a<mask>"));
}

TEST_CASE("tokenizer files: sentencepiece.bpe.model with XLMRobertaTokenizer reproduces SentencePiece and JS goldens") {
  TempDir d;
  d.write("sentencepiece.bpe.model", read_file(fixture("unigram.model")));
  d.write("tokenizer_config.json", R"({"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": 1e30})");
  auto r = convert::read_tokenizer_files(d.path());
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  CHECK(r->source == "sentencepiece.bpe.model");
  CHECK(r->model_max_length == 0);  // 1e30: transformers' "no limit"
  auto t = build(*r);
  for (const char* golden : {"goldens_spm_unigram.jsonl", "goldens_unigram_xlmr.jsonl"}) {
    const auto n = check_goldens(*t, golden);
    CHECK(n.singles >= 400);
    CHECK(n.pairs >= 60);
    CHECK(n.mismatched == 0);
  }
}

TEST_CASE("tokenizer files: a SentencePiece model with CamembertTokenizer takes the CamemBERT id layout") {
  // CamembertConverter: <s>NOTUSED <pad> </s>NOTUSED <unk> <unk>NOTUSED, then the pieces from spm
  // id 1 on (spm <s> = 1, </s> = 2 become 5 and 6, as in camembert-base), <mask> last.
  TempDir d;
  d.write("sentencepiece.bpe.model", read_file(fixture("unigram.model")));
  d.write("tokenizer_config.json", R"({"tokenizer_class": "CamembertTokenizer"})");
  auto r = convert::read_tokenizer_files(d.path());
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  auto t = build(*r);
  CHECK(t->token_to_id("<s>") == 5);
  CHECK(t->token_to_id("</s>") == 6);
  CHECK(t->token_to_id("<pad>") == 1);
  CHECK(t->token_to_id("<s>NOTUSED") == 0);
  CHECK(t->vocab_size() == 2000 + 4 + 1);  // 5 fixed + 1999 pieces + <mask>
  CHECK(t->token_to_id("<mask>") == 2004);
  CHECK(ids(*t, "") == std::vector<int32_t>{5, 6});
}

TEST_CASE("tokenizer files: tokenizer_config.json changes tokenizer.json as the fast classes do at load") {
  const std::string cased = read_file(fixture("wordpiece_cased.json"));
  auto original = TextTokenizer::create(cased);
  REQUIRE(original.ok());

  SUBCASE("BertTokenizerFast with do_lower_case true lowercases a cased tokenizer.json") {
    // BertTokenizerFast.__init__ rebuilds the BertNormalizer when its "lowercase" differs from
    // do_lower_case (strip_accents None then follows lowercase in BertNormalizer).
    TempDir d;
    d.write("tokenizer.json", cased);
    d.write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizerFast", "do_lower_case": true})");
    auto r = convert::read_tokenizer_files(d.path());
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    CHECK(r->source == "tokenizer.json");
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0].find("lowercase true") != std::string::npos);
    auto t = build(*r);
    CHECK(ids(*t, "Hello World") == ids(**original, "hello world"));
    CHECK(ids(*t, "Hello World") != ids(**original, "Hello World"));
  }
  SUBCASE("do_lower_case false keeps it cased, with no warning") {
    TempDir d;
    d.write("tokenizer.json", cased);
    d.write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizer", "do_lower_case": false})");
    auto r = convert::read_tokenizer_files(d.path());
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    CHECK(r->warnings.empty());
    CHECK(ids(*build(*r), "Hello World") == ids(**original, "Hello World"));
  }
  SUBCASE("no tokenizer_config.json: config.json's model_type bert gives BertTokenizerFast's default, lowercase") {
    TempDir d;
    d.write("tokenizer.json", cased);
    d.write("config.json", R"({"model_type": "bert"})");
    auto r = convert::read_tokenizer_files(d.path());
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0].find("default") != std::string::npos);
    CHECK(ids(*build(*r), "Hello World") == ids(**original, "hello world"));
  }
  SUBCASE("RobertaTokenizerFast with add_prefix_space true sets it in the ByteLevel pre-tokenizer") {
    const std::string roberta = read_file(fixture("bpe_roberta.json"));
    auto plain = TextTokenizer::create(roberta);
    REQUIRE(plain.ok());
    TempDir d;
    d.write("tokenizer.json", roberta);
    d.write("tokenizer_config.json", R"({"tokenizer_class": "RobertaTokenizerFast", "add_prefix_space": true})");
    auto r = convert::read_tokenizer_files(d.path());
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    auto t = build(*r);
    CHECK(ids(*t, "license") == ids(**plain, " license"));
    CHECK(ids(*t, "license") != ids(**plain, "license"));
  }
  SUBCASE("added_tokens_decoder flags replace tokenizer.json's") {
    TempDir d;
    d.write("tokenizer.json", cased);
    d.write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizerFast", "do_lower_case": false,
      "added_tokens_decoder": {"4": {"content": "[MASK]", "lstrip": true, "rstrip": false, "normalized": false,
                                       "single_word": false, "special": true}}})");
    auto r = convert::read_tokenizer_files(d.path());
    REQUIRE_MESSAGE(r.ok(), r.status().to_string());
    const auto j = nlohmann::json::parse(r->json);
    bool found = false;
    for (const auto& a : j["added_tokens"]) {
      if (a["content"] == "[MASK]") {
        found = true;
        CHECK(a["lstrip"] == true);
        CHECK(a["id"] == 4);
      }
    }
    CHECK(found);
  }
}

TEST_CASE("tokenizer files: vocab.txt alone leaves the WordPiece path to the caller, no files give nothing") {
  TempDir d;
  auto none = convert::read_tokenizer_files(d.path());
  REQUIRE(none.ok());
  CHECK(none->json.empty());
  CHECK(none->source.empty());
  d.write("vocab.txt", "[PAD]\n[UNK]\nhello\n");
  d.write("tokenizer_config.json", R"({"do_lower_case": false, "model_max_length": 128})");
  auto r = convert::read_tokenizer_files(d.path());
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  CHECK(r->json.empty());
  CHECK(r->source == "vocab.txt");
  CHECK(r->model_max_length == 128);
}

// A minimal ModelProto, written field by field (protobuf wire format), for the refusals below.
std::string varint(uint64_t v) {
  std::string s;
  do {
    s += static_cast<char>((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return s;
}
std::string field_bytes(int field, const std::string& b) { return varint(static_cast<uint64_t>(field) << 3 | 2) + varint(b.size()) + b; }
std::string field_varint(int field, uint64_t v) { return varint(static_cast<uint64_t>(field) << 3) + varint(v); }
std::string spm_model(int model_type) {
  std::string m;
  const char* pieces[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81" "a", "b"};
  const int types[] = {2, 3, 3, 1, 1};
  for (int i = 0; i < 5; ++i) m += field_bytes(1, field_bytes(1, pieces[i]) + field_varint(3, static_cast<uint64_t>(types[i])));
  m += field_bytes(2, field_varint(3, static_cast<uint64_t>(model_type)));
  return m;
}

TEST_CASE("tokenizer files: a hand-written Unigram ModelProto converts") {
  TempDir d;
  d.write("sentencepiece.bpe.model", spm_model(1));
  d.write("config.json", R"({"model_type": "xlm-roberta"})");
  auto r = convert::read_tokenizer_files(d.path());
  REQUIRE_MESSAGE(r.ok(), r.status().to_string());
  auto t = build(*r);
  CHECK(t->token_to_id("\xE2\x96\x81" "a") == 4);  // spm id 3 + the fairseq shift
  CHECK(t->token_to_id("<mask>") == 6);
  CHECK(ids(*t, "a b") == std::vector<int32_t>{0, 4, 3, 5, 2});  // "▁b" is unknown: <unk> then b
}

TEST_CASE("tokenizer files: refusals are one line naming the file and field") {
  SUBCASE("a tokenizer class encore does not load") {
    TempDir d;
    d.write("spiece.model", spm_model(1));
    d.write("tokenizer_config.json", R"({"tokenizer_class": "AlbertTokenizer"})");
    CHECK(error_of(d.path()).find("tokenizer_class \"AlbertTokenizer\" is not supported") != std::string::npos);
  }
  SUBCASE("a SentencePiece BPE model") {
    TempDir d;
    d.write("sentencepiece.bpe.model", spm_model(2));
    d.write("tokenizer_config.json", R"({"tokenizer_class": "XLMRobertaTokenizer"})");
    CHECK(error_of(d.path()).find("sentencepiece.bpe.model: a SentencePiece BPE model is not supported") != std::string::npos);
  }
  SUBCASE("a truncated .model") {
    TempDir d;
    d.write("sentencepiece.bpe.model", spm_model(1).substr(0, 17));
    d.write("tokenizer_config.json", R"({"tokenizer_class": "XLMRobertaTokenizer"})");
    CHECK(error_of(d.path()).find("sentencepiece.bpe.model: not a SentencePiece model") != std::string::npos);
  }
  SUBCASE("a pipeline element TextTokenizer does not implement") {
    auto j = nlohmann::json::parse(read_file(fixture("bpe_roberta.json")));
    j["pre_tokenizer"] = {{"type", "UnicodeScripts"}};
    TempDir d;
    d.write("tokenizer.json", j.dump());
    d.write("tokenizer_config.json", R"({"tokenizer_class": "PreTrainedTokenizerFast"})");
    CHECK(error_of(d.path()) == "tokenizer.json: pre_tokenizer type \"UnicodeScripts\" is not supported");
  }
  SUBCASE("vocab.json without merges.txt") {
    TempDir d;
    d.write("vocab.json", R"({"a": 0})");
    CHECK(error_of(d.path()) == "vocab.json without merges.txt");
  }
  SUBCASE("vocab.json + merges.txt for a class other than RoBERTa") {
    TempDir d;
    d.write("vocab.json", R"({"a": 0})");
    d.write("merges.txt", "#version: 0.2\n");
    d.write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizer"})");
    CHECK(error_of(d.path()).find("tokenizer class \"BertTokenizer\" is not supported (only RobertaTokenizer)") != std::string::npos);
  }
  SUBCASE("a merges.txt line that is not a pair") {
    TempDir d;
    d.write("vocab.json", R"({"a": 0, "b": 1, "ab": 2})");
    d.write("merges.txt", "#version: 0.2\na b c\n");
    d.write("tokenizer_config.json", R"({"tokenizer_class": "RobertaTokenizer"})");
    CHECK(error_of(d.path()) == "merges.txt: line 2 is not two tokens separated by a space");
  }
  SUBCASE("malformed tokenizer_config.json") {
    TempDir d;
    d.write("tokenizer_config.json", "{not json");
    CHECK(error_of(d.path()) == "tokenizer_config.json: not valid JSON");
  }
  SUBCASE("model_max_length that is not a length") {
    TempDir d;
    d.write("tokenizer_config.json", R"({"model_max_length": "512"})");
    CHECK(error_of(d.path()) == "tokenizer_config.json: 'model_max_length' is not a number");
  }
  SUBCASE("do_lower_case that is not a boolean") {
    TempDir d;
    d.write("tokenizer.json", read_file(fixture("wordpiece_cased.json")));
    d.write("tokenizer_config.json", R"({"tokenizer_class": "BertTokenizerFast", "do_lower_case": "yes"})");
    CHECK(error_of(d.path()) == "tokenizer_config.json: 'do_lower_case' is not true or false");
  }
  SUBCASE("a special token that is neither a string nor an AddedToken") {
    TempDir d;
    d.write("tokenizer.json", read_file(fixture("bpe_roberta.json")));
    d.write("tokenizer_config.json", R"({"tokenizer_class": "RobertaTokenizer", "mask_token": 5})");
    CHECK(error_of(d.path()) == "tokenizer_config.json: 'mask_token': expected a string or an AddedToken object");
  }
  SUBCASE("an unknown model_type without tokenizer_class") {
    TempDir d;
    d.write("tokenizer.json", read_file(fixture("bpe_roberta.json")));
    d.write("config.json", R"({"model_type": "t5"})");
    CHECK(error_of(d.path()).find("config.json: model_type \"t5\"") == 0);
  }
}

}  // namespace
}  // namespace encore
