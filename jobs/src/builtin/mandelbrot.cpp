// Built-in job `mandelbrot`: escape-time image of the Mandelbrot set, a few rows per partition. Rows that
// cross the set cost max_iter per pixel, rows outside almost nothing: very uneven partitions.
#include <fmt/format.h>
#include <boost/serialization/vector.hpp>

#include <cmath>
#include <complex>
#include <fstream>

#include <partita/jobs/map_reduce_job.hpp>
#include <partita/jobs/registry.hpp>
#include <partita/runtime/error.hpp>

namespace partita::detail {

namespace {
struct image_rows {
  std::vector<std::uint8_t> pixels;
  std::uint64_t iterations = 0;
  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& pixels& iterations;
  }
};

struct frame {
  std::int64_t width, height, max_iter, rows;
  double xmin, xmax, ymin, ymax;
  explicit frame(const parameters& p)
      : width(p.get_int("width", 0)), height(p.get_int("height", 0)), max_iter(p.get_int("max_iter", 0)),
        rows(p.get_int("rows", 0)), xmin(p.get_double("xmin", -2.2)), xmax(p.get_double("xmax", 1.0)),
        ymin(p.get_double("ymin", -1.2)), ymax(p.get_double("ymax", 1.2)) {
    if (width < 1 || height < 1 || width * height > (1LL << 31))
      throw usage_error("mandelbrot: width and height must be positive and at most 2^31 pixels together");
    if (max_iter < 1) throw usage_error("mandelbrot: max_iter must be at least 1, e.g. --param max_iter=1000");
    if (rows < 1) throw usage_error("mandelbrot: rows (per partition) must be at least 1, e.g. --param rows=4");
    if (!(xmax > xmin) || !(ymax > ymin)) throw usage_error("mandelbrot: need xmin < xmax and ymin < ymax");
  }
  std::uint64_t partitions() const { return static_cast<std::uint64_t>((height + rows - 1) / rows); }
};

std::uint64_t fnv(const std::vector<std::uint8_t>& v) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (auto b : v) h = (h ^ b) * 0x100000001b3ull;
  return h;
}

/// Writes the image to --param output (a PGM), if one was given: mandelbrot's write_output.
void write_image(std::span<const std::byte> result, const parameters& p) {
  const auto path = p.get_string("output", "");
  if (path.empty()) return;
  const frame f(p);
  const auto img = deserialize<image_rows>(result);
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << f.width << ' ' << f.height << "\n255\n";
  out.write(reinterpret_cast<const char*>(img.pixels.data()), static_cast<std::streamsize>(img.pixels.size()));
  if (!out) throw error("cannot write the image " + path + "; check the folder exists and has space");
}

}  // namespace

void register_mandelbrot(job_registry& r) {
  registered_job job{
      "mandelbrot",
      "Mandelbrot set image, a few rows per partition (very uneven cost); can write a PGM",
      {{"width", "800", "image width in pixels"},
       {"height", "600", "image height in pixels"},
       {"max_iter", "2000", "iterations before a point counts as inside"},
       {"rows", "4", "image rows per partition"},
       {"xmin", "-2.2", "left edge"},
       {"xmax", "1.0", "right edge"},
       {"ymin", "-1.2", "bottom edge"},
       {"ymax", "1.2", "top edge"},
       {"output", "", "write the image to this .pgm file (scheduler rank)"}},
      map_reduce_factory{[](const parameters& p) {
                           const frame f(p);
                           return map_reduce_job<image_rows>("mandelbrot")
                               .params(p)
                               .partitions(f.partitions())
                               .kernel([f](const partition& part, context& ctx) {
                                 image_rows out;
                                 const auto y0 = static_cast<std::int64_t>(part.id.value) * f.rows;
                                 const auto y1 = std::min(f.height, y0 + f.rows);
                                 out.pixels.reserve(static_cast<std::size_t>((y1 - y0) * f.width));
                                 const double log_max = std::log(static_cast<double>(f.max_iter));
                                 for (auto y = y0; y < y1; ++y) {
                                   // A stopped job drops this result: the losing twin of a speculative copy must
                                   // not hold up the end of the job for the rest of a long partition.
                                   if (ctx.cancelled()) break;
                                   const double ci = f.ymax - (f.ymax - f.ymin) * (static_cast<double>(y) + 0.5) /
                                                                  static_cast<double>(f.height);
                                   for (std::int64_t x = 0; x < f.width; ++x) {
                                     const double cr = f.xmin + (f.xmax - f.xmin) * (static_cast<double>(x) + 0.5) /
                                                                    static_cast<double>(f.width);
                                     double zr = 0, zi = 0;
                                     std::int64_t it = 0;
                                     while (it < f.max_iter && zr * zr + zi * zi <= 4.0) {
                                       const double t = zr * zr - zi * zi + cr;
                                       zi = 2 * zr * zi + ci;
                                       zr = t;
                                       ++it;
                                     }
                                     out.iterations += static_cast<std::uint64_t>(it);
                                     out.pixels.push_back(
                                         it >= f.max_iter
                                             ? 0
                                             : static_cast<std::uint8_t>(255.0 * std::log(static_cast<double>(it) + 1) /
                                                                         log_max));
                                   }
                                 }
                                 return out;
                               })
                               .combine([](image_rows& a, image_rows&& b) {
                                 a.pixels.insert(a.pixels.end(), b.pixels.begin(), b.pixels.end());
                                 a.iterations += b.iterations;
                               })
                               .describe([f](const image_rows& img) {
                                 return fmt::format("{}x{} image, {} iterations, pixel checksum {:016x}", f.width,
                                                    img.pixels.size() / static_cast<std::size_t>(f.width),
                                                    img.iterations, fnv(img.pixels));
                               })
                               .model();
                         },
                         write_image}};
  r.add(std::move(job));
}

}  // namespace partita::detail
