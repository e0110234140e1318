#include <partita/checkpoint/detail/h5_handle.hpp>

#include <partita/checkpoint/h5_check.hpp>
#include <partita/runtime/log.hpp>

namespace partita::detail {

namespace {
herr_t close_id(hid_t id, h5_kind kind) noexcept {
  switch (kind) {
    case h5_kind::file: return H5Fclose(id);
    case h5_kind::group: return H5Gclose(id);
    case h5_kind::dataset: return H5Dclose(id);
    case h5_kind::dataspace: return H5Sclose(id);
    case h5_kind::datatype: return H5Tclose(id);
    case h5_kind::attribute: return H5Aclose(id);
    case h5_kind::plist: return H5Pclose(id);
  }
  return -1;
}
const char* kind_text(h5_kind kind) noexcept {
  switch (kind) {
    case h5_kind::file: return "H5Fclose";
    case h5_kind::group: return "H5Gclose";
    case h5_kind::dataset: return "H5Dclose";
    case h5_kind::dataspace: return "H5Sclose";
    case h5_kind::datatype: return "H5Tclose";
    case h5_kind::attribute: return "H5Aclose";
    case h5_kind::plist: return "H5Pclose";
  }
  return "H5?close";
}
}  // namespace

h5_handle::~h5_handle() { reset(); }

void h5_handle::close() {
  const hid_t id = std::exchange(id_, H5I_INVALID_HID);
  if (id >= 0) check_hdf5(close_id(id, kind_), kind_text(kind_));
}

void h5_handle::reset() noexcept {
  const hid_t id = std::exchange(id_, H5I_INVALID_HID);
  if (id < 0) return;
  if (close_id(id, kind_) < 0) {
    H5Eclear2(H5E_DEFAULT);
    try {
      log().warn("{} failed on HDF5 id {} while cleaning up", kind_text(kind_), static_cast<long long>(id));
    } catch (...) {  // logging must not throw out of a destructor
    }
  }
}

}  // namespace partita::detail
