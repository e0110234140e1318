#pragma once
/// Small RAII owners of HDF5 identifiers (file, group, dataset, dataspace, datatype, attribute, property list).

#include <hdf5.h>

#include <utility>

namespace partita::detail {

/// What kind of HDF5 object an identifier names, which selects the H5?close call.
enum class h5_kind { file, group, dataset, dataspace, datatype, attribute, plist };

/// Owns one HDF5 identifier. Move-only. The destructor closes it, is noexcept and logs a failure;
/// call close() where a failure matters (a file close flushes and can fail).
class h5_handle {
 public:
  h5_handle() noexcept = default;
  /// Takes ownership of `id`, which must be valid (callers pass PARTITA_H5(...)'s result).
  h5_handle(hid_t id, h5_kind kind) noexcept : id_(id), kind_(kind) {}
  ~h5_handle();
  h5_handle(h5_handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)), kind_(other.kind_) {}
  h5_handle& operator=(h5_handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      kind_ = other.kind_;
    }
    return *this;
  }
  h5_handle(const h5_handle&) = delete;
  h5_handle& operator=(const h5_handle&) = delete;

  hid_t get() const noexcept { return id_; }
  explicit operator bool() const noexcept { return id_ >= 0; }
  /// Closes now; throws hdf5_error if HDF5 reports a failure (the handle is empty afterwards either way).
  void close();
  /// Closes now; logs instead of throwing.
  void reset() noexcept;

 private:
  hid_t id_ = H5I_INVALID_HID;
  h5_kind kind_ = h5_kind::plist;
};

}  // namespace partita::detail
