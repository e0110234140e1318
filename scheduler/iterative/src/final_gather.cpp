#include <partita/scheduler/iterative/detail/final_gather.hpp>

#include <fmt/format.h>

#include <cstring>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/iterative/detail/protocol.hpp>

namespace partita::detail {

namespace {
constexpr std::uint64_t fnv_offset = 0xcbf29ce484222325ull;
/// FNV-1a 64 of `n` bytes, continuing from `h`.
std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}
}  // namespace

gathered gather_to_root(MPI_Comm comm, int root, std::span<const std::byte> mine, const wait_limit& limit,
                        const char* what) {
  int me = 0, ranks = 1;
  PARTITA_MPI(MPI_Comm_rank(comm, &me));
  PARTITA_MPI(MPI_Comm_size(comm, &ranks));
  const int len = static_cast<int>(mine.size());
  gathered g;
  g.lens.resize(static_cast<std::size_t>(ranks));
  g.displs.resize(static_cast<std::size_t>(ranks));
  PARTITA_MPI(MPI_Gather(&len, 1, MPI_INT, g.lens.data(), 1, MPI_INT, root, comm));
  int total = 0;
  for (int r = 0; r < ranks; ++r) {
    g.displs[static_cast<std::size_t>(r)] = total;
    total += g.lens[static_cast<std::size_t>(r)];
  }
  g.all.resize(me == root ? static_cast<std::size_t>(total) : 0);
  std::vector<MPI_Request> req(1);
  PARTITA_MPI(MPI_Igatherv(mine.data(), len, MPI_BYTE, g.all.data(), g.lens.data(), g.displs.data(), MPI_BYTE, root,
                           comm, req.data()));
  wait_bounded(req, limit, what);
  return g;
}

std::vector<std::vector<state_array>> split_final_states(std::span<const std::byte> all, std::uint64_t partitions) {
  std::vector<std::vector<state_array>> arrays(partitions);
  for (std::size_t pos = 0; pos < all.size();) {
    auto [id, state] = get_partition_state(all, pos);
    if (id.value >= partitions) throw error("the final gather names a partition that does not exist");
    arrays[id.value] = std::move(state);
  }
  return arrays;
}

std::uint64_t partition_digest(std::uint64_t id, const std::vector<state_array>& arrays) {
  std::uint64_t h = fnv1a(fnv_offset, &id, 8);
  for (const auto& a : arrays) {
    h = fnv1a(h, a.name.data(), a.name.size());
    h = fnv1a(h, a.data.data(), a.data.size());
  }
  return h;
}

std::string combine_digests(std::span<const std::uint64_t> in_id_order) {
  std::uint64_t h = fnv_offset;
  for (const auto d : in_id_order) h = fnv1a(h, &d, 8);
  return fmt::format("{:016x}", h);
}

std::string state_digest(const std::vector<std::vector<state_array>>& arrays) {
  std::vector<std::uint64_t> digests;
  digests.reserve(arrays.size());
  for (std::uint64_t id = 0; id < arrays.size(); ++id) digests.push_back(partition_digest(id, arrays[id]));
  return combine_digests(digests);
}

std::vector<std::uint64_t> digests_in_id_order(std::span<const std::byte> all, std::uint64_t partitions) {
  if (all.size() % 16 != 0 || all.size() / 16 != partitions)
    throw error(fmt::format("the final digests hold {} bytes, not 16 for each of {} partitions", all.size(),
                            partitions));
  std::vector<std::uint64_t> out(partitions);
  std::vector<bool> seen(partitions, false);
  for (std::size_t pos = 0; pos < all.size(); pos += 16) {
    std::uint64_t rec[2];
    std::memcpy(rec, all.data() + pos, 16);
    if (rec[0] >= partitions || seen[rec[0]])
      throw error(fmt::format("the final digests name partition {} twice or out of range", rec[0]));
    seen[rec[0]] = true;
    out[rec[0]] = rec[1];
  }
  return out;
}

}  // namespace partita::detail
