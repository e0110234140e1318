// libFuzzer's entry point for a target of tests/fuzz (linked with -fsanitize=fuzzer, which brings main()).
#include "fuzz_target.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)partita::fuzz::run_one(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size));
  return 0;
}
