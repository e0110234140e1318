#pragma once
/// The checker every HDF5 call goes through: negative results become partita::hdf5_error.

#include <hdf5.h>

#include <partita/runtime/error.hpp>

namespace partita::detail {

/// Turns HDF5's automatic error printing off for this process (idempotent). Failures then reach
/// the checker instead of stderr.
void silence_hdf5_errors() noexcept;

/// Throws hdf5_error for `call`, with the innermost message from HDF5's error stack.
[[noreturn]] void throw_hdf5_error(const char* call);

/// Checks an HDF5 return value (herr_t, hid_t, htri_t or ssize_t): negative means failure.
template <class T>
T check_hdf5(T rc, const char* call) {
  if (rc < 0) throw_hdf5_error(call);
  return rc;
}

}  // namespace partita::detail

/// Checks an HDF5 call and returns its value; throws partita::hdf5_error naming the call on failure.
#define PARTITA_H5(...) ::partita::detail::check_hdf5((__VA_ARGS__), #__VA_ARGS__)
