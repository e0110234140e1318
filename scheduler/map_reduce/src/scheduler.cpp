#include <partita/scheduler/map_reduce/detail/scheduler.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

#include <fmt/ranges.h>

#include <partita/checkpoint/restart.hpp>
#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/log.hpp>
#include <partita/scheduler/detail/bounded_gather.hpp>
#include <partita/scheduler/detail/metrics_publisher.hpp>
#include <partita/scheduler/detail/report_builder.hpp>
#include <partita/scheduler/map_reduce/detail/host_majority.hpp>
#include <partita/scheduler/map_reduce/detail/job_lease.hpp>
#include <partita/scheduler/map_reduce/detail/root_core.hpp>
#include <partita/scheduler/map_reduce/detail/root_report.hpp>
#include <partita/scheduler/map_reduce/detail/root_start.hpp>

namespace partita::detail {

void abort_workers(transport<msg>& tp, const std::vector<bool>& alive, const std::string& what,
                   double timeout_s) noexcept {
  try {
    bounded_gather<msg> gather(tp, static_cast<int>(alive.size()));
    for (std::size_t r = 0; r < alive.size(); ++r)
      if (alive[r]) gather.ask(rank_t{static_cast<int>(r)}, msg::abort, encode_abort(what));
    const int left = gather.run(clock::now() + to_ns(std::min(10.0, timeout_s)), std::chrono::milliseconds(20),
                                [&](const message<msg>& m) {
                                  if (m.tag == msg::aborted && gather.awaited(m.source)) gather.answered(m.source);
                                });
    if (left > 0) log().warn("{} worker(s) did not acknowledge the abort", left);
    tp.flush_or_abandon(std::chrono::seconds(5));
  } catch (const std::exception& e) {
    log().error("could not tell every worker that the job failed: {}", e.what());
  }
}

// ---------------------------------------------------------------------------------------------------------
// The loop: moves messages between the workers and the root's decisions (root_core), and around them the
// liveness of the workers, checkpoints, the scheduler's own executor and the end of the job.
// ---------------------------------------------------------------------------------------------------------
struct map_reduce_scheduler::running {
  /// `takeover` and `survivors` are set when this rank took over from a lost scheduler (failover).
  running(session& s, map_job_model& job, const run_config& config, const job_setup& setup, transport<msg>& tp,
          std::uint64_t hash, std::optional<restart_point> restart, takeover_input* takeover = nullptr,
          survivors_report* survivors = nullptr)
      : running(s, job, config, setup, tp, hash, restart, takeover, survivors,
                start_of(restart, job.partition_count(), takeover, survivors)) {}

  run_report run() {
    event("job start");
    record_output(false);  // a restart: the blocks of its checkpoint; afresh: none
    std::string stop;
    while (!core_.complete() || fenced()) {
      // One clock read for the round's bookkeeping: on the one-partition-per-message path each read shows.
      const auto now = clock::now();
      note_stall(now);
      core_.begin_round(clock::now());
      bool busy = serve_local();
      busy |= serve_messages(busy ? clock::now() : now);  // a message's cost must not include the local work
      serve_parked();
      keep_alive(now);
      progress_.update(dispatch().done_count(), now);
      if (metrics_.due(now)) metrics_.publish(live_metrics(now), now);
      stop = checkpoint_if_due(now);
      if (!stop.empty()) break;
      if (!busy) idle_wait();
    }
    progress_.update(dispatch().done_count(), {}, true);
    progress_.finish();
    if (stop.empty() && ckpt_.enabled() && dispatch().done_count() > ckpt_.progress_at_last())
      checkpoint("end of job", checkpoint_need::optional);
    record_output(stop.empty() && core_.complete());
    event("job end");
    auto rep = finish(stop);
    auto last = live_metrics(clock::now());
    add_final_figures(last, rep);
    metrics_.conclude(std::move(last));
    return rep;
  }

  /// The figures --metrics-file shows while the job runs: the progress line's, the dispatcher's tallies, the
  /// checkpoints so far (docs/metrics.md).
  metrics_snapshot live_metrics(clock::time_point now) const {
    const auto& d = core_.dispatch();
    metrics_snapshot m;
    m.unit = progress_.unit();
    m.done = d.done_count();
    m.total = progress_.total();
    const auto f = progress_.figures(m.done, now);
    m.elapsed_seconds = f.elapsed_seconds;
    m.rate_per_second = f.rate_per_second;
    m.eta_seconds = f.eta_seconds;
    const auto threads = setup_.tree.root_view(setup_.threads);  // two levels: a node scheduler's row is its node's
    m.ranks.resize(static_cast<std::size_t>(s_.size()));
    std::uint64_t chunks = 0, messages = 0;
    for (int r = 0; r < s_.size(); ++r) {
      const auto& t = d.tally(rank_t{r});
      auto& row = m.ranks[static_cast<std::size_t>(r)];
      row.threads = threads[static_cast<std::size_t>(r)];
      row.busy_seconds = t.busy_seconds;
      chunks += t.chunks;
      messages += t.messages;
      m.lost_ranks += t.lost ? 1 : 0;
    }
    m.chunks = chunks;
    m.messages = messages;
    const auto& cs = ckpt_.stats();
    m.checkpoints = cs.count;
    m.checkpoint_seconds = cs.seconds;
    m.checkpoint_bytes = cs.bytes;
    m.failovers = term_;
    m.speculative_copies = d.copies_made().size();
    m.speculative_won = d.copies_won();
    m.taken_back = d.taken_back();
    if (job_.has_input() || job_.has_output()) {
      map_job_model::block_bytes b;
      for (const auto& r : d.done_set().ranges()) {
        const auto rb = job_.data_bytes(r.begin, r.end);
        b.input += rb.input;
        b.output += rb.output;
      }
      if (job_.has_input()) m.input_bytes = b.input;
      if (job_.has_output()) m.output_bytes = b.output;
    }
    return m;
  }

