#pragma once
/// The dispatcher's watch over stragglers (no MPI): measured partition times, the holders ordered by when their
/// partitions can first be overdue, the search for the most overdue ones, and the speculative copies made of them
/// (docs/design.md, "Speculative execution").

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <partita/scheduler/map_reduce/detail/held_chunk.hpp>
#include <partita/scheduler/map_reduce/id_set.hpp>
#include <partita/scheduler/map_reduce/speculation.hpp>

namespace partita::detail {

/// How the straggler watch reads the dispatcher's record of who holds what. A view passed for one call and not
/// kept; workers are indices 0 .. the count the watch was made for.
class holdings {
 public:
  /// The committed partitions.
  virtual const id_set& done() const = 0;
  /// Worker `h`'s thread count (it runs its chunks on that many threads, a chunk's partitions in order on one, which
  /// is the latest they can end: idle threads of the rank help with a chunk's unstarted ones).
  virtual int threads(int h) const = 0;
  /// Worker `h`'s chunks, oldest first, with the done partitions pruned off the front (prune_done): a chunk's
  /// partitions wait only behind those of its partitions that are not done.
  virtual const std::deque<held_chunk>& chunks(int h) = 0;

 protected:
  ~holdings() = default;
};

/// Decides which held partitions get a speculative copy, and keeps the books of the copies: at most one per
/// partition, never to its holder, the most overdue first (then the lowest id), under the rule of
/// speculation_options. Holders are kept in a set ordered by a key before which none of their partitions can be
/// overdue, so a search looks only at the holders that may hold an overdue partition (docs/design.md,
/// "Speculative execution"). Time comes in as `now` (steady clock), so tests drive it with a fake clock.
///
/// Value type (movable and copyable; it keeps no pointer to the dispatcher). Not thread-safe: the dispatcher's.
class straggler_watch {
 public:
  using clock = std::chrono::steady_clock;

  /// A watch over `workers` workers (indices 0 .. workers - 1) under `options`.
  straggler_watch(speculation_options options, std::size_t workers);

  /// A partition was committed after running `seconds`: a sample for the median and the mean. O(1).
  void note_result(double seconds);
  /// The expected partition time now: median of the last 1024 measured ones (0: fewer than min_samples yet).
  /// O(1) when nothing was measured since the last call, else O(1024).
  double median_seconds() const;

  /// Worker `w` was handed chunks, of which `first` (held on `threads` threads) is due first and `lowest` is the
  /// lowest id: it is watched from the earlier of its place so far and that chunk's. Does nothing when speculation
  /// is off. O(log workers).
  void watch(int w, const held_chunk& first, int threads, std::uint64_t lowest);
  /// Worker `w` is gone: no longer watched. O(log workers).
  void forget(int w);

  /// Copies for worker `w`, which has `want` idle threads: the `want` most overdue partitions at `now` held by
  /// other workers, most overdue first (then the lowest id), recorded as copied by `w` (copies() lists them).
  /// Empty while fewer than min_samples results were measured. Cost: O(log workers) plus a look at the holders
  /// that may hold an overdue partition, earliest key first, until the copies are found; once in a while (the mean
  /// partition time fell below the mean the keys assume) every key is made afresh, O(workers + held chunks).
  /// Requests that come within share_window of a search, with no result and no new holding in between, share a
  /// search: the second of them finds the most overdue partitions of all holders (at least share_batch of them),
  /// and it and those that follow take the first of those not their own, not done and not copied since, which is
  /// what a search of their own would find at that moment; a request the shared list cannot fill searches on its
  /// own. So a tail in which thousands of node schedulers' parked requests are answered in a row costs two walks,
  /// not one each (docs/design.md, "Speculative execution").
  std::vector<speculative_copy> copy_for(int w, std::uint64_t want, clock::time_point now, holdings& of);
  /// How long a search's list serves later requests, and how many partitions it lists at least.
  static constexpr clock::duration share_window = std::chrono::milliseconds(1);
  static constexpr std::uint64_t share_batch = 4096;

  /// Who else ran partition `id` when worker `w` committed it, and whether `w` ran its copy.
  struct settled {
    std::array<int, 2> others{-1, -1};  ///< the original's and the copy's worker other than `w` (-1: none)
    bool won = false;                   ///< `w` was given the copy (counted in copies_won())
  };
  /// Partition `id` was committed by worker `w` (its first result). O(1).
  settled settle(int w, std::uint64_t id);
  /// Worker `w`, lost, held partition `id` (not done): true if another worker still runs it (a copy carries on as
  /// the original), false if nobody does and it goes back to the queue. O(1).
  bool runs_elsewhere(int w, std::uint64_t id);

