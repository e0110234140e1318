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
#include <partita/scheduler/detail/scheduler_tree.hpp>
#include <partita/scheduler/map_reduce/detail/node_blocks.hpp>
#include <partita/scheduler/map_reduce/detail/node_pool.hpp>
#include <partita/scheduler/map_reduce/detail/prefetch_depth.hpp>
#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/detail/root_core.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/policy.hpp>

#include "cluster_platform.hpp"
#include "rank_threads.hpp"

namespace sg4 = simgrid::s4u;

namespace partita::simulate {

namespace {

constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr double result_batch_age_s = detail::result_batch_age_seconds;  // lone results go up once this old
constexpr std::size_t result_batch_size = detail::result_batch_limit;    // ... or once this many
constexpr double scheduler_local_poll_s = 200e-6;  // the scheduler's longest wait while its own kernels run
constexpr double tick_s = 1e-9;                    // a wake-up at a deadline counts as the deadline reached

/// Whether `deadline` has come at `now` (deadlines are waited for exactly, so allow rounding).
bool reached(double now, double deadline) { return now + tick_s >= deadline; }

/// The fold of a simulated job: its results carry no bytes, so there is nothing to fold.
detail::fold_ops no_fold() {
  return {[](std::span<const std::byte>) {},
          [](std::span<const std::byte>) {},
          [] { return bytes{}; },
          [](std::span<const std::byte>) {},
          {}};
}

/// The dispatcher's time point of simulated second `seconds`, to the nearest tick: a wake-up at a deadline the
/// product's code gave (seconds_at of its time point) must read as that deadline again. Truncating lost a
/// nanosecond on 2 % of such round trips (in steps of 997 ns up to 0.2 s), and a node actor woken at a
/// node_blocks::next_release() a nanosecond short of it released nothing, found the same deadline and waited for it
/// again with a wait that returns at once: simulated time stood still (the 10^5-rank, 10 ms row, docs/benchmarks.md).
dispatcher::clock::time_point at(double seconds) {
  return dispatcher::clock::time_point{} +
         std::chrono::round<dispatcher::clock::duration>(std::chrono::duration<double>(seconds));
}

/// Simulated seconds of a dispatcher time point (the inverse of at()).
double seconds_at(dispatcher::clock::time_point t) {
  return std::chrono::duration<double>(t - dispatcher::clock::time_point{}).count();
}

/// One protocol message (detail/protocol.hpp's request and assign, plus finish).
struct sim_message {
  enum class kind { request, assign, take_back, finish };
  kind what = kind::request;
  int from = 0;                               // request: the sender's rank
  std::uint32_t want = 0;                     // request: chunks wanted
  std::vector<finished_partition> results;    // request: results riding along
  result_batch blocks;                        // request: folded blocks (ids: block indices; nanos: their totals)
  std::uint32_t answers = 0;                  // assign: how many wanted chunks this answers
  std::vector<std::vector<id_range>> chunks;  // assign; take_back: one, the ids taken back
  std::shared_ptr<bool> delivered;            // set by the receiving inbox (see outbox)

  /// Bytes on the wire, as detail/protocol.hpp encodes them (ids, times and ends per result; a ~24-byte
  /// result each; 16 bytes per range).
  double bytes() const {
    double b = 64 + static_cast<double>(results.size() + blocks.size()) * 44.0;
    for (const auto& c : chunks) b += 8 + 16.0 * static_cast<double>(c.size());
    return b;
  }
};

void send(sg4::Mailbox* to, std::unique_ptr<sim_message> m) {
  const auto size = static_cast<std::uint64_t>(m->bytes());
  to->put_init(m.release(), size)->detach([](void* p) { delete static_cast<sim_message*>(p); });
}

/// Where the messages of the ranks that report to the root wait for it. SimGrid 3.32 keeps a mailbox's unmatched
/// sends in a circular_buffer that every send to it scans and every match shifts: with the requests of 10^4 ranks
/// queued at the root, that was most of the simulation's time. So the root's receives are posted on its mailbox as
/// before, but a send that finds none of them free goes to its sender's own mailbox, and the root posts its next
/// receive there, in the order the sends were made: the same matches at the same simulated times as one queue at the
/// root. (An actor's code runs up to its next simcall, and simcalls are handled in the order the actors ran, so what a
/// sender sees here is what the engine will see when it handles the send.)
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
  /// With a send_queue, senders find the free receives and their waiting sends there (the root's inbox).
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
  detail::scheduler_tree tree;  // who serves whom: partita run's own topology (job_setup)
  std::vector<int> threads;     // kernel threads per rank (0: the root, when it is dedicated)
  std::vector<double> node_busy;
  std::vector<std::unique_ptr<detail::node_pool>> pools;  // the node schedulers' (they outlive the actors)
  thread_usage usage;                                     // every rank's kernel threads
  send_queue root_queue;                                  // the messages of the ranks that report to the root

