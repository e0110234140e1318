#include <partita/scheduler/map_reduce/executor.hpp>

#include <oneapi/tbb/task_arena.h>

#include <time.h>

#include <algorithm>
#include <exception>
#include <span>
#include <thread>

#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/log.hpp>
#include <partita/scheduler/map_reduce/detail/block_reader.hpp>
#include <partita/scheduler/map_reduce/detail/block_writer.hpp>

namespace partita {

namespace {
std::uint64_t thread_cpu_ns() noexcept {
  timespec ts{};
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<std::uint64_t>(ts.tv_nsec);
}
}  // namespace

void result_batch::append(result_batch&& other) {
  if (ids.empty()) {
    // Swapped, not moved: `other` keeps this batch's (empty) buffers, so buffers go round between the kernel
    // threads, the executor and the communication thread instead of being allocated per chunk.
    std::swap(*this, other);
    other.clear();
    return;
  }
  const auto base = static_cast<std::uint32_t>(data.size());
  ids.insert(ids.end(), other.ids.begin(), other.ids.end());
  nanos.insert(nanos.end(), other.nanos.begin(), other.nanos.end());
  for (auto e : other.ends) ends.push_back(base + e);
  data.insert(data.end(), other.data.begin(), other.data.end());
  other.clear();
}

executor::executor(map_job_model& job, int threads, std::uint64_t seed, bool trace,
                   std::chrono::steady_clock::time_point t0, rank_t rank, int read_ahead)
    : job_(job), threads_(std::max(1, threads)), seed_(seed), trace_(trace), rank_(rank), t0_(t0),
      // TBB's default pool is one thread per core for the whole process; a rank that asks for more
      // (oversubscribed sleeping kernels, or a rank sharing its node) must raise the limit.
      parallelism_(
          tbb::global_control::max_allowed_parallelism,
          std::max<std::size_t>(static_cast<std::size_t>(threads_) + 1,
                                tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism))),
      arena_(threads_, 0) {
  if (job_.has_input())
    reader_ = std::make_unique<detail::block_reader>(job_, static_cast<std::size_t>(threads_) +
                                                               static_cast<std::size_t>(std::max(1, read_ahead)));
  if (job_.has_output())
    writer_ = std::make_unique<detail::block_writer>(
        job_, static_cast<std::size_t>(threads_ + write_behind), cancel_,
        [this](result_batch& durable, int ended) { publish_durable(durable, ended); },
        [this](kernel_failure f) { fail(std::move(f)); });
}

void executor::cancel() noexcept {
  cancel_.store(true);
  if (reader_) reader_->cancel();
}

void executor::take_back(const std::vector<id_range>& ids) {
  {
    std::lock_guard lock(taken_mutex_);
    for (const auto& r : ids) taken_.insert(r);
    any_taken_.store(!taken_.empty(), std::memory_order_release);
  }
  if (reader_) reader_->drop(ids);  // not read ahead for nothing
}

bool executor::taken_back(std::uint64_t id) {
  std::lock_guard lock(taken_mutex_);
  if (taken_.erase(id_range{id, id + 1}) == 0) return false;
  any_taken_.store(!taken_.empty(), std::memory_order_release);
  return true;
}

input_stats executor::read_stats() const { return reader_ ? reader_->stats() : input_stats{}; }

executor::~executor() {
  cancel();
  wait_idle();
}

void executor::wait_idle() {
  while (in_flight() > 0 || helping_.load(std::memory_order_acquire) > 0)
    std::this_thread::sleep_for(std::chrono::microseconds(200));
}

/// A chunk's partitions, claimed one at a time by its owner and by any thread of the rank that helps. It views
/// the ranges; whoever made it keeps them alive.
struct executor::shared_chunk {
  explicit shared_chunk(std::span<const id_range> r) : ranges(r) {
    if (ranges.size() == 1) {  // the usual chunk: no allocation
      count = ranges.front().size();
      return;
    }
    starts.reserve(ranges.size());
    for (const auto& x : ranges) {
      starts.push_back(count);
      count += x.size();
    }
  }
  std::span<const id_range> ranges;
  std::vector<std::uint64_t> starts;  // partitions before ranges[i] (empty with one range)
  std::uint64_t count = 0;
  std::atomic<std::uint64_t> next{0};  // the next partition to claim, counted across the ranges
  std::atomic<int> active{1};          // threads working on it, the owner from the start; 0: ended

