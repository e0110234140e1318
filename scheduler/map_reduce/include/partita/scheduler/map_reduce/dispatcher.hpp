#pragma once
/// The scheduler's bookkeeping as a pure state machine (no MPI): the partition queue, who holds what,
/// exactly-once completion, requeue on loss, chunk sizing by the policy and by measurement, speculative copies of
/// stragglers.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <partita/runtime/ids.hpp>
#include <partita/scheduler/map_reduce/detail/held_chunk.hpp>
#include <partita/scheduler/map_reduce/detail/straggler_watch.hpp>
#include <partita/scheduler/map_reduce/id_set.hpp>
#include <partita/scheduler/map_reduce/policy.hpp>
#include <partita/scheduler/map_reduce/speculation.hpp>

namespace partita {

struct dispatcher_options {
  std::uint64_t fixed_chunk = 0;  ///< --chunk: a floor for every policy (0: measured)
  /// A cap on every chunk (unless --chunk asks for more): results that finish out of id order wait on the
  /// scheduler until the fold reaches them, so the first chunks of factoring policies (a quarter of a 10^9 job)
  /// would hold hundreds of millions of results. 65536 partitions are milliseconds of work when partitions are
  /// that many and that small.
  std::uint64_t max_chunk = std::uint64_t{1} << 16;
  std::vector<float> costs;  ///< per-partition cost for the cost policy's order (measured earlier or
                             ///< hinted; NaN or missing: unknown); empty = unknown
  id_set done;               ///< partitions already committed (restart)
  /// Partitions already running on a worker (a scheduler failover adopts what the survivors run): handed to that
  /// worker as if assigned now; ids done or listed twice are skipped.
  std::vector<std::pair<int, std::vector<id_range>>> held;
  speculation_options speculation;  ///< off unless enabled (the driver turns it on from run_config)
  /// Workers (indices) that split every chunk into one piece per thread: node schedulers (docs/design.md,
  /// "Two-level scheduling"). Such a worker's chunk is sized as one chunk per thread handed out in a row, so the
  /// scheduler takes, records and sends one chunk where it would otherwise handle one per thread.
  std::vector<int> splitting;
  /// The job's fold block (detail::fold_block_size), when node schedulers fold whole blocks (0: they do not): a
  /// splitting worker's chunk of at least one block taken from the id-ordered queue ends at the nearest block
  /// boundary (its size moves by at most half a block), so the blocks it holds are whole (docs/design.md, "Folding
  /// aligned id blocks").
  std::uint64_t fold_block = 0;
  /// When the queue is empty and a worker has idle threads, it takes back the unstarted tail of the largest
  /// backlog another worker holds (docs/design.md, "Taking back a backlog"): the holder is told to skip those ids
  /// (take_backs()). Only between workers that do not split (not node schedulers).
  bool take_back = true;
  /// A take-back moves at least this much of the holder's work (at its measured time per partition): results
  /// reach the scheduler up to detail::result_batch_age_seconds (20 ms) late, so a smaller backlog may be run
  /// already, and the taker would only run it twice.
  double take_back_min_seconds = 0.05;
};

namespace detail {
/// Take-back's rule, the same at the root (dispatcher) and inside a node (node_pool): a holder's backlog is what
/// it holds beyond one partition per thread, `unfinished - threads`, and takes `backlog_seconds` at its time per
/// partition on its threads; the taker's share of it is in proportion to threads, rounded up (both should end
/// together; with one thread each the back half, so a single waiting partition goes to an idle thread).
double backlog_seconds(std::uint64_t unfinished, int threads, double per_partition_s);
std::uint64_t take_back_share(std::uint64_t unfinished, int holder_threads, std::uint64_t taker_threads);
}  // namespace detail

/// Ids taken back from `holder` and handed to `taker`: the holder should skip those it has not started.
struct take_back {
  rank_t holder{0};
  rank_t taker{0};
  std::vector<id_range> ids;
};

/// Per-worker accounting the summary reports.
struct worker_tally {
  std::uint64_t partitions = 0;  ///< results committed from this worker
  std::uint64_t chunks = 0;      ///< chunks handed to it
  std::uint64_t messages = 0;    ///< assignment messages sent to it
  double busy_seconds = 0;       ///< sum of its partitions' measured times
  std::uint64_t copies = 0;      ///< speculative copies handed to it
  std::uint64_t copies_won = 0;  ///< of those, committed (its copy finished before the original)
  std::uint64_t taken = 0;       ///< partitions it took back from another worker's backlog
  bool lost = false;
};

/// Owns the queue and the results index of a map/reduce job. Single-threaded (the scheduler's comm thread).
/// Time comes in as `now` (steady clock) so that tests can drive it with a fake clock.
class dispatcher {
 public:
  using clock = std::chrono::steady_clock;