  /// The ranks to stop: the live workers, and (two levels) the ranks of lost node schedulers, adopted now.
  std::vector<bool> alive_mask() {
    adopt_orphans();
    return peers_.alive_mask();
  }
  std::uint64_t term() const noexcept { return term_; }
  void cancel_local() noexcept {
    if (local_) local_->cancel();
  }
  /// The metrics' last write when the job fails on the scheduler: state failed, the figures as they were.
  void metrics_failed() noexcept { metrics_.fail(); }

 private:
  /// The state the loop starts from, with what a failover counted on the way (initial_state()).
  struct start {
    map_reduce_state state;
    failover_summary failover;
  };

  running(session& s, map_job_model& job, const run_config& config, const job_setup& setup, transport<msg>& tp,
          std::uint64_t hash, const std::optional<restart_point>& restart, takeover_input* takeover,
          survivors_report* survivors, start st)
      : s_(s), job_(job), config_(config), setup_(setup), tp_(tp), hash_(hash), takeover_(takeover),
        survivors_(survivors), term_(takeover ? takeover->term : 0), failover_(std::move(st.failover)),
        restored_from_(restart ? restart->file.string() : std::string()), restored_done_(st.state.done_count()),
        restored_costs_(restart ? st.state.measured_count() : 0),
        core_(make_core(std::move(st.state), restart.has_value())), peers_(s.size(), s.rank()),
        requests_seen_(static_cast<std::size_t>(s.size()), 0),
        progress_("partitions", job.partition_count(), dispatch().done_count(), config.progress_interval_seconds,
                  config.quiet),
        metrics_(config, {job.name(), "map_reduce", hash_label(hash)}),
        ckpt_(s, config, setup, job.name(), core_.state().run_seconds, dispatch().done_count()) {
    if (restart && !takeover)
      log().info("restart: from {} (epoch {}): {} of {} partitions already done, {} measured costs", restored_from_,
                 restart->image.meta.epoch.value, restored_done_, job.partition_count(), restored_costs_);
    core_.keep_params(params_text(job.params()));
    for (int r = 0; r < s.size(); ++r)  // two levels: the root talks to node schedulers, not to their ranks
      if (!setup.tree.reports_to_root(r)) peers_[r].alive = false;
    if (takeover && takeover->exec) {
      local_ = std::move(takeover->exec);  // still running the partitions this rank had as a worker
    } else if (const int mine = setup.threads_of(s.rank()); mine > 0) {
      local_ = std::make_unique<executor>(job, mine, config.seed, config.trace.has_value(), setup.t0, s.rank(),
                                          config.prefetch);
    }
    waiter_.emplace(tp_, local_.get());
    progress_.time_samples_from(setup.t0);
    if (takeover) start_after_takeover(restart);
  }

  dispatcher& dispatch() noexcept { return core_.dispatch(); }

  /// The root's decisions over a dispatcher of every partition, from `st` (the job's accumulator restored first:
  /// held results that continue the folded prefix are folded at once).
  root_core make_core(map_reduce_state st, bool restored) {
    if (job_.has_output()) {
      // The checksums of committed output blocks: the checkpoint's, and those riding on results it held or the
      // survivors of a failover reported (held results may be folded at once below, their bytes gone).
      st.block_crc.resize(job_.partition_count(), 0);
      for (const auto& [id, result] : st.held)
        if (const auto crc = job_.block_crc(result)) st.block_crc[id] = *crc;
    }
    dispatcher d(job_.partition_count(), setup_.tree.root_view(setup_.threads),
                 make_policy(config_.policy, config_.chunk), make_options(st));
    job_.reset();
    if (!restored) {  // a fresh start: nothing folded (a failover's state without a checkpoint is fresh too)
      st.accumulator.clear();
      st.block_accumulator.clear();
    }
    return root_core(std::move(d), setup_.tree, setup_.threads, std::move(st), fold_ops_of(job_), clock::now());
  }

  dispatcher_options make_options(const map_reduce_state& st) const {
    dispatcher_options o;
    o.fixed_chunk = config_.chunk;
    o.speculation.enabled = config_.speculate;
    o.speculation.factor = config_.speculation_factor;
    o.take_back = config_.take_back;
    o.done = st.done;
    o.splitting = setup_.tree.node_schedulers();  // a node scheduler splits what it gets for its node's threads
    // Node schedulers fold the blocks they hold whole (not for a job with a per-partition output: node_blocks).
    if (!o.splitting.empty() && !job_.has_output()) o.fold_block = fold_block_size(job_.partition_count());
    const auto ranks_with_threads = std::count_if(setup_.threads.begin(), setup_.threads.end(),
                                                  [](int t) { return t > 0; });
    // Before the cost policy's per-partition arrays: a job that cannot fit is refused in one line, not by bad_alloc.
    dispatcher::check_fits(job_.partition_count(), config_.policy, static_cast<int>(ranks_with_threads));
    if (takeover_) {
      if (!takeover_->running.empty()) o.held.emplace_back(s_.rank().value, takeover_->running);
      for (const auto& r : survivors_->running) o.held.push_back(r);
    }
    if (config_.policy == "cost") {
      o.costs = seeded_costs(job_, st);
      if (restored_costs_ > 0)
        log().info("cost policy: ordering by {} measured costs from the checkpoint, hints for the rest",
                   restored_costs_);
    }
    return o;
  }

