#include "model.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <simgrid/s4u.hpp>

#include <partita/runtime/error.hpp>
#include <partita/scheduler/dispatcher.hpp>
#include <partita/scheduler/policy.hpp>

#include "cluster_platform.hpp"
#include "rank_threads.hpp"

namespace sg4 = simgrid::s4u;

namespace partita::simulate {

namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr double result_batch_age_s = 0.02;         // a worker sends lone results once the oldest is this old
constexpr std::size_t result_batch_size = 4096;     // ... or once it has this many
constexpr double node_result_age_s = 0.1;           // a node scheduler's results wait at most this long to go up
constexpr double speculation_check_s = 0.01;        // the scheduler looks for stragglers at most this often
constexpr double scheduler_local_poll_s = 200e-6;   // the scheduler's longest wait while its own kernels run
constexpr double tick_s = 1e-9;                     // a wake-up at a deadline counts as the deadline reached

/// Whether `deadline` has come at `now` (deadlines are waited for exactly, so allow rounding).
bool reached(double now, double deadline) { return now + tick_s >= deadline; }

dispatcher::clock::time_point at(double seconds) {
  return dispatcher::clock::time_point{} +
         std::chrono::duration_cast<dispatcher::clock::duration>(std::chrono::duration<double>(seconds));
}

/// One protocol message (detail/protocol.hpp's request and assign, plus finish).
struct sim_message {
  enum class kind { request, assign, finish };
  kind what = kind::request;
  int from = 0;                                  // the sender's worker index at the receiving scheduler
  std::uint32_t want = 0;                        // request: chunks wanted
  std::vector<finished_partition> results;       // request: results riding along
  bool combined = false;                         // request: results folded into blocks by a node scheduler
  std::uint32_t answers = 0;                     // assign: how many wanted chunks this answers
  bool drained = false;                          // assign (two levels): the root's queue is empty for now
  std::vector<std::vector<id_range>> chunks;     // assign
  std::shared_ptr<bool> delivered;               // set by the receiving inbox (see outbox)

  /// Bytes on the wire, as detail/protocol.hpp encodes them (ids, times and ends per result; a ~24-byte
  /// result each; 16 bytes per range); a combined batch carries one folded result.
  double bytes() const {
    double b = 32;
    b += static_cast<double>(results.size()) * (combined ? 16.0 : 44.0) + (combined ? 24.0 : 0.0);
    for (const auto& c : chunks) b += 8 + 16.0 * static_cast<double>(c.size());
    return b;
  }
};

void send(sg4::Mailbox* to, std::unique_ptr<sim_message> m) {
  const auto size = static_cast<std::uint64_t>(m->bytes());
  to->put_init(m.release(), size)->detach([](void* p) { delete static_cast<sim_message*>(p); });
}

/// Where a flat run's messages wait for the root. SimGrid 3.32 keeps a mailbox's unmatched sends in a
/// circular_buffer that every send to it scans and every match shifts: with the requests of 10^4 ranks queued at the
/// root, that was most of the simulation's time. So the root's receives are posted on its mailbox as before, but a
/// send that finds none of them free goes to its sender's own mailbox, and the root posts its next receive there, in
/// the order the sends were made: the same matches at the same simulated times as one queue at the root. (An actor's
/// code runs up to its next simcall, and simcalls are handled in the order the actors ran, so what a sender sees
/// here is what the engine will see when it handles the send.)
struct send_queue {
  int free_receives = 0;              // posted on the root's mailbox and not yet claimed by a send
  std::deque<sg4::Mailbox*> waiting;  // senders' own mailboxes with a send waiting, oldest first
  std::vector<sg4::Mailbox*> own;     // each rank's own mailbox (made before the run: Mailbox::by_name is a simcall,
                                      // and an actor's simcalls are left as they were)
};

/// A worker's sending end. Its messages go as comms it keeps until they are delivered, not detached ones: SimGrid
/// 3.32 keeps every detached comm in one engine-wide std::list that each finishing detached comm walks, and with the
/// requests of 10^3-10^5 ranks queued at the root that walk was most of the simulation's time. What is simulated is
/// the same (a detached send is a send nobody waits for).
class outbox {
 public:
  /// Sends to a receiver that has a send_queue go through it, `own` being this sender's mailbox for waiting sends.
  explicit outbox(send_queue* queue = nullptr, sg4::Mailbox* own = nullptr) : queue_(queue), own_(own) {}
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;
  /// The actor is killed at the end of the simulation with sends in flight: their handles are left to the engine
  /// (SimGrid prints a backtrace for a comm released while it runs).
  ~outbox() {
    for (auto& s : sent_) (void)s.comm.detach();
  }

