// PCA and t-SNE to 2-D (see embedding.h). Sections: PCA; t-SNE's input
// similarities (neighbours, perplexity calibration, symmetric sparse P); the
// quadtree of Barnes-Hut; the gradient descent.
#include "vkcnn/viz/embedding.h"
#include "vkcnn/viz/features.h"

#include "vkcnn/core/error.h"
#include "vkcnn/cpu/thread_pool.h"
#include "vkcnn/data/dataset.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>

namespace vkcnn::viz {

namespace {

// Runs body(begin, end) over [0, n) on the pool, or here without one.
void for_points(cpu::ThreadPool* pool, size_t n, const std::function<void(size_t, size_t)>& body) {
    if (pool) pool->parallel_for(n, body);
    else body(0, n);
}

// ---- PCA ----------------------------------------------------------------

using Vec = std::vector<double>;

double dot(const Vec& a, const Vec& b) { return std::inner_product(a.begin(), a.end(), b.begin(), 0.0); }

// y = C v for the symmetric (d, d) matrix C.
Vec multiply(const std::vector<double>& c, const Vec& v) {
    const size_t d = v.size();
    Vec y(d, 0.0);
    for (size_t i = 0; i < d; ++i)
        y[i] = std::inner_product(v.begin(), v.end(), c.begin() + static_cast<std::ptrdiff_t>(i * d), 0.0);
    return y;
}

// Gram-Schmidt: a unit, b orthogonal to a and unit (projected twice:
// classical Gram-Schmidt loses orthogonality once). When b vanishes
// (rank-deficient data) the first unit vector far enough from a replaces it;
// some e_c has |e_c - (a . e_c) a| >= sqrt(1/2) when d >= 2.
void orthonormalise(Vec& a, Vec& b) {
    const auto scale = [](Vec& v, double by) {
        for (double& x : v) x /= by;
    };
    const double na = std::sqrt(dot(a, a));
    if (na > 0) scale(a, na);
    else std::fill(a.begin(), a.end(), 0.0), a[0] = 1;
    const auto project_out = [&](Vec& v) {
        for (int pass = 0; pass < 2; ++pass) {
            const double p = dot(a, v);
            for (size_t i = 0; i < v.size(); ++i) v[i] -= p * a[i];
        }
    };
    project_out(b);
    double nb = std::sqrt(dot(b, b));
    for (size_t c = 0; !(nb > 1e-150) && c < b.size(); ++c) {
        std::fill(b.begin(), b.end(), 0.0);
        b[c] = 1;
        project_out(b);
        nb = std::sqrt(dot(b, b));
        if (nb < 0.5) nb = 0;
    }
    if (nb > 0) scale(b, nb);
}

// ---- t-SNE: input similarities --------------------------------------------

// A symmetric sparse matrix in compressed rows.
struct SparseP {
    std::vector<int64_t> row; // (n + 1)
    std::vector<int64_t> col;
    std::vector<double> value;
};

// Each point's k nearest others by squared Euclidean distance (double),
// ties by index: (n, k) indices and squared distances.
void nearest_neighbours(std::span<const float> x, int64_t n, int64_t dims, int64_t k, cpu::ThreadPool* pool,
                        std::vector<int64_t>& index, std::vector<double>& d2) {
    index.assign(static_cast<size_t>(n * k), 0);
    d2.assign(static_cast<size_t>(n * k), 0.0);
    const size_t ks = static_cast<size_t>(k), ds = static_cast<size_t>(dims);
    for_points(pool, static_cast<size_t>(n), [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i) {
            const std::vector<Neighbour> found = nearest_squared(x, dims, x.subspan(i * ds, ds), k, static_cast<int64_t>(i));
            for (size_t m = 0; m < ks; ++m) {
                index[i * ks + m] = found[m].index;
                d2[i * ks + m] = found[m].distance;
            }
        }
    });
}

// p_{j|i} over one point's neighbours: a Gaussian whose precision beta is
// found by bisection so that the entropy is log(perplexity) (2008, section 2).
// Distances are shifted by the smallest, which leaves the normalised p alone
// and keeps exp from underflowing for far-apart points.
void calibrate(std::span<const double> d2, double perplexity, std::span<double> p) {
    const double target = std::log(perplexity), shift = *std::min_element(d2.begin(), d2.end());
    double beta = 1, lo = 0, hi = std::numeric_limits<double>::infinity();
    for (int step = 0; step < 200; ++step) {
        double sum = 0, weighted = 0;
        for (size_t j = 0; j < d2.size(); ++j) {
            p[j] = std::exp(-beta * (d2[j] - shift));
            sum += p[j];
            weighted += p[j] * (d2[j] - shift);
        }
        const double entropy = std::log(sum) + beta * weighted / sum;
        for (double& v : p) v /= sum;
        if (std::abs(entropy - target) < 1e-5) break;
        if (entropy > target) { // too flat: sharpen
            lo = beta;
            beta = std::isinf(hi) ? beta * 2 : (beta + hi) / 2;
        } else {
            hi = beta;
            beta = (beta + lo) / 2;
        }
    }
}

// P_ij = (p_{j|i} + p_{i|j}) / 2n over the union of the neighbour lists (2014, section 4.1).
SparseP symmetric_p(std::span<const float> x, int64_t n, int64_t dims, int64_t k, double perplexity,
                    cpu::ThreadPool* pool) {
    std::vector<int64_t> index;
    std::vector<double> d2;
    nearest_neighbours(x, n, dims, k, pool, index, d2);
    std::vector<double> cond(d2.size());
    const size_t ks = static_cast<size_t>(k);
    for_points(pool, static_cast<size_t>(n), [&](size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i)
            calibrate(std::span<const double>(d2).subspan(i * ks, ks), perplexity,
                      std::span<double>(cond).subspan(i * ks, ks));
    });
    struct Entry {
        int64_t i, j;
        double v;
    };
    std::vector<Entry> entries;
    entries.reserve(2 * d2.size());
    for (int64_t i = 0; i < n; ++i)
        for (size_t m = 0; m < ks; ++m) {
            const size_t e = static_cast<size_t>(i) * ks + m;
            entries.push_back({i, index[e], cond[e]});
            entries.push_back({index[e], i, cond[e]});
        }
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.i != b.i ? a.i < b.i : a.j < b.j; });
    SparseP p;
    p.row.assign(static_cast<size_t>(n + 1), 0);
    for (size_t e = 0; e < entries.size(); ++e) {
        if (e > 0 && entries[e].i == entries[e - 1].i && entries[e].j == entries[e - 1].j) {
            p.value.back() += entries[e].v; // both directions were neighbours
            continue;
        }
        p.col.push_back(entries[e].j);
        p.value.push_back(entries[e].v);
        ++p.row[static_cast<size_t>(entries[e].i) + 1];
    }
    std::partial_sum(p.row.begin(), p.row.end(), p.row.begin());
    const double total = std::accumulate(p.value.begin(), p.value.end(), 0.0); // 2n
    for (double& v : p.value) v /= total;
    return p;
}

