#include <partita/checkpoint/h5_check.hpp>

#include <string>

namespace partita::detail {

void silence_hdf5_errors() noexcept { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

namespace {
herr_t innermost(unsigned n, const H5E_error2_t* err, void* out) {
  auto* text = static_cast<std::string*>(out);
  if (n == 0 || text->empty()) {
    *text = std::string(err->func_name ? err->func_name : "?") + ": " + (err->desc ? err->desc : "");
  }
  return 0;
}
}  // namespace

void throw_hdf5_error(const char* call) {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &detail);
  H5Eclear2(H5E_DEFAULT);
  throw hdf5_error(call, detail);
}

}  // namespace partita::detail