  /// Records the committed partitions in the job's output file (map_job_model::record_output): at the start, after
  /// each checkpoint, at the end (`complete` once every block is committed).
  void record_output(bool complete) {
    if (!job_.has_output()) return;
    std::vector<std::uint8_t> bits(job_.partition_count(), 0);
    for (const auto& r : dispatch().done_set().ranges())
      std::fill(bits.begin() + static_cast<std::ptrdiff_t>(r.begin), bits.begin() + static_cast<std::ptrdiff_t>(r.end),
                std::uint8_t{1});
    job_.record_output(bits, core_.state().block_crc, complete);
  }

  /// Writes a checkpoint of the scheduler's state (the scheduler holds every committed result, so it writes alone
  /// and never waits on a worker).
  void checkpoint(const std::string& why, checkpoint_need need) {
    checkpoint_image img;
    img.meta.params_hash = hash_;
    img.meta.model = map_reduce_state::model;
    img.meta.partition_count = job_.partition_count();
    core_.to_image(img, ckpt_.run_seconds());
    const auto start = clock::now();
    const auto done = dispatch().done_count();
    if (auto r = ckpt_.write(MPI_COMM_SELF, img, why, need, done,
                             fmt::format("{} of {} partitions done", done, job_.partition_count()))) {
      event("checkpoint " + std::to_string(r->epoch.value), static_cast<std::int64_t>(r->seconds * 1e9), start);
      record_output(false);
      // The checkpoint holds every result received so far: the workers may drop what they kept for a failover.
      if (setup_.failover)
        for (int w = 0; w < s_.size(); ++w)
          if (peers_[w].alive)
            tp_.send_bytes(rank_t{w}, msg::covered, encode_number(requests_seen_[static_cast<std::size_t>(w)]));
    }
  }

  /// Checkpoints when a trigger fires. Returns why the job must stop now ("" to go on).
  std::string checkpoint_if_due(clock::time_point now = clock::now()) {
    if (fenced(now)) return "";  // after a stall: nothing is committed until no other rank can have taken over
    if (auto stop = ckpt_.stop_signal(); !stop.empty()) {
      checkpoint(stop, checkpoint_need::required);
      return stop;
    }
    const auto why = ckpt_.due(dispatch().done_count(), now);
    if (why.empty()) return "";
    checkpoint(why, checkpoint_need::optional);
    if (ckpt_.out_of_time() && !dispatch().finished())
      return "the wall time runs out before another checkpoint would fit";
    return "";
  }

  void event(std::string name, std::int64_t dur_ns = -1, clock::time_point at = clock::now()) {
    if (!config_.trace) return;
    events_.push_back({std::move(name), s_.rank().value,
                       std::chrono::duration_cast<std::chrono::nanoseconds>(at - setup_.t0).count(), dur_ns});
  }

  /// Commits `results` from `worker` (root_core::commit), with the crash point, the failover's first commit and
  /// the speculative copies that won on the way.
  void commit(int worker, const result_batch& results) {
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto id = results.ids[i];
      const double secs = static_cast<double>(results.nanos[i]) * 1e-9;
      const auto outcome = core_.commit(rank_t{worker}, partition_id{id}, secs, results.result(i));
      if (outcome == commit_outcome::duplicate) continue;
      if (const auto crc = job_.block_crc(results.result(i))) core_.note_block_crc(id, *crc);
      if (term_ == 0) crash_point("scheduler.commit");  // --inject kill:scheduler targets the first scheduler
      if (takeover_ && !first_commit_logged_) {
        first_commit_logged_ = true;
        log().info("failover: first result committed {:.3f} s after the loss was noticed (partition {} from rank {})",
                   since(setup_.t0) - failover_.noticed_at_seconds, id, worker);
      }
      if (outcome == commit_outcome::copy_won)
        event(fmt::format("speculative copy of partition {} won on rank {}", id, worker));
    }
    core_.end_batch();
  }

  /// Commits the block values a node scheduler folded (root_core::commit_blocks), with the crash point per block.
  void commit_blocks(int worker, const result_batch& blocks) {
    const auto out = core_.commit_blocks(rank_t{worker}, blocks);
    if (term_ != 0) return;
    for (std::uint64_t b = 0; b < out.blocks; ++b) crash_point("scheduler.commit");  // --inject kill:scheduler
  }