// ---- Barnes-Hut quadtree ----------------------------------------------------

// Cells split into four quadrants until they hold one point (or points that
// coincide: below a depth of 48 cells are narrower than a double resolves).
class QuadTree {
public:
    QuadTree(const std::vector<double>& y, int64_t n) : y_(y), order_(static_cast<size_t>(n)), scratch_(order_.size()) {
        std::iota(order_.begin(), order_.end(), int64_t{0});
        double x0 = y[0], x1 = y[0], y0 = y[1], y1 = y[1];
        for (int64_t i = 0; i < n; ++i) {
            x0 = std::min(x0, y[2 * i]), x1 = std::max(x1, y[2 * i]);
            y0 = std::min(y0, y[2 * i + 1]), y1 = std::max(y1, y[2 * i + 1]);
        }
        const double half = std::max(x1 - x0, y1 - y0) / 2 * (1 + 1e-9) + 1e-12;
        cells_.reserve(2 * order_.size());
        build(add_cell((x0 + x1) / 2, (y0 + y1) / 2, half), 0, n, 0);
    }

    // The repulsion on point i, sum_j q_ij^2 Z^2 (y_i - y_j), and its share
    // of Z, sum_j (1 + |y_i - y_j|^2)^-1, with far cells as one point.
    void repulsion(int64_t i, double theta, double& fx, double& fy, double& z) const {
        visit(0, i, theta * theta, fx, fy, z);
    }

private:
    struct Cell {
        double cx, cy, half;      // the square [cx - half, cx + half) x [cy - half, cy + half)
        double mx = 0, my = 0;    // centre of mass
        int64_t begin = 0, end = 0; // its points: order_[begin, end)
        int32_t child[4] = {-1, -1, -1, -1};
        bool leaf = true;
    };

