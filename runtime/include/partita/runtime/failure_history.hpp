#pragma once
/// The job's failure history: a text file with one event per line, appended to by slurm/partita-launch.sh
/// (nodes Slurm reports broken, attempts that crashed) and by the scheduler (a worker rank lost in the job).
///
///     node17  2026-11-25T10:04:11Z  # Slurm job 42 attempt 2: node state DOWN
///     -       2026-11-25T11:30:02Z  # attempt 3 failed with exit code 137
///     node09                        # marked by hand: bad memory
///
/// First word: the host ("-" when the interrupt is not tied to a node). Second word, optional: when it
/// happened, UTC, ISO 8601 (`YYYY-MM-DDTHH:MM:SSZ`). After `#`: free text. Two uses: the election never
/// picks a host listed here (docs/design.md, "Election"), and `--checkpoint-interval auto` derives the mean time to
/// interrupt from the timed events (docs/design.md, "Checkpoints").

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace partita {

struct failure_event {
  std::string host;                                           ///< "-": not tied to a node
  std::optional<std::chrono::system_clock::time_point> when;  ///< absent on untimed (hand-written) lines
  std::string reason;                                         ///< the text after '#', trimmed
};

/// Every event in the file, in file order. A missing file is an empty history; blank lines and lines
/// that start with '#' are skipped; a second word that is not a time is taken as part of an untimed
/// event (hand-written lines stay valid). Throws error if the file exists but cannot be read.
std::vector<failure_event> read_failure_events(const std::filesystem::path& file);

/// The hosts to avoid: every host named in the history ("-" excluded).
std::set<std::string> suspect_hosts(const std::vector<failure_event>& events);
/// suspect_hosts of the file's events.
std::set<std::string> read_failure_history(const std::filesystem::path& file);

/// Appends one timed event (creating the file). Line breaks in `why` are flattened so the reason cannot
/// start a line of its own. Throws error if the file cannot be written.
void append_failure_history(const std::filesystem::path& file, const std::string& host, const std::string& why,
                            std::chrono::system_clock::time_point when = std::chrono::system_clock::now());

/// Interrupts among the timed events: events less than `window` after the previous counted one are the
/// same interrupt (one node failure that took several nodes with it is written as one line per node).
std::size_t count_interrupts(const std::vector<failure_event>& events,
                             std::chrono::seconds window = std::chrono::seconds(60));

/// `2026-11-25T10:04:11Z` <-> time point (UTC, whole seconds). parse returns nullopt for anything else.
std::string format_utc(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> parse_utc(std::string_view text);

}  // namespace partita