  bool serve_local() {
    if (!local_) return false;
    bool busy = false;
    if (local_->drain(local_results_)) {
      commit(s_.rank().value, local_results_);
      local_results_.clear();
      busy = true;
    }
    if (auto f = local_->failure()) throw kernel_error(job_.name(), f->id.value, f->message);
    const int target = local_->threads() + config_.prefetch;
    const int lacking = target - local_->in_flight();
    if (lacking > 0 && core_.may_hand_out()) {
      auto chunks = dispatch().assign(s_.rank(), lacking, clock::now());
      note_copies();
      send_take_backs();
      busy = !chunks.empty();
      for (auto& chunk : chunks) local_->submit(std::move(chunk));
    }
    return busy;
  }

  /// Handles the messages waiting (at most 256). Each message's cost is timed from the end of the one before (its
  /// receive included), the first from `now`: one clock read per message.
  /// Answers to consecutive requests of one rank go out as one assign (a worker sends its requests in a burst: one
  /// reply instead of several, each still one chunk per request); the answer to another rank's request, or the end
  /// of the messages waiting, sends it.
  bool serve_messages(clock::time_point now) {
    bool any = false;
    batching_ = true;
    for (int i = 0; i < 256; ++i) {
      auto m = tp_.poll();
      if (!m) break;
      if (m->source != outgoing_.to) send_outgoing();
      now = handle(*m, now);
      tp_.recycle(std::move(m->payload));
      any = true;
    }
    batching_ = false;
    send_outgoing();
    return any;
  }

  void idle_wait() {
    // Nothing to do this round: wait for a message or for the local kernels' results, asleep while they run
    // (comm_waiter), so that neither an idle scheduler nor its kernels lose a core to this thread.
    if (auto m = waiter_->wait(std::chrono::microseconds(2000))) handle(*m);
  }

  /// Handles `m`, received at `start` or before, and counts the time it took in the root's load (docs/design.md,
  /// "Two-level scheduling"). Returns when it was done. Clock reads are a visible share of a one-partition
  /// message: the caller passes the start it has (serve_messages: the end of the message before).
  clock::time_point handle(const message<msg>& m, clock::time_point start = clock::now()) {
    const bool request = serve(m, start);
    const auto end = clock::now();
    const double took = seconds_d(end - start).count();
    ++messages_handled_;
    handling_seconds_ += took;
    if (request) dispatch().note_message_cost(took);
    return end;
  }

  /// What `m` asks for. True for a work request (its cost is a sample of the message cost).
  bool serve(const message<msg>& m, clock::time_point start) {
    peers_.heard(m.source, start);
    if (m.tag == msg::takeover) {  // from any rank, lost or not: a higher term means this scheduler was replaced
      // Unless it comes from a rank this scheduler declared lost while it keeps a host majority: a rank cut off
      // past the timeout that elected itself (it cannot gather a majority: this side's workers stay here).
      if (!peers_[m.source.value].alive && setup_.failover && holds_majority()) return false;
      if (const auto term = decode_number(m.payload); term > term_) throw deposed{m.source.value, term};
      return false;
    }
    // A peer declared lost stays lost (its late results were re-run); a rank whose node scheduler went silent
    // becomes a direct worker.
    if (!peers_[m.source.value].alive && !adopt(m.source.value)) return false;
    switch (m.tag) {
      case msg::request: {
        ++requests_seen_[static_cast<std::size_t>(m.source.value)];
        auto& req = request_;
        decode_request(m.payload, req);
        commit(m.source.value, req.results);
        commit_blocks(m.source.value, req.blocks);
        if (req.want > 0) answer(m.source, req.want, start);
        return true;
      }
      case msg::failure: {
        const auto f = decode_failure(m.payload);
        throw kernel_error(job_.name(), f.id.value, f.message);
      }
      case msg::heartbeat: break;
      case msg::takeover:
        if (const auto term = decode_number(m.payload); term > term_) throw deposed{m.source.value, term};
        break;
      case msg::report:  // a late answer to this rank's takeover: that rank was left out
        break;
      default: log().warn("scheduler: unexpected message {} from rank {}", static_cast<int>(m.tag), m.source.value);
    }
    return false;
  }

  /// Two levels (docs/design.md, "Two-level scheduling"): rank `r` of a node scheduler's node writes to the root,
  /// so it lost its node scheduler; from now on it is one of the root's workers. False for anyone else.
  bool adopt(int r) {
    if (!core_.adopt(rank_t{r})) return false;
    adopted(r);
    return true;
  }

  /// Two levels: the ranks of node schedulers the root lost that have not turned to it yet become its workers (at
  /// the end of the job or on abort, so that they hear it; a dead one is lost after the timeout). Returns them.
  std::vector<int> adopt_orphans() {
    const auto out = core_.adopt_orphans([&](int r) { return peers_[r].alive; });
    for (const int r : out) {
      adopted(r);
      peers_[r].last_heard = clock::now();
    }
    return out;
  }

  /// Rank `r` became one of the root's workers (root_core::adopt).
  void adopted(int r) {
    peers_[r].alive = true;
    log().warn("rank {} lost its node scheduler (rank {}) and now reports to the scheduler", r,
               setup_.tree.boss_of(rank_t{r}).value);
    event(fmt::format("rank {} adopted", r));
  }