    int32_t add_cell(double cx, double cy, double half) {
        cells_.push_back({cx, cy, half});
        return static_cast<int32_t>(cells_.size() - 1);
    }

    void build(int32_t c, int64_t begin, int64_t end, int depth) {
        double mx = 0, my = 0;
        for (int64_t k = begin; k < end; ++k) {
            mx += y_[2 * order_[static_cast<size_t>(k)]];
            my += y_[2 * order_[static_cast<size_t>(k)] + 1];
        }
        Cell& cell = cells_[static_cast<size_t>(c)];
        cell.mx = mx / static_cast<double>(end - begin), cell.my = my / static_cast<double>(end - begin);
        cell.begin = begin, cell.end = end;
        if (end - begin <= 1 || depth >= 48) return;
        cell.leaf = false;
        const double cx = cell.cx, cy = cell.cy, half = cell.half;
        // A stable counting sort of the points into quadrants 0..3 = (x >= cx) + 2 (y >= cy).
        const auto quadrant = [&](int64_t p) {
            return (y_[2 * p] >= cx ? 1 : 0) + (y_[2 * p + 1] >= cy ? 2 : 0);
        };
        int64_t bounds[5] = {begin, 0, 0, 0, 0};
        int64_t counts[4] = {0, 0, 0, 0};
        for (int64_t k = begin; k < end; ++k) ++counts[quadrant(order_[static_cast<size_t>(k)])];
        for (int q = 0; q < 4; ++q) bounds[q + 1] = bounds[q] + counts[q];
        int64_t at[4] = {bounds[0], bounds[1], bounds[2], bounds[3]};
        for (int64_t k = begin; k < end; ++k) {
            const int64_t p = order_[static_cast<size_t>(k)];
            scratch_[static_cast<size_t>(at[quadrant(p)]++)] = p;
        }
        std::copy(scratch_.begin() + begin, scratch_.begin() + end, order_.begin() + begin);
        for (int q = 0; q < 4; ++q) {
            if (counts[q] == 0) continue;
            const int32_t child = add_cell(cx + (q & 1 ? half : -half) / 2, cy + (q & 2 ? half : -half) / 2, half / 2);
            cells_[static_cast<size_t>(c)].child[q] = child; // cells_ may have moved: index again
            build(child, bounds[q], bounds[q + 1], depth + 1);
        }
    }

    void visit(int32_t c, int64_t i, double theta2, double& fx, double& fy, double& z) const {
        const Cell& cell = cells_[static_cast<size_t>(c)];
        const double yi = y_[2 * i], yj = y_[2 * i + 1];
        if (cell.leaf) {
            for (int64_t k = cell.begin; k < cell.end; ++k) {
                const int64_t j = order_[static_cast<size_t>(k)];
                if (j == i) continue;
                const double dx = yi - y_[2 * j], dy = yj - y_[2 * j + 1];
                const double q = 1 / (1 + dx * dx + dy * dy);
                z += q, fx += q * q * dx, fy += q * q * dy;
            }
            return;
        }
        const double dx = yi - cell.mx, dy = yj - cell.my, dist2 = dx * dx + dy * dy;
        const double width = 2 * cell.half;
        // A cell holding i is never far (its centre of mass is within
        // sqrt(2) widths of i), so i is never counted in its own repulsion
        // for theta < 1 / sqrt(2).
        if (width * width < theta2 * dist2) {
            const double count = static_cast<double>(cell.end - cell.begin), q = 1 / (1 + dist2);
            z += count * q, fx += count * q * q * dx, fy += count * q * q * dy;
            return;
        }
        for (int32_t child : cell.child)
            if (child >= 0) visit(child, i, theta2, fx, fy, z);
    }

    const std::vector<double>& y_;
    std::vector<int64_t> order_, scratch_;
    std::vector<Cell> cells_;
};

// Standard normal draws from SplitMix64 (Box-Muller), the same on every platform.
double normal(data::SplitMix64& rng) {
    const double u1 = (static_cast<double>(rng.next() >> 11) + 1) * 0x1.0p-53; // (0, 1]
    const double u2 = static_cast<double>(rng.next() >> 11) * 0x1.0p-53;
    return std::sqrt(-2 * std::log(u1)) * std::cos(2 * 3.14159265358979323846 * u2);
}

} // namespace

