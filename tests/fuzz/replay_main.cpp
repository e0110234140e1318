// A plain main() for a target of tests/fuzz: replays input files through the same code the fuzzer runs,
// so that committed inputs (regressions, seeds) are tested in every build, without libFuzzer.
//
//   fuzz_replay_<target> [--expect accepted] [--min N] PATH...   files, or directories of files (not recursive)
//   fuzz_replay_<target> --write-seeds DIR                        writes the target's built-in seeds to DIR
//
// Exit 0 when every input ran (and, with --expect accepted, was accepted) and there were at least N
// (default 1); 1 otherwise; a broken invariant aborts, naming it.
#include "fuzz_target.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

int usage(const char* self) {
  std::fprintf(stderr, "usage: %s [--expect accepted] [--min N] PATH... | --write-seeds DIR\n", self);
  return 2;
}

std::vector<std::byte> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.eof() && in.fail()) {
    std::fprintf(stderr, "cannot read %s\n", p.c_str());
    std::exit(1);
  }
  std::vector<std::byte> b(c.size());
  if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());  // an empty file: both data() may be null
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  bool expect_accepted = false;
  std::size_t min_inputs = 1;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--write-seeds" && i + 1 < argc) {
      const fs::path dir = argv[++i];
      fs::create_directories(dir);
      const int n = partita::fuzz::write_seeds(dir);
      std::printf("%d seed(s) written to %s\n", n, dir.c_str());
      return 0;
    }
    if (a == "--expect" && i + 1 < argc && std::strcmp(argv[i + 1], "accepted") == 0) {
      expect_accepted = true;
      ++i;
    } else if (a == "--min" && i + 1 < argc) {
      min_inputs = std::stoul(argv[++i]);
    } else if (!a.empty() && a[0] == '-') {
      return usage(argv[0]);
    } else if (fs::is_directory(a)) {
      std::vector<fs::path> in_dir;
      for (const auto& e : fs::directory_iterator(a))
        if (e.is_regular_file() && e.path().filename().string().front() != '.') in_dir.push_back(e.path());
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(a)) {
      files.emplace_back(a);
    } else {
      std::fprintf(stderr, "%s: no such file or directory\n", a.c_str());
      return 1;
    }
  }
  std::size_t accepted = 0;
  std::vector<std::string> refused;
  for (const auto& f : files) {
    std::fprintf(stderr, "replaying %s\n", f.c_str());
    const auto input = read_all(f);
    if (partita::fuzz::run_one(input) == partita::fuzz::verdict::accepted) ++accepted;
    else refused.push_back(f.string());
  }
  std::printf("%zu input(s): %zu accepted, %zu rejected, no crash\n", files.size(), accepted, refused.size());
  if (files.size() < min_inputs) {
    std::fprintf(stderr, "expected at least %zu input(s), found %zu\n", min_inputs, files.size());
    return 1;
  }
  if (expect_accepted && !refused.empty()) {
    for (const auto& f : refused) std::fprintf(stderr, "rejected, but every input should be accepted: %s\n", f.c_str());
    return 1;
  }
  return 0;
}
