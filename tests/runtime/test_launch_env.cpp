// Unit tests of the launch environment: the Slurm node-list parser, read_launch_env over fake
// environments, and launcher_rank_hint.
#include <partita/runtime/launch_env.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <partita/runtime/error.hpp>

namespace {

using partita::expand_nodelist;
using strings = std::vector<std::string>;

// A fake environment: only the variables in the map are set.
partita::env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The usage_error message of expand_nodelist(input), or "" if it did not throw usage_error.
std::string nodelist_error(std::string_view input) {
  try {
    (void)expand_nodelist(input);
  } catch (const partita::usage_error& e) {
    return e.what();
  }
  return "";
}

// ---- expand_nodelist ---------------------------------------------------------------------------

TEST(Runtime_Nodelist, PlainNames) {
  EXPECT_EQ(expand_nodelist("node1"), strings{"node1"});
  EXPECT_EQ(expand_nodelist("alpha,beta,gamma"), (strings{"alpha", "beta", "gamma"}));
}

TEST(Runtime_Nodelist, Range) {
  EXPECT_EQ(expand_nodelist("n[1-3]"), (strings{"n1", "n2", "n3"}));
  EXPECT_EQ(expand_nodelist("n[5]"), strings{"n5"});
  EXPECT_EQ(expand_nodelist("n[8-11]"), (strings{"n8", "n9", "n10", "n11"}));
}

TEST(Runtime_Nodelist, ZeroPaddingIsKept) {
  EXPECT_EQ(expand_nodelist("n[01-04,07]"), (strings{"n01", "n02", "n03", "n04", "n07"}));
  EXPECT_EQ(expand_nodelist("cn[008-011]"), (strings{"cn008", "cn009", "cn010", "cn011"}));
}

TEST(Runtime_Nodelist, SeveralGroups) {
  EXPECT_EQ(expand_nodelist("a[1-2],b[08-10],c"), (strings{"a1", "a2", "b08", "b09", "b10", "c"}));
  EXPECT_EQ(expand_nodelist("c,a[3,1]"), (strings{"c", "a3", "a1"}));
}

TEST(Runtime_Nodelist, Suffix) {
  EXPECT_EQ(expand_nodelist("n[1-2]-ib"), (strings{"n1-ib", "n2-ib"}));
  EXPECT_EQ(expand_nodelist("rack1-n[09-10].cluster,login"),
            (strings{"rack1-n09.cluster", "rack1-n10.cluster", "login"}));
}

TEST(Runtime_Nodelist, MalformedInputIsUsageErrorNamingTheInput) {
  for (std::string bad : {"n[01-", "n]", "n[3-1]", "n[a-b]", ",", "", "n[1[2]]", "n[1-2][3]", "n[]", "n[1-]", "n[1,,2]",
                          "n1,", "n1,,n2", "[1-2]", "n[1-2-3]"}) {
    SCOPED_TRACE("input: '" + bad + "'");
    const std::string msg = nodelist_error(bad);
    ASSERT_FALSE(msg.empty()) << "no usage_error for '" << bad << "'";
    EXPECT_NE(msg.find("'" + bad + "'"), std::string::npos) << msg;
  }
}

TEST(Runtime_Nodelist, HugeNumbersAreUsageErrorsNotCrashesOrHangs) {
  // Numbers beyond unsigned long, and a range ending at the largest value (which must not wrap around).
  for (std::string bad : {"n[99999999999999999999999]", "n[18446744073709551615]",
                          "n[18446744073709551614-18446744073709551615]", "n[0-99999999]"}) {
    SCOPED_TRACE("input: '" + bad + "'");
    const std::string msg = nodelist_error(bad);
    ASSERT_FALSE(msg.empty());
    EXPECT_NE(msg.find(bad), std::string::npos) << msg;
  }
}

// ---- read_launch_env ---------------------------------------------------------------------------

TEST(Runtime_LaunchEnv, SlurmVariables) {
  const auto now = std::chrono::system_clock::now();
  const auto end = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() + 3600;
  auto env = partita::read_launch_env(fake_env({{"SLURM_JOB_ID", "123456"},
                                                {"SLURM_JOB_NODELIST", "n[01-02],gpu7"},
                                                {"SLURM_CPUS_PER_TASK", "8"},
                                                {"SLURM_JOB_END_TIME", std::to_string(end)},
                                                {"SLURM_RESTART_COUNT", "2"},
                                                {"SLURM_PROCID", "5"},
                                                {"SLURM_NTASKS", "12"},
                                                {"SLURM_LOCALID", "1"}}));
  EXPECT_EQ(env.kind, partita::launcher::slurm);
  EXPECT_EQ(env.job_id, "123456");
  EXPECT_EQ(env.nodes, (strings{"n01", "n02", "gpu7"}));
  EXPECT_EQ(env.cpus_per_task, 8);
  EXPECT_EQ(env.cpus_per_rank, 8);
  EXPECT_EQ(env.restart_count, 2);
  EXPECT_EQ(env.world_rank, 5);
  EXPECT_EQ(env.world_size, 12);
  EXPECT_EQ(env.local_rank, 1);
  ASSERT_TRUE(env.job_end_time.has_value());
  auto left = env.seconds_left(now);
  ASSERT_TRUE(left.has_value());
  EXPECT_NEAR(*left, 3600.0, 1.5);
  // Later, less is left; after the end it is negative.
  EXPECT_NEAR(*env.seconds_left(now + std::chrono::seconds(600)), 3000.0, 1.5);
  EXPECT_LT(*env.seconds_left(now + std::chrono::hours(2)), 0.0);
}

TEST(Runtime_LaunchEnv, SlurmNodelistFallsBackToOldName) {
  auto env = partita::read_launch_env(fake_env({{"SLURM_JOB_ID", "1"}, {"SLURM_NODELIST", "x[1-2]"}}));
  EXPECT_EQ(env.nodes, (strings{"x1", "x2"}));
  // The newer name wins when both are set.
  env = partita::read_launch_env(
      fake_env({{"SLURM_JOB_ID", "1"}, {"SLURM_JOB_NODELIST", "y3"}, {"SLURM_NODELIST", "x[1-2]"}}));
  EXPECT_EQ(env.nodes, strings{"y3"});
}

TEST(Runtime_LaunchEnv, EndTimeAfter2038) {
  // 2100-01-01T00:00:00Z does not fit a 32-bit int; Slurm jobs must still start then.
  auto env = partita::read_launch_env(fake_env({{"SLURM_JOB_ID", "1"}, {"SLURM_JOB_END_TIME", "4102444800"}}));
  ASSERT_TRUE(env.job_end_time.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(env.job_end_time->time_since_epoch()).count(),
            4102444800LL);
}

TEST(Runtime_LaunchEnv, OpenMpiOnly) {
  auto env = partita::read_launch_env(
      fake_env({{"OMPI_COMM_WORLD_SIZE", "4"}, {"OMPI_COMM_WORLD_RANK", "3"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}}));
  EXPECT_EQ(env.kind, partita::launcher::open_mpi);
  EXPECT_FALSE(env.job_id.has_value());
  EXPECT_TRUE(env.nodes.empty());
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.world_rank, 3);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_FALSE(env.cpus_per_task.has_value());
  EXPECT_FALSE(env.job_end_time.has_value());
  EXPECT_FALSE(env.seconds_left().has_value());
  EXPECT_EQ(env.cpus_per_rank, partita::affinity_cpu_count());
}

