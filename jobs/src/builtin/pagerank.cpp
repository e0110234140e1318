// Built-in iterative job `pagerank`: PageRank on a generated graph split into blocks of vertices; the neighbour
// graph of the blocks is irregular (whichever blocks share an edge).
#include <algorithm>
#include <cmath>
#include <map>

#include <partita/jobs/builtin_iterative.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>
#include <partita/scheduler/random_stream.hpp>

namespace partita {

std::uint64_t pagerank_graph::block_of(std::uint64_t v) const {
  return static_cast<std::uint64_t>(std::upper_bound(starts.begin(), starts.end(), v) - starts.begin()) - 1;
}

std::shared_ptr<const pagerank_graph> make_pagerank_graph(const parameters& p) {
  const auto vertices = p.get_int("vertices", 20000), blocks = p.get_int("blocks", 16), degree = p.get_int("degree", 8);
  if (vertices < 1 || vertices > 100000000)
    throw usage_error("pagerank: vertices must be 1..1e8, e.g. --param vertices=20000");
  if (blocks < 1 || blocks > vertices)
    throw usage_error("pagerank: blocks must be 1..vertices, e.g. --param blocks=16");
  if (degree < 1 || degree > 1000) throw usage_error("pagerank: degree must be 1..1000, e.g. --param degree=8");
  if (p.get_int("steps", 100) < 1) throw usage_error("pagerank: steps must be at least 1, e.g. --param steps=100");
  auto g = std::make_shared<pagerank_graph>();
  g->vertices = static_cast<std::uint64_t>(vertices);
  g->blocks = static_cast<std::uint64_t>(blocks);
  g->degree = static_cast<std::uint64_t>(degree);
  g->steps = static_cast<std::uint64_t>(p.get_int("steps", 100));
  g->damping = p.get_double("damping", 0.85);
  g->tol = p.get_double("tol", 1e-10);
  if (!(g->damping > 0 && g->damping < 1))
    throw usage_error("pagerank: damping must be in (0, 1), e.g. --param damping=0.85");
  if (!(g->tol >= 0)) throw usage_error("pagerank: tol must be 0 (off) or more, e.g. --param tol=1e-10");
  const auto seed = static_cast<std::uint64_t>(p.get_int("graph_seed", 1));
  for (std::uint64_t b = 0; b <= g->blocks; ++b) g->starts.push_back(b * g->vertices / g->blocks);
  g->out.resize(g->vertices);
  g->in.resize(g->vertices);
  for (std::uint64_t u = 0; u < g->vertices; ++u) {
    random_stream rng(seed, partition_id{u}, step_t{0});
    for (std::uint64_t j = 0; j < g->degree; ++j) {
      // Mostly local edges (within +-V/50), one in four anywhere: an irregular block graph.
      const double x = rng.uniform(), y = rng.uniform();
      std::uint64_t v;
      if (x < 0.25) {
        v = static_cast<std::uint64_t>(y * static_cast<double>(g->vertices)) % g->vertices;
      } else {
        const auto span = std::max<std::uint64_t>(1, g->vertices / 50);
        v = (u + g->vertices + static_cast<std::uint64_t>(y * static_cast<double>(2 * span + 1)) - span) % g->vertices;
      }
      g->out[u].push_back(v);
      g->in[v].push_back(u);
    }
  }
  for (auto& l : g->in) std::sort(l.begin(), l.end());
  return g;
}

namespace {

/// Per block: the halo layout to each neighbour block and where each in-edge's contribution comes from.
struct pagerank_plan {
  std::vector<std::vector<partition_id>> neighbours;  // [block]
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::uint64_t>>
      halo_sources;  // (from, to) -> sources u (ascending, repeated per edge)
};

std::shared_ptr<const pagerank_plan> make_plan(const pagerank_graph& g) {
  auto plan = std::make_shared<pagerank_plan>();
  plan->neighbours.resize(g.blocks);
  std::vector<std::vector<std::uint64_t>> nb(g.blocks);
  for (std::uint64_t v = 0; v < g.vertices; ++v) {
    const auto bv = g.block_of(v);
    for (auto u : g.in[v]) {
      const auto bu = g.block_of(u);
      if (bu == bv) continue;
      plan->halo_sources[{bu, bv}].push_back(u);  // in[v] is sorted, but v varies: sort per pair below
      nb[bu].push_back(bv);
      nb[bv].push_back(bu);
    }
  }
  for (auto& [k, l] : plan->halo_sources)
    std::sort(l.begin(), l.end()), l.erase(std::unique(l.begin(), l.end()), l.end());
  for (std::uint64_t b = 0; b < g.blocks; ++b) {
    std::sort(nb[b].begin(), nb[b].end());
    nb[b].erase(std::unique(nb[b].begin(), nb[b].end()), nb[b].end());
    for (auto c : nb[b]) plan->neighbours[b].push_back(partition_id{c});
  }
  return plan;
}

}  // namespace

iterative_job<pagerank_block> make_pagerank_job(const parameters& p) {
  auto g = make_pagerank_graph(p);
  auto plan = make_plan(*g);
  const double V = static_cast<double>(g->vertices);
  auto job = iterative_job<pagerank_block>("pagerank")
                 .params(p)
                 .partitions(g->blocks,
                             [g, V](partition_id b) {
                               const auto n = g->starts[b.value + 1] - g->starts[b.value];
                               return pagerank_block{std::vector<double>(n, 1.0 / V), 0.0};
                             })
                 .neighbours([plan](partition_id b) { return plan->neighbours[b.value]; })
                 .halo_size([plan](partition_id from, partition_id to) {
                   const auto it = plan->halo_sources.find({from.value, to.value});
                   return it == plan->halo_sources.end() ? std::size_t{0} : it->second.size();
                 })
                 // A halo carries rank[u] / outdeg(u) for each source u in this block with an edge into `to`.
                 .halo([g, plan](const pagerank_block& b, partition_id to, context& ctx) {
                   std::vector<double> out;
                   const auto it = plan->halo_sources.find({ctx.partition().value, to.value});
                   if (it == plan->halo_sources.end()) return out;
                   const auto first = g->starts[ctx.partition().value];
                   for (auto u : it->second) out.push_back(b.rank[u - first] / static_cast<double>(g->out[u].size()));
                   return out;
                 })
                 .step([g, plan, V](pagerank_block& b, const halo_view& halos, context& ctx) {
                   const auto me = ctx.partition().value;
                   const auto first = g->starts[me], last = g->starts[me + 1];
                   // share(u): rank[u] / outdeg(u) from this block or from the halo of u's block.
                   std::map<std::uint64_t, std::pair<std::span<const double>, const std::vector<std::uint64_t>*>> from;
                   static const std::vector<std::uint64_t> none;
                   for (const auto& [nb, data] : halos) {
                     const auto it = plan->halo_sources.find({nb.value, me});
                     from[nb.value] = {data, it == plan->halo_sources.end() ? &none : &it->second};
                   }
                   std::vector<double> next(b.rank.size());
                   double change = 0;
                   for (auto v = first; v < last; ++v) {
                     double sum = 0;
                     for (auto u : g->in[v]) {  // ascending sources: the same order as a serial loop
                       double share;
                       if (u >= first && u < last) {
                         share = b.rank[u - first] / static_cast<double>(g->out[u].size());
                       } else {
                         const auto& [data, sources] = from.at(g->block_of(u));
                         const auto k = std::lower_bound(sources->begin(), sources->end(), u) - sources->begin();
                         share = data[static_cast<std::size_t>(k)];
                       }
                       sum += share;
                     }
                     next[v - first] = (1.0 - g->damping) / V + g->damping * sum;
                     change += std::abs(next[v - first] - b.rank[v - first]);
                   }
                   b.rank = std::move(next);
                   b.change = change;
                 })
                 .reduce("l1_change", reduce_op::sum, [](const pagerank_block& b) { return b.change; })
                 .max_steps(g->steps);
  if (g->tol > 0) job.until([tol = g->tol](const reductions& r) { return r["l1_change"] < tol; });
  return job;
}

namespace detail {
void register_pagerank(job_registry& r) {
  registered_job j;
  j.name = "pagerank";
  j.description = "PageRank on a generated graph split into blocks of vertices; stops when the L1 change is below tol";
  j.params = {{"vertices", "20000", "vertices of the generated graph"},
              {"blocks", "16", "partitions (blocks of consecutive vertices)"},
              {"degree", "8", "out-edges per vertex (3 in 4 to nearby vertices)"},
              {"graph_seed", "1", "seed of the generated graph"},
              {"damping", "0.85", "damping factor"},
              {"tol", "1e-10", "stop once the L1 change of a step is below it (0: off)"},
              {"steps", "100", "steps at most"}};
  j.factory = iterative_factory{[](const parameters& p) { return make_pagerank_job(p).model(); }};
  r.add(std::move(j));
}
}  // namespace detail

}  // namespace partita