  /// The next unstarted partition, or nullopt when every one is claimed.
  std::optional<std::uint64_t> claim() noexcept {
    const auto k = next.fetch_add(1, std::memory_order_relaxed);
    if (k >= count) return std::nullopt;
    if (ranges.size() == 1) return ranges.front().begin + k;
    const auto i = static_cast<std::size_t>(std::upper_bound(starts.begin(), starts.end(), k) - starts.begin()) - 1;
    return ranges[i].begin + (k - starts[i]);
  }
  std::uint64_t unclaimed() const noexcept {
    const auto k = next.load(std::memory_order_relaxed);
    return k >= count ? 0 : count - k;
  }
  /// Becomes one of the threads working on it, unless it has ended.
  bool join() noexcept {
    auto a = active.load(std::memory_order_acquire);
    while (a > 0)
      if (active.compare_exchange_weak(a, a + 1, std::memory_order_acq_rel)) return true;
    return false;
  }
};

/// What one thread gathers while it works on chunks: results not yet published, trace slices, counts.
struct executor::lane {
  explicit lane(int index) : thread(index) {}
  // Each thread's batch lives from chunk to chunk (publish swaps buffers with the executor's): a one-partition
  // chunk allocates nothing for its result.
  result_batch& local = batch();
  std::vector<trace_slice> slices;
  std::uint64_t busy = 0;  // ns inside kernels since the last publication
  std::uint64_t ran = 0;   // partitions run since the last publication
  int thread;              // the trace's lane: the kernel thread's index, or threads() for the caller

  static result_batch& batch() {
    thread_local result_batch local;
    local.clear();
    return local;
  }
};

void executor::submit(std::vector<id_range> chunk) {
  const auto mean = mean_chunk_time();
  const bool tiny = in_flight() == 0 && mean.count() > 0 && mean < inline_below && !cancel_.load();
  ++submitted_;
  if (any_taken_.load(std::memory_order_acquire)) {  // handed back here after it was taken away: it runs
    std::lock_guard lock(taken_mutex_);
    for (const auto& r : chunk) taken_.erase(r);
    any_taken_.store(!taken_.empty(), std::memory_order_release);
  }
  if (reader_) reader_->enqueue(chunk);
  if (tiny) {
    ++inline_chunks_;
    shared_chunk here(chunk);
    run_chunk(here, nullptr, runs_on::caller);
    return;
  }
  // A chunk nobody shares lives in its task, as it always did: nothing allocated for it.
  auto unshared = [this](std::vector<id_range>&& ranges) {
    arena_.enqueue([this, ranges = std::move(ranges)] {
      shared_chunk own(ranges);
      run_chunk(own, nullptr, runs_on::arena);
    });
  };
  if (threads_ == 1) return unshared(std::move(chunk));  // nobody to share with
  waiting_.fetch_add(1, std::memory_order_release);
  std::uint64_t partitions = 0;
  for (const auto& r : chunk) partitions += r.size();
  if (partitions < 2) return unshared(std::move(chunk));  // the per-message path: nothing for a helper to claim
  // Helpers hold the chunk too: its ranges and its cursor live as long as the last of them.
  struct kept {
    explicit kept(std::vector<id_range> r) : ranges(std::move(r)), chunk(ranges) {}
    std::vector<id_range> ranges;
    shared_chunk chunk;
  };
  auto owner = std::make_shared<kept>(std::move(chunk));
  std::shared_ptr<shared_chunk> shared(owner, &owner->chunk);
  arena_.enqueue([this, shared = std::move(shared)] { run_chunk(*shared, shared, runs_on::arena); });
}