  int node_of(int rank) const { return rank / options.ranks_per_node; }
  int node_count() const { return (options.ranks + options.ranks_per_node - 1) / options.ranks_per_node; }
};

sg4::Mailbox* rank_box(int r) { return sg4::Mailbox::by_name(fmt::format("rank-{}", r)); }
sg4::Mailbox* waiting_box(int r) { return sg4::Mailbox::by_name(fmt::format("rank-{}-to-root", r)); }

/// A worker rank's communication thread (worker_loop): asks for chunks while fewer than the prefetch depth are in
/// flight (partita's prefetch_depth: threads + prefetch, more while chunks are shorter than the round trip), results
/// riding along; otherwise sends results in batches. It sees finished partitions when it next
/// looks at its threads, on average half a poll interval after they finish.
/// `boss` is the mailbox of the rank it reports to (made by run_model: Mailbox::by_name is a simcall).
void worker_actor(world& w, int rank, sg4::Mailbox* boss) {
  const auto& o = w.options;
  rank_threads threads(o.threads, *w.costs, w.cal.partition_s, &w.usage);
  inbox in(rank_box(rank));
  outbox out = w.tree.boss[static_cast<std::size_t>(rank)] == 0
                   ? outbox(&w.root_queue, w.root_queue.own[static_cast<std::size_t>(rank)])
                   : outbox();
  detail::prefetch_depth depth(o.threads, o.prefetch);
  int requested = 0;
  std::vector<finished_partition> results;
  double oldest = infinity;
  for (;;) {
    const double now = sg4::Engine::get_clock();
    const auto before = results.size();
    threads.advance(now, results);
    if (results.size() > before && oldest == infinity) oldest = now;
    const int lacking = depth.target(threads.mean_chunk()) - threads.in_flight() - requested;
    if (lacking > 0 ||
        (!results.empty() && (results.size() >= result_batch_size || reached(now, oldest + result_batch_age_s)))) {
      auto m = std::make_unique<sim_message>();
      m->from = rank;
      m->want = static_cast<std::uint32_t>(std::max(lacking, 0));
      m->results = std::move(results);
      results.clear();
      requested += std::max(lacking, 0);
      depth.asked(now, m->want);
      oldest = infinity;
      out.send(boss, std::move(m));
    }
    double wake = threads.in_flight() > 0 ? threads.next_finish() + threads.poll_interval() / 2 : infinity;
    if (!results.empty()) wake = std::min(wake, oldest + result_batch_age_s);
    auto m = in.wait_until(wake);
    if (!m) continue;
    if (m->what == sim_message::kind::finish) return;
    if (m->what == sim_message::kind::take_back) {
      threads.take_back(m->chunks.front());
      continue;
    }
    requested -= std::min<int>(requested, static_cast<int>(m->answers));
    const double t = sg4::Engine::get_clock();
    depth.answered(t, m->answers);
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

/// A scheduler's own kernel threads (its executor; serve_local) and the results they finished that it has not
/// committed yet. The scheduler hands them chunks (from the root's dispatcher, or a node's pool) and charges itself.
struct own_threads {
  rank_threads threads;
  std::vector<finished_partition> results;
  own_threads(int n, world& w) : threads(n, *w.costs, w.cal.partition_s, &w.usage) {}
  /// When to look at them next: soon after the next finish (a scheduler waits at most scheduler_local_poll_s).
  double next_look() const {
    return threads.in_flight() > 0
               ? threads.next_finish() + std::min(threads.poll_interval(), scheduler_local_poll_s) / 2
               : infinity;
  }
};

/// The root scheduler (scheduler_loop): a real partita::dispatcher over every partition, whose workers are the
/// ranks that report to it: with one level every rank, with two the node schedulers (each with its node's threads)
/// and the ranks of its own node. Rank 0 (this actor) runs partitions too unless dedicated.
void root_actor(world& w) {
  const auto& o = w.options;
  dispatcher_options dopt;
  dopt.fixed_chunk = o.chunk;
  dopt.speculation.enabled = o.speculate;
  dopt.take_back = o.take_back;
  dopt.splitting = w.tree.node_schedulers();
  if (o.node_fold && !dopt.splitting.empty()) dopt.fold_block = detail::fold_block_size(o.partitions);
  // The product's root decisions (parking, speculation cadence, commit): the simulated results carry no bytes.
  detail::root_core core(dispatcher(o.partitions, w.tree.root_view(w.threads), make_policy(o.policy, o.chunk), dopt),
                         w.tree, w.threads, map_reduce_state::fresh(o.partitions), no_fold(), at(0));
  auto& d = core.dispatch();
  own_threads local(w.threads[0], w);
  inbox in(rank_box(0), 16, &w.root_queue);
  server me;

  // The holders of what assign() took back hear it (scheduler.cpp's send_take_backs); each word costs the root what
  // a chunk does.
  auto tell_take_backs = [&](double& service_chunks) {
    for (auto& t : d.take_backs()) {
      service_chunks += 1;
      if (t.holder.value == 0) {
        local.threads.take_back(t.ids);
        continue;
      }
      auto m = std::make_unique<sim_message>();
      m->what = sim_message::kind::take_back;
      m->chunks.push_back(std::move(t.ids));
      send(rank_box(t.holder.value), std::move(m));
    }
  };
  // What the core answers `want` chunks for `worker`, as a message (null: parked, nothing to send).
  auto answer = [&](int worker, std::uint32_t want, double& service_chunks,
                    detail::request_kind kind = detail::request_kind::fresh) {
    auto a = core.answer(rank_t{worker}, want, at(sg4::Engine::get_clock()), kind);
    tell_take_backs(service_chunks);
    if (!a) return std::unique_ptr<sim_message>();
    service_chunks += static_cast<double>(a->chunks.size());
    auto m = std::make_unique<sim_message>();
    m->what = sim_message::kind::assign;
    m->answers = a->answers;
    m->chunks = std::move(a->chunks);
    return m;
  };
  auto commit = [&](int worker, const std::vector<finished_partition>& results) {
    for (const auto& r : results) core.commit(rank_t{worker}, partition_id{r.id}, r.seconds, {});
    core.end_batch();
  };

  double busy_at_empty = -1;  // the root's busy time when its queue ran empty
  auto note_queue = [&] {     // after each hand-out: a saturated root may never leave serve_messages
    if (busy_at_empty >= 0 || d.unassigned() > 0) return;
    busy_at_empty = me.busy;
    w.result.queue_empty_s = sg4::Engine::get_clock();
  };
  // Where the root's service time went (the summary's breakdown; the terms of calibration::service). A folded
  // block costs what decoding and folding a result does; the dispatcher's commit (complete_s) is per run of
  // consecutive blocks (root_core::commit_blocks).
  auto account = [&](double messages, double results, double blocks, double block_commits, double chunks) {
    auto& r = w.result;
    r.root_message_busy_s += w.cal.message_s * messages;
    r.root_result_busy_s += w.cal.per_result_s() * results;
    r.root_block_busy_s += w.cal.result_s * blocks + w.cal.complete_s * block_commits;
    r.root_chunk_busy_s += w.cal.assign_s * chunks;
  };
  // One message (handle(): commit its results and blocks, answer its request), served in turn.
  auto handle = [&](std::unique_ptr<sim_message> m) {
    ++me.received;
    const std::uint64_t results = m->results.size(), blocks = m->blocks.size();
    commit(m->from, m->results);
    const auto folded = core.commit_blocks(rank_t{m->from}, m->blocks);  // scheduler.cpp's commit_blocks
    double chunks = 0;
    std::unique_ptr<sim_message> reply;
    if (m->want > 0) reply = answer(m->from, m->want, chunks);
    const double service = w.cal.service(results + folded.commits, results + blocks,
                                         static_cast<std::uint64_t>(chunks));
    d.note_message_cost(service);
    me.serve(service);
    w.result.root_requests += m->want > 0 ? 1 : 0;
    account(1, static_cast<double>(results), static_cast<double>(blocks), static_cast<double>(folded.commits), chunks);
    note_queue();
    if (reply) send(rank_box(m->from), std::move(reply));
  };

  while (!d.finished()) {
    const double now = sg4::Engine::get_clock();
    core.begin_round(at(now));
    // Its own executor (serve_local).
    if (local.threads.threads() > 0) {
      local.threads.advance(now, local.results);
      double chunks_given = 0;
      const int lacking = o.threads + o.prefetch - local.threads.in_flight();
      commit(0, local.results);
      const auto committed = local.results.size();
      local.results.clear();
      if (lacking > 0 && core.may_hand_out()) {
        auto chunks = d.assign(rank_t{0}, lacking, at(now));
        tell_take_backs(chunks_given);
        chunks_given += static_cast<double>(chunks.size());
        for (auto& c : chunks) local.threads.submit(std::move(c), now);
      }
      if (committed > 0 || chunks_given > 0)
        me.serve(w.cal.per_result_s() * static_cast<double>(committed) + w.cal.assign_s * chunks_given);
      account(0, static_cast<double>(committed), 0, 0, chunks_given);
      note_queue();
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
    for (const auto& p : core.take_parked()) {
      double chunks = 0;
      auto reply = answer(p.rank.value, p.want, chunks, detail::request_kind::parked_again);
      if (chunks > 0) me.serve(w.cal.assign_s * chunks);
      account(0, 0, 0, 0, chunks);
      if (reply) send(rank_box(p.rank.value), std::move(reply));
    }
    if (any) continue;
    // Nothing there (idle_wait): wait for a message, for its own kernels, or for the next look for stragglers.
    double wake = local.next_look();
    if (core.has_parked() && d.may_share_tail()) wake = std::min(wake, seconds_at(core.next_speculation_check()));
    if (auto m = in.wait_until(std::max(wake, sg4::Engine::get_clock()))) handle(std::move(m));
  }
  auto& r = w.result;
  r.makespan_s = sg4::Engine::get_clock();
  r.root_busy_s = me.busy;
  r.root_busy_tail_s = busy_at_empty < 0 ? 0 : me.busy - busy_at_empty;
  r.root_messages = me.received;
  for (int k = 0; k < d.worker_count(); ++k) {
    r.root_dispatches += d.tally(rank_t{k}).messages;
    r.root_chunks += d.tally(rank_t{k}).chunks;
    if (w.tree.is_node_scheduler(k)) continue;  // the summary counts what the node handed out (run_model)
    r.dispatches += d.tally(rank_t{k}).messages;
    r.chunks += d.tally(rank_t{k}).chunks;
  }
  r.speculative_copies = d.copies_made().size();
  r.take_backs = d.take_back_count();
  r.root_results = core.results_committed();
  r.root_blocks = core.blocks_committed();
  r.root_block_commits = core.block_commits();
  sg4::Actor::kill_all();
}

/// A node scheduler (node_scheduler::run): rank `self` serves its node's other ranks from chunks it takes from the
/// root, with the product's own detail::node_pool deciding whom to give what, when to ask the root and how much; it
/// runs partitions on its own threads, and forwards its ranks' results up (the product's detail::node_blocks folds
/// the aligned id blocks it holds whole; the rest go one by one): riding on its requests, or in batches
/// (result_batch_limit, or node_pool::result_wait).
void node_actor(world& w, int self, int node) {
  std::vector<detail::node_member> members;
  for (int r : w.tree.members[static_cast<std::size_t>(self)])
    members.push_back(detail::node_member{r, w.threads[static_cast<std::size_t>(r)]});
  auto& pool = *w.pools.emplace_back(std::make_unique<detail::node_pool>(
      self, w.threads[static_cast<std::size_t>(self)], std::move(members), w.tree.node_scheduler_count()));
  if (w.options.take_back) pool.enable_take_back(dispatcher_options{}.take_back_min_seconds);
  own_threads local(w.threads[static_cast<std::size_t>(self)], w);
  inbox in(rank_box(self), 16);
  outbox to_root(&w.root_queue, w.root_queue.own[static_cast<std::size_t>(self)]);
  server me;
  std::vector<finished_partition> up;
  result_batch up_blocks;
  double oldest = infinity;
  const double age = detail::node_result_age_seconds(w.tree.node_scheduler_count());
  detail::node_blocks blocks(w.options.partitions, w.options.node_fold);
  const detail::fold_ops nothing = no_fold();
  result_batch released;
  auto to_seconds = [](std::uint64_t ns) { return static_cast<double>(ns) * 1e-9; };
  auto hold = [&](std::vector<finished_partition>& results, double now) {
    if (results.empty()) return;
    if (up.empty() && up_blocks.empty()) oldest = now;
    for (const auto& r : results)
      if (blocks.offer(r.id, static_cast<std::uint64_t>(r.seconds * 1e9), {}, at(now)) ==
          detail::node_blocks::verdict::up)
        up.push_back(r);
    results.clear();
    blocks.take_whole(nothing, up_blocks);
    if (up.empty() && up_blocks.empty()) oldest = infinity;
  };
  auto send_up = [&](std::uint32_t want) {
    auto req = std::make_unique<sim_message>();
    req->from = self;
    req->want = want;
    req->results = std::move(up);
    detail::node_blocks::order(up_blocks);
    req->blocks = std::move(up_blocks);
    up.clear();
    up_blocks.clear();
    oldest = infinity;
    to_root.send(rank_box(0), std::move(req));
  };

  auto own_free = [&] {
    return static_cast<std::uint32_t>(std::max(0, local.threads.threads() - local.threads.in_flight()));
  };
  std::unique_ptr<sim_message> next;  // a message the idle wait brought
  for (;;) {
    const double now = sg4::Engine::get_clock();
    bool busy = false;
    double service = 0;
    for (int i = 0; i < 256; ++i) {  // the messages that are there
      auto m = next ? std::move(next) : in.wait_until(0);
      if (!m) break;
      busy = true;
      if (m->what == sim_message::kind::finish) return;
      if (m->what == sim_message::kind::assign) {  // from the root
        for (const auto& c : m->chunks) blocks.handed(c);
        // The job's tail: from now on a result waits here at most node_blocks::tail_wait for its block.
        if (m->chunks.empty() && m->answers == 0) blocks.begin_tail(at(now));
        pool.add(std::move(m->chunks), m->answers);
        continue;
      }
      ++me.received;
      ++w.result.node_messages;
      for (const auto& r : m->results) pool.complete(m->from, r.id, static_cast<std::uint64_t>(r.seconds * 1e9));
      service += w.cal.service(m->results.size(), m->results.size(), 0);
      hold(m->results, now);
      pool.ask(m->from, m->want);
    }
    if (blocks.release(at(now), released) > 0) {  // kept too long for their block in the tail: they go up
      if (up.empty() && up_blocks.empty()) oldest = now;
      for (std::size_t i = 0; i < released.size(); ++i) up.push_back({released.ids[i], to_seconds(released.nanos[i])});
      released.clear();
    }
    double chunks = 0;
    for (auto& g : pool.serve_waiting()) {  // serve_waiting
      chunks += static_cast<double>(g.chunks.size());
      auto a = std::make_unique<sim_message>();
      a->what = sim_message::kind::assign;
      a->answers = static_cast<std::uint32_t>(g.chunks.size());
      a->chunks = std::move(g.chunks);
      send(rank_box(g.rank), std::move(a));
    }
    if (local.threads.threads() > 0) {  // serve_local
      const auto before = local.results.size();
      local.threads.advance(now, local.results);
      for (std::size_t k = before; k < local.results.size(); ++k)
        pool.complete(self, local.results[k].id, static_cast<std::uint64_t>(local.results[k].seconds * 1e9));
      service += w.cal.per_result_s() * static_cast<double>(local.results.size());
      busy |= !local.results.empty();
      hold(local.results, now);
      for (auto& c : pool.take_own(own_free())) {
        local.threads.submit(std::move(c), now);
        chunks += 1;
        busy = true;
      }
    }
    for (auto& g : pool.take_backs(own_free())) {  // take_back_idle: the holder skips, the taker runs them
      ++w.result.node_take_backs;
      chunks += 1;
      busy = true;
      if (g.holder == self) {
        local.threads.take_back(g.ids);
      } else {
        auto t = std::make_unique<sim_message>();
        t->what = sim_message::kind::take_back;
        t->chunks = {g.ids};
        send(rank_box(g.holder), std::move(t));
      }
      if (g.taker == self) {
        local.threads.submit(std::move(g.ids), now);
      } else {
        auto a = std::make_unique<sim_message>();
        a->what = sim_message::kind::assign;
        a->answers = 1;
        a->chunks = {std::move(g.ids)};
        send(rank_box(g.taker), std::move(a));
      }
    }
    service += w.cal.assign_s * chunks;
    if (service > 0) me.serve(service);
    // talk_up: ask when running low (results ride along), else results when many or old.
    if (const auto want = pool.to_ask(own_free()); want > 0) send_up(want);
    else if ((!up.empty() || !up_blocks.empty()) && (up.size() + up_blocks.size() >= result_batch_size ||
                                                     reached(sg4::Engine::get_clock(), oldest + pool.result_wait(age))))
      send_up(0);
    w.node_busy[static_cast<std::size_t>(node)] = me.busy;
    if (busy) continue;
    // Idle: wait for a message, its own kernels, or the age of the results waiting to go up.
    double wake = local.next_look();
    if (!up.empty() || !up_blocks.empty()) wake = std::min(wake, oldest + pool.result_wait(age));
    if (const auto due = blocks.next_release()) wake = std::min(wake, seconds_at(*due));
    next = in.wait_until(std::max(wake, sg4::Engine::get_clock()));
  }
}

}  // namespace

model_result run_model(const model_options& o, const calibration& cal, const std::vector<float>& costs,
                       const std::filesystem::path& platform) {
  if (o.ranks < 1) throw usage_error("--ranks must be at least 1");
  if (o.threads < 1) throw usage_error("--threads must be at least 1");
  if (o.levels != 1 && o.levels != 2) throw usage_error("--levels must be 1 or 2");
  if (o.ranks_per_node < 1) throw usage_error("--ranks-per-node must be at least 1");
  if (o.ranks == 1 && !o.scheduler_runs_partitions) throw usage_error("--dedicated-scheduler needs at least two ranks");
  if (costs.size() != o.partitions) throw error("run_model: one cost per partition expected");
  (void)make_policy(o.policy, o.chunk);  // an unknown policy fails here, with the list of valid ones

  world w;
  w.options = o;
  w.cal = cal;
  w.costs = &costs;
  w.node_busy.assign(static_cast<std::size_t>(w.node_count()), 0);
  w.tree = o.levels == 2 ? detail::scheduler_tree::by_node(detail::nodes_every(o.ranks, o.ranks_per_node), rank_t{0})
                         : detail::scheduler_tree::flat(o.ranks, rank_t{0});
  w.threads.assign(static_cast<std::size_t>(o.ranks), o.threads);
  if (!o.scheduler_runs_partitions) w.threads[0] = 0;
  auto& e = *sg4::Engine::get_instance();
  e.load_platform(platform.string());
  auto host = [&](int node) {
    auto* h = e.host_by_name_or_null(node_host(node));
    if (!h)
      throw usage_error(fmt::format("platform {} has no host {} ({} ranks at {} per node need {} nodes)",
                                    platform.string(), node_host(node), o.ranks, o.ranks_per_node, w.node_count()));
    return h;
  };
  for (int r = 0; r < o.ranks; ++r) w.root_queue.own.push_back(waiting_box(r));
  // Rank 0 is the root; with two levels each node's lowest rank is its node scheduler (but on the root's node).
  sg4::Actor::create("root", host(0), [&w] { root_actor(w); });
  for (int r = 1; r < o.ranks; ++r) {
    const int node = w.node_of(r);
    if (w.tree.is_node_scheduler(r)) {
      sg4::Actor::create(fmt::format("node-scheduler-{}", r), host(node), [&w, r, node] { node_actor(w, r, node); });
      continue;
    }
    sg4::Mailbox* boss = rank_box(w.tree.boss[static_cast<std::size_t>(r)]);
    sg4::Actor::create(fmt::format("rank-{}", r), host(node), [&w, r, boss] { worker_actor(w, r, boss); });
  }
  e.run();

  auto& res = w.result;
  res.nodes = w.node_count();
  for (const auto& pool : w.pools) {  // as partita's summary: what each node handed its ranks and itself
    std::vector<int> served{pool->self()};
    for (const auto& m : pool->members()) served.push_back(m.rank);
    for (const int r : served)
      if (pool->serves(r)) {
        res.dispatches += pool->tally(r).messages;
        res.chunks += pool->tally(r).chunks;
      }
  }
  res.total_threads = 0;
  for (const int t : w.threads) res.total_threads += t;
  double sum = 0, longest = 0;
  for (const float c : costs) {
    sum += c;
    longest = std::max<double>(longest, c);
  }
  res.lower_bound_s = std::max(sum / res.total_threads, longest);
  for (const double b : w.node_busy) res.node_busy_max_s = std::max(res.node_busy_max_s, b);
  if (!w.pools.empty()) {
    for (const double b : w.node_busy) res.node_busy_mean_s += b;
    res.node_busy_mean_s /= static_cast<double>(w.pools.size());
  }
  const auto& u = w.usage;
  res.thread_busy_s = u.busy;
  res.thread_start_idle_s = u.first_start_sum +
                            static_cast<double>(res.total_threads - static_cast<int>(u.started)) * res.makespan_s;
  res.thread_tail_idle_s = static_cast<double>(u.started) * res.makespan_s - u.last_end_sum;
  res.last_partition_end_s = u.last_end_max;
  return res;
}

}  // namespace partita::simulate
