#include <partita/partita.hpp>
int main(int argc, char** argv) {
  auto job = partita::map_reduce_job<double>("harmonic")  // sum of 1/k for k = 1..10^8, in 1000 partitions
                 .partitions(1000)
                 .kernel([](const partita::partition& p, partita::context&) {
                   double sum = 0;
                   for (std::uint64_t k = p.id.value * 100000 + 1; k <= (p.id.value + 1) * 100000; ++k) sum += 1.0 / k;
                   return sum;
                 })
                 .combine([](double& total, double&& part) { total += part; });
  // Flags, MPI, every rank; on_result runs on one rank, only once every partition is in. Exit 0/1/2/75.
  return partita::main(argc, argv, job, [](double h) { std::printf("H(10^8) = %.15f\n", h); });
}