  void send(sg4::Mailbox* to, std::unique_ptr<sim_message> m) {
    while (!sent_.empty() && *sent_.front().delivered) sent_.pop_front();
    auto delivered = std::make_shared<bool>(false);
    m->delivered = delivered;
    const auto size = static_cast<std::uint64_t>(m->bytes());
    if (queue_ && queue_->free_receives == 0) {
      queue_->waiting.push_back(own_);
      to = own_;
    } else if (queue_) {
      --queue_->free_receives;
    }
    sent_.push_back({to->put_async(m.release(), size), std::move(delivered)});
  }

 private:
  struct in_flight {
    sg4::CommPtr comm;
    std::shared_ptr<bool> delivered;
  };
  send_queue* queue_;
  sg4::Mailbox* own_;
  std::deque<in_flight> sent_;
};

/// An actor's receiving end: `posted` receives kept posted (a scheduler receives many messages while it is busy:
/// their transfers overlap, as with MPI's eager protocol), waited on with a deadline. Messages are delivered in
/// the order their transfers end.
class inbox {
 public:
  /// With a send_queue, senders find the free receives and their waiting sends there (flat runs' root).
  explicit inbox(sg4::Mailbox* box, std::size_t posted = 1, send_queue* queue = nullptr)
      : box_(box), queue_(queue), pending_(posted), got_(posted, nullptr) {}
  /// The next message, waiting at most until simulated time `until` (infinity: no limit); null on timeout.
  std::unique_ptr<sim_message> wait_until(double until) {
    if (!posted_) {
      for (std::size_t i = 0; i < got_.size(); ++i) post(i);
      posted_ = true;
    }
    const double now = sg4::Engine::get_clock();
    ssize_t i = -1;
    // A receive whose transfer has ended has its message already (SimGrid copies the pointer when the transfer
    // ends). Such a one is taken with wait_any, not test_any: both return the first finished receive at once, but
    // SimGrid 3.32 forgets a receive finished by a test in the actor's list of activities, a std::list it walks on
    // every later finish: at 10^3-10^5 ranks that list made the simulation quadratic in its messages.
    if (until <= now) i = arrived() ? sg4::Comm::wait_any(pending_) : sg4::Comm::test_any(pending_);
    else if (until == infinity) i = sg4::Comm::wait_any(pending_);
    else i = sg4::Comm::wait_any_for(pending_, until - now);
    if (i < 0) return nullptr;
    const auto k = static_cast<std::size_t>(i);
    std::unique_ptr<sim_message> m(std::exchange(got_[k], nullptr));
    if (m->delivered) *m->delivered = true;
    post(k);
    return m;
  }

 private:
  void post(std::size_t k) {
    sg4::Mailbox* from = box_;
    if (queue_ && !queue_->waiting.empty()) {
      from = queue_->waiting.front();
      queue_->waiting.pop_front();
    } else if (queue_) {
      ++queue_->free_receives;
    }
    pending_[k] = from->get_async<sim_message>(&got_[k]);
  }
  bool arrived() const {
    return std::any_of(got_.begin(), got_.end(), [](const sim_message* m) { return m != nullptr; });
  }

  sg4::Mailbox* box_;
  send_queue* queue_;
  bool posted_ = false;
  std::vector<sg4::CommPtr> pending_;
  std::vector<sim_message*> got_;
};

/// What every actor shares: inputs, and the figures the root reports.
struct world {
  model_options options;
  calibration cal;
  const std::vector<float>* costs = nullptr;
  model_result result;
  std::vector<double> node_busy;
  send_queue root_queue;  // flat runs: the ranks' messages to the root