  /// Sends what root_core answers a request of `want` chunks from `to` (nothing when it parks the request). Inside
  /// serve_messages the answer waits in outgoing_ while the next message handled is `to`'s too (one assign answers
  /// them all); elsewhere it goes at once.
  void answer(rank_t to, std::uint32_t want, clock::time_point now = clock::now(),
              request_kind kind = request_kind::fresh) {
    auto a = core_.answer(to, want, now, kind);
    note_copies();
    send_take_backs();
    if (!a) return;
    if (outgoing_.to != to) send_outgoing();
    if (a->answers == 0) {  // a node scheduler hears that the queue is empty: never merged into a real answer
      tp_.send_bytes(to, msg::assign, encode_assign(0, {}));
      peers_.sent(to, now);
      return;
    }
    outgoing_.to = to;
    outgoing_.answers += a->answers;
    outgoing_.at = now;
    if (outgoing_.chunks.empty()) outgoing_.chunks = std::move(a->chunks);
    else std::move(a->chunks.begin(), a->chunks.end(), std::back_inserter(outgoing_.chunks));
    if (!batching_) send_outgoing();
  }

  /// Sends the answers waiting in outgoing_, as one assign.
  void send_outgoing() {
    if (outgoing_.to.value < 0) return;
    auto payload = tp_.send_buffer();  // a completed send's: no allocation per answer
    encode_assign(payload, outgoing_.answers, outgoing_.chunks);
    tp_.send_bytes(outgoing_.to, msg::assign, std::move(payload));
    peers_.sent(outgoing_.to, outgoing_.at);
    outgoing_.to = rank_t{-1};
    outgoing_.answers = 0;
    outgoing_.chunks.clear();
  }

  /// Logs and traces the speculative copies assign() made since the last call.
  void note_copies() {
    const auto& copies = dispatch().copies_made();
    for (; copies_seen_ < copies.size(); ++copies_seen_) {
      const auto& c = copies[copies_seen_];
      log().debug("speculation: partition {} outstanding {:.3f} s on rank {} (median partition {:.3f} s): a copy runs "
                  "on rank {}",
                  c.id.value, c.outstanding_seconds, c.holder.value, dispatch().median_seconds(), c.worker.value);
      event(fmt::format("speculative copy of partition {} (held by rank {}) on rank {}", c.id.value, c.holder.value,
                        c.worker.value));
    }
  }

  /// Tells the holders of the backlogs assign() took back since the last call to skip those partitions (this
  /// rank's own executor directly).
  void send_take_backs() {
    for (auto& t : dispatch().take_backs()) {
      std::uint64_t n = 0;
      for (const auto& r : t.ids) n += r.size();
      log().debug("take-back: partitions {}..{} ({}) from rank {} to rank {}", t.ids.front().begin,
                  t.ids.back().end - 1, n, t.holder.value, t.taker.value);
      event(fmt::format("take-back of {} partition{} ({}..{}) from rank {} by rank {}", n, n == 1 ? "" : "s",
                        t.ids.front().begin, t.ids.back().end - 1, t.holder.value, t.taker.value));
      if (t.holder == s_.rank()) {
        if (local_) local_->take_back(t.ids);
        continue;
      }
      tp_.send_bytes(t.holder, msg::take_back, encode_ranges(t.ids));
    }
  }

  void serve_parked() {
    for (const auto& p : core_.take_parked()) answer(p.rank, p.want, clock::now(), request_kind::parked_again);
  }

  void keep_alive(clock::time_point now = clock::now()) {
    for (int r : peers_.sweep(tp_, msg::heartbeat, config_.heartbeat_seconds, config_.timeout_seconds, now)) lose(r);
    if (setup_.failover) lease_.renew(now);  // this side goes on: ranks that left as a minority wait for its word
  }

  /// Whether the live workers and this rank run on a majority of the job's hosts (host_majority.hpp).
  bool holds_majority() const {
    auto reached = peers_.alive_mask();
    reached[static_cast<std::size_t>(s_.rank().value)] = true;
    return holds_host_majority(s_.nodes(), reached);
  }

  /// Declares worker rank `r` lost. While the job runs its partitions go back to the queue, and losing the last
  /// worker fails the job; at the end (`running` false) it is only recorded.
  void lose(int r, bool running = true) {
    peers_[r].alive = false;
    core_.forget(rank_t{r});
    const auto requeued = dispatch().lose(rank_t{r});
    log().warn("worker rank {} silent for {:.0f} s: declared lost; {} of its partitions go back to the queue", r,
               config_.timeout_seconds, requeued);
    event(fmt::format("rank {} lost", r));
    record_lost_rank(s_, config_, job_.name(), r);
    // A scheduler cut off with a minority of the hosts must commit nothing more: the other side elects its own.
    if (setup_.failover && running && !holds_majority()) {
      auto reached = peers_.alive_mask();
      reached[static_cast<std::size_t>(s_.rank().value)] = true;
      throw minority_side{hosts_reached(s_.nodes(), reached)};
    }
    if (!(local_ != nullptr || !running || peers_.any_alive()))
      throw error("every worker rank is lost and the scheduler runs no partitions itself; job '" + job_.name() +
                  "' cannot finish");
  }

