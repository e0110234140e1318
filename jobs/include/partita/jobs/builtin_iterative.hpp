#pragma once
/// The built-in iterative jobs as typed jobs (tests and benchmarks run them directly): `heat`, a 2D Jacobi
/// solver on a grid of blocks, and `pagerank` on a generated graph split into blocks.

#include <cstdint>
#include <memory>
#include <vector>

#include <partita/jobs/iterative_job.hpp>
#include <partita/scheduler/parameters.hpp>

namespace partita {

/// One block of the heat grid: `side` x `side` cells, row-major, and the largest change of its last step.
struct heat_block {
  std::vector<double> u;
  double residual = 0;
};

template <>
struct state_traits<heat_block> {
  static std::vector<state_array> save(const heat_block& b) {
    return {double_array("u", b.u), double_array("residual", std::span<const double>(&b.residual, 1))};
  }
  static heat_block load(const std::vector<state_array>& a) {
    heat_block b{doubles_of(a, "u"), 0};
    const auto r = doubles_of(a, "residual");
    if (r.size() != 1) throw error("saved heat block: 'residual' must hold one value");
    b.residual = r[0];
    return b;
  }
};

/// The heat job's shape from its parameters (blocks_x, blocks_y, block, steps, tol, refine, refined, output,
/// initial). Boundary: the top edge of the whole grid is held at 1, the others at 0; every cell starts at 0, or at
/// the initial field's value (row = block row * block + i, column = block column * block + j). A cell's new
/// value is 0.25 * (up + down + left + right), in that order of additions (a serial reference can match it bitwise).
struct heat_shape {
  std::uint64_t blocks_x = 4, blocks_y = 4, side = 32, steps = 200;
  double tol = 0;
  std::uint64_t refine = 1;  ///< refined blocks redo their sweep this many times (the same result, more cost)
  double refined = 0.25;     ///< the fraction of blocks (the lowest ids) that are refined
  std::string output;        ///< a PGM file of the final field, or "" (keeps the final states: gathered on one rank)
  std::string initial;       ///< FILE:DATASET of a 2-D float HDF5 dataset to start from, or "" (every cell 0)
  explicit heat_shape(const parameters& p);
};
iterative_job<heat_block> make_heat_job(const parameters& p);

/// One block of vertices of the pagerank graph: their ranks and the L1 change of the last step.
struct pagerank_block {
  std::vector<double> rank;
  double change = 0;
};

template <>
struct state_traits<pagerank_block> {
  static std::vector<state_array> save(const pagerank_block& b) {
    return {double_array("rank", b.rank), double_array("change", std::span<const double>(&b.change, 1))};
  }
  static pagerank_block load(const std::vector<state_array>& a) {
    pagerank_block b{doubles_of(a, "rank"), 0};
    const auto c = doubles_of(a, "change");
    if (c.size() != 1) throw error("saved pagerank block: 'change' must hold one value");
    b.change = c[0];
    return b;
  }
};

/// The generated pagerank graph: every vertex has `degree` out-edges, most to nearby vertices, some anywhere
/// (seeded by graph_seed). in[v] lists the sources of v's in-edges, sorted (each edge once per occurrence).
struct pagerank_graph {
  std::uint64_t vertices = 0, blocks = 0, degree = 0, steps = 0;
  double damping = 0.85, tol = 0;
  std::vector<std::vector<std::uint64_t>> out;  ///< out[u]: targets of u's edges, in edge order
  std::vector<std::vector<std::uint64_t>> in;   ///< in[v]: sources, sorted ascending
  std::vector<std::uint64_t> starts;            ///< block b holds vertices [starts[b], starts[b+1])
  std::uint64_t block_of(std::uint64_t v) const;
};
std::shared_ptr<const pagerank_graph> make_pagerank_graph(const parameters& p);
/// A vertex's new rank: (1 - d) / V + d * sum over in-edges (sources ascending) of rank[u] / outdeg(u).
iterative_job<pagerank_block> make_pagerank_job(const parameters& p);

}  // namespace partita
