#pragma once
/// --metrics-port: the scheduler rank serves its live metrics over HTTP (GET /metrics) with cpp-httplib, Debian's
/// embedded HTTP library, so that a Prometheus server scrapes the job directly (docs/metrics.md).

#include <memory>
#include <string>

namespace partita::detail {

/// An HTTP server on its own thread (one listener, one worker: it answers a scrape every few seconds and sleeps
/// otherwise) that serves the last text it was given. Non-copyable, non-movable; the destructor stops it.
class metrics_server {
 public:
  /// Listens on `address`:`port` (port 0: any free port). Returns null and sets `problem` (one sentence) when it
  /// cannot bind.
  static std::unique_ptr<metrics_server> start(const std::string& address, int port, std::string& problem);
  ~metrics_server();
  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

  /// Serves `text` from now on. Thread-safe.
  void set(std::string text);
  /// The port it listens on.
  int port() const noexcept;

 private:
  struct impl;
  explicit metrics_server(std::unique_ptr<impl> i);
  std::unique_ptr<impl> impl_;
};

}  // namespace partita::detail
