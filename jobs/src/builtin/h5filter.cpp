// Built-in job `h5filter`: a 3-point smoothing along the rows of a 2-D float64 HDF5 dataset, written to an output
// dataset of the same shape by the ranks that compute each block (the map/reduce data path); the fold carries only
// a small summary.
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>

namespace partita::detail {

namespace {

struct filter_summary {
  std::uint64_t rows = 0;
  std::uint64_t blocks = 0;
  double sum = 0;  ///< of the output, block by block in id order
};

}  // namespace

void register_h5filter(job_registry& r) {
  r.add({"h5filter",
         "3-point smoothing along the rows of a 2-D float64 HDF5 dataset, written block by block where it runs",
         {{"file", "", "the input HDF5 file"},
          {"dataset", "", "the 2-D float64 dataset in it, e.g. /x"},
          {"output", "", "the output HDF5 file (made when the job starts; --overwrite-output replaces another job's)"},
          {"output_dataset", "/y", "the output dataset (same shape as the input)"},
          {"partition_mib", "64", "target partition size in MiB (whole chunks along the first axis)"},
          {"slow_rank", "-1", "for tests: the rank whose partitions take slow_ms longer (-1: every rank)"},
          {"slow_ms", "0", "for tests: see slow_rank"}},
         map_reduce_factory{[](const parameters& p) {
           const auto file = p.get_string("file", ""), dataset = p.get_string("dataset", "");
           const auto output = p.get_string("output", ""), output_dataset = p.get_string("output_dataset", "/y");
           if (file.empty() || dataset.empty() || output.empty())
             throw usage_error("h5filter needs an input and an output: --param file=FILE --param dataset=/PATH "
                               "--param output=FILE");
           const double mib = p.get_double("partition_mib", 64);
           if (!(mib > 0))
             throw usage_error("h5filter: partition_mib must be more than 0, e.g. --param partition_mib=64");
           const int slow_rank = static_cast<int>(p.get_int("slow_rank", -1));
           const auto slow_ms = p.get_int("slow_ms", 0);
           auto job = map_reduce_job<filter_summary>("h5filter")
                          .params(p)
                          .input<double>(file, dataset,
                                         std::max<std::uint64_t>(1, static_cast<std::uint64_t>(mib * 1048576.0)))
                          .output<double>(output, output_dataset);
           return job
               .block_kernel<double>([slow_rank, slow_ms](const block_view<double>& in, context& ctx) {
                 if (in.shape.size() != 2)
                   throw usage_error(fmt::format("h5filter smooths the rows of a 2-D dataset; this one has {} axes",
                                                 in.shape.size()));
                 if ((slow_rank < 0 || ctx.rank().value == slow_rank) && slow_ms > 0)
                   std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms));
                 auto out = ctx.output<double>();
                 const std::uint64_t cols = in.shape[1];
                 filter_summary s;
                 s.rows = in.rows();
                 s.blocks = 1;
                 for (std::uint64_t i = 0; i < in.rows(); ++i) {
                   const double* x = in.data.data() + i * cols;
                   double* y = out.data.data() + i * cols;
                   for (std::uint64_t j = 0; j < cols; ++j) {
                     const double left = x[j == 0 ? 0 : j - 1], right = x[j + 1 == cols ? j : j + 1];
                     y[j] = (left + x[j] + right) / 3.0;
                     s.sum += y[j];
                   }
                 }
                 return s;
               })
               .combine([](filter_summary& a, filter_summary&& b) {
                 a.rows += b.rows;
                 a.blocks += b.blocks;
                 a.sum += b.sum;
               })
               .describe([](const filter_summary& s) {
                 return fmt::format("rows={} blocks={} sum={}", s.rows, s.blocks, s.sum);
               })
               .model();
         }}});
}

}  // namespace partita::detail
