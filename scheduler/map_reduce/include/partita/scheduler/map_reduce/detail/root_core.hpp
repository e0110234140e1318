#pragma once
/// The root scheduler's decisions without MPI: parking requests, speculation cadence, adoption, commit and fold.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include <partita/scheduler/detail/scheduler_tree.hpp>
#include <partita/scheduler/map_reduce/detail/block_fold.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>
#include <partita/scheduler/map_reduce/executor.hpp>
#include <partita/scheduler/map_reduce/state.hpp>

namespace partita::detail {

/// What answers a work request: `answers` of the chunks asked for, and the chunks. An answer of nothing
/// (answers 0, no chunks) tells a node scheduler that the queue is empty.
struct root_answer {
  std::uint32_t answers = 0;
  std::vector<std::vector<id_range>> chunks;
};

/// Whether a request is new or a parked one served again (a node scheduler was told already that the queue is
/// empty).
enum class request_kind { fresh, parked_again };

/// A request that could not be answered when it came: `want` chunks for `rank`.
struct parked_request {
  rank_t rank;
  std::uint32_t want = 0;
};

/// What commit() did with one result.
enum class commit_outcome {
  duplicate,  ///< the partition was committed before (the slower of a copy and its original): dropped
  committed,  ///< committed (folded, or held until the fold reaches it)
  copy_won,   ///< committed, and it was a speculative copy's result that finished before its original
};

/// The root scheduler's decisions (docs/design.md, "Two-level scheduling", "Speculative execution"): the
/// dispatcher, the requests parked while nothing is left to hand out, when a round of the loop may hand out
/// speculative copies, which ranks of lost node schedulers it adopts, and the commit of results with their fold
/// in partition-id order over aligned id blocks (block_fold). Both the MPI loop (map_reduce_scheduler) and the
/// simulator's root actor drive it: they move messages and charge time, it decides. Single-threaded; no MPI, no clock
/// reads (every call takes `now`). Move-only (it owns the dispatcher).
class root_core {
 public:
  using clock = dispatcher::clock;

  /// The root `tree.root` over `d`, whose workers are the ranks that report to it (`threads` per rank of the job).
  /// `state` is the folded prefix (whole blocks and the current block's partial fold) and measured costs to go on
  /// from (its done set is the dispatcher's, its held results and block values are taken over); what continues the
  /// prefix is folded at once with `fold`, whose live accumulator is then the current block's. `start` is when the
  /// loop started (the first look for stragglers is one interval later).
  root_core(dispatcher d, scheduler_tree tree, std::vector<int> threads, map_reduce_state state, fold_ops fold,
            clock::time_point start);

  dispatcher& dispatch() noexcept { return dispatch_; }
  const dispatcher& dispatch() const noexcept { return dispatch_; }
  const map_reduce_state& state() const noexcept { return state_; }
  /// The job's parameters as text, written into every checkpoint (map_reduce_state::params).
  void keep_params(std::string text) { state_.params = std::move(text); }

  // -- speculation cadence ----------------------------------------------------------------------------------
  /// How often a round may look for overdue partitions (the look scans the held chunks).
  static constexpr std::chrono::milliseconds speculation_interval{10};
  /// Starts a round of the loop at `now`: whether it may hand out speculative copies or take-backs (only when the queue
  /// is empty, and at most once per speculation_interval). Cost: O(1).
  bool begin_round(clock::time_point now);
  /// Whether this round may hand out work: the queue holds some, or it is a speculation round.
  bool may_hand_out() const noexcept { return dispatch_.unassigned() > 0 || speculation_round_; }
  /// When the next round may look for overdue partitions (for an idle wait's deadline).
  clock::time_point next_speculation_check() const noexcept { return last_speculation_check_ + speculation_interval; }

  // -- requests -----------------------------------------------------------------------------------------------
  /// Up to `want` chunks for `to`, or the request is parked (answered later, when work comes back, or by the end
  /// of the job): then nothing to send, except to a node scheduler the first time it is parked (its results then
  /// wait 20 ms at most, not its batching age: node_pool::result_wait). Cost: dispatcher::assign's.
  std::optional<root_answer> answer(rank_t to, std::uint32_t want, clock::time_point now,
                                    request_kind kind = request_kind::fresh);
  /// The parked requests to answer again (answer(..., parked_again)) when work is back (may_hand_out()), in the
  /// order they were parked; they leave the book. Empty otherwise.
  std::vector<parked_request> take_parked();
  /// Whether any request waits.
  bool has_parked() const noexcept { return !parked_order_.empty(); }
  /// Forgets rank `r`'s parked request (`r` was lost).
  void forget(rank_t r);