  /// The cost policy keeps an order of every partition (8 bytes each): it refuses jobs of more partitions than
  /// this (256 MB of order); the other policies keep nothing per partition.
  static constexpr std::uint64_t cost_policy_limit = std::uint64_t{1} << 25;
  /// Throws usage_error (one line: what to change) if a job of `partitions` cannot be scheduled by `policy` over
  /// `workers` worker ranks in bounded memory: cost (its order) and static with several workers (each rank's
  /// block finishes long before the blocks below it, so their results wait for the fold) above
  /// cost_policy_limit partitions. Called up front, before anything is allocated for the job.
  static void check_fits(std::uint64_t partitions, std::string_view policy, int workers = 1);

  /// `threads[w]` is worker w's thread count (worker 0 may be the scheduler's own executor).
  dispatcher(std::uint64_t partitions, std::vector<int> threads, std::unique_ptr<policy> p,
             dispatcher_options options = {});

  /// Up to `chunks` chunks for worker `w` (each a list of ranges); empty when nothing is left to hand out.
  /// A splitting worker (dispatcher_options::splitting) of T threads gets chunks of T pieces each: the policy sizes
  /// T one-thread chunks in a row and their sum is handed out as one chunk (their sizes shrink with what remains,
  /// as the policy's would). When the queue is empty and speculation is on, the chunks may be copies of overdue
  /// partitions held by other workers (see speculation_options; copies_made() lists them; up to T per chunk asked
  /// of a splitting worker). Cost: O(chunk) from the queue, plus O(T) per chunk of a splitting worker. When the
  /// queue is empty and speculation is on, O(log workers) plus a look at the holders that may hold an overdue
  /// partition, earliest due key first (hand-out time plus the floor or the allowance for what was queued before),
  /// until the copies asked for are found: holders none of whose chunks can be overdue yet are never looked at
  /// (docs/design.md, "Speculative execution"); once in a while (the mean partition time fell below half of what
  /// it was) every holder's key is made afresh, O(workers + held chunks).
  std::vector<std::vector<id_range>> assign(rank_t w, int chunks, clock::time_point now = {});

  /// Records partition `id` finished by worker `w` in `seconds`. False if it was already committed
  /// (a duplicate, e.g. the slower of a speculative copy and its original: dropped, so every result is
  /// committed exactly once). The first result settles the partition for both of its holders.
  bool complete(rank_t w, partition_id id, double seconds);
  /// Records the partitions of `ids` finished by worker `w` in `seconds` in all (a node scheduler's folded block:
  /// docs/design.md, "Folding aligned id blocks"); those committed before are skipped. Returns how many were
  /// committed now. Their mean time stands for each in the measured statistics. Cost: O(log ranges) when none was
  /// committed before and no speculative copy was ever made, else O(ids) as complete() per id.
  std::uint64_t complete_range(rank_t w, id_range ids, double seconds);
  /// Whether complete_range(w, ids, ...) would take its O(log) path: none of `ids` committed before, none requeued,
  /// no speculative copy ever made and nothing taken back. Then it commits every id of `ids`.
  bool fresh(id_range ids) const;

  /// Worker `w` is gone: its unfinished partitions go back to the queue, except those a speculative copy is
  /// still running elsewhere (the copy becomes the original). Returns how many went back.
  std::uint64_t lose(rank_t w);

  /// Worker `w`, which had no threads so far (a rank whose node scheduler was lost turns to the root: docs/design.md,
  /// "Two-level scheduling"), now runs partitions on `threads` threads and may be assigned work. A lost worker
  /// stays lost, and a worker that has threads keeps its count. Returns whether `w` was adopted.
  bool adopt(rank_t w, int threads);

  /// Whether a worker asking now could get a speculative copy or take back a backlog although the queue is empty
  /// (cheap pre-check for parked requests).
  bool may_share_tail() const noexcept {
    return (options_.speculation.enabled || options_.take_back) && unassigned_ == 0 && !finished();
  }
  /// The take-backs assign() made since the last call, for the scheduler to tell their holders; they leave the
  /// book.
  std::vector<take_back> take_backs() { return std::exchange(take_backs_, {}); }
  /// Take-backs made so far, and the partitions they moved.
  std::uint64_t take_back_count() const noexcept { return take_back_count_; }
  std::uint64_t taken_back() const noexcept { return taken_back_; }
  /// Speculative copies handed out so far, in order, and how many of them won (were committed).
  const std::vector<speculative_copy>& copies_made() const noexcept { return watch_.copies(); }
  std::uint64_t copies_won() const noexcept { return watch_.copies_won(); }
  /// Searches for overdue partitions so far (requests answered at one moment share one).
  std::uint64_t speculation_searches() const noexcept { return watch_.searches(); }
  /// The expected partition time speculation uses now: median of the measured ones (0: too few yet).
  double median_seconds() const;

  /// The scheduler's measured cost of handling one message, in seconds (feeds automatic chunking, with the chunks
  /// assign() handed out since the previous call).
  void note_message_cost(double seconds);

