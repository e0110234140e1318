#pragma once
/// The scheduler–worker protocol of a map/reduce job: message tags and their payloads, each message's codec
/// (encode_*/decode_*) defined here and nowhere else. Decoders treat the payload as untrusted.
///
/// Point-to-point only, every wait bounded (docs/design.md, "Scheduler and workers"):
///   worker -> scheduler  request   {want chunks, results since the last report, folded blocks}
///                                  want 0: results only; folded blocks (protocol version 2): a node
///                                  scheduler's values of whole aligned id blocks (ids: block indices, nanos: the
///                                  block's total time, data: its value), empty from workers
///   scheduler -> worker  assign    {answers want, chunks of id ranges}
///                                  one reply per request with want > 0; parked while nothing is left to hand out;
///                                  a node scheduler is told so by an assign of nothing that answers 0
///   both ways            heartbeat {}   when nothing else was sent for a while
///   worker -> scheduler  failure   {partition, message}   a kernel threw
///   scheduler -> worker  take_back {id ranges}   (version 3) handed to another worker: skip those not started;
///                                  a worker that started one runs it (the first result commits, the other drops)
///   scheduler -> worker  finish    {status, accumulator}   job done or checkpointed
///   scheduler -> worker  abort     {message}   job failed; exit non-zero
///   worker -> scheduler  stats     {busy, partitions, trace, origin, tally, input, output}
///                                  answer to finish; a node scheduler relays one per member, its own
///                                  (origin = sender) last
///   worker -> scheduler  aborted   {}   answer to abort
/// Scheduler failover under `mpirun --enable-recovery` (docs/design.md, "Scheduler failover"):
///   new scheduler -> all takeover {term}   I am the scheduler of `term`
///   worker -> new scheduler report {term, results not yet in a checkpoint, partitions it runs, dropped count}
///   scheduler -> worker  covered   {requests}
///                                  a committed checkpoint holds the results of your first `requests` requests of
///                                  this term: drop them
/// A worker takes messages from its current scheduler only; a takeover of a higher term changes the scheduler.
/// stats and aborted are the last message a worker sends; MPI keeps each sender's messages in order, so once
/// the scheduler has them from every live worker, nothing of this job is left in flight to leak into the next.
/// A per-node sub-scheduler (docs/design.md) speaks the same messages in both directions, so it can be put
/// between the scheduler and a node's workers without changing workers or kernels.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <partita/scheduler/detail/wire.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>

