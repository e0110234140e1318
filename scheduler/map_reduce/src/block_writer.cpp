#include <partita/scheduler/map_reduce/detail/block_writer.hpp>

#include <algorithm>
#include <exception>
#include <utility>

#include <partita/runtime/crash_point.hpp>

namespace partita::detail {

// Why a thread and batches: a block written and fdatasync'ed by the kernel that filled it kept that kernel from the
// next block for the whole disk flush, and each flush was of one block (bench_data_write: 0.34x a raw write). Here the
// kernel fills the next block while the writer writes and flushes the previous ones, and blocks that queued during a
// flush share the next one.

void block_recycle::operator()(input_block* block) const noexcept {
  if (writer) writer->give_back(block);
  else delete block;
}

block_writer::block_writer(map_job_model& job, std::size_t capacity, const std::atomic<bool>& cancel,
                           release_fn release, fail_fn fail)
    : job_(job), capacity_(std::max<std::size_t>(1, capacity)), cancel_(cancel), release_(std::move(release)),
      fail_(std::move(fail)) {
  spares_.reserve(capacity_);  // give_back never allocates
  thread_ = std::thread([this] { loop(); });
}

block_writer::~block_writer() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  queued_.notify_all();
  thread_.join();
  std::deque<item> left;
  {
    std::lock_guard lock(m_);
    left.swap(queue_);
  }
  left.clear();  // their buffers go back to the spares, unwritten
}

void block_writer::give_back(input_block* block) noexcept {
  std::unique_ptr<input_block> owned(block);
  {
    std::lock_guard lock(m_);
    --out_;
    if (spares_.size() < capacity_) spares_.push_back(std::move(owned));
  }
  freed_.notify_all();
}

block_writer::block_ptr block_writer::acquire(partition_id id) {
  std::unique_ptr<input_block> spare;
  {
    std::unique_lock lock(m_);
    // Wait for a buffer only while the writer has blocks to give back. If it has none (every block out is held by a
    // kernel: a kernel whose TBB wait ran another chunk on its thread), waiting could not end: take one more.
    freed_.wait(lock, [&] { return out_ < capacity_ || (queue_.empty() && !writing_); });
    ++out_;
    if (!spares_.empty()) {
      spare = std::move(spares_.back());
      spares_.pop_back();
    }
  }
  if (!spare) spare = std::make_unique<input_block>();
  block_ptr block(spare.release(), block_recycle{this});
  job_.shape_output(id, *block);  // if it throws, the block goes back
  return block;
}

void block_writer::submit(partition_id id, std::uint64_t nanos, block_ptr block, bytes result) {
  {
    std::lock_guard lock(m_);
    queue_.push_back(item{id.value, nanos, std::move(block), std::move(result)});
  }
  queued_.notify_all();
}

void block_writer::end_chunk() {
  // Notified under the lock: once the writer has released this mark, the executor may be destroyed, and this
  // kernel thread must not touch the writer after that.
  std::lock_guard lock(m_);
  queue_.push_back(item{});
  queued_.notify_all();
}

void block_writer::loop() {
  std::unique_lock lock(m_);
  for (;;) {
    queued_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::deque<item> batch;
    batch.swap(queue_);
    writing_ = true;
    lock.unlock();
    int ended = 0;
    for (const auto& it : batch) ended += it.block ? 0 : 1;
    result_batch durable = write_batch(batch);
    batch.clear();
    release_(durable, ended);
    lock.lock();
    writing_ = false;
    freed_.notify_all();  // a kernel waiting in acquire re-checks: the writer may now be idle
  }
}

result_batch block_writer::write_batch(std::deque<item>& batch) {
  result_batch durable;
  std::vector<item*> written;
  bool any = false;
  for (const auto& it : batch) any = any || it.block != nullptr;
  if (!any) return durable;
  crash_point("output.before_write");  // fault tests: blocks wait for the writer, none written
  for (auto& it : batch) {
    if (!it.block) continue;
    if (!cancel_.load(std::memory_order_relaxed)) {
      try {
        job_.write_output(partition_id{it.id}, *it.block);
        written.push_back(&it);
      } catch (const std::exception& e) {
        fail_(kernel_failure{partition_id{it.id}, e.what()});
      } catch (...) {
        fail_(kernel_failure{partition_id{it.id}, "writing its output block failed"});
      }
    }
    it.block.reset();  // written (on the disk or in the page cache) or dropped: the buffer can take the next block
  }
  if (written.empty()) return durable;
  crash_point("output.after_write");  // fault tests: blocks written, not durable, their results not released
  try {
    job_.sync_output();
  } catch (const std::exception& e) {
    fail_(kernel_failure{partition_id{written.front()->id}, e.what()});
    return durable;
  } catch (...) {
    fail_(kernel_failure{partition_id{written.front()->id}, "making its output block durable failed"});
    return durable;
  }
  syncs_.fetch_add(1, std::memory_order_relaxed);
  crash_point("output.after_sync");  // fault tests: blocks durable, their results not released
  for (const auto* it : written) {
    durable.ids.push_back(it->id);
    durable.nanos.push_back(it->nanos);
    durable.data.insert(durable.data.end(), it->result.begin(), it->result.end());
    durable.ends.push_back(static_cast<std::uint32_t>(durable.data.size()));
  }
  return durable;
}

}  // namespace partita::detail
