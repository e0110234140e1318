#include <partita/scheduler/detail/metrics_server.hpp>

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <mutex>
#include <thread>

#include <partita/runtime/log.hpp>

namespace partita::detail {

struct metrics_server::impl {
  httplib::Server http;
  std::thread thread;
  std::mutex mutex;
  std::string text;
  int port = 0;
};

std::unique_ptr<metrics_server> metrics_server::start(const std::string& address, int port, std::string& problem) {
  auto i = std::make_unique<impl>();
  // One worker thread: a scrape every few seconds needs no pool (the library's default is one per core).
  i->http.new_task_queue = [] { return new httplib::ThreadPool(1); };
  // The library's default also sets SO_REUSEPORT, with which a second job on the same port would silently share it
  // (and answer half the scrapes): SO_REUSEADDR only, so a taken port is an error.
  i->http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  auto* self = i.get();
  const auto serve = [self](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(self->mutex);
    res.set_content(self->text, "text/plain; version=0.0.4; charset=utf-8");
  };
  i->http.Get("/metrics", serve);
  i->http.Get("/", serve);
  i->port = port == 0 ? i->http.bind_to_any_port(address) : (i->http.bind_to_port(address, port) ? port : -1);
  if (i->port <= 0) {
    problem = "cannot listen on " + address + ":" + std::to_string(port) + " (in use, or not an address of this host)";
    return nullptr;
  }
  i->thread = std::thread([self] { self->http.listen_after_bind(); });
  return std::unique_ptr<metrics_server>(new metrics_server(std::move(i)));
}

metrics_server::metrics_server(std::unique_ptr<impl> i) : impl_(std::move(i)) {}

metrics_server::~metrics_server() {
  try {
    // stop() does nothing before the listener runs: wait (briefly) until it does, or has ended.
    for (int k = 0; k < 200 && !impl_->http.is_running(); ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    impl_->http.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
  } catch (const std::exception& e) {
    log().warn("metrics: stopping the HTTP server: {}", e.what());
  }
}

void metrics_server::set(std::string text) {
  std::lock_guard lock(impl_->mutex);
  impl_->text = std::move(text);
}

int metrics_server::port() const noexcept { return impl_->port; }

}  // namespace partita::detail