  /// Tells every worker the result, collects their figures (a bounded wait: a lost rank sends none) and builds
  /// the report.
  run_report finish(const std::string& stop) {
    if (local_) local_->cancel();  // a losing speculative copy may still run here: its result is no longer wanted
    const bool stopped = !stop.empty();
    auto rep = report(stop);
    auto stats = collect_stats(
        encode_finish(stopped ? finish_status::checkpointed : finish_status::completed, rep.result), stopped);
    rep.wall_seconds = since(setup_.t0);
    const double framework_cpu = cpu_.framework_seconds(local_ ? local_->kernel_cpu_seconds() : 0.0);
    const auto traces = add_rank_rows(rep, s_, setup_, dispatch(), stats, local_.get(), framework_cpu);
    if (config_.trace) write_trace(*config_.trace, job_.name(), traces, events_, s_.rank().value);
    tp_.flush_or_abandon(std::chrono::seconds(5));
    return rep;
  }

  /// The job's report as the root knows it at the end (`stop`: why it stopped early, "" when complete).
  run_report report(const std::string& stop) {
    run_report rep;
    const bool stopped = !stop.empty();
    rep.status = stopped ? run_status::checkpointed : run_status::completed;
    rep.stop_reason = stop;
    rep.checkpoints = ckpt_.stats().count;
    rep.checkpoint_seconds = ckpt_.stats().seconds;
    rep.checkpoint_bytes = ckpt_.stats().bytes;
    rep.restored_from = restored_from_;
    rep.restored_done = restored_from_.empty() ? 0 : restored_done_;
    rep.progress = progress_.samples();
    rep.events = ckpt_.events();
    rep.map_reduce.restored_costs = restored_costs_;
    if (takeover_) {
      rep.map_reduce.failovers.push_back(failover_);
      rep.restored_from.clear();  // the failover's checkpoint is in its own record
      rep.restored_done = 0;
    }
    const auto& d = dispatch();
    rep.job = job_.name();
    rep.policy = std::string(d.policy_name());
    rep.is_scheduler = true;
    rep.map_reduce.speculation = config_.speculate;
    rep.map_reduce.speculation_factor = config_.speculation_factor;
    rep.map_reduce.speculative_copies = d.copies_made().size();
    rep.map_reduce.speculative_won = d.copies_won();
    rep.map_reduce.take_backs = d.take_back_count();
    rep.map_reduce.taken_back = d.taken_back();
    rep.scheduler = s_.rank();
    rep.ranks = s_.size();
    rep.map_reduce.scheduler_levels = setup_.tree.levels;
    rep.map_reduce.scheduler_messages = messages_handled_;
    rep.map_reduce.scheduler_busy_seconds = handling_seconds_;
    rep.map_reduce.fold_block = core_.block_size();
    rep.map_reduce.blocks_committed = core_.blocks_committed();
    rep.map_reduce.block_commits = core_.block_commits();
    rep.map_reduce.results_committed = core_.results_committed();
    rep.partitions = job_.partition_count();
    rep.result = job_.accumulator();
    rep.result_text = stopped ? fmt::format("(incomplete: {} of {} partitions done; restart to finish)", d.done_count(),
                                            job_.partition_count())
                              : job_.describe(rep.result);
    return rep;
  }

  /// Sends `fin` to every live worker and waits (bounded) for each one's figures. After a stop signal
  /// (`stopped`) Slurm's kill wait is running and a live worker answers at once: a rank silent for 5 s then is
  /// gone, most likely killed by srun after a rank died, and the launcher, not this rank, judges its node
  /// (docs/design.md, "Slurm as operators run it").
  std::vector<std::optional<worker_stats>> collect_stats(const bytes& fin, bool stopped) {
    std::vector<std::optional<worker_stats>> stats(static_cast<std::size_t>(s_.size()));
    bounded_gather<msg> gather(tp_, s_.size());
    adopt_orphans();
    for (int r = 0; r < s_.size(); ++r)
      if (peers_[r].alive) gather.ask(rank_t{r}, msg::finish, fin);
    const double patience = stopped ? std::min(5.0, config_.timeout_seconds) : config_.timeout_seconds;
    // A rank that died after speculative copies finished its partitions was never waited for: it is lost all the
    // same (summary, failure history) once silent for the timeout.
    auto round = [&] {
      for (int r = 0; r < s_.size(); ++r)
        if (peers_[r].alive && !stats[static_cast<std::size_t>(r)] && since(peers_[r].last_heard) > patience) {
          if (stopped) {
            log().warn("worker rank {} silent for {:.0f} s after the stop: not waiting for its figures", r, patience);
            peers_[r].alive = false;
            dispatch().lose(rank_t{r});
          } else {
            lose(r, false);
          }
          gather.answered(rank_t{r});
          for (int o : adopt_orphans())  // a node scheduler lost at the end: its ranks hear the end from here
            gather.ask(rank_t{o}, msg::finish, fin);
        }
    };
    auto on_message = [&](const message<msg>& m) {
      peers_.heard(m.source);
      if (m.tag != msg::stats || !peers_[m.source.value].alive || stats[static_cast<std::size_t>(m.source.value)])
        return;
      // A node scheduler relays its ranks' figures first (origin = the rank), its own (origin = itself) last.
      auto got = decode_stats(m.payload);
      const int origin = got.origin < 0 ? m.source.value : got.origin;
      if (origin >= s_.size()) {
        log().warn("scheduler: figures of rank {} from rank {}: no such rank; ignored", origin, m.source.value);
        return;
      }
      auto& st = stats[static_cast<std::size_t>(origin)];
      const bool direct = origin == m.source.value;
      if (!st || direct) st = std::move(got);  // a rank's own word over a relayed one (it may have turned to the root)
      if (direct) gather.answered(m.source);
    };
    const int waiting = gather.run(clock::now() + to_ns(stopped ? 5.0 : std::max(5.0, config_.timeout_seconds)),
                                   std::chrono::milliseconds(50), on_message, round, [] { return false; });
    if (waiting > 0) log().warn("{} worker(s) did not report their figures at the end", waiting);
    return stats;
  }

