// Jobs_Iterative: iterative jobs end to end over real ranks (run at 1, 2, 3 and 4 ranks): the final states and
// reductions equal a serial reference computed here, bitwise, with and without migration; bad graphs and halos
// are usage errors on every rank.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include <partita/checkpoint/reader.hpp>
#include <partita/scheduler/detail/job_setup.hpp>

#include <partita/jobs/builtin_iterative.hpp>
#include <partita/partita.hpp>

#include "mpi_test_env.hpp"

namespace {

using partita::testing::test_session;

partita::run_config quiet(double threshold = 0, std::uint64_t every = 0) {
  partita::run_config c;
  c.quiet = true;
  c.threads = 1;
  c.imbalance_threshold = threshold;
  c.rebalance_every_steps = every;
  c.timeout_seconds = 30;
  return c;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// The heat equation on the whole grid, one cell at a time, in the order of additions the job documents.
struct heat_reference {
  std::vector<double> u;  // (ny + 2) x (nx + 2) with the boundary ring
  std::size_t nx, ny;
  std::uint64_t steps = 0;
  double residual = 0;
  heat_reference(const partita::heat_shape& h, std::uint64_t max_steps)
      : nx(h.blocks_x * h.side), ny(h.blocks_y * h.side) {
    const std::size_t w = nx + 2;
    u.assign((ny + 2) * w, 0.0);
    std::fill_n(u.begin(), w, 1.0);
    std::vector<double> next = u;
    while (steps < max_steps) {
      residual = 0;
      for (std::size_t i = 1; i <= ny; ++i)
        for (std::size_t j = 1; j <= nx; ++j) {
          const std::size_t c = i * w + j;
          next[c] = 0.25 * (u[c - w] + u[c + w] + u[c - 1] + u[c + 1]);
          residual = std::max(residual, std::abs(next[c] - u[c]));
        }
      u.swap(next);
      ++steps;
      if (h.tol > 0 && residual < h.tol) break;
    }
  }
  double at(std::size_t i, std::size_t j) const { return u[(i + 1) * (nx + 2) + j + 1]; }
};

partita::parameters heat_params(const std::string& extra = "") {
  std::vector<std::string> items = {"blocks_x=4", "blocks_y=3", "block=9", "steps=60"};
  if (!extra.empty()) items.push_back(extra);
  return partita::parameters::parse(items);
}

void expect_heat_matches_reference(const partita::parameters& p, const partita::run_config& c) {
  const partita::heat_shape h(p);
  const auto r = partita::run(test_session(), partita::make_heat_job(p).keep_final_states(), c);
  ASSERT_TRUE(r.completed());
  const heat_reference ref(h, h.steps);
  EXPECT_EQ(r.value().steps(), ref.steps);
  EXPECT_TRUE(same_bits(r.value()["residual"], ref.residual)) << r.value()["residual"] << " vs " << ref.residual;
  if (!r.is_scheduler()) return;
  const auto& states = r.states();
  ASSERT_EQ(states.size(), h.blocks_x * h.blocks_y);
  std::size_t differ = 0;
  for (std::size_t b = 0; b < states.size(); ++b) {
    const auto bx = b % h.blocks_x, by = b / h.blocks_x;
    for (std::size_t i = 0; i < h.side; ++i)
      for (std::size_t j = 0; j < h.side; ++j)
        differ += same_bits(states[b].u[i * h.side + j], ref.at(by * h.side + i, bx * h.side + j)) ? 0 : 1;
  }
  EXPECT_EQ(differ, 0u) << "cells that differ from the serial reference";
}

TEST(Jobs_Iterative, HeatEqualsSerialReferenceBitwise) { expect_heat_matches_reference(heat_params(), quiet()); }

TEST(Jobs_Iterative, HeatStopsAtToleranceLikeTheReference) {
  expect_heat_matches_reference(heat_params("tol=2e-3"), quiet());
}

TEST(Jobs_Iterative, HeatWithMigrationEveryFewStepsEqualsSerialReference) {
  // Refined blocks cost 20x: rebalancing every 4 steps moves partitions between ranks; the result must not change.
  const auto p = partita::parameters::parse({"blocks_x=4", "blocks_y=3", "block=9", "steps=60", "refine=20"});
  const partita::heat_shape h(p);
  const auto r = partita::run(test_session(), partita::make_heat_job(p).keep_final_states(), quiet(1.05, 4));
  ASSERT_TRUE(r.completed());
  const heat_reference ref(h, h.steps);
  EXPECT_TRUE(same_bits(r.value()["residual"], ref.residual));
  if (test_session().size() > 1 && r.is_scheduler()) {
    EXPECT_GT(r.report().iterative.migrations, 0u) << "20x refined blocks at the start should move";
  }
  if (r.is_scheduler()) {
    std::size_t differ = 0;
    for (std::size_t b = 0; b < r.states().size(); ++b)
      for (std::size_t i = 0; i < h.side; ++i)
        for (std::size_t j = 0; j < h.side; ++j)
          differ += same_bits(r.states()[b].u[i * h.side + j],
                              ref.at((b / h.blocks_x) * h.side + i, (b % h.blocks_x) * h.side + j))
                        ? 0
                        : 1;
    EXPECT_EQ(differ, 0u);
  }
}

TEST(Jobs_Iterative, PagerankEqualsSerialReferenceBitwise) {
  const auto p = partita::parameters::parse({"vertices=3000", "blocks=7", "degree=5", "steps=40", "tol=0"});
  const auto g = partita::make_pagerank_graph(p);
  // Serial reference with the same order of additions: sources ascending per vertex.
  const double V = static_cast<double>(g->vertices);
  std::vector<double> rank(g->vertices, 1.0 / V), next(g->vertices);
  double change = 0;
  for (std::uint64_t s = 0; s < g->steps; ++s) {
    change = 0;
    std::vector<double> block_change(g->blocks, 0.0);
    for (std::uint64_t v = 0; v < g->vertices; ++v) {
      double sum = 0;
      for (auto u : g->in[v]) sum += rank[u] / static_cast<double>(g->out[u].size());
      next[v] = (1.0 - g->damping) / V + g->damping * sum;
      block_change[g->block_of(v)] += std::abs(next[v] - rank[v]);
    }
    for (double c : block_change) change += c;  // the job folds per-block sums in block order
    rank.swap(next);
  }
  for (auto [threshold, every] : {std::pair{0.0, std::uint64_t{0}}, std::pair{1.01, std::uint64_t{3}}}) {
    const auto r = partita::run(test_session(), partita::make_pagerank_job(p).keep_final_states(),
                                quiet(threshold, every));
    ASSERT_TRUE(r.completed());
    EXPECT_TRUE(same_bits(r.value()["l1_change"], change)) << r.value()["l1_change"] << " vs " << change;
    if (!r.is_scheduler()) continue;
    std::size_t differ = 0;
    for (std::uint64_t b = 0; b < g->blocks; ++b)
      for (std::uint64_t v = g->starts[b]; v < g->starts[b + 1]; ++v)
        differ += same_bits(r.states()[b].rank[v - g->starts[b]], rank[v]) ? 0 : 1;
    EXPECT_EQ(differ, 0u);
  }
}

partita::iterative_job<double> chain(std::uint64_t n) {
  return partita::iterative_job<double>("chain")
      .partitions(n, [](partita::partition_id id) { return double(id.value); })
      .neighbours([n](partita::partition_id id) {
        std::vector<partita::partition_id> v;
        if (id.value > 0) v.push_back(partita::partition_id{id.value - 1});
        if (id.value + 1 < n) v.push_back(partita::partition_id{id.value + 1});
        return v;
      })
      .halo([](const double& x, partita::partition_id) { return std::vector<double>{x}; })
      .step([](double& x, const partita::halo_view& h, partita::context& ctx) {
        double s = x;
        for (const auto& [id, d] : h) s += d[0];
        x = s / static_cast<double>(h.size() + 1) + 1e-3 * ctx.rng().uniform();
      })
      .reduce("sum", partita::reduce_op::sum, [](const double& x) { return x; })
      .reduce(
          "product-ish", [](double a, double b) { return a * 0.5 + b; }, [](const double& x) { return x; })
      .until(25);
}

TEST(Jobs_Iterative, CustomReductionIsFoldedInIdOrder) {
  const std::uint64_t n = 9;
  const auto r = partita::run(test_session(), chain(n), quiet());
  ASSERT_TRUE(r.completed());
  // Serial: the same steps, then the fold left to right.
  std::vector<double> x(n);
  for (std::uint64_t i = 0; i < n; ++i) x[i] = double(i);
  for (std::uint64_t s = 0; s < 25; ++s) {
    std::vector<double> nx(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      double sum = x[i];
      std::size_t k = 0;
      if (i > 0) sum += x[i - 1], ++k;
      if (i + 1 < n) sum += x[i + 1], ++k;
      partita::random_stream rng(1, partita::partition_id{i}, partita::step_t{s});
      nx[i] = sum / static_cast<double>(k + 1) + 1e-3 * rng.uniform();
    }
    x = nx;
  }
  double sum = x[0], odd = x[0];
  for (std::uint64_t i = 1; i < n; ++i) sum += x[i], odd = odd * 0.5 + x[i];
  EXPECT_TRUE(same_bits(r.value()["sum"], sum));
  EXPECT_TRUE(same_bits(r.value()["product-ish"], odd));
}

TEST(Jobs_Iterative, ImbalancedStartConvergesUnderTenPercentAndTheResultDoesNotChange) {
  // 39 partitions; the first 3 sleep 16 ms a step, the others 4 ms (sleeps, long enough that wake-up delays on a
  // loaded machine stay small against them): 48 units, and contiguous ranges of exactly 12, 16 or 24 units exist
  // for 4, 3 and 2 ranks. Even ranges put the heavy ones together (imbalance 1.21 to 1.58). Rebalancing every 10
  // steps as well as on the 1.1 threshold, so that the test does not hang on how the loaded machine measures.
  const auto job = [](bool sleep) {
    return chain(39)
        .step([sleep](double& x, const partita::halo_view& h, partita::context& ctx) {
          double s = x;
          for (const auto& [id, d] : h) s += d[0];
          x = s / static_cast<double>(h.size() + 1);
          if (sleep) std::this_thread::sleep_for(std::chrono::milliseconds(ctx.partition().value < 3 ? 16 : 4));
        })
        .until(30);
  };
  const auto fixed = partita::run(test_session(), job(false), quiet());
  const auto moved = partita::run(test_session(), job(test_session().size() > 1), quiet(1.1, 10));
  ASSERT_TRUE(fixed.completed() && moved.completed());
  EXPECT_TRUE(same_bits(fixed.value()["sum"], moved.value()["sum"]));
  EXPECT_TRUE(same_bits(fixed.value()["product-ish"], moved.value()["product-ish"]));
  if (moved.is_scheduler() && test_session().size() > 1) {
    EXPECT_GT(moved.report().iterative.migrations, 0u);
    // Judge the final placement by the nominal costs (the measured ones carry the machine's wake-up delays): the
    // ranks own contiguous ranges, so their partition counts give the ranges.
    double max_load = 0, total = 0;
    std::uint64_t id = 0;
    for (const auto& w : moved.report().workers) {
      double load = 0;
      for (std::uint64_t k = 0; k < w.partitions; ++k, ++id) load += id < 3 ? 4 : 1;
      max_load = std::max(max_load, load);
      total += load;
    }
    ASSERT_EQ(id, 39u);
    const double imbalance = max_load / (total / static_cast<double>(test_session().size()));
    EXPECT_LT(imbalance, 1.1) << "after " << moved.report().iterative.rebalances << " rebalance(s); measured "
                              << moved.report().iterative.imbalance_end;
  }
}

/// A fresh directory every rank of the test names the same way (made on rank 0, removed at the end). Collective.
struct shared_temp_dir {
  std::string path;
  shared_temp_dir() {
    char name[64] = "/tmp/partita-iterout.XXXXXX";
    if (test_session().rank().value == 0 && !::mkdtemp(name)) std::abort();
    PARTITA_MPI(MPI_Bcast(name, sizeof name, MPI_CHAR, 0, test_session().comm()));
    path = name;
  }
  ~shared_temp_dir() {
    MPI_Barrier(test_session().comm());
    std::error_code ec;
    if (test_session().rank().value == 0) std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& file) const { return path + "/" + file; }
};

TEST(Jobs_Iterative, FinalStatesStayOnTheirRanksUnlessKeptAndTheOutputHoldsThem) {
  const auto p = heat_params();
  const partita::heat_shape h(p);
  const shared_temp_dir dir;
  auto c = quiet();
  c.output = dir / "heat.h5";
  const auto kept = partita::run(test_session(), partita::make_heat_job(p).keep_final_states(), quiet());
  const auto written = partita::run(test_session(), partita::make_heat_job(p), c);
  ASSERT_TRUE(kept.completed() && written.completed());
  EXPECT_THROW((void)written.states(), partita::usage_error);
  if (!written.is_scheduler()) return;
  EXPECT_EQ(written.report().iterative.state_digest, kept.report().iterative.state_digest)
      << "the digest must not depend on whether the states were gathered";
  EXPECT_EQ(written.report().iterative.output_file, c.output->string());
  // The file is a checkpoint of the final step: every partition's arrays, bitwise the states kept in memory.
  const auto image = partita::read_checkpoint(
      *c.output, {"heat", partita::detail::params_hash(p, c.seed, h.blocks_x * h.blocks_y), "iterative"});
  EXPECT_EQ(image.meta.step.value, h.steps);
  std::size_t matched = 0;
  for (const auto& b : image.partitions) {
    if (b.name != "u") continue;
    const auto& u = kept.states().at(b.id.value).u;
    ASSERT_EQ(b.data.size(), u.size() * sizeof(double));
    EXPECT_EQ(std::memcmp(b.data.data(), u.data(), b.data.size()), 0) << "partition " << b.id.value;
    ++matched;
  }
  EXPECT_EQ(matched, h.blocks_x * h.blocks_y);
}

TEST(Jobs_Iterative, FinalGatherLimitStopsAJobThatKeepsItsStatesOnEveryRankButNotItsOutput) {
  // 12 blocks of 81 cells: about 8 KB of state, over a 4 KB cap on what the coordinator may gather.
  const auto p = heat_params();
  auto c = quiet();
  c.final_gather_limit = 4096;
  const shared_temp_dir dir;
  c.output = dir / "heat.h5";
  const auto r = partita::run(test_session(), partita::make_heat_job(p), c);
  ASSERT_TRUE(r.completed()) << "a job that does not keep its states is not limited by the cap";
  c.output = dir / "kept.h5";
  try {
    partita::run(test_session(), partita::make_heat_job(p).keep_final_states(), c);
    FAIL() << "expected a usage error";
  } catch (const partita::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("--final-gather-limit"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(*c.output)) << "a run that failed must not leave its output";
}

TEST(Jobs_Iterative, UnknownNeighbourIsAUsageErrorOnEveryRank) {
  auto job = chain(5).neighbours([](partita::partition_id id) {
    return std::vector<partita::partition_id>{partita::partition_id{id.value + 1}};  // 4 names 5
  });
  try {
    partita::run(test_session(), job, quiet());
    FAIL() << "expected a usage error";
  } catch (const partita::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("names neighbour"), std::string::npos) << e.what();
  }
}

TEST(Jobs_Iterative, WrongHaloSizeIsAUsageErrorOnEveryRank) {
  auto job = chain(6).halo_size([](partita::partition_id, partita::partition_id) { return std::size_t{2}; });
  try {
    partita::run(test_session(), job, quiet());
    FAIL() << "expected a usage error";
  } catch (const partita::usage_error& e) {
    EXPECT_NE(std::string(e.what()).find("halo of 1 values, but the job declares 2"), std::string::npos) << e.what();
  }
}

TEST(Jobs_Iterative, ThrowingStepNamesThePartition) {
  auto job = chain(6).step([](double&, const partita::halo_view&, partita::context& ctx) {
    if (ctx.partition().value == 4 && ctx.step().value == 3) throw std::runtime_error("boom");
  });
  try {
    partita::run(test_session(), job, quiet());
    FAIL() << "expected a failure";
  } catch (const partita::kernel_error& e) {
    EXPECT_EQ(e.partition(), 4u);
  } catch (const partita::remote_failure&) {
  }
}

}  // namespace
