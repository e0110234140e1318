#include <partita/scheduler/detail/job_setup.hpp>

#include <functional>

#include <fmt/format.h>

#include <partita/runtime/crash_point.hpp>
#include <partita/runtime/election.hpp>
#include <partita/runtime/error.hpp>
#include <partita/runtime/exit_status.hpp>
#include <partita/runtime/log.hpp>

namespace partita::detail {

job_comm::job_comm(MPI_Comm parent) {
  PARTITA_MPI(MPI_Comm_dup(parent, &comm_));
  PARTITA_MPI(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
}

job_comm::~job_comm() {
  if (comm_ != MPI_COMM_NULL && MPI_Comm_free(&comm_) != MPI_SUCCESS)
    log().warn("could not free the job's communicator");
}

namespace {

// Options of the map/reduce dispatcher have no meaning for an iterative job: say so rather than ignore them.
void refuse_dispatch_options(const dispatch_options& d) {
  const auto refuse = [](const char* flag) {
    throw usage_error(fmt::format("{} applies to map/reduce jobs only; an iterative job places partitions by measured "
                                  "cost (see --rebalance-every, --imbalance-threshold)",
                                  flag));
  };
  const dispatch_options defaults;
  if (d.policy != defaults.policy) refuse("--policy");
  if (d.chunk != defaults.chunk) refuse("--chunk");
  if (d.prefetch != defaults.prefetch) refuse("--prefetch");
  if (d.max_chunks_per_message != defaults.max_chunks_per_message) refuse("--max-chunks-per-message");
  if (d.scheduler_runs_partitions != defaults.scheduler_runs_partitions) refuse("--dedicated-scheduler");
  if (d.speculate != defaults.speculate || d.speculation_factor != defaults.speculation_factor)
    refuse("--speculate/--speculation-factor");
  if (d.take_back != defaults.take_back) refuse("--take-back/--no-take-back");
  if (d.scheduler_levels != defaults.scheduler_levels) refuse("--scheduler-levels");
  if (d.ranks_per_node != defaults.ranks_per_node) refuse("--ranks-per-node");
  if (d != defaults) refuse("a dispatch option");  // one added to dispatch_options but not named above
}

// And the iterative job's rebalancing options have none for a map/reduce job.
void refuse_iterative_options(const iterative_options& it) {
  const auto refuse = [](const char* flag) {
    throw usage_error(fmt::format("{} applies to iterative jobs only; a map/reduce job balances partitions as it "
                                  "hands them out (see --policy)",
                                  flag));
  };
  const iterative_options defaults;
  if (it.rebalance_every_steps != defaults.rebalance_every_steps) refuse("--rebalance-every");
  if (it.imbalance_threshold != defaults.imbalance_threshold) refuse("--imbalance-threshold");
  if (it.final_gather_limit != defaults.final_gather_limit) refuse("--final-gather-limit");
  if (it != defaults) refuse("an iterative option");
}

}  // namespace

void check_run_config(const run_config& config, model_kind model) {
  if (model == model_kind::iterative) {
    refuse_dispatch_options(config);
    if (config.output_io != output_io::direct)
      throw usage_error("--output-io applies to map/reduce jobs that declare an output dataset; an iterative job's "
                        "--output is written collectively through HDF5");
    if (config.imbalance_threshold < 0) throw usage_error("--imbalance-threshold must be 0 (off) or more, e.g. 1.1");
  } else {
    refuse_iterative_options(config);
    if (config.output)
      throw usage_error("--output applies to iterative jobs only for now: a map/reduce job's result is folded on the "
                        "scheduler, and a job that declares an output dataset names it itself (e.g. h5filter's "
                        "--param output=FILE)");
    if (config.prefetch < 0) throw usage_error("--prefetch must be 0 or more");
    if (config.scheduler_levels < 0 || config.scheduler_levels > 2)
      throw usage_error("--scheduler-levels must be 1 or 2 (or 0: two levels from 1024 ranks on)");
    if (config.ranks_per_node < 0) throw usage_error("--ranks-per-node must be 1 or more (0: the real nodes)");
  }
  if (config.restart && *config.restart == "auto" && !config.checkpoint_dir)
    throw usage_error("--restart auto needs --checkpoint-dir (where to look for checkpoints)");
  const bool timed = config.checkpoint_every_partitions > 0 || config.checkpoint_every_seconds > 0 ||
                     config.checkpoint_interval_auto;
  if (timed && !config.checkpoint_dir)
    throw usage_error("--checkpoint-every/--checkpoint-interval need --checkpoint-dir (where to write checkpoints)");
}

job_setup set_up(session& s, const run_config& config, MPI_Comm comm) {
  job_setup setup;
  setup.comm = comm;
  setup.history = read_failure_events(config.failure_history_file());  // none when there is no file
  const auto me = make_candidate(s.nodes(), s.rank().value, suspect_hosts(setup.history));
  const auto elected = elect_scheduler(comm, me, config.scheduler_rank);
  setup.scheduler = elected.scheduler;
  int mine = config.threads > 0 ? config.threads : s.env().cpus_per_rank;
  if (s.rank() == setup.scheduler && !config.scheduler_runs_partitions) mine = 0;
  setup.threads.assign(static_cast<std::size_t>(s.size()), 0);
  PARTITA_MPI(MPI_Allgather(&mine, 1, MPI_INT, setup.threads.data(), 1, MPI_INT, comm));
  if (s.size() == 1 && mine == 0)
    throw usage_error("--dedicated-scheduler needs at least two ranks: with one rank nobody would run partitions");
  setup.tree = scheduler_tree::flat(s.size(), setup.scheduler);
  if (scheduler_levels_for(s.size(), config.scheduler_levels) == 2) {
    const auto nodes = config.ranks_per_node > 0 ? nodes_every(s.size(), config.ranks_per_node)
                                                 : s.nodes().node_of_rank;
    setup.tree = scheduler_tree::by_node(nodes, setup.scheduler);
    if (s.rank() == setup.scheduler) {
      if (setup.tree.levels == 2)
        log().info("two-level scheduling: {} node scheduler(s) between the root (rank {}) and {} ranks",
                   setup.tree.node_scheduler_count(), setup.scheduler.value, s.size());
      else log().info("two-level scheduling asked for, but no node other than the root's has two ranks: one level");
    }
  }
  // Failover replaces a lost scheduler among workers that talk to it directly: with node schedulers in between
  // (two levels) a lost root still ends the run (and the launcher relaunches it).
  setup.failover = in_job_recovery(config) && setup.tree.levels == 1;
  if (config.failover == 1 && setup.tree.levels == 2 && s.rank() == setup.scheduler)
    log().warn("--failover does not apply with two scheduler levels: a lost root ends the run");
  setup.t0 = clock::now();
  return setup;
}

bool in_job_recovery(const liveness_options& config) noexcept {
  return config.failover == 1 || (config.failover < 0 && under_open_mpi_recovery());
}

void arm_injection(const session& s, const run_config& config, const job_setup& setup, const char* worker_point) {
  if (!config.inject) return;
  const auto history = config.failure_history_file();
  const std::string mark = "injected " + config.inject->text();
  for (const auto& e : setup.history)
    if (e.reason.starts_with(mark)) {
      if (s.rank() == setup.scheduler)
        log().info("--inject {}: already fired in this job ({}); not again", config.inject->text(), history.string());
      arm_crash_point("");
      return;
    }
  const auto& rank = config.inject->rank;
  if (rank && *rank >= s.size())
    throw usage_error(fmt::format("--inject {}: there is no rank {} in a job of {} ranks", config.inject->text(), *rank,
                                  s.size()));
  const std::string point = rank ? fmt::format("{}@{}:{}", worker_point, *rank, config.inject->after)
                                 : fmt::format("scheduler.commit:{}", config.inject->after);
  std::function<void()> record;
  if (!history.empty()) {
    const auto host = s.nodes().hosts.at(static_cast<std::size_t>(s.nodes().node_of(s.rank().value)));
    record = [history, host, why = fmt::format("{} (rank {})", mark, s.rank().value)] {
      try {
        append_failure_history(history, host, why);
      } catch (...) {  // the rank dies next either way; an unwritable history only means it may fire again
      }
    };
  }
  arm_crash_point(point, std::move(record));
}

std::uint64_t params_hash(const parameters& params, std::uint64_t seed, std::uint64_t partition_count) {
  std::uint64_t h = params.hash();
  for (std::uint64_t v : {seed, partition_count}) h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

void record_lost_rank(const session& s, const run_config& config, const std::string& job, int rank) {
  const auto history = config.failure_history_file();
  if (history.empty()) return;
  const auto& host = s.nodes().hosts.at(static_cast<std::size_t>(s.nodes().node_of(rank)));
  try {
    append_failure_history(history, host,
                           fmt::format("rank {} of job '{}' lost: silent for {:.0f} s", s.launch_rank(rank), job,
                                       config.timeout_seconds));
  } catch (const std::exception& e) {
    log().warn("{}", e.what());
  }
}

}  // namespace partita::detail
