#include <partita/checkpoint/reader.hpp>

#include <algorithm>
#include <new>

#include <partita/checkpoint/detail/checkpoint_file.hpp>
#include <partita/checkpoint/h5_lock.hpp>

namespace partita {

namespace {

enum class params_check { hash, any };

checkpoint_image read(const std::filesystem::path& file, checkpoint_expectation expect, params_check check) {
  const auto hdf5 = h5_lock();
  try {
    detail::checkpoint_file f(file);
    checkpoint_image img;
    img.meta = f.read_meta();
    const auto rows = f.read_manifest(img.meta);
    if (check == params_check::any) expect.params_hash = img.meta.params_hash;
    if (auto why = detail::expectation_mismatch(img.meta, expect)) throw checkpoint_error(file.string(), *why);
    f.for_each_dataset(rows, [&](const detail::manifest_row& row, detail::dataset_kind kind, bytes&& data) {
      if (auto part = detail::parse_partition_path(row.path)) {
        img.partitions.push_back({partition_id{part->first}, step_t{row.step}, std::move(part->second), std::move(data),
                                  kind == detail::dataset_kind::f64 ? element_type::f64 : element_type::u8});
        return;
      }
      const std::string key = row.path.substr(1);
      switch (kind) {
        case detail::dataset_kind::blob: img.blobs[key] = std::move(data); break;
        case detail::dataset_kind::u64: img.u64[key] = detail::elements_of<std::uint64_t>(data); break;
        case detail::dataset_kind::f64: img.f64[key] = detail::elements_of<double>(data); break;
      }
    });
    std::sort(img.partitions.begin(), img.partitions.end(), [](const partition_blob& a, const partition_blob& b) {
      return a.id != b.id ? a.id < b.id : a.name < b.name;
    });
    return img;
  } catch (const checkpoint_error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw checkpoint_error(file.string(), "out of memory while reading it");
  } catch (const error& e) {  // hdf5_error from a call outside the checked paths
    throw checkpoint_error(file.string(), e.what());
  }
}

}  // namespace

checkpoint_image read_checkpoint(const std::filesystem::path& file, const checkpoint_expectation& expect) {
  return read(file, expect, params_check::hash);
}

checkpoint_image read_checkpoint_any_parameters(const std::filesystem::path& file,
                                                const checkpoint_expectation& expect) {
  return read(file, expect, params_check::any);
}

}  // namespace partita