  // -- adoption (two levels) ------------------------------------------------------------------------------------
  /// Whether rank `r`, which writes to the root though it does not report to it, becomes one of its workers (it
  /// lost its node scheduler): then the dispatcher has adopted it. False for anyone else (a lost worker stays lost).
  bool adopt(rank_t r);
  /// The ranks of node schedulers the root lost that have not turned to it yet (not `talks(r)`), adopted now: at
  /// the end of the job or on abort, so that they hear it.
  std::vector<int> adopt_orphans(const std::function<bool(int)>& talks);

  // -- commit and fold ------------------------------------------------------------------------------------------
  /// Commits the result of partition `id` finished by `w` in `seconds`: once only, its cost measured, folded in
  /// id order (held until the ids below it are folded). Call end_batch() after the last result of a message.
  commit_outcome commit(rank_t w, partition_id id, double seconds, std::span<const std::byte> result);
  /// Commits block `k`'s value (a node scheduler `w` folded its ids, which took `seconds` in all): its ids are done
  /// as one range (those committed before are not counted again), the value replaces their results in the fold.
  /// Returns how many ids it committed (0: every one was committed before; the value is dropped). Cost: O(log) plus
  /// O(block) only when some of its ids were committed before or speculative copies exist.
  std::uint64_t commit_block(rank_t w, std::uint64_t k, double seconds, std::span<const std::byte> value);
  /// What commit_blocks() did.
  struct blocks_outcome {
    std::uint64_t blocks = 0;   ///< blocks committed (their values folded)
    std::uint64_t commits = 0;  ///< the dispatcher's commits they took: one per run of consecutive blocks
  };
  /// Commits a message's block values (`blocks`: ids are block indices, nanos each block's total time) as
  /// commit_block() does each, with one difference in cost only: a run of consecutive blocks none of whose ids
  /// the dispatcher has seen (dispatcher::fresh) is one dispatcher commit of its ids, not one per block. A node
  /// scheduler sends its blocks in index order (node_blocks::order), so the blocks of one chunk its threads
  /// finished between two messages make one run. The fold and the measured costs are per block either way.
  blocks_outcome commit_blocks(rank_t w, const result_batch& blocks);
  /// The size of the aligned id blocks the job is folded over.
  std::uint64_t block_size() const noexcept { return fold_.block_size(); }
  /// Blocks committed as one value, and results committed one by one, so far (the summary's scheduler section).
  std::uint64_t blocks_committed() const noexcept { return blocks_committed_; }
  /// The dispatcher commits those blocks took (runs of consecutive blocks commit as one).
  std::uint64_t block_commits() const noexcept { return block_commits_; }
  std::uint64_t results_committed() const noexcept { return results_committed_; }
  /// Records the CRC-32 of partition `id`'s committed output block (kept in checkpoints with the done set).
  void note_block_crc(std::uint64_t id, std::uint32_t crc) {
    if (id < state_.block_crc.size()) state_.block_crc[id] = crc;
  }
  /// Closes the run of held results a message's results made.
  void end_batch() { fold_.end_batch(); }
  /// Partitions folded into the accumulator (ids below this).
  std::uint64_t folded() const noexcept { return fold_.folded(); }
  /// Whether the job is over: everything committed and folded.
  bool complete() const noexcept { return dispatch_.finished() && fold_.folded() == dispatch_.total(); }
  /// The job's value (its accumulator's bytes) once complete().
  bytes value() { return fold_.prefix(); }
  /// Writes the state a checkpoint holds into `image`: the folded prefix (whole blocks and the current block's
  /// partial fold), the done set, the held results and block values, the measured costs and `run_seconds`.
  /// Cost: O(done ranges + held results + partitions).
  void to_image(checkpoint_image& image, double run_seconds);

 private:
  /// A committed block's value folded, its mean time standing for each of its partitions in the cost sample.
  void fold_block(std::uint64_t k, double seconds, std::span<const std::byte> value);

  dispatcher dispatch_;
  scheduler_tree tree_;
  std::vector<int> threads_;
  map_reduce_state state_;  // measured costs, params, block CRCs (done set: the dispatcher's; the fold: fold_)
  block_fold fold_;
  std::uint64_t blocks_committed_ = 0;
  std::uint64_t block_commits_ = 0;
  std::uint64_t results_committed_ = 0;
  clock::time_point last_speculation_check_;
  bool speculation_round_ = false;
  std::vector<std::uint32_t> parked_;  // per rank: chunks asked for that could not be handed out yet
  std::vector<int> parked_order_;      // ranks with parked_ > 0, in the order they were parked
};

}  // namespace partita::detail