  int node_of(int rank) const { return rank / options.ranks_per_node; }
  int node_count() const { return (options.ranks + options.ranks_per_node - 1) / options.ranks_per_node; }
  int ranks_on(int node) const {
    return std::min(options.ranks, (node + 1) * options.ranks_per_node) - node * options.ranks_per_node;
  }
};

sg4::Mailbox* rank_box(int r) { return sg4::Mailbox::by_name(fmt::format("rank-{}", r)); }
sg4::Mailbox* node_box(int n) { return sg4::Mailbox::by_name(fmt::format("node-{}", n)); }
sg4::Mailbox* root_box() { return sg4::Mailbox::by_name("root"); }
sg4::Mailbox* waiting_box(int r) { return sg4::Mailbox::by_name(fmt::format("rank-{}-to-root", r)); }

/// A worker rank's communication thread (worker_loop): asks for chunks while fewer than threads + prefetch are in
/// flight, results riding along; otherwise sends results in batches. It sees finished partitions when it next
/// looks at its threads, on average half a poll interval after they finish.
void worker_actor(world& w, int rank, sg4::Mailbox* boss, int index_at_boss) {
  const auto& o = w.options;
  rank_threads threads(o.threads, *w.costs, w.cal.partition_s);
  inbox in(rank_box(rank));
  outbox out = o.levels == 1 ? outbox(&w.root_queue, w.root_queue.own[static_cast<std::size_t>(rank)]) : outbox();
  const int target = o.threads + o.prefetch;
  int requested = 0;
  std::vector<finished_partition> results;
  double oldest = infinity;
  for (;;) {
    const double now = sg4::Engine::get_clock();
    const auto before = results.size();
    threads.advance(now, results);
    if (results.size() > before && oldest == infinity) oldest = now;
    const int lacking = target - threads.in_flight() - requested;
    if (lacking > 0 || (!results.empty() && (results.size() >= result_batch_size || reached(now, oldest + result_batch_age_s)))) {
      auto m = std::make_unique<sim_message>();
      m->from = index_at_boss;
      m->want = static_cast<std::uint32_t>(std::max(lacking, 0));
      m->results = std::move(results);
      results.clear();
      requested += std::max(lacking, 0);
      oldest = infinity;
      out.send(boss, std::move(m));
    }
    double wake = threads.in_flight() > 0 ? threads.next_finish() + threads.poll_interval() / 2 : infinity;
    if (!results.empty()) wake = std::min(wake, oldest + result_batch_age_s);
    auto m = in.wait_until(wake);
    if (!m) continue;
    if (m->what == sim_message::kind::finish) return;
    requested -= std::min<int>(requested, static_cast<int>(m->answers));
    const double t = sg4::Engine::get_clock();
    for (auto& c : m->chunks) threads.submit(std::move(c), t);
  }
}

/// A scheduler's serving: charges its service time (the scheduler is busy for it) and counts it.
struct server {
  double busy = 0;
  std::uint64_t received = 0;
  void serve(double seconds) {
    busy += seconds;
    sg4::this_actor::sleep_for(seconds);
  }
};

/// The root scheduler (scheduler_loop): a real partita::dispatcher over every partition. Flat: its workers are
/// the ranks, and rank 0 (this actor) runs partitions too unless dedicated. Two levels: its workers are the node
/// schedulers, each with its node's threads.
void root_actor(world& w) {
  const auto& o = w.options;
  const bool flat = o.levels == 1;
  const bool local_work = flat && o.scheduler_runs_partitions;
  std::vector<int> threads;
  if (flat) {
    threads.assign(static_cast<std::size_t>(o.ranks), o.threads);
    if (!local_work) threads[0] = 0;
  } else {
    for (int n = 0; n < w.node_count(); ++n) threads.push_back(w.ranks_on(n) * o.threads);
  }
  dispatcher_options dopt;
  // Two levels: a chunk for a node is a bulk of node_chunk partitions per thread of the node at least (the
  // dispatcher's floor for every policy), so that one root message feeds a whole node for a while.
  dopt.fixed_chunk = flat ? o.chunk : std::max<std::uint64_t>(o.chunk, static_cast<std::uint64_t>(o.node_chunk) *
                                                                             static_cast<std::uint64_t>(o.ranks_per_node * o.threads));
  dopt.speculation.enabled = o.speculate;
  dispatcher d(o.partitions, threads, make_policy(o.policy, o.chunk), dopt);
  rank_threads local(local_work ? o.threads : 0, *w.costs, w.cal.partition_s);
  std::vector<finished_partition> local_results;
  inbox in(root_box(), 16, flat ? &w.root_queue : nullptr);
  server me;
  std::vector<std::uint32_t> parked(threads.size(), 0);
  std::vector<int> parked_list;  // workers with parked > 0
  double last_speculation_check = 0;
  bool speculation_round = false;
  auto reply_box = [&](int worker) { return flat ? rank_box(worker) : node_box(worker); };

  auto answer = [&](int worker, std::uint32_t want, double& service_chunks) {
    auto chunks = d.assign(rank_t{worker}, static_cast<int>(want), at(sg4::Engine::get_clock()));
    if (chunks.empty()) {
      const bool was_parked = parked[static_cast<std::size_t>(worker)] > 0;
      if (!was_parked) parked_list.push_back(worker);
      parked[static_cast<std::size_t>(worker)] += want;
      if (flat || was_parked) return std::unique_ptr<sim_message>();
      // Two levels: the node scheduler learns that the queue is empty (it then passes results up at once, so the
      // job's end does not wait for its result batching). Answers nothing: the request stays parked.
      auto m = std::make_unique<sim_message>();
      m->what = sim_message::kind::assign;
      m->from = -1;
      m->drained = true;
      return m;
    }
    service_chunks += static_cast<double>(chunks.size());
    auto m = std::make_unique<sim_message>();
    m->what = sim_message::kind::assign;
    m->from = -1;
    m->answers = want;
    m->chunks = std::move(chunks);
    return m;
  };

  // One message (handle(): commit its results, answer its request), served in turn.
  auto handle = [&](std::unique_ptr<sim_message> m) {
    ++me.received;
    const std::uint64_t n = m->results.size();
    for (const auto& r : m->results) d.complete(rank_t{m->from}, partition_id{r.id}, r.seconds);
    double chunks = 0;
    std::unique_ptr<sim_message> reply;
    if (m->want > 0) reply = answer(m->from, m->want, chunks);
    const double service = w.cal.service(n, m->combined ? 0 : n, static_cast<std::uint64_t>(chunks));
    d.note_message_cost(service);
    me.serve(service);
    if (reply) send(reply_box(m->from), std::move(reply));
  };

  while (!d.finished()) {
    const double now = sg4::Engine::get_clock();
    speculation_round = false;
    if (d.may_speculate() && reached(now, last_speculation_check + speculation_check_s)) {
      last_speculation_check = now;
      speculation_round = true;
    }
    // Its own executor (serve_local).
    if (local_work) {
      local.advance(now, local_results);
      double chunks_given = 0;
      const int lacking = o.threads + o.prefetch - local.in_flight();
      for (const auto& r : local_results) d.complete(rank_t{0}, partition_id{r.id}, r.seconds);
      const auto committed = local_results.size();
      local_results.clear();
      if (lacking > 0 && (d.unassigned() > 0 || speculation_round)) {
        auto chunks = d.assign(rank_t{0}, lacking, at(now));
        chunks_given = static_cast<double>(chunks.size());
        for (auto& c : chunks) local.submit(std::move(c), now);
      }
      if (committed > 0 || chunks_given > 0)
        me.serve((w.cal.complete_s + w.cal.result_s) * static_cast<double>(committed) + w.cal.assign_s * chunks_given);
      if (d.finished()) break;
    }
    // The messages that are there (serve_messages).
    bool any = false;
    while (!d.finished()) {
      auto m = in.wait_until(0);
      if (!m) break;
      handle(std::move(m));
      any = true;
    }
    if (d.finished()) break;
    // Parked requests, once work is back (speculative copies; serve_parked).
    if ((d.unassigned() > 0 || speculation_round) && !parked_list.empty())
      for (const int p : std::exchange(parked_list, {})) {
        const auto want = std::exchange(parked[static_cast<std::size_t>(p)], 0);
        double chunks = 0;
        auto reply = answer(p, want, chunks);
        if (chunks > 0) me.serve(w.cal.assign_s * chunks);
        if (reply) send(reply_box(p), std::move(reply));
      }
    if (any) continue;
    // Nothing there (idle_wait): wait for a message, for its own kernels, or for the next look for stragglers.
    double wake = local.in_flight() > 0
                      ? local.next_finish() + std::min(local.poll_interval(), scheduler_local_poll_s) / 2
                      : infinity;
    if (!parked_list.empty() && d.may_speculate()) wake = std::min(wake, last_speculation_check + speculation_check_s);
    if (auto m = in.wait_until(std::max(wake, sg4::Engine::get_clock()))) handle(std::move(m));
  }
  auto& r = w.result;
  r.makespan_s = sg4::Engine::get_clock();
  r.root_busy_s = me.busy;
  r.root_messages = me.received;
  for (int k = 0; k < d.worker_count(); ++k) {
    r.dispatches += d.tally(rank_t{k}).messages;
    r.chunks += d.tally(rank_t{k}).chunks;
  }
  r.speculative_copies = d.copies_made().size();
  sg4::Actor::kill_all();
}

/// A node scheduler (two levels): takes chunks from the root in bulk and serves its node's ranks from them. Each
/// bulk chunk gets its own partita::dispatcher over the bulk's partitions (numbered 0..k-1 locally), with the
/// node's ranks as workers, so chunk sizing and bookkeeping inside a node are Partita's own. The root's chunks for
/// a node are bulks of at least node_chunk partitions per thread of the node; below one bulk in hand the node asks
/// for prefetch + 1 more. Results go up combined (one folded result per message; the root still commits each id),
/// with those requests or once the oldest is 100 ms old; once the root has said its queue is empty, the node's last
/// result at once.
void node_actor(world& w, int node) {
  const auto& o = w.options;
  const int first = node * o.ranks_per_node, ranks = w.ranks_on(node);
  const int node_threads = ranks * o.threads;
  struct bulk {
    std::vector<id_range> ranges;
    std::vector<std::uint64_t> starts;  // local index of each range's first partition
    std::unique_ptr<dispatcher> d;
  };
  std::vector<bulk> bulks;
  std::size_t live = 0;  // bulks before this one are finished
  std::map<std::uint64_t, std::pair<std::size_t, std::size_t>> where;  // global range begin -> (bulk, range)
  std::vector<std::uint32_t> parked(static_cast<std::size_t>(ranks), 0);
  std::vector<finished_partition> up;
  double oldest = infinity;
  bool asked = false;
  bool drained = false;
  inbox in(node_box(node), 16);
  server me;
  // Below one bulk in hand it asks for (prefetch + 1) bulks.
  const std::uint64_t low_water = static_cast<std::uint64_t>(node_threads) * static_cast<std::uint64_t>(o.node_chunk);

  auto pool = [&] {
    std::uint64_t u = 0;
    for (std::size_t b = live; b < bulks.size(); ++b) u += bulks[b].d ? bulks[b].d->unassigned() : 0;
    return u;
  };
  auto answer = [&](int local_rank, std::uint32_t want, double& chunks_given) -> std::unique_ptr<sim_message> {
    std::vector<std::vector<id_range>> out;
    const double now = sg4::Engine::get_clock();
    for (std::size_t bi = live; bi < bulks.size(); ++bi) {
      auto& b = bulks[bi];
      if (out.size() >= want) break;
      if (!b.d || b.d->unassigned() == 0) continue;
      for (auto& local : b.d->assign(rank_t{local_rank}, static_cast<int>(want - out.size()), at(now))) {
        std::vector<id_range> global;
        for (const auto& lr : local) {  // local ids -> the bulk's global ranges
          auto k = static_cast<std::size_t>(std::upper_bound(b.starts.begin(), b.starts.end(), lr.begin) - b.starts.begin() - 1);
          for (std::uint64_t i = lr.begin; i < lr.end;) {
            const auto& g = b.ranges[k];
            const std::uint64_t off = i - b.starts[k];
            const std::uint64_t take = std::min(lr.end - i, g.size() - off);
            global.push_back(id_range{g.begin + off, g.begin + off + take});
            i += take;
            ++k;
          }
        }
        out.push_back(std::move(global));
      }
    }
    if (out.empty()) {
      parked[static_cast<std::size_t>(local_rank)] += want;
      return nullptr;
    }
    chunks_given += static_cast<double>(out.size());
    auto m = std::make_unique<sim_message>();
    m->what = sim_message::kind::assign;
    m->from = -1;
    m->answers = want;
    m->chunks = std::move(out);
    return m;
  };
  auto commit = [&](int local_rank, const finished_partition& r) {
    auto it = where.upper_bound(r.id);
    if (it == where.begin()) throw error("node scheduler: result for a partition it never held");
    --it;
    auto& b = bulks[it->second.first];
    const auto& g = b.ranges[it->second.second];
    if (b.d) {
      b.d->complete(rank_t{local_rank}, partition_id{b.starts[it->second.second] + (r.id - g.begin)}, r.seconds);
      if (b.d->finished()) b.d.reset();  // retired: a late duplicate of one of its ids is only passed up
    }
    up.push_back(r);
  };
  // Partitions of its bulks not finished yet: once the root has nothing left (the job's end, when the root waits
  // for the last results), the node's last result goes up at once.
  auto unfinished = [&] {
    std::uint64_t u = 0;
    for (std::size_t b = live; b < bulks.size(); ++b) u += bulks[b].d ? bulks[b].d->total() - bulks[b].d->done_count() : 0;
    return u;
  };

  for (;;) {
    auto m = in.wait_until(up.empty() ? infinity : oldest + node_result_age_s);
    const double now = sg4::Engine::get_clock();
    if (m && m->what == sim_message::kind::finish) return;
    double chunks = 0;
    std::uint64_t n = 0;
    std::unique_ptr<sim_message> reply;
    int reply_to = -1;
    if (!m) {  // only the age of the results waiting to go up
    } else if (m->from < 0 && m->drained) {  // the root has nothing left: pass results up at once from now on
      drained = true;
    } else if (m->from < 0) {  // from the root: new bulks
      asked = false;
      // One bulk (one dispatcher) per reply: all its chunks' partitions, numbered 0..k-1 in order.
      bulk b;
      std::uint64_t k = 0;
      for (const auto& c : m->chunks)
        for (const auto& r : c) {
          b.starts.push_back(k);
          where[r.begin] = {bulks.size(), b.ranges.size()};
          b.ranges.push_back(r);
          k += r.size();
        }
      dispatcher_options dopt;
      dopt.fixed_chunk = o.chunk;
      b.d = std::make_unique<dispatcher>(k, std::vector<int>(static_cast<std::size_t>(ranks), o.threads),
                                         make_policy(o.policy, o.chunk), dopt);
      bulks.push_back(std::move(b));
    } else {
      ++me.received;
      const int local_rank = m->from - first;
      n = m->results.size();
      if (up.empty() && n > 0) oldest = now;
      for (const auto& r : m->results) commit(local_rank, r);
      if (m->want > 0) {
        reply = answer(local_rank, m->want, chunks);
        reply_to = m->from;
      }
    }
    // Ranks parked while the pool was empty.
    for (int r = 0; r < ranks && pool() > 0; ++r)
      if (parked[static_cast<std::size_t>(r)] > 0) {
        auto pm = answer(r, std::exchange(parked[static_cast<std::size_t>(r)], 0), chunks);
        if (pm) send(rank_box(first + r), std::move(pm));
      }
    const double service = m ? w.cal.service(n, n, static_cast<std::uint64_t>(chunks)) : 0;
    for (std::size_t b = live; b < bulks.size() && m; ++b)
      if (bulks[b].d) bulks[b].d->note_message_cost(service);
    if (m) me.serve(service);
    if (reply) send(rank_box(reply_to), std::move(reply));
    // Skip retired bulks at the front.
    while (live < bulks.size() && !bulks[live].d) ++live;
    // Up to the root: more work, or results.
    const auto left = pool();
    const bool flush = !up.empty() && (up.size() >= result_batch_size || reached(now, oldest + node_result_age_s) ||
                                       (drained && unfinished() == 0));
    if ((!asked && left < low_water) || flush) {
      auto req = std::make_unique<sim_message>();
      req->from = node;
      req->combined = true;
      req->results = std::move(up);
      up.clear();
      oldest = infinity;
      if (!asked && left < low_water) {
        req->want = static_cast<std::uint32_t>(o.prefetch + 1);
        asked = true;
      }
      send(root_box(), std::move(req));
    }
    w.node_busy[static_cast<std::size_t>(node)] = me.busy;
    w.result.node_messages += m && m->from >= 0 ? 1 : 0;
  }
}

}  // namespace

