// A map/reduce job over an HDF5 dataset, as a user writes one: the Anscombe transform y = 2 sqrt(x + 3/8) (it makes
// Poisson counts' variance about 1) of every element of a 2-D float64 dataset, into an output dataset of the same
// shape. Partita cuts the blocks (whole chunks, about --param partition_mib each), reads each on the rank that runs
// it, ahead of the kernels; each block's output is written in its place by that rank, not sent anywhere, and the
// file records which blocks are committed. The fold carries only a small summary, the same at any rank count.
//
//   partita make-input counts.h5 --dataset /x --rows 100000 --cols 64 --chunk-rows 1000
//   mpirun -n 4 ./example_anscombe --param file=counts.h5 --param dataset=/x --param output=stable.h5
#include <cmath>
#include <cstdio>
#include <string>

#include <partita/partita.hpp>

struct summary {
  std::uint64_t elements = 0;
  double sum = 0;  // of the output, block by block in id order: the same at any rank count
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& elements& sum;
  }
};

int main(int argc, char** argv) {
  partita::program prog(argc, argv, "the Anscombe transform of an HDF5 dataset, written block by block");
  const auto& p = prog.params();
  const std::string file = p.get_string("file", ""), dataset = p.get_string("dataset", "/x");
  const std::string output = p.get_string("output", ""), output_dataset = p.get_string("output_dataset", "/y");
  if (file.empty() || output.empty()) {
    std::fprintf(stderr, "example_anscombe: give --param file=IN.h5 --param output=OUT.h5 (and --param dataset=/x)\n");
    return 2;
  }
  const auto block_bytes = static_cast<std::uint64_t>(p.get_double("partition_mib", 1) * 1048576.0);

  auto job = partita::map_reduce_job<summary>("anscombe")
                 .params(p)  // the output's name is part of the job: another output file is another job
                 .input<double>(file, dataset, block_bytes)
                 .output<double>(output, output_dataset)
                 .block_kernel<double>([](const partita::block_view<double>& in, partita::context& ctx) {
                   auto out = ctx.output<double>();
                   summary s;
                   for (std::size_t i = 0; i < in.data.size(); ++i) {
                     out.data[i] = 2.0 * std::sqrt(in.data[i] + 0.375);
                     s.sum += out.data[i];
                   }
                   s.elements = in.data.size();
                   return s;
                 })
                 .combine([](summary& a, summary&& b) {
                   a.elements += b.elements;
                   a.sum += b.sum;
                 })
                 .describe([](const summary& s) { return std::to_string(s.elements) + " elements"; });

  return prog.run(job, [&](const summary& s) {
    std::printf("anscombe: %llu elements of %s:%s into %s:%s, output sum %.17g\n",
                static_cast<unsigned long long>(s.elements), file.c_str(), dataset.c_str(), output.c_str(),
                output_dataset.c_str(), s.sum);
  });
}