void executor::run_chunk(shared_chunk& chunk, const std::shared_ptr<shared_chunk>& sharable, runs_on where) {
  // An arena thread counts as helping from here until it returns: it touches the executor after its chunk may
  // have ended (wait_idle, and so the destructor, wait for it).
  const bool siblings = where == runs_on::arena && threads_ > 1;
  if (where == runs_on::arena) helping_.fetch_add(1, std::memory_order_acq_rel);
  if (siblings) {
    working_.fetch_add(1, std::memory_order_acq_rel);
    waiting_.fetch_sub(1, std::memory_order_acq_rel);
  }
  // Only a chunk of several partitions on a rank of several threads is shared (submit gives it an owner to share,
  // `sharable`): a one-partition chunk (the per-message path) takes no lock for it.
  if (sharable) {
    {
      std::lock_guard lock(running_mutex_);
      running_.push_back(sharable);
      running_count_.fetch_add(1, std::memory_order_release);
    }
    // Threads asleep in the arena (fewer chunks than threads: the end of a job) are woken to help.
    const auto idle = std::min<std::uint64_t>(
        static_cast<std::uint64_t>(std::max(0, threads_ - working_.load(std::memory_order_acquire))), chunk.count - 1);
    for (std::uint64_t i = 0; i < idle; ++i) {
      helping_.fetch_add(1, std::memory_order_acq_rel);
      arena_.enqueue([this] {
        working_.fetch_add(1, std::memory_order_acq_rel);
        lane me(tbb::this_task_arena::current_thread_index());
        help_siblings(me);
        working_.fetch_sub(1, std::memory_order_acq_rel);
        helping_.fetch_sub(1, std::memory_order_acq_rel);  // the last thing this task does for the executor
      });
    }
  }
  // The caller's lane in a trace comes after the kernel threads'.
  lane me(where == runs_on::caller ? threads_ : tbb::this_task_arena::current_thread_index());
  const auto start = std::chrono::steady_clock::now();
  const auto end = work_on(chunk, me, where, false);
  // A racy moving average is fine: a lost update only delays how fast it follows a change.
  const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count();
  const auto old = chunk_ns_.load(std::memory_order_relaxed);
  chunk_ns_.store(old == 0 ? took : old + (took - old) / 8, std::memory_order_relaxed);
  leave(chunk, sharable, me);
  if (siblings) {
    help_siblings(me);
    working_.fetch_sub(1, std::memory_order_acq_rel);
  }
  // The last thing this thread does for the executor.
  if (where == runs_on::arena) helping_.fetch_sub(1, std::memory_order_acq_rel);
}

