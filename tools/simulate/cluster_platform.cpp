#include "cluster_platform.hpp"

#include <fstream>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>

namespace partita::simulate {

std::string node_host(int n) { return fmt::format("node-{}", n); }

void write_cluster_platform(const std::filesystem::path& file, const cluster_shape& s) {
  std::ofstream out(file);
  if (!out) throw error("cannot write the platform file " + file.string());
  // bw/lat: each node's private link (full duplex); loopback: messages between ranks of one node; a fat
  // backbone, so that only node links and the ranks' own costs limit the scheduler.
  out << fmt::format(
      "<?xml version='1.0'?>\n"
      "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
      "<!-- A typical cluster for partita_simulate: {0} nodes of {1} cores, 25 Gb/s links. -->\n"
      "<platform version=\"4.1\">\n"
      "  <cluster id=\"cluster\" prefix=\"node-\" suffix=\"\" radical=\"0-{2}\" speed=\"1Gf\" core=\"{1}\"\n"
      "           bw=\"{3}Bps\" lat=\"{4}s\" sharing_policy=\"SPLITDUPLEX\"\n"
      "           loopback_bw=\"{5}Bps\" loopback_lat=\"{6}s\" bb_bw=\"{7}Bps\" bb_lat=\"0s\"/>\n"
      "</platform>\n",
      s.nodes, s.cores, s.nodes - 1, s.link_Bps, s.link_latency_s, s.loopback_Bps, s.loopback_latency_s,
      s.link_Bps * std::max(1, s.nodes));
  if (!out) throw error("cannot write the platform file " + file.string());
}

}  // namespace partita::simulate
