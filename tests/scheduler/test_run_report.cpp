// Scheduler_RunReport: the summary text and JSON of both job models, as `partita run` prints them and
// --summary-json writes them (tools/chaos and the Python scripts parse them: their words and keys must not change).
#include <gtest/gtest.h>

#include <string>

#include <partita/scheduler/run_report.hpp>

namespace {

using namespace partita;

/// A report with every figure set, of the given model; checkpointed and stopped, with a failover and a rollback.
run_report filled(model_kind model) {
  run_report r;
  r.job = "j";
  r.model = model;
  r.policy = "adaptive";
  r.status = run_status::checkpointed;
  r.is_scheduler = true;
  r.scheduler = rank_t{1};
  r.ranks = 3;
  r.partitions = 40;
  r.partitions_run = 30;
  r.wall_seconds = 2.5;
  r.imbalance = 1.25;
  r.dispatches = 17;
  r.chunks = 9;
  r.framework_cpu_seconds = 0.125;
  worker_summary w;
  w.rank = 0, w.host = "h0", w.threads = 2, w.busy_seconds = 1.5, w.idle_seconds = 0.5, w.partitions = 7;
  w.chunks = 3, w.messages = 4, w.copies = 1, w.copies_won = 1, w.taken_back = 2, w.framework_cpu_seconds = 0.01,
  w.lost = true;
  w.executed = 8;
  worker_summary w2 = w;
  w2.rank = 1, w2.host = "h1", w2.partitions = 9, w2.busy_seconds = 0.75, w2.lost = false;
  r.workers = {w, w2};
  r.result_text = "forty-two";
  r.checkpoints = 2, r.checkpoint_seconds = 0.25, r.checkpoint_bytes = 1000, r.restored_from = "ck/j.3.h5";
  r.restored_done = 12;
  r.stop_reason = "SIGUSR1";
  auto& mr = r.map_reduce;
  mr.restored_costs = 5, mr.speculation = true, mr.speculation_factor = 3, mr.speculative_copies = 1;
  mr.speculative_won = 1, mr.scheduler_levels = 2, mr.scheduler_messages = 99, mr.scheduler_busy_seconds = 0.5;
  mr.take_backs = 1, mr.taken_back = 3;  // the workers' rows count 4: one more inside a node
  failover_summary f;
  f.lost_scheduler = 0, f.new_scheduler = 1, f.term = 2, f.dropped = 3, f.lost_ranks = {0};
  mr.failovers = {f};
  auto& it = r.iterative;
  rollback_summary b;
  b.lost_ranks = {2}, b.ranks_before = 3, b.ranks_after = 2, b.lost_at_step = 7, b.from_step = 5, b.checkpoint = "x";
  it.rollbacks = {b};
  if (model == model_kind::iterative) {
    it.steps = 100, it.steps_run = 60, it.reduction_names = {"heat", "change"}, it.reduction_values = {1.5, 0.25};
    it.migrations = 1, it.steps_overlapped = 3, it.rebalances = 2, it.imbalance_start = 1.5, it.imbalance_end = 1.0625;
    it.state_digest = "abc";
  }
  return r;
}

TEST(Scheduler_RunReport, MapReduceTextIsTheSummaryPartitaRunPrints) {
  EXPECT_EQ(
      filled(model_kind::map_reduce).to_text(),
      R"(job j checkpointed and stopped in 2.500 s: 40 partitions (30 run now) on 3 ranks, policy adaptive, scheduler rank 1
result: forty-two
dispatches: 17 messages, 9 chunks; imbalance (max/mean busy per thread): 1.250
Partita's own threads: 0.125 CPU s on all ranks (5.56% of the kernels' 2.250 s)
speculation: 1 copy of straggling partitions, 1 won (after 3x the expected time)
take-back: 3 partitions moved from busy ranks to idle ones in 1 take-back
take-back inside nodes: 1 partition moved between ranks of a node by its node scheduler
  rank                 host threads  partitions      busy s      idle s   chunks
     0                   h0       2           7       1.500       0.500        3  LOST
     1                   h1       2           9       0.750       0.500        3
checkpoints: 2 written, 0.250 s (10.00% of wall time), 1000 bytes; restored from: ck/j.3.h5
failover: scheduler rank 0 lost (noticed at 0.000 s); rank 1 took over (term 2) and went on at 0.000 s from no checkpoint (0 partitions) + 0 results held by workers + 0 running there; 0 left, 0 of them run again (3 dropped by --failover-memory)
stopped: SIGUSR1; relaunch with --restart auto to continue
)");
}

