// The C++ API from an installed libencore.so: labels each text given on the command line.
//   cpp_consumer MODEL TEXT...  ->  one "TEXT<TAB>LABEL" line per text
#include <iostream>
#include <string>
#include <vector>

#include "encore/text.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: cpp_consumer MODEL TEXT...\n";
    return 2;
  }
  auto model = encore::Model::load(argv[1]);
  if (!model.ok()) {
    std::cerr << "cpp_consumer: error: " << model.status().to_string() << "\n";
    return 1;
  }
  auto text = encore::TextEncoder::create(model.value());
  if (!text.ok()) {
    std::cerr << "cpp_consumer: error: " << text.status().to_string() << "\n";
    return 1;
  }
  const std::vector<std::string> texts(argv + 2, argv + argc);
  auto results = (*text)->classify(texts);
  if (!results.ok()) {
    std::cerr << "cpp_consumer: error: " << results.status().to_string() << "\n";
    return 1;
  }
  // The tokenizer pipeline is part of the exported API too.
  auto tokens = (*text)->tokenizer().encode(texts[0]);
  if (!tokens.ok() || tokens->ids.size() < 2) {
    std::cerr << "cpp_consumer: error: tokenizer\n";
    return 1;
  }
  for (size_t i = 0; i < texts.size(); ++i) std::cout << texts[i] << "\t" << (*results)[i].label << "\n";
  return 0;
}
