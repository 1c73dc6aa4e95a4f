#include "io/raster.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>

#include "tensor/ops.h"

namespace hipt::io {

Tensor u8_image(const Tensor& t, const char* op, bool color) {
  HIPT_CHECK(t.defined() && t.dtype() == DType::U8, "{}: expected a u8 image, got {}", op,
             t.defined() ? t.str() : "an undefined tensor");
  if (color)
    HIPT_CHECK(t.dim() == 3 && (t.size(2) == 3 || t.size(2) == 4), "{}: expected u8 [H, W, 3|4], got {}", op, t.str());
  else
    HIPT_CHECK(t.dim() == 2, "{}: expected u8 [H, W], got {}", op, t.str());
  return ops::contiguous(t);
}

// ---------------------------------------------------------------- image operations

Tensor hsv_saturation(const Tensor& rgb) {
  Tensor in = u8_image(rgb, "hsv_saturation", true);
  const int64_t h = in.size(0), w = in.size(1), c = in.size(2);
  // OpenCV's table: round(255 · 2^12 / v), so S is computed in fixed point exactly as it does.
  int sdiv[256];
  sdiv[0] = 0;
  for (int v = 1; v < 256; ++v) sdiv[v] = static_cast<int>(std::lround((255 << 12) / static_cast<double>(v)));
  Tensor out = ops::empty({h, w}, DType::U8);
  const uint8_t* src = in.data<uint8_t>();
  uint8_t* dst = out.data<uint8_t>();
  for (int64_t i = 0; i < h * w; ++i) {
    const uint8_t* p = src + i * c;
    int vmax = std::max({p[0], p[1], p[2]}), vmin = std::min({p[0], p[1], p[2]});
    dst[i] = static_cast<uint8_t>(((vmax - vmin) * sdiv[vmax] + (1 << 11)) >> 12);
  }
  return out;
}

Tensor median_blur(const Tensor& gray, int ksize) {
  Tensor in = u8_image(gray, "median_blur", false);
  HIPT_CHECK(ksize >= 1 && ksize % 2 == 1, "median_blur: kernel size must be odd and positive, got {}", ksize);
  // The cost is O(H·W·k) (and k² overflowed int past 46340): far above any CLAM setting, refused.
  HIPT_CHECK(ksize <= kMaxKernelSize, "median_blur: kernel size {} is over {}", ksize, kMaxKernelSize);
  const int64_t h = in.size(0), w = in.size(1), r = ksize / 2;
  Tensor out = ops::empty({h, w}, DType::U8);
  const uint8_t* src = in.data<uint8_t>();
  uint8_t* dst = out.data<uint8_t>();
  auto at = [&](int64_t y, int64_t x) {  // replicated border
    y = std::clamp<int64_t>(y, 0, h - 1);
    x = std::clamp<int64_t>(x, 0, w - 1);
    return src[y * w + x];
  };
  // Huang's running histogram along each row: the median moves by the few columns that enter
  // and leave, so a row costs O(W·k) instead of O(W·k²·log k).
  const int rank = ksize * ksize / 2;  // 0-based rank of the median
  for (int64_t y = 0; y < h; ++y) {
    int hist[256] = {0};
    for (int64_t dy = -r; dy <= r; ++dy)
      for (int64_t dx = -r; dx <= r; ++dx) ++hist[at(y + dy, dx)];
    int med = 0, below = 0;  // below = count of values < med
    for (int64_t x = 0; x < w; ++x) {
      if (x > 0) {
        for (int64_t dy = -r; dy <= r; ++dy) {
          int gone = at(y + dy, x - 1 - r), come = at(y + dy, x + r);
          --hist[gone];
          if (gone < med) --below;
          ++hist[come];
          if (come < med) ++below;
        }
      }
      while (below > rank) below -= hist[--med];
      while (below + hist[med] <= rank) below += hist[med++];
      dst[y * w + x] = static_cast<uint8_t>(med);
    }
  }
  return out;
}

int otsu_threshold(const Tensor& gray) {
  Tensor in = u8_image(gray, "otsu_threshold", false);
  const int64_t n = in.numel();
  HIPT_CHECK(n > 0, "otsu_threshold: empty image");
  double hist[256] = {0};
  const uint8_t* p = in.data<uint8_t>();
  for (int64_t i = 0; i < n; ++i) hist[p[i]] += 1;
  double mu = 0;
  for (int i = 0; i < 256; ++i) mu += i * (hist[i] / n);
  double q1 = 0, mu1 = 0, best_sigma = 0;
  int best = 0;
  for (int i = 0; i < 256; ++i) {
    double pi = hist[i] / n;
    mu1 *= q1;
    q1 += pi;
    double q2 = 1 - q1;
    // OpenCV skips levels where a class is (numerically) empty.
    if (std::min(q1, q2) < FLT_EPSILON || std::max(q1, q2) > 1 - FLT_EPSILON) continue;
    mu1 = (mu1 + i * pi) / q1;
    double mu2 = (mu - q1 * mu1) / q2;
    double sigma = q1 * q2 * (mu1 - mu2) * (mu1 - mu2);
    if (sigma > best_sigma) {
      best_sigma = sigma;
      best = i;
    }
  }
  return best;
}

Tensor threshold_binary(const Tensor& gray, int thresh, int maxval) {
  Tensor in = u8_image(gray, "threshold_binary", false);
  HIPT_CHECK(maxval >= 0 && maxval <= 255, "threshold_binary: maxval {} is not in [0, 255]", maxval);
  Tensor out = ops::empty(in.shape(), DType::U8);
  const uint8_t* src = in.data<uint8_t>();
  uint8_t* dst = out.data<uint8_t>();
  for (int64_t i = 0; i < in.numel(); ++i) dst[i] = src[i] > thresh ? static_cast<uint8_t>(maxval) : 0;
  return out;
}

namespace {
// One separable pass of a k-wide max (dilate) or min (erode) along rows (dx) or columns (dy),
// with offsets [-k/2, k - 1 - k/2]; out-of-image samples are ignored (OpenCV's default border
// makes them neutral).
void extremum_pass(const uint8_t* src, uint8_t* dst, int64_t h, int64_t w, int k, bool along_x, bool take_max) {
  const int64_t lo = -(k / 2), hi = k - 1 - k / 2;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      int v = take_max ? 0 : 255;
      for (int64_t d = lo; d <= hi; ++d) {
        int64_t yy = along_x ? y : y + d, xx = along_x ? x + d : x;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
        int s = src[yy * w + xx];
        v = take_max ? std::max(v, s) : std::min(v, s);
      }
      dst[y * w + x] = static_cast<uint8_t>(v);
    }
}
}  // namespace