TEST(Scheduler_RunReport, IterativeTextShowsStepsPlacementAndRollbacks) {
  EXPECT_EQ(
      filled(model_kind::iterative).to_text(),
      R"(job j checkpointed and stopped in 2.500 s: 40 partitions, 100 steps (60 run now) on 3 ranks, coordinator rank 1
result: forty-two
placement: contiguous ranges by measured cost; imbalance (max/mean cost per rank) 1.500 at the start, 1.062 at the end; 2 rebalances, 1 migration; busy imbalance per thread 1.250; 3 partition steps run while halos were on their way
  rank                 host threads  partitions      busy s      idle s
     0                   h0       2           7       1.500       0.500
     1                   h1       2           9       0.750       0.500
checkpoints: 2 written, 0.250 s, 1000 bytes; restored from: ck/j.3.h5 (step 12)
rollback: rank(s) 2 lost after step 7 (noticed at 0.000 s); 2 of 3 ranks went on at 0.000 s from x (step 5), 2 step(s) run again
stopped: SIGUSR1; relaunch with --restart auto to continue
)");
}

TEST(Scheduler_RunReport, IterativeJsonHasTheIterativeKeysAndTheCommonOnes) {
  auto r = filled(model_kind::iterative);
  r.status = run_status::completed;
  r.stop_reason.clear();
  EXPECT_EQ(r.to_json(), R"({
  "checkpoints": {
    "bytes": 1000,
    "count": 2,
    "restored_costs": 5,
    "restored_done": 12,
    "restored_from": "ck/j.3.h5",
    "seconds": 0.25,
    "stop_reason": ""
  },
  "chunks": 9,
  "dispatches": 17,
  "failovers": [
    {
      "adopted_running": 0,
      "checkpoint": "",
      "dropped": 3,
      "from_checkpoint": 0,
      "from_workers": 0,
      "lost_ranks": [
        0
      ],
      "lost_scheduler": 0,
      "new_scheduler": 1,
      "noticed_at_seconds": 0.0,
      "rerun": 0,
      "resumed_at_seconds": 0.0,
      "term": 2,
      "to_run": 0
    }
  ],
  "framework_cpu_seconds": 0.125,
  "imbalance": 1.25,
  "imbalance_end": 1.0625,
  "imbalance_start": 1.5,
  "job": "j",
  "migrations": 1,
  "model": "iterative",
  "partitions": 40,
  "partitions_run": 30,
  "policy": "adaptive",
  "ranks": 3,
  "rebalances": 2,
  "reductions": {
    "change": 0.25,
    "heat": 1.5
  },
  "result": "forty-two",
  "rollbacks": [
    {
      "checkpoint": "x",
      "from_step": 5,
      "lost_at_step": 7,
      "lost_ranks": [
        2
      ],
      "noticed_at_seconds": 0.0,
      "ranks_after": 2,
      "ranks_before": 3,
      "resumed_at_seconds": 0.0
    }
  ],
  "scheduler": {
    "busy_seconds": 0.5,
    "levels": 2,
    "messages": 99
  },
  "scheduler_rank": 1,
  "speculation": {
    "copies": 1,
    "enabled": true,
    "factor": 3.0,
    "won": 1
  },
  "state_digest": "abc",
  "status": "completed",
  "steps": 100,
  "steps_overlapped": 3,
  "steps_run": 60,
  "summary_version": 1,
  "wall_seconds": 2.5,
  "workers": [
    {
      "busy_seconds": 1.5,
      "chunks": 3,
      "copies": 1,
      "copies_won": 1,
      "executed": 8,
      "framework_cpu_seconds": 0.01,
      "host": "h0",
      "idle_seconds": 0.5,
      "lost": true,
      "messages": 4,
      "partitions": 7,
      "rank": 0,
      "taken_back": 2,
      "threads": 2
    },
    {
      "busy_seconds": 0.75,
      "chunks": 3,
      "copies": 1,
      "copies_won": 1,
      "executed": 8,
      "framework_cpu_seconds": 0.01,
      "host": "h1",
      "idle_seconds": 0.5,
      "lost": false,
      "messages": 4,
      "partitions": 9,
      "rank": 1,
      "taken_back": 2,
      "threads": 2
    }
  ]
})");
}

TEST(Scheduler_RunReport, MapReduceJsonLeavesTheIterativeKeysOut) {
  const auto json = filled(model_kind::map_reduce).to_json();
  for (const char* key : {"\"model\"", "\"steps\"", "\"reductions\"", "\"rollbacks\"", "\"state_digest\""})
    EXPECT_EQ(json.find(key), std::string::npos) << key;
  for (const char* key : {"\"failovers\"", "\"speculation\"", "\"restored_costs\": 5", "\"levels\": 2"})
    EXPECT_NE(json.find(key), std::string::npos) << key;
}

TEST(Scheduler_RunReport, ModelNameIsWhatPartitaJobsShows) {
  EXPECT_STREQ(model_name(model_kind::map_reduce), "map_reduce");
  EXPECT_STREQ(model_name(model_kind::iterative), "iterative");
}

}  // namespace
