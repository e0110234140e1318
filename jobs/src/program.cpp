#include <partita/jobs/program.hpp>

#include <string_view>

namespace partita {

program::parsed program::parse(int argc, char** argv, const std::string& description) {
  int split = argc;  // words after "--" are the program's own
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--") {
      split = i;
      break;
    }
  parsed p;
  p.config = parse_run_config(split, argv, description, &p.params);
  for (int i = split + 1; i < argc; ++i) p.args.emplace_back(argv[i]);
  return p;
}

program::program(int& argc, char**& argv, std::string description)
    : name_(argc > 0 ? argv[0] : "partita-program"), parsed_(parse(argc, argv, description)), session_(argc, argv) {
  if (auto slash = name_.rfind('/'); slash != std::string::npos) name_ = name_.substr(slash + 1);
}

}  // namespace partita
