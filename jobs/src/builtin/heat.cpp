// Built-in iterative job `heat`: 2D Jacobi on a grid of blocks, stopping at a residual tolerance or a step count.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include <partita/jobs/builtin_iterative.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>

#include "heat_initial.hpp"

namespace partita {

heat_shape::heat_shape(const parameters& p)
    : blocks_x(static_cast<std::uint64_t>(p.get_int("blocks_x", 4))),
      blocks_y(static_cast<std::uint64_t>(p.get_int("blocks_y", 4))),
      side(static_cast<std::uint64_t>(p.get_int("block", 32))),
      steps(static_cast<std::uint64_t>(p.get_int("steps", 200))), tol(p.get_double("tol", 0)),
      refine(static_cast<std::uint64_t>(p.get_int("refine", 1))), refined(p.get_double("refined", 0.25)),
      output(p.get_string("output", "")), initial(p.get_string("initial", "")) {
  if (p.get_int("blocks_x", 4) < 1 || p.get_int("blocks_y", 4) < 1 || p.get_int("blocks_x", 4) > 4096 ||
      p.get_int("blocks_y", 4) > 4096)
    throw usage_error("heat: blocks_x and blocks_y must be 1..4096, e.g. --param blocks_x=8");
  if (p.get_int("block", 32) < 1 || p.get_int("block", 32) > 8192)
    throw usage_error("heat: block (cells per block side) must be 1..8192, e.g. --param block=64");
  if (p.get_int("steps", 200) < 1) throw usage_error("heat: steps must be at least 1, e.g. --param steps=500");
  if (!(tol >= 0)) throw usage_error("heat: tol must be 0 (off) or more, e.g. --param tol=1e-4");
  if (p.get_int("refine", 1) < 1) throw usage_error("heat: refine must be at least 1, e.g. --param refine=8");
  if (!(refined >= 0 && refined <= 1))
    throw usage_error("heat: refined must be a fraction 0..1, e.g. --param refined=0.25");
}

namespace {

enum side_t : std::size_t { up, down, left, right };

void write_pgm(const heat_shape& h, const std::vector<heat_block>& blocks) {
  const auto w = h.blocks_x * h.side, ht = h.blocks_y * h.side;
  std::vector<unsigned char> px(w * ht);
  for (std::uint64_t b = 0; b < blocks.size(); ++b) {
    const auto bx = b % h.blocks_x, by = b / h.blocks_x;
    for (std::uint64_t i = 0; i < h.side; ++i)
      for (std::uint64_t j = 0; j < h.side; ++j)
        px[(by * h.side + i) * w + bx * h.side + j] = static_cast<unsigned char>(
            std::clamp(blocks[b].u[i * h.side + j], 0.0, 1.0) * 255.0 + 0.5);
  }
  std::ofstream f(h.output, std::ios::binary);
  f << "P5\n" << w << " " << ht << "\n255\n";
  f.write(reinterpret_cast<const char*>(px.data()), static_cast<std::streamsize>(px.size()));
  if (!f) throw error("heat: cannot write " + h.output);
  log().info("heat: wrote the {}x{} field to {}", w, ht, h.output);
}

}  // namespace

iterative_job<heat_block> make_heat_job(const parameters& given) {
  const heat_shape h(given);
  const auto n = h.blocks_x * h.blocks_y, s = h.side;
  // An initial field from HDF5: checked here (one line, exit 2, before MPI starts); its identity joins the
  // parameters, so a restart against a changed file is refused.
  std::optional<detail::heat_initial_field> initial;
  parameters p = given;
  if (!h.initial.empty()) {
    initial.emplace(h.initial, h.blocks_y * s, h.blocks_x * s);
    p.set("initial.identity", initial->identity());
  }
  const auto refined_count = static_cast<std::uint64_t>(std::llround(h.refined * static_cast<double>(n)));
  // Which side of block `from` faces block `to` (they are grid neighbours).
  const auto facing = [bx = h.blocks_x](std::uint64_t from, std::uint64_t to) -> side_t {
    if (to + bx == from) return up;
    if (from + bx == to) return down;
    return to + 1 == from ? left : right;
  };
  auto job = iterative_job<heat_block>("heat")
                 .params(p)
                 .partitions(n,
                             [s, initial, bx = h.blocks_x](partition_id id) {
                               if (!initial) return heat_block{std::vector<double>(s * s, 0.0), 0.0};
                               return heat_block{initial->block((id.value / bx) * s, (id.value % bx) * s, s), 0.0};
                             })
                 .neighbours([bx = h.blocks_x, by = h.blocks_y](partition_id id) {
                   const auto x = id.value % bx, y = id.value / bx;
                   std::vector<partition_id> out;
                   if (y > 0) out.push_back(partition_id{id.value - bx});
                   if (y + 1 < by) out.push_back(partition_id{id.value + bx});
                   if (x > 0) out.push_back(partition_id{id.value - 1});
                   if (x + 1 < bx) out.push_back(partition_id{id.value + 1});
                   return out;
                 })
                 .halo_size([s](partition_id, partition_id) { return static_cast<std::size_t>(s); })
                 .halo([s, facing](const heat_block& b, partition_id to, context& ctx) {
                   std::vector<double> edge(s);
                   switch (facing(ctx.partition().value, to.value)) {
                     case up: std::copy_n(b.u.begin(), s, edge.begin()); break;
                     case down:
                       std::copy_n(b.u.begin() + static_cast<std::ptrdiff_t>((s - 1) * s), s, edge.begin());
                       break;
                     case left:
                       for (std::uint64_t i = 0; i < s; ++i) edge[i] = b.u[i * s];
                       break;
                     case right:
                       for (std::uint64_t i = 0; i < s; ++i) edge[i] = b.u[i * s + s - 1];
                       break;
                   }
                   return edge;
                 })
                 .step([s, facing, refine = h.refine, refined_count](heat_block& b, const halo_view& halos,
                                                                     context& ctx) {
                   const auto id = ctx.partition().value;
                   const std::size_t w = s + 2;
                   // The block with a ring of ghost cells: halos where a neighbour is, the boundary elsewhere.
                   std::vector<double> g(w * w, 0.0);
                   const bool top_of_grid = std::none_of(halos.begin(), halos.end(), [&](const auto& e) {
                     return facing(id, e.first.value) == up;
                   });
                   if (top_of_grid) std::fill_n(g.begin(), w, 1.0);
                   for (std::uint64_t i = 0; i < s; ++i)
                     std::copy_n(b.u.begin() + static_cast<std::ptrdiff_t>(i * s), s,
                                 g.begin() + static_cast<std::ptrdiff_t>((i + 1) * w + 1));
                   for (const auto& [from, edge] : halos) {
                     switch (facing(id, from.value)) {
                       case up:
                         for (std::uint64_t j = 0; j < s; ++j) g[j + 1] = edge[j];
                         break;
                       case down:
                         for (std::uint64_t j = 0; j < s; ++j) g[(s + 1) * w + j + 1] = edge[j];
                         break;
                       case left:
                         for (std::uint64_t i = 0; i < s; ++i) g[(i + 1) * w] = edge[i];
                         break;
                       case right:
                         for (std::uint64_t i = 0; i < s; ++i) g[(i + 1) * w + s + 1] = edge[i];
                         break;
                     }
                   }
                   // A refined block redoes its sweep (the same numbers each time): cost without changing the result.
                   const std::uint64_t sweeps = id < refined_count ? refine : 1;
                   double res = 0;
                   for (std::uint64_t k = 0; k < sweeps; ++k) {
                     res = 0;
                     for (std::uint64_t i = 0; i < s; ++i)
                       for (std::uint64_t j = 0; j < s; ++j) {
                         const std::size_t c = (i + 1) * w + j + 1;
                         const double v = 0.25 * (g[c - w] + g[c + w] + g[c - 1] + g[c + 1]);
                         res = std::max(res, std::abs(v - g[c]));
                         b.u[i * s + j] = v;
                       }
                   }
                   b.residual = res;
                 })
                 .reduce("residual", reduce_op::max, [](const heat_block& b) { return b.residual; });
  if (h.tol > 0) job.until([tol = h.tol](const reductions& r) { return r["residual"] < tol; });
  job.max_steps(h.steps);
  if (!h.output.empty())
    job.on_finish([h](const reductions&, const std::vector<heat_block>& blocks) { write_pgm(h, blocks); });
  return job;
}

namespace detail {
void register_heat(job_registry& r) {
  registered_job j;
  j.name = "heat";
  j.description = "2D heat equation (Jacobi) on a grid of blocks; stops at a residual tolerance or a step count";
  j.params = {{"blocks_x", "4", "blocks across"},
              {"blocks_y", "4", "blocks down"},
              {"block", "32", "cells per block side"},
              {"steps", "200", "steps at most"},
              {"tol", "0", "stop once the residual (max change) is below it (0: off)"},
              {"refine", "1", "refined blocks cost this many times more (same result)"},
              {"refined", "0.25", "fraction of blocks that are refined (the lowest ids)"},
              {"output", "", "write the final field as a PGM image to this file (gathers it on one rank)"},
              {"initial", "", "start from FILE:DATASET, a 2-D float HDF5 dataset of the grid's shape (else 0)"}};
  j.factory = iterative_factory{[](const parameters& p) { return make_heat_job(p).model(); }};
  r.add(std::move(j));
}
}  // namespace detail

}  // namespace partita