  bool finished() const noexcept { return done_count_ == total_; }
  std::uint64_t total() const noexcept { return total_; }
  std::uint64_t done_count() const noexcept { return done_count_; }
  std::uint64_t unassigned() const noexcept { return unassigned_; }
  bool is_done(partition_id id) const { return done_.contains(id.value); }
  /// The committed partitions, as ranges (its size grows with the holes in it, not with the partition count).
  const id_set& done_set() const noexcept { return done_; }
  const worker_tally& tally(rank_t w) const { return workers_.at(static_cast<std::size_t>(w.value)).tally; }
  /// Partitions handed to worker `w` (originals and copies) that nobody has committed yet.
  std::uint64_t unfinished(rank_t w) const { return workers_.at(static_cast<std::size_t>(w.value)).unfinished; }
  int worker_count() const noexcept { return static_cast<int>(workers_.size()); }
  std::string_view policy_name() const { return policy_->name(); }
  /// The current floor on chunk sizes from measurement (for logs and tests).
  std::uint64_t min_chunk() const;

 private:
  using held_chunk = detail::held_chunk;
  struct worker {
    int threads = 1;
    std::deque<held_chunk> held;   // chunks handed out, pruned from the front once done
    std::uint64_t unfinished = 0;  // partitions handed to it and not reported done
    worker_tally tally;
    id_range block;       // static policy: this worker's block cursor
    bool splits = false;  // it splits each chunk into one piece per thread (a node scheduler)
  };
  /// The straggler watch's view of workers_ and done_ (detail::holdings), made for one call.
  class holdings_view;

  std::uint64_t take(int w, std::uint64_t count, std::vector<id_range>& out);
  /// A splitting worker's chunk of `size` from the queue, its end moved to the nearest block boundary
  /// (options_.fold_block; unchanged for chunks under one block, requeued ids or another order).
  std::uint64_t block_aligned(std::uint64_t size) const;
  /// What take_range passes over besides done ids: nothing (requeued ids), or also adopted ones (the queue).
  enum class skip { done, adopted };
  std::uint64_t take_range(id_range from, std::uint64_t count, std::vector<id_range>& out, skip what = skip::done);
  void push_id(std::vector<id_range>& out, std::uint64_t id);
  /// Mean speed (partitions/s of kernel time) over the workers that have one and are not lost. O(1).
  double mean_speed() const;
  /// A worker's speed as mean_speed() counts it (0: not counted).
  static double counted_speed(const worker& wk);
  /// Worker speed `before` became `after` (0: not counted): updates the running sum.
  void note_speed(double before, double after);
  /// Copies of overdue partitions for worker `w`'s idle threads, up to `chunks` (the queue is empty).
  std::vector<std::vector<id_range>> speculate(int w, int chunks, clock::time_point now);
  /// Partition `id`, committed by worker `w`, is settled for every worker that ran it (original and copy).
  void settle(int w, std::uint64_t id);
  /// For worker `w`'s idle threads (the queue is empty): the unstarted tail of the largest backlog another worker
  /// holds, as one chunk (nothing when no backlog is worth a message). Records the take-back for take_backs().
  std::vector<std::vector<id_range>> take_back_for(int w, clock::time_point now);
  /// Cuts up to `count` ids off the back of `held` that are neither done nor copied; returns them, ascending.
  std::vector<id_range> cut_tail(std::deque<held_chunk>& held, std::uint64_t count);

  std::uint64_t total_;
  std::vector<worker> workers_;
  std::unique_ptr<policy> policy_;
  dispatcher_options options_;
  int total_threads_ = 0;
  id_set done_;
  std::uint64_t done_count_ = 0;
  std::uint64_t unassigned_ = 0;
  std::uint64_t consumed_to_ = 0;        // take_range: where it stopped
  std::uint64_t cursor_ = 0;             // by_id: next id; by_cost: next index into order_
  std::vector<std::uint64_t> order_;     // by_cost: ids, longest first (bounded: cost_policy_limit)
  id_set retry_;                         // ids requeued after a loss (lowest first)
  id_set adopted_;                       // handed out at construction (options.held): the queue skips them
  double ema_partition_ = 0;             // mean seconds per partition, all workers
  double ema_message_ = 0;               // scheduler seconds per message
  double ema_chunks_ = 0;                // chunks handed out per message (node schedulers ask for many)
  std::uint64_t chunks_since_note_ = 0;  // chunks handed out since the last note_message_cost
  double speed_sum_ = 0;                 // sum of counted_speed() over the workers (note_speed)
  std::uint64_t speeds_counted_ = 0;     // how many workers it sums
  std::size_t speed_updates_ = 0;        // since the sum was last made afresh
  detail::straggler_watch watch_;        // measured times, overdue partitions, speculative copies
  /// Ids taken back and not committed yet: from whom, to whom (settle() counts them off the right worker).
  struct taken_id {
    int from = -1;
    int to = -1;
  };
  std::unordered_map<std::uint64_t, taken_id> taken_;
  std::vector<take_back> take_backs_;  // made since take_backs() was last called
  std::vector<int> backlogs_;          // workers that may hold a backlog to take back (rebuilt once per tail)
  bool backlogs_known_ = false;
  std::uint64_t take_back_count_ = 0;
  std::uint64_t taken_back_ = 0;
};

}  // namespace partita
