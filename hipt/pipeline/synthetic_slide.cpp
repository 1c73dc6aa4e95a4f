#include "hipt/pipeline/synthetic_slide.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "io/tiff_writer.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

namespace hipt {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Every random number is a hash of (seed, stream, index...): the image never depends on the order
// pixels are made in, so it does not depend on the thread count either.
uint64_t mix(uint64_t z) {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
uint64_t hash(uint64_t seed, uint64_t stream, int64_t a, int64_t b = 0) {
  uint64_t h = mix(seed + 0x9e3779b97f4a7c15ULL * (stream + 1));
  h = mix(h ^ static_cast<uint64_t>(a));
  return mix(h ^ (static_cast<uint64_t>(b) * 0xd6e8feb86659fd93ULL));
}
double unit(uint64_t h) { return static_cast<double>(h >> 11) * 0x1p-53; }  // [0, 1)

enum Stream : uint64_t { kBorder, kWarp, kStain, kClusters, kNuclei, kScatter, kPixel, kFibre };

// Value noise in [-1, 1]: random values on the integer lattice, smoothstep-interpolated.
double value_noise(uint64_t seed, uint64_t stream, double x, double y) {
  const double fx = std::floor(x), fy = std::floor(y);
  const int64_t ix = static_cast<int64_t>(fx), iy = static_cast<int64_t>(fy);
  double tx = x - fx, ty = y - fy;
  tx = tx * tx * (3 - 2 * tx), ty = ty * ty * (3 - 2 * ty);
  auto v = [&](int64_t i, int64_t j) { return 2 * unit(hash(seed, stream, i, j)) - 1; };
  const double top = v(ix, iy) + tx * (v(ix + 1, iy) - v(ix, iy));
  const double bottom = v(ix, iy + 1) + tx * (v(ix + 1, iy + 1) - v(ix, iy + 1));
  return top + ty * (bottom - top);
}

// A smooth field sampled every kStep pixels and read back bilinearly: the noise behind borders,
// fibre waves and stain strength varies over hundreds of pixels, so per-pixel noise would waste time.
class CoarseField {
 public:
  static constexpr int64_t kStep = 16;
  template <class F>
  CoarseField(int64_t width, int64_t height, F f) : w_(width / kStep + 2), h_(height / kStep + 2), v_(w_ * h_) {
    parallel_for(0, h_, 8, [&](int64_t lo, int64_t hi) {
      for (int64_t j = lo; j < hi; ++j)
        for (int64_t i = 0; i < w_; ++i) v_[j * w_ + i] = static_cast<float>(f(double(i * kStep), double(j * kStep)));
    });
  }
  float at(double x, double y) const {
    const double gx = std::clamp(x / kStep, 0.0, double(w_ - 1.001)), gy = std::clamp(y / kStep, 0.0, double(h_ - 1.001));
    const int64_t i = static_cast<int64_t>(gx), j = static_cast<int64_t>(gy);
    const float tx = static_cast<float>(gx - i), ty = static_cast<float>(gy - j);
    const float* p = &v_[j * w_ + i];
    const float top = p[0] + tx * (p[1] - p[0]), bottom = p[w_] + tx * (p[w_ + 1] - p[w_]);
    return top + ty * (bottom - top);
  }

 private:
  int64_t w_, h_;
  std::vector<float> v_;
};

struct Ellipse {
  double cx, cy, rx, ry;
};

struct Nucleus {
  double cx, cy, a, b, cos_t, sin_t, darkness;
};

struct Rgb {
  float r, g, b;
};
constexpr Rgb kStromaLight{243, 198, 224}, kStromaFibre{205, 110, 166};
constexpr Rgb kNucleusCore{78, 46, 130}, kNucleusRim{132, 88, 172};
constexpr float kGlass = 244, kLumen = 243;

// Where the tissue is. Levels are in units of the shape's radius: > 0 inside, 0 on the border.
class Layout {
 public:
  // The borders do not depend on the seed, so every seed gives the same regions.
  Layout(int64_t w, int64_t h)
      : border_(w, h, [&](double x, double y) {
          return 0.7 * value_noise(0, kBorder, x / 1400, y / 1400) + 0.3 * value_noise(0, kBorder, x / 450 + 7.5, y / 450);
        }) {
    const double W = double(w), H = double(h);
    main_ = {0.5 * W, 0.52 * H, 0.44 * W, 0.26 * H};
    fragment_ = {0.08 * W, 0.12 * H, 0.021 * W, 0.042 * H};
    // Lumen holes at fixed places of the main piece (u, v in its radii), sizes in fractions of W.
    const double holes[][4] = {{-0.62, -0.25, 0.024, 0.016}, {-0.22, 0.38, 0.031, 0.019}, {0.12, -0.33, 0.017, 0.012},
                               {0.43, 0.22, 0.026, 0.021},   {0.74, -0.08, 0.012, 0.010}};
    for (const auto& q : holes)
      holes_.push_back({main_.cx + q[0] * main_.rx, main_.cy + q[1] * main_.ry + bend(q[0]), q[2] * W, q[3] * W});
  }

  // The main piece is a squircle (|u|^4 + |v|^4 = 1) bent into a slight banana; the fragment an ellipse.
  double tissue_level(double x, double y) const {
    const double n = 0.07 * border_.at(x, y);
    const double u = (x - main_.cx) / main_.rx, v = (y - main_.cy - bend(u)) / main_.ry;
    const double main_level = 1 + n - std::sqrt(std::sqrt(u * u * u * u + v * v * v * v));
    const double fu = (x - fragment_.cx) / fragment_.rx, fv = (y - fragment_.cy) / fragment_.ry;
    const double fragment_level = 1 + 2 * n - std::sqrt(fu * fu + fv * fv);
    return std::max(main_level, fragment_level);
  }
  // > 0 inside a lumen hole.
  double hole_level(double x, double y) const {
    double best = -1;
    for (const Ellipse& e : holes_) {
      const double u = (x - e.cx) / e.rx, v = (y - e.cy) / e.ry;
      if (std::abs(u) < 1.3 && std::abs(v) < 1.3) best = std::max(best, 1 + 0.1 * border_.at(x, y) - std::sqrt(u * u + v * v));
    }
    return best;
  }
  bool is_tissue(double x, double y) const { return tissue_level(x, y) > 0 && hole_level(x, y) <= 0; }
  const Ellipse& main_piece() const { return main_; }

 private:
  double bend(double u) const { return 0.12 * main_.ry * (u * u - 1.0 / 3); }
  CoarseField border_;
  Ellipse main_{}, fragment_{};
  std::vector<Ellipse> holes_;
};

// Nuclei: most in clusters (Gaussian around a centre), the rest scattered; only centres on tissue.
std::vector<Nucleus> place_nuclei(const Layout& layout, uint64_t seed) {
  const Ellipse& m = layout.main_piece();
  const double area = 3.7 * m.rx * m.ry;  // about the main piece's
  std::vector<Nucleus> out;
  int64_t draw = 0;  // index into the kNuclei stream
  auto u = [&] { return unit(hash(seed, kNuclei, draw++)); };
  auto add = [&](double x, double y) {
    if (!layout.is_tissue(x, y)) return;
    const double a = 4.5 + 6.5 * u() * u(), b = a * (0.55 + 0.4 * u()), t = kPi * u();
    out.push_back({x, y, a, b, std::cos(t), std::sin(t), 0.8 + 0.3 * u()});
  };
  auto in_bbox = [&](double s, double t) { return std::pair{m.cx + (2 * s - 1) * 1.1 * m.rx, m.cy + (2 * t - 1) * 1.3 * m.ry}; };
  const int64_t clusters = static_cast<int64_t>(area / 110000);
  for (int64_t c = 0; c < clusters; ++c) {
    auto [cx, cy] = in_bbox(unit(hash(seed, kClusters, c, 0)), unit(hash(seed, kClusters, c, 1)));
    const int64_t count = 30 + static_cast<int64_t>(130 * unit(hash(seed, kClusters, c, 2)));
    const double sigma = 40 + 140 * unit(hash(seed, kClusters, c, 3));
    for (int64_t k = 0; k < count; ++k) {  // Box-Muller
      const double r = sigma * std::sqrt(-2 * std::log(1 - u())), phi = 2 * kPi * u();
      add(cx + r * std::cos(phi), cy + r * std::sin(phi));
    }
  }
  const int64_t scattered = static_cast<int64_t>(area / 2000);
  for (int64_t k = 0; k < scattered; ++k) {
    auto [x, y] = in_bbox(unit(hash(seed, kScatter, k, 0)), unit(hash(seed, kScatter, k, 1)));
    add(x, y);
  }
  return out;
}

uint8_t to_u8(float v) { return static_cast<uint8_t>(std::clamp(v + 0.5f, 0.0f, 255.0f)); }

}  // namespace

Tensor synthetic_slide(const SyntheticSlideOptions& o) {
  // Divided, not multiplied: width·height of two huge sides overflows int64 before the comparison.
  HIPT_CHECK(o.width >= 256 && o.height >= 256 && o.width <= (int64_t{1} << 31) / o.height,
             "synthetic slide: size {}x{} must be at least 256x256 and at most 2^31 pixels", o.width, o.height);
  const int64_t W = o.width, H = o.height;
  const uint64_t seed = o.seed;
  const Layout layout(W, H);
  // Fibres: stripes across a warped coordinate, so they run roughly parallel and bend slowly.
  const CoarseField warp(W, H, [&](double x, double y) {
    return 520 * value_noise(seed, kWarp, x / 1700, y / 1700) + 70 * value_noise(seed, kWarp, x / 380 + 3.3, y / 380);
  });
  const CoarseField stain(W, H, [&](double x, double y) { return 0.82 + 0.18 * value_noise(seed, kStain, x / 2600, y / 2600); });
  // Where fibres show: they break into bundles of a few hundred pixels instead of running forever.
  const CoarseField bundles(W, H, [&](double x, double y) {
    return std::clamp(0.45 + 1.1 * value_noise(seed, kFibre, x / 90, y / 90), 0.0, 1.0);
  });
  const double fibre_angle = kPi * (0.15 + 0.2 * unit(hash(seed, kFibre, 0)));
  const double fc = std::cos(fibre_angle), fs = std::sin(fibre_angle);

  Tensor img = ops::empty({H, W, 3}, DType::U8);
  uint8_t* px = img.data<uint8_t>();
  parallel_for(0, H, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t y = lo; y < hi; ++y) {
      uint8_t* row = px + y * W * 3;
      for (int64_t x = 0; x < W; ++x) {
        const uint64_t h = hash(seed, kPixel, x, y);
        const float grey = float(h & 3) - 1.5f;  // shared by the channels: the glass stays unsaturated
        const float jitter[3] = {float((h >> 8) & 1), float((h >> 9) & 1), float((h >> 10) & 1)};
        const double t = layout.tissue_level(double(x), double(y));
        const double hole = t > -0.05 ? layout.hole_level(double(x), double(y)) : -1;
        Rgb c{kGlass, kGlass, kGlass};
        if (t > 0) {
          const double wv = double(x) * fc + double(y) * fs + double(warp.at(double(x), double(y)));
          // Two families of stripes (13 and 7 px apart), shown where the bundle field says.
          const float s1 = static_cast<float>(0.5 + 0.5 * std::sin(2 * kPi * wv / 13.0));
          const float s2 = static_cast<float>(0.5 + 0.5 * std::sin(2 * kPi * (0.8 * wv + 0.3 * double(y)) / 7.1));
          const float b = bundles.at(double(x), double(y));
          const float fibre = b * s1 * s1 + (1 - b) * 0.45f * s2 * s2 * s2;
          const float grain = float((h >> 16) & 63) / 63.0f;  // per-pixel texture
          const float m = std::clamp(stain.at(double(x), double(y)) * (0.75f * fibre + 0.25f * grain), 0.0f, 1.0f);
          c = {kStromaLight.r + m * (kStromaFibre.r - kStromaLight.r), kStromaLight.g + m * (kStromaFibre.g - kStromaLight.g),
               kStromaLight.b + m * (kStromaFibre.b - kStromaLight.b)};
          // Thin tissue at the border (~40 px) and around lumens fades into the background.
          float e = std::clamp(static_cast<float>(t / 0.025), 0.0f, 1.0f);
          if (hole > -0.3) e = std::min(e, std::clamp(static_cast<float>(-hole / 0.15), 0.0f, 1.0f));
          const float bg = hole > 0 ? kLumen : kGlass;
          c = {bg + e * (c.r - bg), bg + e * (c.g - bg), bg + e * (c.b - bg)};
        }
        row[3 * x + 0] = to_u8(c.r + grey + jitter[0]);
        row[3 * x + 1] = to_u8(c.g + grey + jitter[1]);
        row[3 * x + 2] = to_u8(c.b + grey + jitter[2]);
      }
    }
  });

  // Nuclei, drawn band by band (each band only writes its own rows, so bands run in parallel).
  const std::vector<Nucleus> nuclei = place_nuclei(layout, seed);
  constexpr int64_t kBand = 64;
  const int64_t bands = (H + kBand - 1) / kBand;
  std::vector<std::vector<int64_t>> in_band(static_cast<size_t>(bands));
  for (size_t i = 0; i < nuclei.size(); ++i) {
    const Nucleus& n = nuclei[i];
    const int64_t y0 = std::max<int64_t>(0, int64_t(n.cy - n.a) - 1), y1 = std::min<int64_t>(H - 1, int64_t(n.cy + n.a) + 1);
    for (int64_t b = y0 / kBand; b <= y1 / kBand; ++b) in_band[size_t(b)].push_back(int64_t(i));
  }
  parallel_for(0, bands, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t b = lo; b < hi; ++b)
      for (int64_t i : in_band[size_t(b)]) {
        const Nucleus& n = nuclei[size_t(i)];
        const int64_t y0 = std::max({b * kBand, int64_t(0), int64_t(n.cy - n.a) - 1});
        const int64_t y1 = std::min({(b + 1) * kBand - 1, H - 1, int64_t(n.cy + n.a) + 1});
        const int64_t x0 = std::max<int64_t>(0, int64_t(n.cx - n.a) - 1), x1 = std::min<int64_t>(W - 1, int64_t(n.cx + n.a) + 1);
        for (int64_t y = y0; y <= y1; ++y)
          for (int64_t x = x0; x <= x1; ++x) {
            const double dx = double(x) - n.cx, dy = double(y) - n.cy;
            const double p = (dx * n.cos_t + dy * n.sin_t) / n.a, q = (-dx * n.sin_t + dy * n.cos_t) / n.b;
            const double d2 = p * p + q * q;
            if (d2 >= 1 || !layout.is_tissue(double(x), double(y))) continue;
            // Darker core, lighter rim, speckled chromatin; the edge is anti-aliased over ~1 px.
            const float core = static_cast<float>((1 - d2) * n.darkness);
            const float speckle = float(hash(seed, kNuclei, x, y) & 31) - 15.5f;
            const float alpha = std::clamp(static_cast<float>((1 - std::sqrt(d2)) * n.b), 0.0f, 1.0f);
            const float nuc[3] = {kNucleusRim.r + core * (kNucleusCore.r - kNucleusRim.r) + speckle,
                                  kNucleusRim.g + core * (kNucleusCore.g - kNucleusRim.g) + speckle,
                                  kNucleusRim.b + core * (kNucleusCore.b - kNucleusRim.b) + speckle};
            uint8_t* q8 = px + (y * W + x) * 3;
            for (int k = 0; k < 3; ++k) q8[k] = to_u8(float(q8[k]) + alpha * (nuc[k] - float(q8[k])));
          }
      }
  });
  return img;
}

Tensor write_synthetic_slide(const std::string& path, const SyntheticSlideOptions& opts) {
  io::TiffWriteOptions w;
  w.tile_size = 256;
  w.jpeg_quality = opts.jpeg_quality;
  w.aperio = true;
  w.objective_power = 20;
  w.mpp = 0.5;
  Tensor img = synthetic_slide(opts);
  io::write_tiff_pyramid(path, img, w);
  return img;
}

}  // namespace hipt