namespace partita::detail {

/// Results not riding on a request go to the scheduler in batches: this many, or once the oldest is this old (for
/// the scheduler's progress, checkpoints and the end of the job). Workers and node schedulers alike.
inline constexpr std::size_t result_batch_limit = 4096;

/// The version of these messages (every rank of a job runs one build, so it is not sent; bump it when a payload
/// changes). 2: a request carries folded blocks after its results (docs/design.md, "Folding aligned id blocks").
/// 3: take_back (docs/design.md, "Taking back a backlog"). 4: a relayed tally carries the partitions a rank took
/// back inside its node.
inline constexpr int protocol_version = 4;
inline constexpr double result_batch_age_seconds = 0.02;

enum class msg : int {
  request = 11,
  assign = 12,
  heartbeat = 13,
  failure = 14,
  finish = 15,
  abort = 16,
  stats = 17,
  aborted = 18,
  takeover = 19,
  report = 20,
  covered = 21,
  take_back = 22
};

enum class finish_status : std::uint8_t { completed = 0, checkpointed = 1 };

struct request_msg {
  std::uint32_t want = 0;
  result_batch results;
  result_batch blocks;  ///< folded blocks: ids are block indices, nanos their total time, data their values
};

/// A batch of results inside a message (request, report).
inline void put_results(wire_writer& w, const result_batch& r) {
  w.put_array(std::span<const std::uint64_t>(r.ids));
  w.put_array(std::span<const std::uint64_t>(r.nanos));
  w.put_array(std::span<const std::uint32_t>(r.ends));
  w.put_array(std::span<const std::byte>(r.data));
}

inline void get_results(wire_reader& r, result_batch& out) {
  r.get_array(out.ids);
  r.get_array(out.nanos);
  r.get_array(out.ends);
  r.get_array(out.data);
  const auto n = out.ids.size();
  if (out.nanos.size() != n || out.ends.size() != n) throw error("malformed scheduler message: result arrays disagree");
  std::uint32_t prev = 0;
  for (auto e : out.ends) {
    if (e < prev || e > out.data.size()) throw error("malformed scheduler message: result offsets");
    prev = e;
  }
}

/// Encodes a request into `out` (emptied first; its capacity is reused: transport::send_buffer).
inline void encode_request(bytes& out, std::uint32_t want, const result_batch& r, const result_batch& blocks = {}) {
  out.clear();
  out.reserve(64 + (r.size() + blocks.size()) * 20 + r.data.size() + blocks.data.size());
  wire_writer w(out);
  w.put(want);
  put_results(w, r);
  put_results(w, blocks);
}

inline bytes encode_request(std::uint32_t want, const result_batch& r, const result_batch& blocks = {}) {
  bytes out;
  encode_request(out, want, r, blocks);
  return out;
}

/// Decodes into `m`, reusing its buffers: the scheduler decodes one request per message into the same one.
inline void decode_request(std::span<const std::byte> in, request_msg& m) {
  wire_reader r(in);
  m.want = r.get<std::uint32_t>();
  get_results(r, m.results);
  get_results(r, m.blocks);
}

inline request_msg decode_request(std::span<const std::byte> in) {
  request_msg m;
  decode_request(in, m);
  return m;
}

struct assign_msg {
  std::uint32_t answers = 0;  // the want this reply answers
  std::vector<std::vector<id_range>> chunks;
};

/// Encodes an assign into `out` (emptied first; its capacity is reused: transport::send_buffer).
inline void encode_assign(bytes& out, std::uint32_t answers, const std::vector<std::vector<id_range>>& chunks) {
  std::size_t size = 2 * sizeof(std::uint32_t);
  for (const auto& c : chunks) size += sizeof(std::uint64_t) + c.size() * sizeof(id_range);
  out.clear();
  out.reserve(size);  // at most one allocation, not one per field: an assign is sent per request
  wire_writer w(out);
  w.put(answers);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(chunks.size()));
  for (const auto& c : chunks) w.put_array(std::span<const id_range>(c));
}

inline bytes encode_assign(std::uint32_t answers, const std::vector<std::vector<id_range>>& chunks) {
  bytes out;
  encode_assign(out, answers, chunks);
  return out;
}

inline assign_msg decode_assign(std::span<const std::byte> in) {
  assign_msg m;
  wire_reader r(in);
  m.answers = r.get<std::uint32_t>();
  const auto n = r.get<std::uint32_t>();
  // Each chunk takes at least its 8-byte count: a larger n is a lie, and resizing to it would allocate
  // 24 bytes (a vector) per claimed chunk before the reads fail.
  if (n > in.size() / sizeof(std::uint64_t)) throw error("malformed scheduler message: chunk count");
  m.chunks.resize(n);
  for (auto& c : m.chunks) r.get_array(c);
  return m;
}

/// What a node scheduler counted for one of its ranks (the root's dispatcher sees only the node as a whole).
struct relayed_tally {
  std::uint64_t partitions = 0;  ///< results the rank reported (a losing speculative copy included)
  std::uint64_t chunks = 0;
  std::uint64_t messages = 0;
  std::uint64_t lost = 0;   ///< 1: the node scheduler declared it lost
  std::uint64_t taken = 0;  ///< partitions it took back from another rank of its node (node_pool::take_backs)
};

struct worker_stats {
  double busy_seconds = 0;
  std::uint64_t partitions = 0;
  int threads = 0;
  std::vector<trace_slice> trace;
  int origin = -1;             ///< the rank these figures are of (-1: the sender)
  std::uint8_t has_tally = 0;  ///< 1: `tally` holds a node scheduler's counts for `origin`
  relayed_tally tally;
  double framework_cpu_seconds = 0;  ///< CPU the rank used outside kernels (cpu_meter)
  input_stats input;                 ///< what its input reader did (the data path)
  output_stats output;               ///< what it wrote of the job's declared output (the data path)
};

inline bytes encode_stats(const worker_stats& s) {
  bytes out;
  wire_writer w(out);
  w.put(s.busy_seconds);
  w.put(s.partitions);
  w.put(s.threads);
  w.put(s.framework_cpu_seconds);
  w.put_array(std::span<const trace_slice>(s.trace));
  w.put(s.origin);
  w.put(s.has_tally);
  w.put(s.tally);
  w.put(s.input);
  w.put(s.output);
  return out;
}

