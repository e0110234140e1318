#include <partita/runtime/session.hpp>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <partita/runtime/error.hpp>
#include <partita/runtime/exit_status.hpp>
#include <partita/runtime/log.hpp>
#include <partita/runtime/signals.hpp>

namespace partita {

namespace {
const char* level_name(int level) {
  switch (level) {
    case MPI_THREAD_SINGLE: return "MPI_THREAD_SINGLE";
    case MPI_THREAD_FUNNELED: return "MPI_THREAD_FUNNELED";
    case MPI_THREAD_SERIALIZED: return "MPI_THREAD_SERIALIZED";
    case MPI_THREAD_MULTIPLE: return "MPI_THREAD_MULTIPLE";
    default: return "an unknown MPI thread level";
  }
}

launch_env read_launch_env_or_default() {
  try {
    return read_launch_env();
  } catch (const std::exception&) {
    return {};  // a malformed variable is reported when the session starts; here we only exit
  }
}

/// The "this job started" signal of slurm/partita-launch.sh (docs/design.md, "Slurm as operators run it"): once
/// MPI is up on every rank (the node map is collective), the first rank creates the file named by
/// PARTITA_STARTED_FILE. A run that fails without it failed to start, which is not an interrupt; a stop signal
/// the launcher held is passed on once it exists (the signal flags are installed by then).
void mark_started(int rank, int size) {
  const char* file = std::getenv("PARTITA_STARTED_FILE");
  if (rank != 0 || file == nullptr || *file == '\0') return;
  std::FILE* f = std::fopen(file, "w");
  bool ok = f != nullptr && std::fprintf(f, "started on %d ranks\n", size) > 0;
  if (f != nullptr) ok = std::fclose(f) == 0 && ok;
  if (!ok)
    log().warn("cannot write {} (PARTITA_STARTED_FILE): a failure of this run will be taken for a start-up failure",
               file);
}
}  // namespace

session::session(int& argc, char**& argv, session_options options) { start(&argc, &argv, options); }

session::session(session_options options) { start(nullptr, nullptr, options); }

void session::start(int* argc, char*** argv, const session_options& options) {
  // Catch SIGUSR1/SIGTERM before MPI start-up: a warning signal that arrives early must not kill the rank.
  if (options.catch_signals) install_signal_flags();
  env_ = read_launch_env();
  int initialised = 0;
  PARTITA_MPI(MPI_Initialized(&initialised));
  int provided = MPI_THREAD_SINGLE;
  const int wanted = static_cast<int>(options.threads);
  if (initialised) {
    PARTITA_MPI(MPI_Query_thread(&provided));
  } else {
    // Under `mpirun --enable-recovery` a peer may be dead by the end, and Open MPI 4.1's barrier at the start of
    // MPI_Finalize includes it: the survivors then hang there (seen in about half of the runs). Partita's
    // protocol completes and flushes its own traffic before a job returns, which is what that barrier guards,
    // so skip it (Open MPI's async_mpi_finalize) when recovery is on, unless the user decided otherwise.
    const char* recovery = std::getenv("OMPI_MCA_orte_enable_recovery");
    if (recovery && std::string(recovery) == "1") {
      ::setenv("OMPI_MCA_async_mpi_finalize", "1", 0);
      // Once a rank has died, Open MPI's shared-memory shared-file-pointer component finds its session directory
      // gone and prints an error at every MPI_File_open of a later checkpoint (harmless: another component takes
      // over). Partita never uses shared file pointers; leave that component out.
      ::setenv("OMPI_MCA_sharedfp", "^sm", 0);
    }
    if (MPI_Init_thread(argc, argv, wanted, &provided) != MPI_SUCCESS)
      throw error("MPI_Init_thread failed: is this program started by mpirun/srun with a working MPI?");
    owns_mpi_ = true;
  }
  provided_ = static_cast<thread_level>(provided);
  if (provided < wanted) {
    std::string msg = std::string("MPI provides ") + level_name(provided) + " but the job needs " + level_name(wanted) +
                      "; use an MPI library built with thread support";
    if (owns_mpi_) MPI_Finalize();
    owns_mpi_ = false;
    throw error(msg);
  }
  PARTITA_MPI(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  MPI_Comm world = MPI_COMM_NULL;
  PARTITA_MPI(MPI_Comm_dup(MPI_COMM_WORLD, &world));
  use(world);
  launch_ranks_.resize(static_cast<std::size_t>(size_));
  for (int r = 0; r < size_; ++r) launch_ranks_[static_cast<std::size_t>(r)] = r;
  mark_started(rank_.value, size_);
  log().debug("session up: {} ranks on {} nodes, {} CPUs per rank, {}", size_, nodes_.node_count(), env_.cpus_per_rank,
              level_name(provided));
}

void session::continue_with(const std::vector<int>& survivors) {
  MPI_Group all = MPI_GROUP_NULL, kept = MPI_GROUP_NULL;
  PARTITA_MPI(MPI_Comm_group(comm_, &all));
  PARTITA_MPI(MPI_Group_incl(all, static_cast<int>(survivors.size()), survivors.data(), &kept));
  MPI_Comm next = MPI_COMM_NULL;
  // The tag keeps successive narrowings apart (a survivor still in an older one cannot match a newer one).
  const int rc = MPI_Comm_create_group(comm_, kept, 0x5eed + generation_, &next);
  MPI_Group_free(&kept);
  MPI_Group_free(&all);
  if (rc != MPI_SUCCESS || next == MPI_COMM_NULL)
    throw error("the surviving ranks could not form a communicator (MPI_Comm_create_group failed)");
  ++generation_;
  std::vector<int> launch;
  for (int r : survivors) launch.push_back(launch_rank(r));
  launch_ranks_ = std::move(launch);
  const int was = rank_.value;
  use(next);  // the old one is deliberately not freed (see the header)
  if (rank_.value != was) log().info("rank {} of the {} survivors (was rank {})", rank_.value, size_, was);
}

void session::use(MPI_Comm comm) {
  PARTITA_MPI(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
  comm_ = comm;
  int r = 0;
  PARTITA_MPI(MPI_Comm_rank(comm_, &r));
  PARTITA_MPI(MPI_Comm_size(comm_, &size_));
  rank_ = rank_t{r};
  nodes_ = node_map::build(comm_);  // collective over comm
  detail::set_log_identity(r, size_, nodes_.hosts[static_cast<std::size_t>(nodes_.node_of(r))]);
}

session::~session() {
  // The signal flags stay installed until the process exits: a stop signal that arrives while a finished job
  // shuts down (MPI_Finalize can take a while) must not kill the rank by the default action and turn a committed
  // result into a failure (docs/design.md, "Exit status").
  // MPI_Finalize may never return after a failure (a lost peer, or one still waiting in a collective for this rank):
  // the launcher must have this rank's word first, with or without --enable-recovery.
  if (exit_code_ != 0) record_failure_if_no_word(exit_code_);
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  if (owns_mpi_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && MPI_Finalize() != MPI_SUCCESS) log().error("MPI_Finalize failed");
  }
  if (exit_code_ != 0) detail::make_launcher_see_failure(exit_code_);
}

void exit_together(int code, std::string_view message, std::chrono::milliseconds patience) {
  const auto env = read_launch_env_or_default();
  if (env.world_rank.value_or(0) == 0 && !message.empty()) {
    std::fwrite(message.data(), 1, message.size(), stderr);
    if (message.back() != '\n') std::fputc('\n', stderr);
  }
  if (env.world_rank.value_or(0) == 0) record_exit_status(code);
  std::fflush(stdout);
  std::fflush(stderr);
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (env.world_size.value_or(1) <= 1 || initialized) {
    detail::make_launcher_see_failure(code);
    std::exit(code);
  }

  // MPI_Init itself waits for every rank (Open MPI's modex), so the whole meeting runs on a helper
  // thread and this thread gives up after `patience`.
  auto meeting = std::make_shared<std::promise<bool>>();
  auto met_future = meeting->get_future();
  const auto deadline = std::chrono::steady_clock::now() + patience;
  std::thread([meeting, deadline] {
    bool met = false;
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS) {
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      MPI_Request request = MPI_REQUEST_NULL;
      if (MPI_Ibarrier(MPI_COMM_WORLD, &request) == MPI_SUCCESS) {
        int done = 0;
        while (!done && std::chrono::steady_clock::now() < deadline) {
          if (MPI_Test(&request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) break;
          if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        met = done != 0;
      }
      if (met) MPI_Finalize();
    }
    meeting->set_value(met);
  }).detach();
  if (met_future.wait_until(deadline + std::chrono::seconds(2)) == std::future_status::ready && met_future.get()) {
    detail::make_launcher_see_failure(code);
    std::exit(code);
  }
  detail::make_launcher_see_failure(code);
  std::_Exit(code);  // a peer never came: MPI_Finalize could wait for it forever
}

}  // namespace partita