  /// The state to go on from: the checkpoint (or nothing), plus after a takeover the results the survivors
  /// reported that the checkpoint does not hold (resume_state).
  static start start_of(const std::optional<restart_point>& restart, std::uint64_t partitions, takeover_input* takeover,
                        survivors_report* survivors) {
    start st{restart ? map_reduce_state::from_image(restart->image, partitions, restart->file.string())
                     : map_reduce_state::fresh(partitions),
             {}};
    if (takeover) st.state = resume_state(std::move(st.state), partitions, work_of(*takeover, *survivors), st.failover);
    return st;
  }

  /// What this rank and the survivors brought to the takeover, as root_start's functions read it.
  static survivor_work work_of(const takeover_input& takeover, const survivors_report& survivors) {
    survivor_work w;
    w.results.push_back(&takeover.results);
    for (const auto& [rank, batch] : survivors.results) w.results.push_back(&batch);
    w.running.push_back(&takeover.running);
    for (const auto& [rank, ranges] : survivors.running) w.running.push_back(&ranges);
    return w;
  }

  /// After a takeover: the ranks that did not report and the lost scheduler are lost; the summary and the failure
  /// history say what happened.
  void start_after_takeover(const std::optional<restart_point>& restart) {
    auto& f = failover_;
    f.lost_scheduler = takeover_->lost_scheduler;
    f.new_scheduler = s_.rank().value;
    f.term = term_;
    f.noticed_at_seconds = takeover_->noticed_at;
    f.checkpoint = restart ? restart->file.string() : std::string();
    f.dropped = takeover_->dropped + survivors_->dropped;
    for (int r = 0; r < s_.size(); ++r) {
      if (r == s_.rank().value || survivors_->reported[static_cast<std::size_t>(r)]) continue;
      peers_[r].alive = false;
      dispatch().lose(rank_t{r});
      f.lost_ranks.push_back(r);
      if (!takeover_->excluded[static_cast<std::size_t>(r)] || r == f.lost_scheduler)
        record_lost_rank(s_, config_, job_.name(), r);
    }
    std::uint64_t adopted = 0;
    for (int r = 0; r < s_.size(); ++r) adopted += dispatch().unfinished(rank_t{r});
    f.adopted_running = adopted;
    f.to_run = dispatch().unassigned();
    f.rerun = rerun_count(dispatch(), work_of(*takeover_, *survivors_));
    f.resumed_at_seconds = since(setup_.t0);
    log().warn("failover: rank {} is the scheduler now (term {}), {:.3f} s after the loss was noticed: {} partitions "
               "from {}, {} results from the survivors, {} running there, {} left ({} of them run again){}",
               f.new_scheduler, f.term, f.resumed_at_seconds - f.noticed_at_seconds, f.from_checkpoint,
               f.checkpoint.empty() ? std::string("no checkpoint") : f.checkpoint, f.from_workers, f.adopted_running,
               f.to_run, f.rerun,
               f.lost_ranks.empty() ? std::string() : fmt::format("; lost ranks: {}", fmt::join(f.lost_ranks, ", ")));
    event(fmt::format("failover: rank {} took over from rank {} (term {})", f.new_scheduler, f.lost_scheduler, f.term));
    if (!local_ && !peers_.any_alive())
      throw error("failover: no rank is left to run partitions; job '" + job_.name() + "' cannot finish");
    for (const auto& m : survivors_->early) handle(m);  // requests that came while the others were reporting
    survivors_->early.clear();
  }

  /// A scheduler whose loop stalled (frozen by SIGSTOP, starved) may have been replaced meanwhile: its peers get a
  /// fresh timeout, and it commits nothing (no checkpoint, no end of job) until a takeover, if any, has had the
  /// time to arrive.
  void note_stall(clock::time_point now) {
    const double stalled = seconds_d(now - last_round_).count();
    last_round_ = now;
    if (!setup_.failover || stalled < std::max(0.5 * config_.timeout_seconds, 2 * config_.heartbeat_seconds)) return;
    log().warn("the scheduler was stalled for {:.1f} s (frozen?): committing nothing until it knows that no other "
               "rank took over",
               stalled);
    for (int r = 0; r < s_.size(); ++r)
      if (peers_[r].alive) peers_[r].last_heard = now;
    fence_until_ = now + to_ns(std::max(0.5, 2 * config_.heartbeat_seconds));
  }
  bool fenced(clock::time_point now = clock::now()) const { return now < fence_until_; }