inline worker_stats decode_stats(std::span<const std::byte> in) {
  worker_stats s;
  wire_reader r(in);
  s.busy_seconds = r.get<double>();
  s.partitions = r.get<std::uint64_t>();
  s.threads = r.get<int>();
  s.framework_cpu_seconds = r.get<double>();
  r.get_array(s.trace);
  s.origin = r.get<int>();
  s.has_tally = r.get<std::uint8_t>();
  s.tally = r.get<relayed_tally>();
  s.input = r.get<input_stats>();
  s.output = r.get<output_stats>();
  if (s.has_tally > 1 || s.tally.lost > 1) throw error("malformed scheduler message: stats flags");
  return s;
}

/// failure: the first kernel failure on a worker.
inline bytes encode_failure(const kernel_failure& f) {
  bytes out;
  wire_writer w(out);
  w.put(f.id.value);
  w.put_string(f.message);
  return out;
}

inline kernel_failure decode_failure(std::span<const std::byte> in) {
  wire_reader r(in);
  kernel_failure f;
  f.id = partition_id{r.get<std::uint64_t>()};
  f.message = r.get_string();
  return f;
}

/// abort: why the job failed (the scheduler has logged it).
inline bytes encode_abort(const std::string& what) {
  bytes out;
  wire_writer(out).put_string(what);
  return out;
}

inline std::string decode_abort(std::span<const std::byte> in) { return wire_reader(in).get_string(); }

/// finish: how the job ended and the accumulator's bytes.
struct finish_msg {
  finish_status status = finish_status::completed;
  bytes accumulator;
};

inline bytes encode_finish(finish_status status, std::span<const std::byte> accumulator) {
  bytes out;
  wire_writer w(out);
  w.put(status);
  w.put_array(accumulator);
  return out;
}

inline finish_msg decode_finish(std::span<const std::byte> in) {
  finish_msg m;
  wire_reader r(in);
  m.status = r.get<finish_status>();
  if (m.status != finish_status::completed && m.status != finish_status::checkpointed)
    throw error("malformed scheduler message: finish status");
  r.get_array(m.accumulator);
  return m;
}

/// takeover / covered: one number (the term; the requests a checkpoint covers).
inline bytes encode_number(std::uint64_t v) {
  bytes out;
  wire_writer(out).put(v);
  return out;
}

inline std::uint64_t decode_number(std::span<const std::byte> in) { return wire_reader(in).get<std::uint64_t>(); }

/// take_back: the id ranges a worker should no longer run.
inline bytes encode_ranges(const std::vector<id_range>& ranges) {
  bytes out;
  wire_writer(out).put_array(std::span<const id_range>(ranges));
  return out;
}

inline std::vector<id_range> decode_ranges(std::span<const std::byte> in) {
  std::vector<id_range> out;
  wire_reader(in).get_array(out);
  for (const auto& range : out)
    if (range.end < range.begin) throw error("malformed scheduler message: id range");
  return out;
}

/// report: a worker's answer to a takeover.
struct report_msg {
  std::uint64_t term = 0;
  result_batch results;           ///< results sent since the last checkpoint that covers them (and unsent ones)
  std::vector<id_range> running;  ///< partitions handed to it and not finished (running or queued there)
  std::uint64_t dropped = 0;      ///< results it ran but no longer holds (memory bound): they run again
};

inline bytes encode_report(std::uint64_t term, const result_batch& results, const std::vector<id_range>& running,
                           std::uint64_t dropped) {
  bytes out;
  wire_writer w(out);
  w.put(term);
  w.put(dropped);
  w.put_array(std::span<const id_range>(running));
  put_results(w, results);
  return out;
}

inline report_msg decode_report(std::span<const std::byte> in) {
  report_msg m;
  wire_reader r(in);
  m.term = r.get<std::uint64_t>();
  m.dropped = r.get<std::uint64_t>();
  r.get_array(m.running);
  for (const auto& range : m.running)
    if (range.end < range.begin) throw error("malformed scheduler message: running range");
  get_results(r, m.results);
  return m;
}

}  // namespace partita::detail
