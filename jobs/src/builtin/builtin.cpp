// The built-in jobs, registered in one place (explicitly: static registrars in a static library get dropped).
#include <partita/jobs/registry.hpp>

namespace partita {

namespace detail {
void register_pi(job_registry& r);
void register_mandelbrot(job_registry& r);
void register_wordcount(job_registry& r);
void register_synthetic(job_registry& r);
void register_heat(job_registry& r);
void register_pagerank(job_registry& r);
void register_h5stats(job_registry& r);
void register_h5filter(job_registry& r);
}  // namespace detail

void register_builtin_jobs(job_registry& r) {
  detail::register_pi(r);
  detail::register_mandelbrot(r);
  detail::register_wordcount(r);
  detail::register_synthetic(r);
  detail::register_heat(r);
  detail::register_pagerank(r);
  detail::register_h5stats(r);
  detail::register_h5filter(r);
}

}  // namespace partita