model_result run_model(const model_options& o, const calibration& cal, const std::vector<float>& costs,
                       const std::filesystem::path& platform) {
  if (o.ranks < 1) throw usage_error("--ranks must be at least 1");
  if (o.threads < 1) throw usage_error("--threads must be at least 1");
  if (o.levels != 1 && o.levels != 2) throw usage_error("--levels must be 1 or 2");
  if (o.ranks_per_node < 1) throw usage_error("--ranks-per-node must be at least 1");
  if (o.levels == 1 && o.ranks == 1 && !o.scheduler_runs_partitions)
    throw usage_error("--dedicated-scheduler needs at least two ranks");
  if (costs.size() != o.partitions) throw error("run_model: one cost per partition expected");
  (void)make_policy(o.policy, o.chunk);  // an unknown policy fails here, with the list of valid ones

  world w;
  w.options = o;
  w.cal = cal;
  w.costs = &costs;
  w.node_busy.assign(static_cast<std::size_t>(w.node_count()), 0);
  auto& e = *sg4::Engine::get_instance();
  e.load_platform(platform.string());
  auto host = [&](int node) {
    auto* h = e.host_by_name_or_null(node_host(node));
    if (!h)
      throw usage_error(fmt::format("platform {} has no host {} ({} ranks at {} per node need {} nodes)",
                                    platform.string(), node_host(node), o.ranks, o.ranks_per_node, w.node_count()));
    return h;
  };
  const bool flat = o.levels == 1;
  if (flat)
    for (int r = 0; r < o.ranks; ++r) w.root_queue.own.push_back(waiting_box(r));
  sg4::Actor::create("root", host(0), [&w] { root_actor(w); });
  if (!flat)
    for (int n = 0; n < w.node_count(); ++n)
      sg4::Actor::create(fmt::format("node-scheduler-{}", n), host(n), [&w, n] { node_actor(w, n); });
  for (int r = flat ? 1 : 0; r < o.ranks; ++r) {
    const int node = w.node_of(r);
    sg4::Mailbox* boss = flat ? root_box() : node_box(node);
    sg4::Actor::create(fmt::format("rank-{}", r), host(node),
                       [&w, r, boss] { worker_actor(w, r, boss, r); });
  }
  e.run();

  auto& res = w.result;
  res.nodes = w.node_count();
  res.total_threads = o.threads * (flat && !o.scheduler_runs_partitions ? o.ranks - 1 : o.ranks);
  double sum = 0, longest = 0;
  for (const float c : costs) {
    sum += c;
    longest = std::max<double>(longest, c);
  }
  res.lower_bound_s = std::max(sum / res.total_threads, longest);
  for (const double b : w.node_busy) res.node_busy_max_s = std::max(res.node_busy_max_s, b);
  return res;
}

}  // namespace partita::simulate
