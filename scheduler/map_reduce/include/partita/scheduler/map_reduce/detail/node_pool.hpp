#pragma once
/// A node scheduler's bookkeeping and decisions as a pure state machine (no MPI): the pool of chunks taken from the
/// root, which of its ranks holds and waits for what, whom to serve from the pool, when to ask the root for more and
/// how much, and requeue when one of its ranks is lost (docs/design.md, "Two-level scheduling"). The node scheduler
/// (node_scheduler.cpp) and the SimGrid model of large runs (tools/simulate) both run it, so the model cannot drift
/// from the product.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include <partita/scheduler/map_reduce/detail/protocol.hpp>
#include <partita/scheduler/map_reduce/dispatcher.hpp>

namespace partita::detail {

/// How long a node scheduler lets its ranks' results wait before they go up on their own (before that they ride on
/// its requests): result_batch_age_seconds with up to 16 node schedulers, then growing with their count, so that the
/// root gets about 800 such messages a second whatever the size of the job; at most 1 s. (The SimGrid model put the
/// root at 44 % busy at 10^4 ranks with 10 ms partitions when every node sent its results every 20 ms: docs/design.md,
/// "Two-level scheduling".)
double node_result_age_seconds(int node_schedulers);

/// How many pieces per thread of its node a node scheduler asks the root for beyond what its ranks wait for
/// (node_pool::to_ask): two, and four from 512 node schedulers on, where the root's messages are what it spends
/// most of its time on. (The SimGrid model at 10^5 ranks, 3125 node schedulers, 1 ms partitions, 50 a thread: the
/// root 35 % busy instead of 49 %, efficiency 0.79 either way; with 1000 ranks four cost efficiency, 0.91 to
/// 0.88-0.90: docs/benchmarks.md, "Longer jobs at 10^5 ranks".)
std::uint32_t node_batch_pieces_per_thread(int node_schedulers);

/// One rank a node scheduler serves.
struct node_member {
  int rank = 0;
  int threads = 1;
};

/// `chunk`'s ids in id order as min(pieces, ids) chunks whose sizes differ by at most one, largest first; an
/// empty chunk gives none. How a node scheduler splits a chunk the root sized for its whole node.
std::vector<std::vector<id_range>> split_chunk(const std::vector<id_range>& chunk, std::size_t pieces);

/// The root sizes a node's chunks for all its threads (dispatcher_options::splitting); the pool splits each into
/// one piece per thread (split_chunk) and hands pieces out whole, in the order the root handed the chunks; a lost
/// rank's unfinished ids go back to the front of the pool. Single-threaded. Value type.
class node_pool {
 public:
  using chunk = std::vector<id_range>;

  /// `self`: the node scheduler's own rank, with `self_threads` kernel threads (0: it runs none); `members`: the
  /// node's other ranks, which it serves; `node_schedulers`: how many node schedulers the job has
  /// (node_batch_pieces_per_thread).
  node_pool(int self, int self_threads, std::vector<node_member> members, int node_schedulers = 1);

  /// Chunks from the root, each split into one piece per thread of the node and queued behind those already in
  /// the pool; they answer `answers` chunks it asked for (to_ask). No chunks and no answer: the root's queue is
  /// empty (it keeps the request); the job is in its tail from now on.
  void add(std::vector<chunk> chunks, std::uint32_t answers);
  /// Up to `n` chunks for rank `r` (counted as one message when any); none for a lost rank.
  std::vector<chunk> take(int r, std::uint32_t n);
  /// Rank `r` reported partition `id`, which took its kernel `nanos` (its result goes up to the root, which
  /// commits it exactly once).
  void complete(int r, std::uint64_t id, std::uint64_t nanos = 0);
  /// Rank `r` is gone: the ids it held unfinished go back to the front of the pool, and it waits for nothing.
  /// Returns how many ids went back.
  std::uint64_t lose(int r);

