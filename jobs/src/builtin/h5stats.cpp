// Built-in job `h5stats`: count, min, max, mean and a histogram of an HDF5 dataset of any size, read block by block
// on the ranks (the map/reduce data path) and folded in partition order.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <boost/serialization/vector.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>

namespace partita::detail {

namespace {

struct h5_stats {
  std::uint64_t count = 0;  ///< elements that are numbers (NaNs are counted apart)
  std::uint64_t nans = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::uint64_t below = 0, above = 0;  ///< outside the histogram's [lo, hi)
  std::vector<std::uint64_t> hist;
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& count& nans& sum& min& max& below& above& hist;
  }
};

struct h5stats_settings {
  std::string file, dataset;
  data_type type = data_type::float64;
  std::uint64_t partition_bytes = default_partition_bytes;
  std::uint64_t bins = 16;
  double lo = 0, hi = 1;
};

h5stats_settings read_settings(const parameters& p) {
  h5stats_settings s;
  s.file = p.get_string("file", "");
  s.dataset = p.get_string("dataset", "");
  if (s.file.empty() || s.dataset.empty())
    throw usage_error("h5stats needs a dataset: --param file=FILE --param dataset=/PATH");
  const auto type = p.get_string("type", "float64");
  if (!parse_data_type(type, s.type))
    throw usage_error("h5stats: type=" + type + " is none of float64, float32, int64, int32, uint64, uint32, uint8");
  const double mib = p.get_double("partition_mib", 64);
  if (!(mib > 0)) throw usage_error("h5stats: partition_mib must be more than 0, e.g. --param partition_mib=64");
  s.partition_bytes = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(mib * 1048576.0));
  const auto bins = p.get_int("bins", 16);
  if (bins < 1 || bins > 1000000) throw usage_error("h5stats: bins must be between 1 and 1000000");
  s.bins = static_cast<std::uint64_t>(bins);
  s.lo = p.get_double("lo", 0);
  s.hi = p.get_double("hi", 1);
  if (!(s.hi > s.lo)) throw usage_error("h5stats: the histogram's range needs lo < hi, e.g. --param lo=0 --param hi=1");
  return s;
}

template <class T>
std::unique_ptr<map_job_model> make_h5stats(const parameters& p, const h5stats_settings& s) {
  return map_reduce_job<h5_stats>("h5stats")
      .params(p)
      .template input<T>(s.file, s.dataset, s.partition_bytes)
      .template block_kernel<T>([s](const block_view<T>& b, context&) {
        h5_stats r;
        r.hist.assign(s.bins, 0);
        const double width = s.hi - s.lo;
        for (const T raw : b.data) {
          const double x = static_cast<double>(raw);
          if (std::isnan(x)) {
            ++r.nans;
            continue;
          }
          ++r.count;
          r.sum += x;  // in row-major order within a block, then blocks in id order: the same bits at any rank count
          r.min = std::min(r.min, x);
          r.max = std::max(r.max, x);
          if (x < s.lo) ++r.below;
          else if (x >= s.hi) ++r.above;
          else
            r.hist[std::min(s.bins - 1,
                            static_cast<std::uint64_t>((x - s.lo) / width * static_cast<double>(s.bins)))]++;
        }
        return r;
      })
      .combine([](h5_stats& a, h5_stats&& b) {
        a.count += b.count;
        a.nans += b.nans;
        a.sum += b.sum;
        a.min = std::min(a.min, b.min);
        a.max = std::max(a.max, b.max);
        a.below += b.below;
        a.above += b.above;
        if (a.hist.size() < b.hist.size()) a.hist.resize(b.hist.size(), 0);
        for (std::size_t i = 0; i < b.hist.size(); ++i) a.hist[i] += b.hist[i];
      })
      .describe([s](const h5_stats& r) {
        const double mean = r.count > 0 ? r.sum / static_cast<double>(r.count) : 0.0;
        return fmt::format("count={} nan={} min={} max={} sum={} mean={} below={} above={} hist[{},{})={}", r.count,
                           r.nans, r.min, r.max, r.sum, mean, r.below, r.above, s.lo, s.hi, fmt::join(r.hist, ","));
      })
      .model();
}

}  // namespace

void register_h5stats(job_registry& r) {
  r.add({"h5stats",
         "count, min, max, mean and a histogram of an HDF5 dataset (any rank, any size), read where it runs",
         {{"file", "", "the HDF5 file"},
          {"dataset", "", "the dataset in it, e.g. /x"},
          {"type", "float64", "its element type (float64, float32, int64, int32, uint64, uint32, uint8)"},
          {"partition_mib", "64", "target partition size in MiB (whole chunks along the first axis)"},
          {"bins", "16", "histogram bins over [lo, hi)"},
          {"lo", "0", "histogram's lower edge"},
          {"hi", "1", "histogram's upper edge (values outside are counted as below/above)"}},
         map_reduce_factory{[](const parameters& p) {
           const auto s = read_settings(p);
           switch (s.type) {
             case data_type::float64: return make_h5stats<double>(p, s);
             case data_type::float32: return make_h5stats<float>(p, s);
             case data_type::int64: return make_h5stats<std::int64_t>(p, s);
             case data_type::int32: return make_h5stats<std::int32_t>(p, s);
             case data_type::uint64: return make_h5stats<std::uint64_t>(p, s);
             case data_type::uint32: return make_h5stats<std::uint32_t>(p, s);
             case data_type::uint8: return make_h5stats<std::uint8_t>(p, s);
           }
           throw usage_error("h5stats: unknown type");
         }}});
}

}  // namespace partita::detail
