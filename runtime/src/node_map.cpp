#include <partita/runtime/node_map.hpp>

#include <unistd.h>

#include <array>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <partita/runtime/error.hpp>

namespace partita {

std::string host_name() {
  std::array<char, 256> buf{};
  if (gethostname(buf.data(), buf.size() - 1) != 0 || buf[0] == '\0') return "localhost";
  return std::string(buf.data());
}

std::uint64_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

node_map node_map::from_assignment(std::vector<int> node_of_rank, std::vector<std::string> hosts,
                                   std::vector<std::uint64_t> free_memory) {
  node_map m;
  m.hosts = std::move(hosts);
  m.free_memory = std::move(free_memory);
  m.free_memory.resize(m.hosts.size(), 0);
  m.ranks_on_node.assign(m.hosts.size(), 0);
  for (int n : node_of_rank) {
    if (n < 0 || static_cast<std::size_t>(n) >= m.hosts.size())
      throw error("node_map: rank assigned to node " + std::to_string(n) + " of " + std::to_string(m.hosts.size()));
    ++m.ranks_on_node[static_cast<std::size_t>(n)];
  }
  m.node_of_rank = std::move(node_of_rank);
  return m;
}

node_map node_map::build(MPI_Comm comm) {
  int rank = 0, size = 1;
  PARTITA_MPI(MPI_Comm_rank(comm, &rank));
  PARTITA_MPI(MPI_Comm_size(comm, &size));

  // The node's leader is its lowest rank; every rank learns its leader through the shared-memory split.
  MPI_Comm node_comm = MPI_COMM_NULL;
  PARTITA_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node_comm));
  int leader = rank;
  PARTITA_MPI(MPI_Allreduce(&rank, &leader, 1, MPI_INT, MPI_MIN, node_comm));
  // The leader reads the node's free memory so that all its ranks report the same figure.
  unsigned long long mem = rank == leader ? available_memory_bytes() : 0;
  PARTITA_MPI(MPI_Bcast(&mem, 1, MPI_UNSIGNED_LONG_LONG, 0, node_comm));
  MPI_Comm_free(&node_comm);

  struct entry {
    int leader;
    unsigned long long mem;
    char host[128];
  };
  entry mine{};
  mine.leader = leader;
  mine.mem = mem;
  std::string h = host_name();
  std::strncpy(mine.host, h.c_str(), sizeof(mine.host) - 1);
  std::vector<entry> all(static_cast<std::size_t>(size));
  PARTITA_MPI(MPI_Allgather(&mine, sizeof(entry), MPI_BYTE, all.data(), sizeof(entry), MPI_BYTE, comm));

  std::map<int, int> node_index;  // leader rank -> node index, in order of leaders
  for (const auto& e : all) node_index.emplace(e.leader, 0);
  int next = 0;
  for (auto& [l, idx] : node_index) idx = next++;
  std::vector<std::string> hosts(node_index.size());
  std::vector<std::uint64_t> free(node_index.size());
  std::vector<int> node_of(static_cast<std::size_t>(size));
  for (int r = 0; r < size; ++r) {
    const auto& e = all[static_cast<std::size_t>(r)];
    int idx = node_index[e.leader];
    node_of[static_cast<std::size_t>(r)] = idx;
    if (r == e.leader) {
      hosts[static_cast<std::size_t>(idx)] = e.host;
      free[static_cast<std::size_t>(idx)] = e.mem;
    }
  }
  return from_assignment(std::move(node_of), std::move(hosts), std::move(free));
}

}  // namespace partita
