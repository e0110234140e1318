#include <partita/scheduler/map_reduce/detail/node_scheduler.hpp>

#include <algorithm>

#include <fmt/format.h>

#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/scheduler/detail/bounded_gather.hpp>
#include <partita/scheduler/map_reduce/detail/finish_report.hpp>
#include <partita/scheduler/map_reduce/detail/scheduler.hpp>
#include <partita/scheduler/map_reduce/policy.hpp>

namespace partita::detail {

namespace {
std::vector<node_member> members_of(const job_setup& setup, rank_t self) {
  std::vector<node_member> out;
  for (int r : setup.tree.members.at(static_cast<std::size_t>(self.value)))
    out.push_back(node_member{r, setup.threads_of(rank_t{r})});
  return out;
}
}  // namespace

node_scheduler::node_scheduler(session& s, map_job_model& job, const run_config& config, const job_setup& setup)
    : s_(s), job_(job), config_(config), setup_(setup), root_(setup.scheduler),
      members_(setup.tree.members.at(static_cast<std::size_t>(s.rank().value))), tp_(setup.comm),
      peers_(s.size(), s.rank()),
      pool_(s.rank().value, setup.threads_of(s.rank()), members_of(setup, s.rank()), setup.tree.node_scheduler_count()),
      // Jobs with a per-partition output are not folded here: each result carries its block's CRC-32 to the root.
      blocks_(job.partition_count(), !job.has_output()), fold_(fold_ops_of(job)) {
  // Its peers are the root and its members; nobody else ever writes to it.
  for (int r = 0; r < s.size(); ++r) peers_[r].alive = false;
  peers_[root_.value].alive = true;
  for (int r : members_) peers_[r].alive = true;
  if (const int mine = setup.threads_of(s.rank()); mine > 0)
    local_ = std::make_unique<executor>(job, mine, config.seed, config.trace.has_value(), setup.t0, s.rank(),
                                        config.prefetch);
  waiter_.emplace(tp_, local_.get());
  result_age_ = node_result_age_seconds(setup.tree.node_scheduler_count());
  // As at the root (dispatcher_options): not with static blocks, whose owners are fixed.
  if (config.take_back && make_policy(config.policy)->order() != queue_order::static_blocks)
    pool_.enable_take_back(dispatcher_options{}.take_back_min_seconds);
}

node_scheduler::~node_scheduler() = default;

run_report node_scheduler::run() {
  for (;;) {
    bool busy = false;
    for (int i = 0; i < 256; ++i) {
      auto m = tp_.poll();
      if (!m) break;
      busy = true;
      if (m->source == root_ && m->tag == msg::finish) return finish(*m);
      handle(*m);
    }
    serve_waiting();
    busy |= serve_local();
    busy |= take_back_idle();
    talk_up();
    keep_alive();
    if (failure_reported_ && since(*failure_reported_) > config_.timeout_seconds)
      give_up(fmt::format("a kernel failed on node scheduler rank {} and the scheduler (rank {}) did not answer",
                          s_.rank().value, root_.value));
    if (busy) continue;
    // Idle: wait for a message or the local kernels' results without taking a core from them (comm_waiter).
    if (auto m = waiter_->wait(std::chrono::microseconds(1000))) {
      if (m->source == root_ && m->tag == msg::finish) return finish(*m);
      handle(*m);
    }
  }
}

void node_scheduler::send_up(msg tag, bytes payload) {
  tp_.send_bytes(root_, tag, std::move(payload));
  peers_.sent(root_);
}

bool node_scheduler::serve_local() {
  if (!local_) return false;
  bool busy = false;
  if (local_->drain(local_results_)) {
    for (std::size_t i = 0; i < local_results_.size(); ++i)
      pool_.complete(s_.rank().value, local_results_.ids[i], local_results_.nanos[i]);
    forward(std::move(local_results_));
    local_results_.clear();
    busy = true;
  }
  if (auto f = local_->failure(); f && !failure_reported_) {
    send_up(msg::failure, encode_failure(*f));  // the root answers with abort
    failure_reported_ = clock::now();
  }
  if (failure_reported_) return busy;
  for (auto& chunk : pool_.take_own(own_free())) {
    local_->submit(std::move(chunk));
    busy = true;
  }
  return busy;
}

void node_scheduler::handle(const message<msg>& m) {
  peers_.heard(m.source);
  if (m.source != root_) {
    if (pool_.serves(m.source.value) && !pool_.lost(m.source.value)) from_member(m);
    return;  // a lost rank's late message: its partitions were requeued
  }
  switch (m.tag) {
    case msg::assign: {
      auto a = decode_assign(m.payload);
      for (const auto& c : a.chunks) blocks_.handed(c);
      // The root's queue is empty: the job's tail. From now on a result waits here at most node_blocks::tail_wait
      // for the rest of its block (talk_up sends those that waited longer one by one).
      if (a.chunks.empty() && a.answers == 0) blocks_.begin_tail(clock::now());
      pool_.add(std::move(a.chunks), a.answers);
      break;
    }
    case msg::heartbeat: break;
    case msg::abort: aborted(decode_abort(m.payload));
    default: log().warn("node scheduler: unexpected message {} from the scheduler", static_cast<int>(m.tag));
  }
}

void node_scheduler::from_member(const message<msg>& m) {
  const int r = m.source.value;
  switch (m.tag) {
    case msg::request: {
      auto req = decode_request(m.payload);
      for (std::size_t i = 0; i < req.results.size(); ++i) pool_.complete(r, req.results.ids[i], req.results.nanos[i]);
      if (!req.results.empty()) forward(std::move(req.results));
      pool_.ask(r, req.want);
      break;
    }
    case msg::failure:  // the root decides (it aborts the job); the payload goes up as it came
      send_up(msg::failure, m.payload);
      break;
    case msg::heartbeat: break;
    default: log().warn("node scheduler: unexpected message {} from rank {}", static_cast<int>(m.tag), r);
  }
}

std::uint32_t node_scheduler::own_free() const {
  if (!local_ || failure_reported_) return 0;
  return static_cast<std::uint32_t>(std::max(0, local_->threads() - local_->in_flight()));
}

void node_scheduler::serve_waiting() {
  for (auto& g : pool_.serve_waiting()) {
    tp_.send_bytes(rank_t{g.rank}, msg::assign, encode_assign(static_cast<std::uint32_t>(g.chunks.size()), g.chunks));
    peers_.sent(rank_t{g.rank});
  }
}

bool node_scheduler::take_back_idle() {
  auto grants = pool_.take_backs(own_free());
  for (auto& g : grants) {
    log().debug("node scheduler rank {}: take-back: partitions {}..{} from rank {} to rank {}", s_.rank().value,
                g.ids.front().begin, g.ids.back().end - 1, g.holder, g.taker);
    if (g.holder == s_.rank().value) {
      if (local_) local_->take_back(g.ids);
    } else {
      tp_.send_bytes(rank_t{g.holder}, msg::take_back, encode_ranges(g.ids));
      peers_.sent(rank_t{g.holder});
    }
    if (g.taker == s_.rank().value) {
      if (local_) local_->submit(std::move(g.ids));
    } else {
      std::vector<std::vector<id_range>> chunks{std::move(g.ids)};
      tp_.send_bytes(rank_t{g.taker}, msg::assign, encode_assign(1, chunks));
      peers_.sent(rank_t{g.taker});
    }
  }
  return !grants.empty();
}

void node_scheduler::talk_up() {
  if (const bool was_empty = up_.empty() && up_blocks_.empty(); blocks_.release(clock::now(), up_) > 0 && was_empty)
    oldest_up_ = clock::now();
  if (const auto want = pool_.to_ask(own_free()); want > 0) {  // running low: ask for a batch (results ride along)
    send_request(want);
    return;
  }
  // Results go up in batches: many, or old enough for the root's progress and checkpoints (sooner at the end of
  // the job). One message carries the results of all the node's ranks, and the age grows with the node count: that
  // is what spares the root.
  const auto waiting = up_.size() + up_blocks_.size();
  if (waiting > 0 && (waiting >= result_batch_limit || since(oldest_up_) >= pool_.result_wait(result_age_)))
    send_request(0);
}

void node_scheduler::send_request(std::uint32_t want) {
  node_blocks::order(up_blocks_);
  send_up(msg::request, encode_request(want, up_, up_blocks_));
  up_.clear();
  up_blocks_.clear();
  oldest_up_ = clock::time_point::max();
}

void node_scheduler::forward(result_batch&& results) {
  const bool was_empty = up_.empty() && up_blocks_.empty();
  if (!blocks_.enabled()) {
    up_.append(std::move(results));
  } else {
    blocks_.sort(results, up_, clock::now());
    blocks_.take_whole(fold_, up_blocks_);
  }
  if (was_empty && !(up_.empty() && up_blocks_.empty())) oldest_up_ = clock::now();
}

void node_scheduler::keep_alive() {
  for (int r : peers_.sweep(tp_, msg::heartbeat, config_.heartbeat_seconds, config_.timeout_seconds)) {
    if (r == root_.value)
      give_up(fmt::format("lost contact with the scheduler (rank {}) for {:.0f} s; giving up", root_.value,
                          config_.timeout_seconds));
    lose(r);
  }
}

void node_scheduler::lose(int r, bool running) {
  peers_[r].alive = false;
  const auto requeued = pool_.lose(r);
  log().warn("node scheduler rank {}: rank {} silent for {:.0f} s: declared lost; {} of its partitions go back to "
             "the node's pool",
             s_.rank().value, r, config_.timeout_seconds, requeued);
  record_lost_rank(s_, config_, job_.name(), r);
  const bool anyone = local_ != nullptr ||
                      std::any_of(members_.begin(), members_.end(), [&](int m) { return peers_[m].alive; });
  if (running && !anyone)  // nobody left here to run the pool: let the root requeue it as a lost worker's
    give_up(fmt::format("node scheduler rank {}: every rank of its node is lost", s_.rank().value));
}

std::vector<bool> node_scheduler::members_alive() const {
  std::vector<bool> alive(static_cast<std::size_t>(s_.size()), false);
  for (int r : members_) alive[static_cast<std::size_t>(r)] = peers_[r].alive;
  return alive;
}

// The root stopped the job: stop this node's ranks (acknowledged, bounded), then acknowledge.
void node_scheduler::aborted(const std::string& what) {
  if (local_) local_->cancel();
  abort_workers(tp_, members_alive(), what, config_.timeout_seconds);
  tp_.send_bytes(root_, msg::aborted, {});
  tp_.flush_or_abandon(std::chrono::seconds(10));
  throw remote_failure(what);
}

void node_scheduler::give_up(const std::string& what) {
  if (local_) local_->cancel();
  log().error("{}", what);
  abort_workers(tp_, members_alive(), what, config_.timeout_seconds);
  error e(what);
  e.mark_reported();
  throw e;
}

run_report node_scheduler::finish(const message<msg>& m) {
  auto rep = report_from_finish(decode_finish(m.payload), job_, config_, root_, s_.size());
  if (local_) local_->cancel();

  // Pass the finish on and collect the members' figures (bounded, within the root's own wait for ours).
  std::vector<std::optional<worker_stats>> got(static_cast<std::size_t>(s_.size()));
  bounded_gather<msg> gather(tp_, s_.size());
  for (int r : members_)
    if (peers_[r].alive) gather.ask(rank_t{r}, msg::finish, m.payload);
  auto beat = clock::now();
  auto round = [&] {
    for (int r : members_)
      if (peers_[r].alive && !got[static_cast<std::size_t>(r)] &&
          since(peers_[r].last_heard) > config_.timeout_seconds) {
        lose(r, false);
        gather.answered(rank_t{r});
      }
    if (since(beat) > config_.heartbeat_seconds) {  // the root must not take this live rank for a lost one
      send_up(msg::heartbeat, {});
      beat = clock::now();
    }
  };
  auto on_message = [&](const message<msg>& in) {
    peers_.heard(in.source);
    const int r = in.source.value;
    if (in.tag == msg::stats && pool_.serves(r) && r != s_.rank().value && peers_[r].alive &&
        !got[static_cast<std::size_t>(r)]) {
      got[static_cast<std::size_t>(r)] = decode_stats(in.payload);
      gather.answered(in.source);
    }
  };
  const int waiting = gather.run(clock::now() + to_ns(0.7 * std::max(5.0, config_.timeout_seconds)),
                                 std::chrono::milliseconds(20), on_message, round,
                                 [&] { return local_ && local_->in_flight() > 0; });
  if (waiting > 0)
    log().warn("node scheduler rank {}: {} rank(s) did not report their figures at the end", s_.rank().value, waiting);

  // Each member's figures with what this node counted for it, then its own (origin = sender: the last message).
  for (int r : members_) {
    auto st = got[static_cast<std::size_t>(r)].value_or(worker_stats{});
    st.threads = setup_.threads_of(rank_t{r});
    st.origin = r;
    st.has_tally = 1;
    st.tally = pool_.tally(r);
    if (!got[static_cast<std::size_t>(r)]) st.tally.lost = 1;
    send_up(msg::stats, encode_stats(st));
  }
  worker_stats own;
  own.origin = s_.rank().value;
  own.has_tally = 1;
  if (local_) {
    own.busy_seconds = local_->busy_seconds();
    own.partitions = local_->partitions_run();
    own.threads = local_->threads();
    if (config_.trace) own.trace = local_->take_trace();
    own.tally = pool_.tally(s_.rank().value);
    own.input = local_->read_stats();
    own.output = local_->write_stats();
  }
  send_up(msg::stats, encode_stats(own));
  tp_.flush_or_abandon(std::chrono::seconds(10));
  rep.wall_seconds = since(setup_.t0);
  return rep;
}

}  // namespace partita::detail