Pca pca_2d(std::span<const float> points, int64_t dims) {
    check_points(points, dims, "pca_2d");
    const int64_t n = static_cast<int64_t>(points.size()) / dims;
    check(n >= 2, "pca_2d: needs at least 2 points, got ", n);
    const size_t d = static_cast<size_t>(dims);
    Pca r;
    r.mean.assign(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
        for (size_t c = 0; c < d; ++c) r.mean[c] += points[static_cast<size_t>(i) * d + c];
    for (double& m : r.mean) m /= static_cast<double>(n);
    // The upper triangle, then mirrored: the covariance is symmetric.
    std::vector<double> cov(d * d, 0.0);
    Vec centred(d);
    for (int64_t i = 0; i < n; ++i) {
        for (size_t c = 0; c < d; ++c) centred[c] = points[static_cast<size_t>(i) * d + c] - r.mean[c];
        for (size_t a = 0; a < d; ++a) {
            const double ca = centred[a];
            double* row = cov.data() + a * d;
            for (size_t b = a; b < d; ++b) row[b] += ca * centred[b];
        }
    }
    for (size_t a = 0; a < d; ++a)
        for (size_t b = a; b < d; ++b) cov[b * d + a] = cov[a * d + b] /= static_cast<double>(n - 1);

    // Orthogonal iteration on two vectors from a fixed start; it converges
    // as (lambda3 / lambda2)^k, then Rayleigh-Ritz on the 2x2 projection
    // separates the two axes exactly.
    data::SplitMix64 rng(0x9ca);
    Vec a(d), b(d);
    for (size_t c = 0; c < d; ++c) a[c] = normal(rng), b[c] = normal(rng);
    orthonormalise(a, b);
    if (d == 1) b[0] = 0;
    double r00 = 0, r01 = 0, r11 = 0;
    for (int iteration = 0; iteration < 5000 && d > 1; ++iteration) {
        Vec ca = multiply(cov, a), cb = multiply(cov, b);
        r00 = dot(a, ca), r01 = dot(a, cb), r11 = dot(b, cb);
        // Converged when C Q = Q R (the span is invariant), relative to |R|.
        double residual = 0;
        for (size_t c = 0; c < d; ++c) {
            const double ea = ca[c] - a[c] * r00 - b[c] * r01, eb = cb[c] - a[c] * r01 - b[c] * r11;
            residual += ea * ea + eb * eb;
        }
        const double scale = r00 * r00 + 2 * r01 * r01 + r11 * r11;
        if (residual <= 1e-24 * scale || scale == 0) break;
        a = std::move(ca), b = std::move(cb);
        orthonormalise(a, b);
    }
    {
        const Vec ca = multiply(cov, a), cb = multiply(cov, b);
        r00 = dot(a, ca), r01 = dot(a, cb), r11 = dot(b, cb); // of the final Q
    }
    // Eigenvectors of [[r00, r01], [r01, r11]]: a rotation by theta.
    const double theta = 0.5 * std::atan2(2 * r01, r00 - r11), cs = std::cos(theta), sn = std::sin(theta);
    r.axes[0].resize(d), r.axes[1].resize(d);
    for (size_t c = 0; c < d; ++c) {
        r.axes[0][c] = cs * a[c] + sn * b[c];
        r.axes[1][c] = -sn * a[c] + cs * b[c];
    }
    for (Vec& axis : r.axes) {
        size_t big = 0;
        for (size_t c = 1; c < d; ++c)
            if (std::abs(axis[c]) > std::abs(axis[big])) big = c;
        if (axis[big] < 0)
            for (double& v : axis) v = -v;
    }
    for (int k = 0; k < 2; ++k)
        r.variance[static_cast<size_t>(k)] =
            dot(r.axes[static_cast<size_t>(k)], multiply(cov, r.axes[static_cast<size_t>(k)]));
    r.points.resize(static_cast<size_t>(2 * n));
    for (int64_t i = 0; i < n; ++i)
        for (size_t k = 0; k < 2; ++k) {
            double s = 0;
            for (size_t c = 0; c < d; ++c) s += (points[static_cast<size_t>(i) * d + c] - r.mean[c]) * r.axes[k][c];
            r.points[static_cast<size_t>(i) * 2 + k] = static_cast<float>(s);
        }
    return r;
}

std::vector<float> tsne_2d(std::span<const float> points, int64_t dims, const TsneOptions& o, cpu::ThreadPool* pool) {
    check_points(points, dims, "tsne_2d");
    const int64_t n = static_cast<int64_t>(points.size()) / dims;
    check(n >= 2, "tsne_2d: needs at least 2 points, got ", n);
    check(o.perplexity > 0 && o.perplexity < static_cast<double>(n), "tsne_2d: the perplexity must be in (0, ", n,
          ") for ", n, " points, got ", o.perplexity);
    check(o.iterations >= 0 && o.exaggeration_iterations >= 0, "tsne_2d: iteration counts must not be negative");
    check(o.theta >= 0 && o.theta < 0.7, "tsne_2d: theta must be in [0, 0.7), got ", o.theta);
    const bool exact = n < o.exact_below;
    // Exact t-SNE: every other point is a neighbour; BH-SNE: 3 * perplexity of them.
    const int64_t k = exact ? n - 1 : std::min<int64_t>(n - 1, static_cast<int64_t>(3 * o.perplexity));
    const SparseP p = symmetric_p(points, n, dims, k, o.perplexity, pool);
    const double eta = o.learning_rate > 0 ? o.learning_rate
                                           : std::max(static_cast<double>(n) / o.early_exaggeration / 4, 50.0);

    const size_t ns = static_cast<size_t>(n);
    std::vector<double> y(2 * ns), update(2 * ns, 0.0), gains(2 * ns, 1.0), grad(2 * ns);
    std::vector<double> repel(2 * ns), zi(ns);
    data::SplitMix64 rng(o.seed);
    for (double& v : y) v = 1e-4 * normal(rng);

    for (int it = 0; it < o.iterations; ++it) {
        const bool early = it < o.exaggeration_iterations;
        const double exaggeration = early ? o.early_exaggeration : 1, momentum = early ? 0.5 : 0.8;
        // Repulsion: q_ij^2 Z^2 (y_i - y_j) summed per point, and Z's terms.
        std::optional<QuadTree> tree;
        if (!exact) tree.emplace(y, n);
        for_points(pool, ns, [&](size_t begin, size_t end) {
            for (size_t i = begin; i < end; ++i) {
                double fx = 0, fy = 0, z = 0;
                if (tree) {
                    tree->repulsion(static_cast<int64_t>(i), o.theta, fx, fy, z);
                } else {
                    for (size_t j = 0; j < ns; ++j) {
                        if (j == i) continue;
                        const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
                        const double q = 1 / (1 + dx * dx + dy * dy);
                        z += q, fx += q * q * dx, fy += q * q * dy;
                    }
                }
                repel[2 * i] = fx, repel[2 * i + 1] = fy, zi[i] = z;
            }
        });
        const double z = std::accumulate(zi.begin(), zi.end(), 0.0); // in point order
        // dC/dy_i = 4 (sum_j P_ij q_ij Z (y_i - y_j) - sum_j q_ij^2 Z (y_i - y_j) / Z)   (2014, eq. 3-5)
        for_points(pool, ns, [&](size_t begin, size_t end) {
            for (size_t i = begin; i < end; ++i) {
                double ax = 0, ay = 0;
                for (int64_t e = p.row[i]; e < p.row[i + 1]; ++e) {
                    const size_t j = static_cast<size_t>(p.col[static_cast<size_t>(e)]);
                    const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
                    const double w = p.value[static_cast<size_t>(e)] / (1 + dx * dx + dy * dy);
                    ax += w * dx, ay += w * dy;
                }
                grad[2 * i] = 4 * (exaggeration * ax - repel[2 * i] / z);
                grad[2 * i + 1] = 4 * (exaggeration * ay - repel[2 * i + 1] / z);
            }
        });
        // Momentum with per-coordinate gains (Jacobs 1988, as in the 2008 paper's code).
        for (size_t c = 0; c < 2 * ns; ++c) {
            gains[c] = (grad[c] > 0) != (update[c] > 0) ? gains[c] + 0.2 : std::max(gains[c] * 0.8, 0.01);
            update[c] = momentum * update[c] - eta * gains[c] * grad[c];
            y[c] += update[c];
        }
        double mx = 0, my = 0; // recentred: the cost does not see translation, the quadtree's bounds stay small
        for (size_t i = 0; i < ns; ++i) mx += y[2 * i], my += y[2 * i + 1];
        mx /= static_cast<double>(n), my /= static_cast<double>(n);
        for (size_t i = 0; i < ns; ++i) y[2 * i] -= mx, y[2 * i + 1] -= my;
    }
    return std::vector<float>(y.begin(), y.end());
}

} // namespace vkcnn::viz