  /// Whether no speculative copy was ever made (settle() then has nothing to do). O(1).
  bool no_copies() const noexcept { return copied_.empty(); }
  /// Whether partition `id` was ever copied (its copy state is kept until the job ends).
  bool copied(std::uint64_t id) const { return !copied_.empty() && copied_.count(id) != 0; }
  /// Speculative copies made so far, in order, and how many of them won (were committed).
  const std::vector<speculative_copy>& copies() const noexcept { return copies_; }
  std::uint64_t copies_won() const noexcept { return copies_won_; }
  /// Searches for overdue partitions made so far (a shared one counts once).
  std::uint64_t searches() const noexcept { return searches_; }

 private:
  /// Where a holder stands in holders_: a time before which none of its partitions can be overdue, and its lowest
  /// partition that is neither done nor copied.
  using place = std::pair<clock::time_point, std::uint64_t>;
  /// A partition held past its allowance, and how far past it.
  struct overdue_partition {
    double overdue;  // outstanding / allowed
    std::uint64_t id;
    int holder;
    double outstanding;
  };
  struct search;

  /// The `want` most overdue partitions at `now` held by others than `w`, most overdue first (then lowest id).
  std::vector<overdue_partition> most_overdue(int w, std::uint64_t want, clock::time_point now, holdings& of);
  /// The walk over holders_, earliest key first, until no later holder can better what `s` found.
  void walk(search& s, int w, holdings& of);
  /// Offers the overdue partitions of chunk `c`, held by `h` on `threads` threads, to the best of `s`.
  void offer(search& s, const held_chunk& c, int h, double threads, const id_set& done) const;
  /// The first id of `r` from `from` on that is neither done nor copied (r.end: none).
  std::uint64_t first_candidate(id_range r, std::uint64_t from, const id_set& done) const;
  /// A time before which no partition of chunk `c`, held by a worker with `threads` threads, can be overdue however
  /// the median and the mean (at least due_mean_) change: its hand-out time plus the larger of the floor and the
  /// allowance at due_mean_ for what was queued before it (its `ahead`: fixed, unlike its partitions' places in
  /// it, which move up as its front is pruned). docs/design.md, "Speculative execution".
  clock::time_point due_key(const held_chunk& c, int threads) const;
  /// Where worker `h` belongs in holders_ now: the earliest due_key() of its chunks that hold a partition neither
  /// done nor copied, and the lowest such partition (none: it holds no such partition). O(held chunks).
  std::optional<place> place_of(int h, holdings& of) const;
  /// Sets every key in holders_ afresh with a new due_mean_ (the mean fell below it).
  void rekey(double mean, holdings& of);
  /// Up to `want` of the shared list's partitions for `w` (taken off it), searching anew when the list is older
  /// than share_window or was invalidated; a request it cannot fill while it was cut at share_batch searches alone.
  std::vector<overdue_partition> shared_overdue(int w, std::uint64_t want, clock::time_point now, holdings& of);

  speculation_options options_;
  // Partitions that had a speculative copy (few, so a map, not a vector per partition): who runs the original
  // and the copy now (-1: nobody), and who was given the copy (for good: at most one copy per partition).
  struct copy_state {
    int original = -1;
    int copy = -1;
    int by = -1;
  };
  std::unordered_map<std::uint64_t, copy_state> copied_;
  std::vector<speculative_copy> copies_;
  std::uint64_t copies_won_ = 0;
  // Per worker, its place in holders_ (none: not there): at most the earliest due_key() of its chunks with a
  // partition that is neither done nor copied, and at most the lowest such partition.
  std::vector<std::optional<place>> watched_;
  // Speculation on: the workers that may hold a partition neither done nor copied, by watched_, then worker
  // (the earliest due first: only they can be overdue). A place may be earlier than the truth (its chunk has
  // finished since): it is set right when most_overdue() meets it.
  std::set<std::tuple<clock::time_point, std::uint64_t, int>> holders_;
  // The shared search (shared_overdue): its list, most overdue first, what is left of it from shared_from_ on;
  // whether it was cut at its size (more may be overdue); whether it is there. When the last search was made, and
  // whether nothing changed since (no result: the median and the mean move; no new holdings).
  std::vector<overdue_partition> shared_;
  std::size_t shared_from_ = 0;
  clock::time_point searched_at_{};
  bool unchanged_ = false;
  std::uint64_t searches_ = 0;
  bool shared_cut_ = false;
  bool shared_valid_ = false;
  // The mean partition time new keys assume: half the mean when it was set, raised once the mean is four times
  // it; no key assumes more (a key made with less is early, so most_overdue() meets it and moves it later). Keys
  // must assume at most the mean: most_overdue() makes them afresh if the mean falls below.
  double due_mean_ = 0;
  // The most recent measured partition times (a ring), for the median; the mean is over all of them.
  static constexpr std::size_t sample_ring = 1024;
  std::vector<float> samples_;
  std::uint64_t sample_count_ = 0;
  double sample_sum_ = 0;
  mutable double median_ = 0;  // cached for sample_count_ == median_at_
  mutable std::uint64_t median_at_ = 0;
};

}  // namespace partita::detail
