#pragma once
/// A SimGrid platform file of a typical cluster: N nodes, one private link each to a non-blocking switch.

#include <filesystem>
#include <string>

namespace partita::simulate {

/// What the generated <cluster> looks like. Defaults: a 25 Gb/s network with ~1.5 us between two nodes
/// (0.75 us per link, two links per route), 32 cores a node.
struct cluster_shape {
  int nodes = 1;
  int cores = 32;
  double link_Bps = 25e9 / 8;  ///< per node link
  double link_latency_s = 0.75e-6;
  double loopback_Bps = 5e9;  ///< between ranks of one node (from the calibration)
  double loopback_latency_s = 2e-6;
};

/// The host name of node `n` in the generated platform.
std::string node_host(int n);

/// Writes the platform XML to `file`. Throws partita::error when it cannot be written.
void write_cluster_platform(const std::filesystem::path& file, const cluster_shape& shape);

}  // namespace partita::simulate