std::chrono::steady_clock::time_point executor::work_on(shared_chunk& chunk, lane& me, runs_on where, bool helper) {
  using clock = std::chrono::steady_clock;
  const auto first = clock::now();
  auto last_end = first;
  // A tiny chunk on the caller runs without a pause, so its wall time is its CPU time; this spares the two
  // per-thread CPU clock reads (system calls, more than the chunk itself costs).
  const auto cpu_start = where == runs_on::arena ? thread_cpu_ns() : 0;
  // Results go to the communication thread as they come, not only at the end of the chunk: a large
  // chunk (early factoring chunks run for many seconds) must not hide its finished partitions from the
  // progress line, the checkpoints and the fold.
  auto last_publish = first;
  while (!cancel_.load(std::memory_order_relaxed)) {
    if (helper && waiting_.load(std::memory_order_acquire) > 0) break;  // a chunk waits for this thread
    const auto id = chunk.claim();
    if (!id) break;
    if (any_taken_.load(std::memory_order_acquire) && taken_back(*id)) {  // another rank runs it now
      skipped_.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const auto start = last_end;  // partitions run back to back: one clock read each
    const auto ended = run_partition(*id, me.local, start);
    if (!ended) break;
    const auto end = *ended;
    last_end = end;
    me.busy += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
    ++me.ran;
    if (trace_)
      me.slices.push_back(trace_slice{*id, me.thread,
                                      std::chrono::duration_cast<std::chrono::nanoseconds>(start - t0_).count(),
                                      std::chrono::duration_cast<std::chrono::nanoseconds>(end - t0_).count()});
    if (me.ran >= 256 || end - last_publish > std::chrono::milliseconds(10)) {
      publish(me, false);
      last_publish = end;
    }
  }
  kernel_cpu_ns_ += where == runs_on::arena
                        ? thread_cpu_ns() - cpu_start
                        : static_cast<std::uint64_t>(std::chrono::nanoseconds(last_end - first).count());
  return last_end;
}

void executor::leave(shared_chunk& chunk, const std::shared_ptr<shared_chunk>& sharable, lane& me) {
  auto unlist = [&] {
    if (!sharable) return;
    std::lock_guard lock(running_mutex_);
    if (auto it = std::find(running_.begin(), running_.end(), sharable); it != running_.end()) {
      running_.erase(it);
      running_count_.fetch_sub(1, std::memory_order_release);
    }
  };
  // Alone on the chunk (the usual case): its last results and its end in one publication, so a woken
  // communication thread never sees the chunk's last results while it still counts as in flight.
  int alone = 1;
  if (chunk.active.compare_exchange_strong(alone, 0, std::memory_order_acq_rel)) {
    unlist();
    publish(me, true);
    return;
  }
  // Others still run partitions of it: publish first, then leave; whoever leaves last ends the chunk.
  publish(me, false);
  if (chunk.active.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    unlist();
    publish(me, true);
  }
}

void executor::help_siblings(lane& me) {
  while (!cancel_.load(std::memory_order_relaxed) && waiting_.load(std::memory_order_acquire) == 0 &&
         running_count_.load(std::memory_order_acquire) > 0) {
    std::shared_ptr<shared_chunk> most;
    {
      std::lock_guard lock(running_mutex_);
      std::uint64_t left = 0;
      for (const auto& c : running_)
        if (const auto u = c->unclaimed(); u > left) {
          left = u;
          most = c;
        }
      if (most && !most->join()) most.reset();
    }
    if (!most) return;
    work_on(*most, me, runs_on::arena, true);
    leave(*most, most, me);
  }
}

void executor::publish(lane& me, bool ends_chunk) {
  busy_ns_ += me.busy;
  ran_ += me.ran;
  me.busy = 0;
  me.ran = 0;
  detail::block_writer* const writer = writer_.get();
  // Every publication wakes the communication thread (wait_for_event); the one that ends a chunk does so under
  // the same lock. With an output, results reach the executor through the writer once their blocks are durable
  // (publish_durable), and so does the end of the chunk: a mark queued behind the blocks of every thread that
  // worked on it (each published before it left the chunk).
  {
    std::lock_guard lock(mutex_);
    if (!cancel_.load()) done_.append(std::move(me.local));
    me.local.clear();
    if (trace_) slices_.insert(slices_.end(), me.slices.begin(), me.slices.end());
    me.slices.clear();
    if (ends_chunk && writer == nullptr) finished_.fetch_add(1, std::memory_order_release);
    events_.fetch_add(1, std::memory_order_release);
  }
  event_.notify_all();
  if (ends_chunk && writer != nullptr) writer->end_chunk();
}

std::optional<std::chrono::steady_clock::time_point> executor::run_partition(
    std::uint64_t id, result_batch& local, std::chrono::steady_clock::time_point start) {
  bytes result;  // with an output: this partition's result, held with its block until the block is durable
  detail::block_writer::block_ptr out;
  try {
    context ctx(partition_id{id}, step_t{0}, seed_, job_.params(), arena_, cancel_, rank_);
    std::shared_ptr<const input_block> block;
    if (reader_) {
      block = reader_->take(partition_id{id});
      ctx.set_input(block.get());
    }
    if (writer_) {
      out = writer_->acquire(partition_id{id});  // a reused buffer, zeroed; waits while the writer is behind
      ctx.set_output(out.get());
    }
    if (writer_) {
      job_.run(partition_id{id}, ctx, result);
      if (!cancel_.load()) job_.seal_output(partition_id{id}, *out, result);  // the block's CRC-32, on this thread
    } else {
      job_.run(partition_id{id}, ctx, local.data);
    }
  } catch (const std::exception& e) {
    fail(kernel_failure{partition_id{id}, e.what()});
    return std::nullopt;
  } catch (...) {
    fail(kernel_failure{partition_id{id}, "an exception not derived from std::exception"});
    return std::nullopt;
  }
  crash_point("partition.done");  // fault tests: PARTITA_CRASH_AT=partition.done@RANK:N kills a rank mid-job
  const auto end = std::chrono::steady_clock::now();
  const auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  if (writer_) {
    // A kernel that returns after the job was cancelled may have stopped half way (the losing twin of a speculative
    // copy): its block is not written, its result is dropped anyway.
    if (!cancel_.load()) writer_->submit(partition_id{id}, ns, std::move(out), std::move(result));
    return end;
  }
  local.ids.push_back(id);
  local.nanos.push_back(ns);
  local.ends.push_back(static_cast<std::uint32_t>(local.data.size()));
  return end;
}

void executor::publish_durable(result_batch& durable, int chunks_ended) {
  {
    std::lock_guard lock(mutex_);
    if (!cancel_.load()) done_.append(std::move(durable));
    if (chunks_ended > 0) finished_.fetch_add(chunks_ended, std::memory_order_release);
    events_.fetch_add(1, std::memory_order_release);
  }
  event_.notify_all();
}

void executor::fail(kernel_failure f) {
  std::lock_guard lock(mutex_);
  if (!failure_) failure_ = std::move(f);
  failed_.store(true, std::memory_order_release);
  cancel_.store(true);
}

bool executor::drain(result_batch& into) {
  const auto seen = events();
  if (seen == drained_events_) return false;
  std::lock_guard lock(mutex_);
  drained_events_ = seen;
  if (done_.empty()) return false;
  into.append(std::move(done_));
  return true;
}

bool executor::wait_for_event(std::uint64_t seen, std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mutex_);
  return event_.wait_for(lock, timeout, [&] { return events_.load(std::memory_order_relaxed) != seen; });
}

std::optional<kernel_failure> executor::failure() const {
  if (!failed_.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard lock(mutex_);
  return failure_;
}

std::vector<trace_slice> executor::take_trace() {
  std::lock_guard lock(mutex_);
  return std::move(slices_);
}

}  // namespace partita
