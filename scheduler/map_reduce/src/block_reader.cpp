#include <partita/scheduler/map_reduce/detail/block_reader.hpp>

#include <algorithm>
#include <chrono>

namespace partita::detail {

// Why spares: a block is tens of MiB, which malloc takes from fresh mmap'd pages and gives back at once; each read
// then paid the page faults and the zeroing of a new buffer (vector::resize) before HDF5 copied into it, which took
// more time than the copy itself (perf, bench_data_read: half of a rank's time in memset and its page faults).
struct block_reader::spare_blocks {
  std::mutex m;
  std::vector<std::unique_ptr<input_block>> blocks;
  std::size_t keep = 1;
};

block_reader::block_reader(map_job_model& job, std::size_t ahead)
    : job_(job), ahead_(std::max<std::size_t>(1, ahead)), spares_(std::make_shared<spare_blocks>()),
      thread_([this] { loop(); }) {
  spares_->keep = ahead_;
}

block_reader::~block_reader() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void block_reader::enqueue(const std::vector<id_range>& chunk) {
  {
    std::lock_guard lock(m_);
    for (const auto& r : chunk)
      for (auto id = r.begin; id < r.end; ++id) queue_.push_back(id);
  }
  cv_.notify_all();
}

void block_reader::cancel() {
  {
    std::lock_guard lock(m_);
    queue_.clear();
    ready_.clear();
    failed_.clear();
  }
  cv_.notify_all();
}

std::shared_ptr<input_block> block_reader::make_block() {
  std::unique_ptr<input_block> block;
  {
    std::lock_guard lock(spares_->m);
    if (!spares_->blocks.empty()) {
      block = std::move(spares_->blocks.back());
      spares_->blocks.pop_back();
    }
  }
  if (!block) block = std::make_unique<input_block>();
  return std::shared_ptr<input_block>(block.release(), [spares = spares_](input_block* released) {
    std::unique_ptr<input_block> owned(released);
    std::lock_guard lock(spares->m);
    if (spares->blocks.size() < spares->keep) spares->blocks.push_back(std::move(owned));
  });
}

std::shared_ptr<input_block> block_reader::read(partition_id id) {
  auto block = make_block();
  const auto t = std::chrono::steady_clock::now();
  job_.read_input(id, *block);
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  std::lock_guard lock(m_);
  stats_.bytes += block->data.size();
  stats_.partitions += 1;
  stats_.seconds += took;
  return block;
}

void block_reader::loop() {
  std::unique_lock lock(m_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || (!queue_.empty() && ready_.size() < ahead_); });
    if (stop_) return;
    const auto id = queue_.front();
    queue_.pop_front();
    if (ready_.count(id) != 0) continue;  // queued twice (a speculative copy on the same rank): read once
    reading_ = id;
    lock.unlock();
    std::shared_ptr<input_block> block;
    std::exception_ptr failure;
    try {
      block = read(partition_id{id});
    } catch (...) {
      failure = std::current_exception();
    }
    lock.lock();
    reading_.reset();
    if (failure) failed_[id] = failure;
    else ready_[id] = std::move(block);
    cv_.notify_all();
  }
}

std::shared_ptr<const input_block> block_reader::take(partition_id id) {
  {
    std::unique_lock lock(m_);
    const bool being_read = reading_ == id.value;
    cv_.wait(lock, [&] { return reading_ != id.value; });
    if (auto it = ready_.find(id.value); it != ready_.end()) {
      auto block = std::move(it->second);
      ready_.erase(it);
      if (!being_read) ++stats_.hits;
      cv_.notify_all();  // room for the next block
      return block;
    }
    if (auto it = failed_.find(id.value); it != failed_.end()) {
      auto failure = it->second;
      failed_.erase(it);
      std::rethrow_exception(failure);
    }
    // Not read yet: read it here, and not again later.
    if (auto q = std::find(queue_.begin(), queue_.end(), id.value); q != queue_.end()) queue_.erase(q);
  }
  return read(id);
}

void block_reader::drop(const std::vector<id_range>& ids) {
  auto dropped = [&](std::uint64_t id) {
    return std::any_of(ids.begin(), ids.end(), [id](const id_range& r) { return id >= r.begin && id < r.end; });
  };
  {
    std::unique_lock lock(m_);
    cv_.wait(lock, [&] { return !reading_ || !dropped(*reading_); });
    std::erase_if(queue_, dropped);
    std::erase_if(ready_, [&](const auto& kv) { return dropped(kv.first); });
    std::erase_if(failed_, [&](const auto& kv) { return dropped(kv.first); });
  }
  cv_.notify_all();  // room for the next blocks
}

input_stats block_reader::stats() const {
  std::lock_guard lock(m_);
  return stats_;
}

}  // namespace partita::detail