Tensor morph_close(const Tensor& mask, int k) {
  Tensor in = u8_image(mask, "morph_close", false);
  HIPT_CHECK(k >= 1, "morph_close: kernel size must be positive, got {}", k);
  HIPT_CHECK(k <= kMaxKernelSize, "morph_close: kernel size {} is over {}", k, kMaxKernelSize);  // O(H·W·k)
  const int64_t h = in.size(0), w = in.size(1);
  Tensor tmp = ops::empty({h, w}, DType::U8), out = ops::empty({h, w}, DType::U8);
  uint8_t *a = tmp.data<uint8_t>(), *b = out.data<uint8_t>();
  extremum_pass(in.data<uint8_t>(), b, h, w, k, true, true);
  extremum_pass(b, a, h, w, k, false, true);
  extremum_pass(a, b, h, w, k, true, false);
  extremum_pass(b, a, h, w, k, false, false);
  return tmp;
}

// ---------------------------------------------------------------- contours

namespace {
// Chain codes as OpenCV numbers them (y down): 0 right, then counter-clockwise on screen.
constexpr int kDx[8] = {1, 1, 0, -1, -1, -1, 0, 1};
constexpr int kDy[8] = {0, -1, -1, -1, 0, 1, 1, 1};

struct Border {
  Contour contour;
  int suzuki_parent;  // index into the border list, -1 for the frame
};
}  // namespace

