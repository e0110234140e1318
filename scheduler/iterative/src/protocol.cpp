#include <partita/scheduler/iterative/detail/protocol.hpp>

#include <cmath>
#include <cstring>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/iterative/detail/state.hpp>

namespace partita::detail {

namespace {
constexpr double exact_limit = 9007199254740992.0;  // 2^53: every whole number below it is exact in a double

std::uint64_t whole(double x, const char* field) {
  if (!(x >= 0 && x < exact_limit) || x != std::floor(x))
    throw error(std::string("malformed step gather: the step control's ") + field + " is not a whole number");
  return static_cast<std::uint64_t>(x);
}

template <class Code>
Code code(double x, Code last, const char* field) {
  const auto v = whole(x, field);
  if (v > static_cast<std::uint64_t>(last))
    throw error(std::string("malformed step gather: unknown ") + field + " in the step control");
  return static_cast<Code>(v);
}
}  // namespace

void put_step_control(const step_control& c, std::vector<double>& out) {
  const auto d = [](std::uint64_t v) { return static_cast<double>(v); };
  out.insert(out.end(),
             {d(static_cast<std::uint64_t>(c.error)), d(c.partition.value), d(c.neighbour.value), d(c.halo_values),
              d(c.halo_declared), d(static_cast<std::uint64_t>(c.action)), d(c.epoch.value), c.busy_seconds});
}

step_control get_step_control(std::span<const double> in) {
  if (in.size() < step_control::doubles) throw error("malformed step gather: the step control is truncated");
  step_control c;
  c.error = code(in[0], step_error::kernel, "error kind");
  c.partition = partition_id{whole(in[1], "partition")};
  c.neighbour = partition_id{whole(in[2], "neighbour")};
  c.halo_values = whole(in[3], "halo length");
  c.halo_declared = whole(in[4], "declared halo length");
  c.action = code(in[5], boundary_action::checkpoint_and_stop, "boundary action");
  c.epoch = epoch_t{whole(in[6], "epoch")};
  c.busy_seconds = in[7];
  return c;
}

void put_partition_state(bytes& out, partition_id id, const std::vector<state_array>& arrays) {
  const auto at = out.size();
  out.resize(at + sizeof id.value);
  std::memcpy(out.data() + at, &id.value, sizeof id.value);
  encode_arrays(out, arrays);
}

std::pair<partition_id, std::vector<state_array>> get_partition_state(std::span<const std::byte> in, std::size_t& pos) {
  std::uint64_t id = 0;
  if (pos > in.size() || in.size() - pos < sizeof id) throw error("a partition state message is truncated");
  std::memcpy(&id, in.data() + pos, sizeof id);
  pos += sizeof id;
  auto arrays = decode_arrays(in, pos);
  return {partition_id{id}, std::move(arrays)};
}

}  // namespace partita::detail