  /// Member `r` asks for `n` more chunks; they wait here until the pool has them (the rank does not ask again).
  void ask(int r, std::uint32_t n);
  /// What to send a waiting member: `chunks.size()` of the chunks it asked for.
  struct grant {
    int rank = 0;
    std::vector<chunk> chunks;
  };
  /// Serves waiting members from the pool: first a chunk per thread for every member that waits, then prefetch
  /// from what lies beyond the reserve. One member that asks first must not take what the root sized for the whole
  /// node (a static block, a guided batch), nor may a member that asks again take the first chunks of a member that
  /// has not asked yet (it starts late, or is slower to start than its partitions are short): those wait for it,
  /// one per thread, until it asks or is lost. The first chunks come from the front of the pool, the prefetch from
  /// its back: the root's policy sizes a node's first chunks for one thread each and later ones smaller (its
  /// floor), and a rank should queue a small chunk behind the one it runs, not a large one another thread of the
  /// node could run (as the flat dispatcher does for a worker's prefetch).
  std::vector<grant> serve_waiting();
  /// Chunks for the node scheduler's own `free_threads` idle threads, from what the pool holds beyond the first
  /// shares of members not served yet (no prefetch: the pool is next door).
  std::vector<chunk> take_own(std::uint32_t free_threads);
  /// Take-back inside the node (docs/design.md, "Taking back a backlog"): off until this is called with the least
  /// time of the holder's work worth taking back (dispatcher_options::take_back_min_seconds).
  void enable_take_back(double min_seconds);
  /// Ids taken back from `holder`'s queue for `taker`: the holder must be told to skip those it has not started;
  /// the taker is given them as one chunk (for a member: answering one it waits for).
  struct take_back_grant {
    int holder = 0;
    int taker = 0;
    std::vector<id_range> ids;
  };
  /// Once the root's queue ran dry and the pool is empty (after serve_waiting() and take_own()): for each rank of
  /// the node with nothing to run (a member that waits for a chunk and holds fewer partitions than its threads, or
  /// `own_free` idle threads of this rank's own), the back (highest ids) of the largest backlog another rank of the
  /// node holds: partitions beyond one per thread, in time at the holder's measured time per partition, split so
  /// that both end together (the taker's share in proportion to threads, rounded up), as the root's dispatcher
  /// does between workers. Not when the share is less than the least time enable_take_back() set. A partition the
  /// holder had already started runs on both; the twin result is dropped (node_blocks) or by the root.
  std::vector<take_back_grant> take_backs(std::uint32_t own_free);
  /// How many chunks to ask the root for now (0: none), counted as asked until add() answers them. The node asks
  /// when what it has (beyond the first shares it keeps) and has asked for cannot cover what its ranks wait for
  /// (`own_free` threads of its own included) plus one piece per rank, and then asks for two (or four:
  /// node_batch_pieces_per_thread) pieces per thread of the node beyond that, in chunks of one piece per thread
  /// (pieces()): the root hears from a node about once per two (four) pieces per thread, and hands it about two
  /// (four) chunks each time.
  std::uint32_t to_ask(std::uint32_t own_free);
  /// How long its ranks' results may wait here before they go up on their own (before that they ride on requests):
  /// `age` (node_result_age_seconds) while the root has work. Once the root said its queue is empty and the pool is
  /// empty too (the end of the job), a worker's result_batch_age_seconds, for the root's view of stragglers; and no
  /// wait once nothing handed to the node is unfinished, since the root may be waiting for just these. (Not "the
  /// pool is empty" alone: with a root slow to answer, sending results sooner would load it more.)
  double result_wait(double age) const;

  /// Pieces in the pool.
  std::size_t queued() const noexcept { return pool_.size(); }
  /// Pieces a chunk from the root is split into: the node's threads (the root's view of it: root_view).
  std::uint32_t pieces() const noexcept { return pieces_; }
  /// Ids handed to `r` and not reported yet.
  std::uint64_t outstanding(int r) const;
  /// Chunks member `r` asked for and was not given yet.
  std::uint32_t waiting(int r) const { return at(r).waiting; }
  std::uint32_t asked_of_root() const noexcept { return requested_; }
  /// What it counted for `r` (what the summary shows for a rank the root does not see).
  const relayed_tally& tally(int r) const { return at(r).tally; }
  bool serves(int r) const { return ranks_.count(r) != 0; }
  bool lost(int r) const { return at(r).tally.lost != 0; }
  int self() const noexcept { return self_; }
  const std::vector<node_member>& members() const noexcept { return members_; }

 private:
  struct rank_state {
    std::map<std::uint64_t, std::uint64_t> held;  // unfinished ids as disjoint ranges: begin -> end
    std::uint64_t unfinished = 0;
    std::uint32_t waiting = 0;  // chunks asked for and not given yet
    bool served = false;        // it was given work at least once
    int threads = 1;
    std::uint64_t timed = 0;  // results with a measured time, and their sum
    std::uint64_t timed_nanos = 0;
    relayed_tally tally;
  };
  rank_state& at(int r);
  const rank_state& at(int r) const;
  /// `first` chunks from the front of the pool, then `more` from the back, as one message.
  std::vector<chunk> take(int r, std::uint32_t first, std::uint32_t more);
  /// A member's first share: one chunk per thread.
  static std::size_t share_of(const node_member& m) { return static_cast<std::size_t>(m.threads > 1 ? m.threads : 1); }
  /// Chunks kept for live members that have not been given work yet: their first shares.
  std::size_t unserved_shares() const;
  /// What the pool holds beyond those: what the others (this rank's own threads included) may take.
  std::size_t spare() const;

  int self_;
  std::vector<node_member> members_;
  std::deque<chunk> pool_;
  std::map<int, rank_state> ranks_;
  std::uint32_t reserve_ = 1;    // below this many pieces beyond what its ranks wait for, ask the root
  std::uint32_t batch_ = 1;      // and ask for this many more
  std::uint32_t pieces_ = 1;     // pieces per chunk from the root
  std::uint32_t requested_ = 0;  // pieces asked of the root and not answered yet
  bool root_dry_ = false;        // the root said its queue ran empty
  std::optional<double> take_back_min_s_;
};

}  // namespace partita::detail