std::vector<Contour> find_contours(const Tensor& mask) {
  Tensor in = u8_image(mask, "find_contours", false);
  const int64_t h = in.size(0), w = in.size(1);
  // Labels on an image padded by one zero pixel: 0 background, 1 unvisited foreground, then
  // +n / -n for pixels on border n (negative: its right neighbour is background and was examined).
  const int64_t W = w + 2, H = h + 2;
  std::vector<int32_t> f(static_cast<size_t>(W * H), 0);
  const uint8_t* src = in.data<uint8_t>();
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) f[(y + 1) * W + x + 1] = src[y * w + x] != 0;
  auto idx = [W](int64_t x, int64_t y) { return y * W + x; };

  std::vector<Border> borders;  // border n has label n + 2
  auto label_of = [](size_t b) { return static_cast<int32_t>(b) + 2; };

  for (int64_t y = 1; y < H - 1; ++y) {
    int32_t lnbd = 1;  // label of the last border met on this row (1: the frame)
    for (int64_t x = 1; x < W - 1; ++x) {
      const int32_t v = f[idx(x, y)];
      bool outer = v == 1 && f[idx(x - 1, y)] == 0;
      bool hole = !outer && v >= 1 && f[idx(x + 1, y)] == 0;
      if (outer || hole) {
        if (hole && v > 1) lnbd = v;
        // Suzuki's parent rule, then RETR_CCOMP keeps two levels: outer borders hang from the frame.
        int lnbd_border = lnbd >= 2 ? lnbd - 2 : -1;
        bool lnbd_is_hole = lnbd_border >= 0 && borders[lnbd_border].contour.is_hole;
        int parent;
        if (outer)
          parent = lnbd_is_hole ? lnbd_border : (lnbd_border >= 0 ? borders[lnbd_border].suzuki_parent : -1);
        else
          parent = lnbd_is_hole ? borders[lnbd_border].suzuki_parent : lnbd_border;
        Border b;
        b.contour.is_hole = hole;
        b.contour.parent = hole ? parent : -1;
        b.suzuki_parent = parent;
        const int32_t nbd = label_of(borders.size());
        // Start direction: towards the zero neighbour that started the border (left for an outer
        // border, right for a hole); search clockwise from it for the first foreground pixel.
        const int start = outer ? 4 : 0;
        int s = start, found = -1;
        for (int n = 0; n < 8; ++n) {
          s = (s + 7) & 7;
          if (f[idx(x + kDx[s], y + kDy[s])] != 0) {
            found = s;
            break;
          }
        }
        Polygon& pts = b.contour.points;
        if (found < 0) {  // isolated pixel
          f[idx(x, y)] = -nbd;
          pts.push_back({x - 1, y - 1});
        } else {
          const int64_t x1 = x + kDx[found], y1 = y + kDy[found];
          int64_t x3 = x, y3 = y;
          int back = found;  // direction from (x3, y3) to the previous border pixel
          for (;;) {
            // Counter-clockwise from the one after `back`, the first foreground neighbour.
            int d = back;
            bool right_zero_examined = false;
            for (int n = 0; n < 8; ++n) {
              d = (d + 1) & 7;
              if (f[idx(x3 + kDx[d], y3 + kDy[d])] != 0) break;
              if (d == 0) right_zero_examined = true;
            }
            int32_t& cell = f[idx(x3, y3)];
            if (right_zero_examined)
              cell = -nbd;
            else if (cell == 1)
              cell = nbd;
            pts.push_back({x3 - 1, y3 - 1});
            const int64_t x4 = x3 + kDx[d], y4 = y3 + kDy[d];
            if (x4 == x && y4 == y && x3 == x1 && y3 == y1) break;
            x3 = x4;
            y3 = y4;
            back = (d + 4) & 7;
          }
        }
        borders.push_back(std::move(b));
      }
      const int32_t now = f[idx(x, y)];
      if (now != 0 && now != 1) lnbd = std::abs(now);
    }
  }

  // OpenCV inserts each border at the head of its parent's child list, then lists the tree depth
  // first: outer borders last-found first, each followed by its holes, last-found first.
  std::vector<Contour> out;
  std::vector<int> new_index(borders.size(), -1);
  for (size_t i = borders.size(); i-- > 0;) {
    if (borders[i].contour.is_hole) continue;
    new_index[i] = static_cast<int>(out.size());
    out.push_back(borders[i].contour);
    for (size_t j = borders.size(); j-- > i + 1;) {
      if (!borders[j].contour.is_hole || borders[j].contour.parent != static_cast<int>(i)) continue;
      Contour c = borders[j].contour;
      c.parent = new_index[i];
      out.push_back(std::move(c));
    }
  }
  return out;
}

double contour_area(const Polygon& p) {
  if (p.size() < 3) return 0;
  double twice = 0;
  const Point* prev = &p.back();
  for (const Point& q : p) {
    twice += static_cast<double>(prev->x) * q.y - static_cast<double>(q.x) * prev->y;
    prev = &q;
  }
  return std::abs(twice) * 0.5;
}

Rect bounding_rect(const Polygon& p) {
  if (p.empty()) return {};
  int64_t x0 = p[0].x, x1 = p[0].x, y0 = p[0].y, y1 = p[0].y;
  for (const Point& q : p) {
    x0 = std::min(x0, q.x);
    x1 = std::max(x1, q.x);
    y0 = std::min(y0, q.y);
    y1 = std::max(y1, q.y);
  }
  return {x0, y0, x1 - x0 + 1, y1 - y0 + 1};
}

int point_polygon_test(const Polygon& p, double x, double y) {
  if (p.empty()) return -1;
  int crossings = 0;
  Point a = p.back();
  for (const Point& b : p) {
    const double ax = static_cast<double>(a.x), ay = static_cast<double>(a.y);
    const double bx = static_cast<double>(b.x), by = static_cast<double>(b.y);
    a = b;
    // An edge entirely above/below the ray's row, or entirely left of the point, is not crossed;
    // it can still hold the point (its end vertex, or a horizontal edge through it).
    if ((ay <= y && by <= y) || (ay > y && by > y) || (ax < x && bx < x)) {
      if (y == by && (x == bx || (y == ay && std::min(ax, bx) <= x && x <= std::max(ax, bx)))) return 0;
      continue;
    }
    double side = (y - ay) * (bx - ax) - (x - ax) * (by - ay);
    if (side == 0) return 0;
    if (by < ay) side = -side;
    crossings += side > 0;
  }
  return crossings % 2 ? 1 : -1;
}

}  // namespace hipt::io