TEST(Runtime_LaunchEnv, OpenMpiRankWinsOverSlurmProcid) {
  auto env = partita::read_launch_env(fake_env({{"SLURM_JOB_ID", "9"},
                                                {"SLURM_PROCID", "0"},
                                                {"SLURM_NTASKS", "2"},
                                                {"OMPI_COMM_WORLD_RANK", "1"},
                                                {"OMPI_COMM_WORLD_SIZE", "2"}}));
  EXPECT_EQ(env.kind, partita::launcher::slurm);
  EXPECT_EQ(env.world_rank, 1);
  EXPECT_EQ(env.world_size, 2);
}

TEST(Runtime_LaunchEnv, NothingSetUsesAffinity) {
  auto env = partita::read_launch_env(fake_env({}));
  EXPECT_EQ(env.kind, partita::launcher::none);
  EXPECT_FALSE(env.job_id.has_value());
  EXPECT_TRUE(env.nodes.empty());
  EXPECT_FALSE(env.world_rank.has_value());
  EXPECT_FALSE(env.world_size.has_value());
  EXPECT_FALSE(env.restart_count.has_value());
  const int cpus = partita::affinity_cpu_count();
  EXPECT_GE(cpus, 1);
  EXPECT_EQ(env.cpus_per_rank, cpus);
}

TEST(Runtime_LaunchEnv, BadNumberIsUsageErrorNamingTheVariable) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"SLURM_CPUS_PER_TASK", "four"},    {"SLURM_CPUS_PER_TASK", "0"},  {"SLURM_CPUS_PER_TASK", "-2"},
      {"SLURM_JOB_END_TIME", "tomorrow"}, {"SLURM_RESTART_COUNT", "x1"}, {"SLURM_NTASKS", "99999999999999"},
      {"OMPI_COMM_WORLD_RANK", "rank0"},  {"SLURM_PROCID", "-"},
  };
  for (const auto& [name, value] : cases) {
    SCOPED_TRACE(name + "=" + value);
    try {
      (void)partita::read_launch_env(fake_env({{"SLURM_JOB_ID", "1"}, {name, value}}));
      ADD_FAILURE() << "no usage_error";
    } catch (const partita::usage_error& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

TEST(Runtime_LaunchEnv, BadNodelistIsUsageError) {
  EXPECT_THROW((void)partita::read_launch_env(fake_env({{"SLURM_JOB_ID", "1"}, {"SLURM_JOB_NODELIST", "n[1-"}})),
               partita::usage_error);
}

// ---- launcher_rank_hint ------------------------------------------------------------------------

TEST(Runtime_LaunchEnv, RankHint) {
  EXPECT_EQ(partita::launcher_rank_hint(fake_env({})), 0);
  EXPECT_EQ(partita::launcher_rank_hint(fake_env({{"SLURM_PROCID", "7"}})), 7);
  EXPECT_EQ(partita::launcher_rank_hint(fake_env({{"PMI_RANK", "4"}, {"SLURM_PROCID", "7"}})), 4);
  EXPECT_EQ(partita::launcher_rank_hint(fake_env({{"PMIX_RANK", "2"}, {"PMI_RANK", "4"}})), 2);
  EXPECT_EQ(partita::launcher_rank_hint(fake_env({{"OMPI_COMM_WORLD_RANK", "3"}, {"PMIX_RANK", "2"}})), 3);
  // Garbage is skipped (this runs before MPI and must never throw), the next variable is used.
  EXPECT_EQ(partita::launcher_rank_hint(fake_env({{"OMPI_COMM_WORLD_RANK", "x"}, {"SLURM_PROCID", "6"}})), 6);
  EXPECT_EQ(partita::launcher_rank_hint(fake_env({{"OMPI_COMM_WORLD_RANK", ""}})), 0);
}

}  // namespace