  session& s_;
  map_job_model& job_;
  const run_config& config_;
  const job_setup& setup_;
  transport<msg>& tp_;
  std::uint64_t hash_;
  takeover_input* takeover_;     // set after a failover (what this rank brought), else null
  survivors_report* survivors_;  // set after a failover (what the others reported), else null
  std::uint64_t term_;           // 0 for the first scheduler; one more per failover
  failover_summary failover_;    // filled by start_of() and start_after_takeover()
  std::string restored_from_;
  std::uint64_t restored_done_ = 0, restored_costs_ = 0;
  root_core core_;  // the dispatcher, parked requests, speculation cadence, adoption, commit and fold
  peer_table peers_;
  std::vector<std::uint64_t> requests_seen_;  // per rank: requests received in this term (for covered)
  clock::time_point last_round_ = clock::now();
  clock::time_point fence_until_{};  // after a stall: commit nothing before this
  bool first_commit_logged_ = false;
  job_lease lease_{s_.rank().value, config_.heartbeat_seconds};
  progress_meter progress_;
  metrics_publisher metrics_;  // --metrics-file: written from the same loop and figures as the progress line
  checkpoint_driver ckpt_;
  cpu_meter cpu_;  // this rank's CPU since the loop was built
  std::unique_ptr<executor> local_;
  std::optional<comm_waiter> waiter_;
  request_msg request_;  // the request being handled; its buffers are reused from one message to the next
  /// Answers not sent yet (serve_messages): to one rank, `answers` of its requests, their chunks.
  struct outgoing_assign {
    rank_t to{-1};
    std::uint32_t answers = 0;
    std::vector<std::vector<id_range>> chunks;
    clock::time_point at;
  };
  outgoing_assign outgoing_;
  bool batching_ = false;  // inside serve_messages: answers wait in outgoing_
  result_batch local_results_;
  std::size_t copies_seen_ = 0;
  std::vector<trace_event> events_;
  std::uint64_t messages_handled_ = 0;  // messages from workers while the job ran, and the time spent on them
  double handling_seconds_ = 0;
};

// ---------------------------------------------------------------------------------------------------------

map_reduce_scheduler::map_reduce_scheduler(session& s, map_job_model& job, const run_config& config,
                                           const job_setup& setup)
    : s_(s), job_(job), config_(config), setup_(setup), tp_(setup.comm) {}

map_reduce_scheduler::map_reduce_scheduler(session& s, map_job_model& job, const run_config& config,
                                           const job_setup& setup, takeover_input takeover)
    : s_(s), job_(job), config_(config), setup_(setup), tp_(setup.comm), takeover_(std::move(takeover)) {}

map_reduce_scheduler::~map_reduce_scheduler() = default;

run_report map_reduce_scheduler::run() {
  std::optional<survivors_report> survivors;
  try {
    const auto hash = params_hash(job_.params(), config_.seed, job_.partition_count());
    const checkpoint_expectation expect{job_.name(), hash, map_reduce_state::model};
    if (!takeover_) {
      loop_ = std::make_unique<running>(s_, job_, config_, setup_, tp_, hash, find_restart(config_, expect));
    } else {
      // Failover: the survivors' reports, then the newest committed checkpoint (whatever --restart said: the
      // workers dropped what the checkpoints hold).
      survivors = collect_reports(tp_, s_, *takeover_, config_);
      std::optional<restart_point> restart;
      if (config_.checkpoint_dir) {
        auto choice = read_restart_beating(tp_, s_, *survivors, config_, expect);
        if (choice.file) restart = restart_point{*choice.file, std::move(*choice.image)};
      }
      loop_ = std::make_unique<running>(s_, job_, config_, setup_, tp_, hash, std::move(restart), &*takeover_,
                                        &*survivors);
    }
    return loop_->run();
  } catch (const deposed& d) {
    // Another rank took over with a higher term: commit nothing more, leave the job to it.
    log().warn("rank {} took over as the scheduler (term {}): this rank was replaced (stalled or cut off) and "
               "leaves the job without committing anything more",
               d.by, d.term);
    if (loop_) loop_->cancel_local();
    tp_.abandon_pending();
    return left_job_report(job_.name(), "(replaced as the scheduler)");
  } catch (const minority_side& m) {
    // Cut off with a minority of the hosts (it lost them, or too few reported to its takeover): no checkpoint, no
    // result from this side; the job's word comes from the side that goes on.
    if (loop_) loop_->cancel_local();
    if (takeover_ && takeover_->exec) takeover_->exec->cancel();
    tp_.abandon_pending();
    leave_as_minority(m, s_, config_, job_.name());
  } catch (...) {
    fail(std::current_exception());
  }
}

void map_reduce_scheduler::fail(std::exception_ptr e) noexcept(false) {
  std::string what;
  bool reported = false;
  try {
    std::rethrow_exception(e);
  } catch (const kernel_error& k) {
    what = k.what();
  } catch (const error& x) {
    what = x.what();
    reported = x.reported();
  } catch (const std::exception& x) {
    what = fmt::format("job '{}' failed on the scheduler: {}", job_.name(), x.what());
    e = std::make_exception_ptr(error(what));
  }
  if (!reported) log().error("{}", what);
  std::vector<bool> alive(static_cast<std::size_t>(s_.size()), true);  // before the loop exists: every worker
  alive[static_cast<std::size_t>(s_.rank().value)] = false;
  if (loop_) {
    alive = loop_->alive_mask();
    loop_->cancel_local();
    loop_->metrics_failed();
  }
  abort_workers(tp_, alive, what, config_.timeout_seconds);
  try {
    std::rethrow_exception(e);
  } catch (const error& x) {
    x.mark_reported();
    throw;
  }
}

}  // namespace partita::detail
