#include "ckpt_test_util.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace partita::testing {

namespace fs = std::filesystem;

temp_dir::temp_dir(const std::string& tag) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/partita-" + tag + "-XXXXXX";
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed for " + templ);
  path_ = templ;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {
bytes pattern(std::uint64_t seed, std::size_t n) {
  std::mt19937_64 rng(seed);
  bytes out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xff);
  return out;
}
std::uint64_t seed_of(const std::string& job, std::uint64_t epoch, std::uint64_t salt) {
  return std::hash<std::string>{}(job) ^ (epoch * 0x9e3779b97f4a7c15ull) ^ (salt * 0xbf58476d1ce4e5b9ull);
}
}  // namespace

checkpoint_image make_image(const std::string& job, std::uint64_t epoch, std::uint64_t partitions,
                            std::size_t bytes_per_partition, int rank, int size) {
  checkpoint_image img;
  img.meta.job = job;
  img.meta.params_hash = 0x1234abcd5678ef00ull ^ std::hash<std::string>{}(job);
  img.meta.epoch = epoch_t{epoch};
  img.meta.step = step_t{epoch * 10};
  img.meta.rank_count = size;
  img.meta.model = "iterative";
  img.meta.partition_count = partitions;
  img.blobs["scheduler/accumulator"] = pattern(seed_of(job, epoch, 1), 100 + epoch);
  img.blobs["scheduler/empty"] = {};
  img.u64["scheduler/done_ranges"] = {0, epoch, epoch + 2, partitions};
  std::vector<double> cost(partitions);
  for (std::uint64_t i = 0; i < partitions; ++i)
    cost[i] = 0.5 + static_cast<double>(i) * 0.25 + static_cast<double>(epoch);
  img.f64["scheduler/cost"] = cost;
  for (std::uint64_t id = 0; id < partitions; ++id) {
    if (static_cast<int>(id % static_cast<std::uint64_t>(size)) != rank) continue;
    const std::size_t n = bytes_per_partition + static_cast<std::size_t>(id * 37 % 101);
    img.partitions.push_back({partition_id{id}, step_t{epoch * 10}, "state",
                              pattern(seed_of(job, epoch, 100 + id), n)});
    img.partitions.push_back({partition_id{id}, step_t{epoch * 10}, "result",
                              pattern(seed_of(job, epoch, 10000 + id), id % 3 == 0 ? 0 : 16)});
  }
  return img;
}

checkpoint_expectation expectation_for(const std::string& job) {
  return {job, 0x1234abcd5678ef00ull ^ std::hash<std::string>{}(job), "iterative"};
}

commit_result write_epoch(const fs::path& dir, const std::string& job, std::uint64_t epoch, int keep,
                          std::size_t bytes_per_partition) {
  return write_checkpoint(MPI_COMM_SELF, {dir, keep}, make_image(job, epoch, 6, bytes_per_partition));
}

std::uint64_t dataset_offset(const fs::path& file, const std::string& path) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) throw std::runtime_error("cannot open " + file.string());
  const hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
  if (d < 0) {
    H5Fclose(f);
    throw std::runtime_error("no dataset " + path);
  }
  const haddr_t off = H5Dget_offset(d);
  H5Dclose(d);
  H5Fclose(f);
  if (off == HADDR_UNDEF) throw std::runtime_error("dataset " + path + " has no contiguous offset");
  return off;
}

void flip_byte(const fs::path& file, std::uint64_t offset, unsigned char mask) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ static_cast<char>(mask));
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  if (!f) throw std::runtime_error("cannot flip a byte of " + file.string());
}

void copy_file(const fs::path& from, const fs::path& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

child_result run_child(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv(*e);
    const bool launcher = kv.starts_with("OMPI_") || kv.starts_with("PMIX_") || kv.starts_with("ORTE_") ||
                          kv.starts_with("OPAL_") || kv.starts_with("PMI_") || kv.starts_with("HYDRA_");
    const bool keep = kv.starts_with("OMPI_ALLOW_RUN_AS_ROOT") || kv.starts_with("OMPI_MCA_rmaps_base_oversubscribe");
    if (launcher && !keep) continue;
    bool overridden = false;
    for (const auto& x : extra_env)
      if (kv.substr(0, kv.find('=') + 1) == x.substr(0, x.find('=') + 1)) overridden = true;
    if (!overridden) env.push_back(kv);
  }
  for (const auto& x : extra_env) env.push_back(x);
  // Under the sanitizer build these tests check the helper's exit code. Open MPI unloads its plugins in
  // MPI_Finalize, so memory they keep shows up in LeakSanitizer with stacks of an unknown module that no
  // suppression can name (seen under heavy load), and LSan's exit code would replace the helper's. The
  // helper's leaks are not what these tests are about; the in-process tests keep the leak check.
  for (auto& kv : env)
    if (kv.starts_with("ASAN_OPTIONS=")) kv += ":detect_leaks=0";
  if (::geteuid() == 0) {
    env.push_back("OMPI_ALLOW_RUN_AS_ROOT=1");
    env.push_back("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1");
  }
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  char out_name[] = "/tmp/partita-child-out-XXXXXX";
  const int out_fd = ::mkstemp(out_name);
  if (out_fd < 0) throw std::runtime_error("mkstemp failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, cargv[0], &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  child_result r;
  if (rc != 0) {
    ::close(out_fd);
    ::unlink(out_name);
    throw std::runtime_error(std::string("posix_spawn ") + argv[0] + ": " + std::strerror(rc));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  ::close(out_fd);
  {
    std::ifstream in(out_name);
    std::stringstream ss;
    ss << in.rdbuf();
    r.output = ss.str();
  }
  ::unlink(out_name);
  r.exited = WIFEXITED(status);
  r.exit_code = r.exited ? WEXITSTATUS(status) : -1;
  r.signaled = WIFSIGNALED(status);
  r.signal = r.signaled ? WTERMSIG(status) : 0;
  return r;
}

std::uint64_t peak_rss_bytes() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_maxrss) * 1024;
}

}  // namespace partita::testing
