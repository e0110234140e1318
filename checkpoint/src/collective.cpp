#include <partita/checkpoint/detail/collective.hpp>

#include <fmt/format.h>
#include <algorithm>
#include <cstdint>
#include <limits>

#include <partita/runtime/error.hpp>

namespace partita::detail {

group_info group_of(MPI_Comm comm) {
  group_info g{comm, 0, 1};
  PARTITA_MPI(MPI_Comm_rank(comm, &g.rank));
  PARTITA_MPI(MPI_Comm_size(comm, &g.size));
  return g;
}

void bcast_bytes(const group_info& g, bytes& data, int root) {
  std::uint64_t n = data.size();
  PARTITA_MPI(MPI_Bcast(&n, 1, MPI_UINT64_T, root, g.comm));
  data.resize(static_cast<std::size_t>(n));
  for (std::uint64_t off = 0; off < n;) {
    const int piece = static_cast<int>(std::min<std::uint64_t>(n - off, 1u << 30));
    PARTITA_MPI(MPI_Bcast(data.data() + off, piece, MPI_BYTE, root, g.comm));
    off += static_cast<std::uint64_t>(piece);
  }
}

void bcast_text(const group_info& g, std::string& text, int root) {
  bytes wire;
  if (g.rank == root) {
    const auto* p = reinterpret_cast<const std::byte*>(text.data());
    wire.assign(p, p + text.size());
  }
  bcast_bytes(g, wire, root);
  text.assign(reinterpret_cast<const char*>(wire.data()), wire.size());
}

std::vector<bytes> allgather_bytes(const group_info& g, const bytes& mine) {
  std::uint64_t n = mine.size();
  std::vector<std::uint64_t> sizes(static_cast<std::size_t>(g.size));
  PARTITA_MPI(MPI_Allgather(&n, 1, MPI_UINT64_T, sizes.data(), 1, MPI_UINT64_T, g.comm));
  std::vector<int> counts(sizes.size()), displs(sizes.size());
  std::uint64_t total = 0;
  for (std::size_t r = 0; r < sizes.size(); ++r) {
    if (total + sizes[r] > static_cast<std::uint64_t>(std::numeric_limits<int>::max()))
      throw error("checkpoint: the partition list of all ranks exceeds 2 GiB of metadata");
    counts[r] = static_cast<int>(sizes[r]);
    displs[r] = static_cast<int>(total);
    total += sizes[r];
  }
  bytes all(static_cast<std::size_t>(total));
  PARTITA_MPI(MPI_Allgatherv(mine.data(), static_cast<int>(n), MPI_BYTE, all.data(), counts.data(), displs.data(),
                             MPI_BYTE, g.comm));
  std::vector<bytes> out(sizes.size());
  for (std::size_t r = 0; r < sizes.size(); ++r)
    out[r].assign(all.begin() + displs[r], all.begin() + displs[r] + counts[r]);
  return out;
}

std::optional<std::string> agree(const group_info& g, const std::optional<std::string>& problem) {
  int mine = problem ? g.rank : g.size;
  int first = g.size;
  PARTITA_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, g.comm));
  if (first == g.size) return std::nullopt;
  std::string out = g.rank == first ? *problem : std::string();
  bcast_text(g, out, first);
  if (g.size > 1) out = fmt::format("rank {} of {}: {}", first, g.size, out);
  return out;
}

}  // namespace partita::detail
