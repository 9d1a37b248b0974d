// The native kernels of the focal-yolo libtorch backend. Tensors arrive contiguous in tfjs layout
// (NHWC images, [fh, fw, in, out] filters); the TypeScript side has already normalised attributes
// (non-negative axes, explicit [top, bottom, left, right] padding) so each kernel is a few ATen calls.
#include <ATen/Parallel.h>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <unordered_map>

#include "tensor_table.h"

namespace fy {
namespace {

using Kernel = std::function<Tensors(const Tensors&, const Attrs&)>;

at::ScalarType dtypeAttr(const Attrs& a) {
  switch (a.i("dtype")) {
    case 0: return at::kFloat;
    case 1: return at::kInt;
    case 2: return at::kBool;
    default: throw std::runtime_error("dtype code " + std::to_string(a.i("dtype")) + " is not float32/int32/bool");
  }
}

// tfjs casts to bool as `x != 0` and to int32 by truncation; ATen's to() agrees except for bool.
at::Tensor castTo(const at::Tensor& x, at::ScalarType t) {
  if (x.scalar_type() == t) return x;
  if (t == at::kBool) return at::ne(x, 0);
  return x.to(t);
}

const at::Tensor& in(const Tensors& xs, size_t i, const char* kernel) {
  if (i >= xs.size()) throw std::runtime_error(std::string(kernel) + " needs input " + std::to_string(i));
  return xs[i];
}

// NHWC storage seen as an NCHW tensor in channels-last layout (no copy) and back.
at::Tensor toNCHW(const at::Tensor& x) { return x.permute({0, 3, 1, 2}); }
at::Tensor toNHWC(const at::Tensor& y) { return y.permute({0, 2, 3, 1}).contiguous(); }

// tfjs filter [fh, fw, in, out] → ATen weight [out, in, fh, fw] (channels-last memory).
at::Tensor convertWeight(const at::Tensor& f) {
  return f.permute({3, 2, 0, 1}).contiguous(at::MemoryFormat::ChannelsLast);
}

// Converted filters, one per live source tensor (the addon table's own TensorImpl). A weak pointer
// keeps the key's address from being reused while the entry exists; an entry whose source has
// been freed (or written in place: its version moved) is stale. Stale entries are dropped at each
// insertion, so the cache holds about one converted copy per filter tfjs still holds: stable
// filters (cached BatchNorm folds, weights at inference) are converted once.
struct ConvertedWeight {
  c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl> source;
  uint32_t version;
  at::Tensor weight;
};
std::unordered_map<const c10::TensorImpl*, ConvertedWeight> convertedWeights;

bool liveEntry(const c10::TensorImpl* key, const ConvertedWeight& e) {
  c10::intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl> strong = e.source.lock();
  return strong.get() == key && strong->version_counter().current_version() == e.version;
}

}  // namespace

void dropConvertedWeight(const c10::TensorImpl* source) { convertedWeights.erase(source); }
size_t convertedWeightCount() { return convertedWeights.size(); }

namespace {

at::Tensor convWeight(const at::Tensor& f) {
  const c10::TensorImpl* key = f.unsafeGetTensorImpl();
  auto hit = convertedWeights.find(key);
  if (hit != convertedWeights.end() && liveEntry(key, hit->second)) return hit->second.weight;
  for (auto it = convertedWeights.begin(); it != convertedWeights.end();) {
    it = liveEntry(it->first, it->second) ? std::next(it) : convertedWeights.erase(it);
  }
  at::Tensor w = convertWeight(f);
  convertedWeights.insert_or_assign(
      key, ConvertedWeight{c10::weak_intrusive_ptr<c10::TensorImpl, c10::UndefinedTensorImpl>(f.getIntrusivePtr()),
                           static_cast<uint32_t>(f._version()), w});
  return w;
}
// Depthwise filter [fh, fw, in, mult] → grouped weight [in·mult, 1, fh, fw].
at::Tensor depthwiseWeight(const at::Tensor& f) {
  return f.reshape({f.size(0), f.size(1), 1, f.size(2) * f.size(3)}).permute({3, 2, 0, 1})
      .contiguous(at::MemoryFormat::ChannelsLast);
}

struct ConvGeometry {
  std::vector<int64_t> strides, dilations, pads;  // pads: top, bottom, left, right
  bool symmetric() const { return pads[0] == pads[1] && pads[2] == pads[3]; }
  std::vector<int64_t> padding() const {
    return symmetric() ? std::vector<int64_t>{pads[0], pads[2]} : std::vector<int64_t>{0, 0};
  }
};

ConvGeometry geometry(const Attrs& a) {
  ConvGeometry g{a.ints("strides"), a.has("dilations") ? a.ints("dilations") : std::vector<int64_t>{1, 1},
                 a.ints("pads")};
  if (g.strides.size() != 2 || g.dilations.size() != 2 || g.pads.size() != 4) {
    throw std::runtime_error("strides/dilations need 2 values and pads 4");
  }
  return g;
}

// Asymmetric padding ('same' at stride 2) is applied explicitly on the NHWC tensor.
at::Tensor padNHWC(const at::Tensor& x, const ConvGeometry& g, double value) {
  if (g.symmetric()) return x;
  return at::constant_pad_nd(x, {0, 0, g.pads[2], g.pads[3], g.pads[0], g.pads[1]}, value);
}

// Drops the explicit padding again from a gradient w.r.t. a padded NHWC input.
at::Tensor unpadNHWC(const at::Tensor& x, const ConvGeometry& g, int64_t h, int64_t w) {
  if (g.symmetric()) return x;
  return x.narrow(1, g.pads[0], h).narrow(2, g.pads[2], w);
}

bool isPointwise(const at::Tensor& f, const ConvGeometry& g) {
  return f.size(0) == 1 && f.size(1) == 1 && g.strides[0] == 1 && g.strides[1] == 1 &&
         g.pads[0] == 0 && g.pads[1] == 0 && g.pads[2] == 0 && g.pads[3] == 0;
}

// ATen's output rows/cols for an input extent (explicit padding included).
int64_t atenOut(int64_t in, int64_t k, int64_t s, int64_t d, int64_t padTotal) {
  return (in + padTotal - d * (k - 1) - 1) / s + 1;
}

// tfjs sizes outputs for a numeric pad from the filter height and stride height alone; its kernels
// then compute only that many rows/columns. Match it by cropping (forward) or zero-extending dy (backward).
at::Tensor cropNHWC(const at::Tensor& y, const std::vector<int64_t>& outHW) {
  if (outHW.empty() || (y.size(1) == outHW[0] && y.size(2) == outHW[1])) return y;
  return y.narrow(1, 0, outHW[0]).narrow(2, 0, outHW[1]).contiguous();
}

at::Tensor extendDy(const at::Tensor& dy, int64_t h, int64_t w) {
  if (dy.size(1) == h && dy.size(2) == w) return dy;
  return at::constant_pad_nd(dy, {0, 0, 0, w - dy.size(2), 0, h - dy.size(1)}, 0);
}

// [N, H, W, C] → [N·H, 1, W, C]: a free view under which a 1×1 convolution has batch N·H, so
// ATen hands it to oneDNN (at batch < 16 on one thread it would take the slow im2col + BLAS path).
at::Tensor foldRows(const at::Tensor& t) { return t.reshape({t.size(0) * t.size(1), 1, t.size(2), t.size(3)}); }

at::Tensor conv2d(const at::Tensor& x, const at::Tensor& f, const ConvGeometry& g, bool depthwise) {
  at::Tensor w = depthwise ? depthwiseWeight(f) : convWeight(f);
  int64_t groups = depthwise ? x.size(3) : 1;
  if (!depthwise && isPointwise(f, g)) {
    const std::vector<int64_t> ones{1, 1}, zeros{0, 0};
    at::Tensor y = at::conv2d(toNCHW(foldRows(x)), w, {}, ones, zeros, ones, 1);
    return toNHWC(y).view({x.size(0), x.size(1), x.size(2), f.size(3)});
  }
  at::Tensor y = at::conv2d(toNCHW(padNHWC(x, g, 0)), w, {}, g.strides, g.padding(), g.dilations, groups);
  return toNHWC(y);
}

at::Tensor convBackpropInput(const at::Tensor& dyIn, const at::Tensor& f, std::vector<int64_t> inShape,
                             const ConvGeometry& g, bool depthwise) {
  at::Tensor dy = extendDy(dyIn, atenOut(inShape[1], f.size(0), g.strides[0], g.dilations[0], g.pads[0] + g.pads[1]),
                           atenOut(inShape[2], f.size(1), g.strides[1], g.dilations[1], g.pads[2] + g.pads[3]));
  at::Tensor w = depthwise ? depthwiseWeight(f) : convWeight(f);
  bool pointwise = !depthwise && isPointwise(f, g);
  int64_t h = inShape[1], wd = inShape[2];
  std::vector<int64_t> padded = inShape;
  if (pointwise) {
    padded = {inShape[0] * inShape[1], 1, inShape[2], inShape[3]};
    dy = foldRows(dy);
  } else if (!g.symmetric()) {
    padded[1] += g.pads[0] + g.pads[1];
    padded[2] += g.pads[2] + g.pads[3];
  }
  // Only the input's shape matters to the input gradient; the tensor stays uninitialised.
  at::Tensor shapeOnly = at::empty({padded[0], padded[3], padded[1], padded[2]},
                                   dy.options().memory_format(at::MemoryFormat::ChannelsLast));
  auto grads = at::convolution_backward(toNCHW(dy), shapeOnly, w, c10::nullopt, g.strides, g.padding(),
                                        g.dilations, false, {0, 0}, depthwise ? inShape[3] : 1,
                                        {true, false, false});
  at::Tensor dx = toNHWC(std::get<0>(grads));
  if (pointwise) return dx.view(inShape);
  return unpadNHWC(dx, g, h, wd).contiguous();
}

at::Tensor convBackpropFilter(const at::Tensor& x, const at::Tensor& dyIn, std::vector<int64_t> fShape,
                              const ConvGeometry& g, bool depthwise) {
  at::Tensor dy = extendDy(dyIn, atenOut(x.size(1), fShape[0], g.strides[0], g.dilations[0], g.pads[0] + g.pads[1]),
                           atenOut(x.size(2), fShape[1], g.strides[1], g.dilations[1], g.pads[2] + g.pads[3]));
  bool pointwise = !depthwise && fShape[0] == 1 && fShape[1] == 1 && g.strides[0] == 1 && g.strides[1] == 1 &&
                   g.pads[0] == 0 && g.pads[1] == 0 && g.pads[2] == 0 && g.pads[3] == 0;
  int64_t outC = depthwise ? fShape[2] * fShape[3] : fShape[3];
  int64_t inC = depthwise ? 1 : fShape[2];
  at::Tensor shapeOnly = at::empty({outC, inC, fShape[0], fShape[1]},
                                   dy.options().memory_format(at::MemoryFormat::ChannelsLast));
  at::Tensor xin = pointwise ? foldRows(x) : padNHWC(x, g, 0);
  if (pointwise) dy = foldRows(dy);
  auto grads = at::convolution_backward(toNCHW(dy), toNCHW(xin), shapeOnly, c10::nullopt,
                                        g.strides, g.padding(), g.dilations, false, {0, 0},
                                        depthwise ? x.size(3) : 1, {false, true, false});
  at::Tensor dw = std::get<1>(grads);  // [out, in, fh, fw]
  if (depthwise) return dw.permute({2, 3, 1, 0}).reshape(fShape).contiguous();
  return dw.permute({2, 3, 1, 0}).contiguous();
}

// tfjs's fused activations (the same names its FusedConv2D/_FusedMatMul attributes use).
at::Tensor activate(const at::Tensor& y, const std::string& act, const Attrs& a, const at::Tensor* prelu) {
  if (act == "linear" || act.empty()) return y;
  if (act == "relu") return at::relu(y);
  if (act == "relu6") return at::clamp(y, 0, 6);
  if (act == "sigmoid") return at::sigmoid(y);
  if (act == "elu") return at::elu(y);
  if (act == "leakyrelu") return at::leaky_relu(y, a.has("leakyreluAlpha") ? a.f("leakyreluAlpha") : 0.2);
  if (act == "prelu") {
    if (prelu == nullptr) throw std::runtime_error("activation 'prelu' needs preluActivationWeights");
    return at::where(at::lt(y, 0), at::mul(y, *prelu), y);
  }
  throw std::runtime_error("activation '" + act + "' is not supported");
}

// `y` is a fresh convolution/matmul result that nothing else holds, so the bias and the common
// activations are applied in place: no extra output-sized tensors and passes over fresh memory.
Tensors fusedEpilogue(at::Tensor y, const Tensors& xs, const Attrs& a) {
  size_t next = 2;
  if (a.b("hasBias")) {
    const at::Tensor& bias = xs.at(next++);
    bool inPlace = bias.scalar_type() == y.scalar_type() && at::infer_size(y.sizes(), bias.sizes()) == y.sizes();
    y = inPlace ? y.add_(bias) : at::add(y, bias);
  }
  std::string act = a.has("activation") ? a.s("activation") : "linear";
  if (y.is_floating_point()) {
    if (act == "relu") return {y.relu_()};
    if (act == "leakyrelu") return {at::leaky_relu_(y, a.has("leakyreluAlpha") ? a.f("leakyreluAlpha") : 0.2)};
    if (act == "sigmoid") return {y.sigmoid_()};
  }
  const at::Tensor* prelu = act == "prelu" ? &xs.at(next) : nullptr;
  return {activate(y, act, a, prelu)};
}

// ---- pooling (NHWC, explicit pads; padding never wins a max) ---------------------------------

std::tuple<at::Tensor, at::Tensor, ConvGeometry, std::vector<int64_t>> poolSetup(const at::Tensor& x,
                                                                                 const Attrs& a) {
  ConvGeometry g = geometry(a);
  std::vector<int64_t> k = a.ints("filter");
  const double lowest = -std::numeric_limits<double>::infinity();
  // ATen pads at most half a window itself; anything else is padded explicitly with -inf.
  bool own = g.symmetric() && g.pads[0] * 2 <= k[0] && g.pads[2] * 2 <= k[1];
  ConvGeometry used = g;
  at::Tensor xp = x;
  if (!own) {
    xp = at::constant_pad_nd(x, {0, 0, g.pads[2], g.pads[3], g.pads[0], g.pads[1]}, lowest);
    used.pads = {0, 0, 0, 0};
  }
  return {toNCHW(xp), xp, used, k};
}

Tensors maxPool(const Tensors& xs, const Attrs& a) {
  auto [xn, xp, g, k] = poolSetup(in(xs, 0, "MaxPool"), a);
  return {cropNHWC(toNHWC(at::max_pool2d(xn, k, g.strides, g.padding(), g.dilations, false)), a.ints("outHW"))};
}

Tensors maxPoolGrad(const Tensors& xs, const Attrs& a) {
  const at::Tensor& x = in(xs, 1, "MaxPoolGrad");
  auto [xn, xp, g, k] = poolSetup(x, a);
  const at::Tensor dy = extendDy(in(xs, 0, "MaxPoolGrad"),
                                 atenOut(xp.size(1), k[0], g.strides[0], 1, g.pads[0] + g.pads[1]),
                                 atenOut(xp.size(2), k[1], g.strides[1], 1, g.pads[2] + g.pads[3]));
  auto pooled = at::max_pool2d_with_indices(xn, k, g.strides, g.padding(), g.dilations, false);
  at::Tensor dx = at::max_pool2d_with_indices_backward(toNCHW(dy), xn, k, g.strides, g.padding(), g.dilations,
                                                       false, std::get<1>(pooled));
  ConvGeometry orig = geometry(a);
  at::Tensor out = toNHWC(dx);
  if (xp.size(1) != x.size(1) || xp.size(2) != x.size(2)) {
    out = out.narrow(1, orig.pads[0], x.size(1)).narrow(2, orig.pads[2], x.size(2));
  }
  return {out.contiguous()};
}

// ---- reductions -------------------------------------------------------------------------------

Tensors reduce(const Tensors& xs, const Attrs& a, const char* name) {
  const at::Tensor& x = in(xs, 0, name);
  std::vector<int64_t> axes = a.ints("axes");
  bool keep = a.b("keepDims");
  std::string op(name);
  bool intSum = op == "Sum" || op == "Prod";
  if (axes.empty()) {
    // tfjs reduces nothing for an empty axis list (ATen would reduce everything).
    if (op == "Mean") return {x.to(at::kFloat)};
    if (intSum && x.scalar_type() == at::kBool) return {x.to(at::kInt)};
    return {x};
  }
  if (op == "Sum") return {at::sum(x, axes, keep)};
  if (op == "Mean") return {at::mean(x.to(at::kFloat), axes, keep)};
  if (op == "Max") return {at::amax(x, axes, keep)};
  if (op == "Min") return {at::amin(x, axes, keep)};
  if (op == "All") return {at::ne(at::amin(x.to(at::kInt), axes, keep), 0)};
  if (op == "Any") return {at::ne(at::amax(x.to(at::kInt), axes, keep), 0)};
  // Prod: ATen reduces one axis at a time; go from the last so indices stay valid.
  at::Tensor r = x.scalar_type() == at::kBool ? x.to(at::kInt) : x;
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.rbegin(), sorted.rend());
  for (int64_t ax : sorted) r = at::prod(r, ax, keep);
  return {r};
}

// ---- shape kernels ------------------------------------------------------------------------------

Tensors stridedSlice(const Tensors& xs, const Attrs& a) {
  // tfjs's slice_util resolved the masks: dimension d keeps counts[d] elements begin[d] + k·strides[d].
  at::Tensor x = in(xs, 0, "StridedSlice");
  std::vector<int64_t> begin = a.ints("begin"), counts = a.ints("counts"), strides = a.ints("strides");
  for (size_t d = 0; d < begin.size(); ++d) {
    int64_t dim = static_cast<int64_t>(d), n = counts[d], s = strides[d], b = begin[d];
    if (n == 0) {
      x = x.narrow(dim, 0, 0);
    } else if (s > 0) {
      x = x.slice(dim, b, b + (n - 1) * s + 1, s);
    } else {
      int64_t fb = x.size(dim) - 1 - b;  // the same start on the flipped axis
      x = at::flip(x, {dim}).slice(dim, fb, fb + (n - 1) * (-s) + 1, -s);
    }
  }
  return {x.reshape(a.ints("outShape"))};
}

Tensors cumulative(const Tensors& xs, const Attrs& a, bool product) {
  at::Tensor x = in(xs, 0, product ? "Cumprod" : "Cumsum");
  int64_t axis = a.i("axis");
  bool reverse = a.b("reverse");
  if (reverse) x = at::flip(x, {axis});
  if (a.b("exclusive") && x.size(axis) > 0) {
    at::Tensor first = product ? at::ones_like(x.narrow(axis, 0, 1)) : at::zeros_like(x.narrow(axis, 0, 1));
    x = at::cat({first, x.narrow(axis, 0, x.size(axis) - 1)}, axis);
  }
  at::Tensor y = product ? at::cumprod(x, axis) : at::cumsum(x, axis);
  if (reverse) y = at::flip(y, {axis});
  return {castTo(y, xs[0].scalar_type() == at::kBool ? at::kInt : xs[0].scalar_type())};
}

at::Tensor indexTensor(const std::vector<int64_t>& v) {
  return at::tensor(v, at::TensorOptions().dtype(at::kLong));
}

at::Tensor batchNormParam(const at::Tensor& p, const at::Tensor& x) {
  if (p.numel() == x.numel()) return p.reshape(x.sizes());
  return p.reshape({p.numel()});
}

Tensors fusedBatchNorm(const Tensors& xs, const Attrs& a) {
  const at::Tensor& x = in(xs, 0, "FusedBatchNorm");
  size_t next = 3;
  // tfjs indexes mean/variance/offset/scale cyclically over the flat x: view x as rows of that length.
  int64_t len = xs.at(1).numel();
  bool flat = len != x.numel();
  if (flat && (len == 0 || x.numel() % len != 0)) {
    throw std::runtime_error("mean has " + std::to_string(len) + " values, which do not tile x");
  }
  at::Tensor xv = flat ? x.reshape({-1, len}) : x;
  at::Tensor inv = at::rsqrt(at::add(batchNormParam(xs.at(2), x), a.f("varianceEpsilon")));
  at::Tensor y = at::sub(xv, batchNormParam(xs.at(1), x));
  at::Tensor offset, scale;
  if (a.b("hasOffset")) offset = batchNormParam(xs.at(next++), x);
  if (a.b("hasScale")) scale = batchNormParam(xs.at(next++), x);
  y = scale.defined() ? at::mul(y, at::mul(scale, inv)) : at::mul(y, inv);
  if (offset.defined()) y = at::add(y, offset);
  return {y.reshape(x.sizes())};
}

Tensors matmul(const Tensors& xs, const Attrs& a) {
  at::Tensor x = in(xs, 0, "BatchMatMul"), y = in(xs, 1, "BatchMatMul");
  if (a.b("transposeA")) x = x.transpose(-2, -1);
  if (a.b("transposeB")) y = y.transpose(-2, -1);
  return {at::matmul(x, y)};
}

// ATen 1.13's where() runs ~10× slower than a multiply (a branch per element); the common
// same-shape case (LeakyRelu's and the loss's gradients) is a branch-free bit select over the
// 32-bit words of float32/int32 data, exact for every value including NaN and -0.
at::Tensor selectSameShape(const at::Tensor& c, const at::Tensor& t, const at::Tensor& e) {
  at::Tensor out = at::empty_like(t);
  const uint8_t* cp = reinterpret_cast<const uint8_t*>(c.data_ptr<bool>());
  const uint32_t* tp = static_cast<const uint32_t*>(t.data_ptr());
  const uint32_t* ep = static_cast<const uint32_t*>(e.data_ptr());
  uint32_t* op = static_cast<uint32_t*>(out.data_ptr());
  at::parallel_for(0, t.numel(), 65536, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const uint32_t mask = 0u - static_cast<uint32_t>(cp[i] != 0);
      op[i] = (tp[i] & mask) | (ep[i] & ~mask);
    }
  });
  return out;
}

using Unary = at::Tensor (*)(const at::Tensor&);
using Binary = at::Tensor (*)(const at::Tensor&, const at::Tensor&);

std::unordered_map<std::string, Kernel> buildRegistry() {
  std::unordered_map<std::string, Kernel> r;
  auto unary = [&](const char* name, Unary f) {
    r[name] = [f, name](const Tensors& xs, const Attrs&) -> Tensors { return {f(in(xs, 0, name))}; };
  };
  auto floatUnary = [&](const char* name, Unary f) {
    // tfjs computes these in float32 whatever the input dtype.
    r[name] = [f, name](const Tensors& xs, const Attrs&) -> Tensors { return {f(in(xs, 0, name).to(at::kFloat))}; };
  };
  auto binary = [&](const char* name, Binary f) {
    r[name] = [f, name](const Tensors& xs, const Attrs&) -> Tensors {
      return {f(in(xs, 0, name), in(xs, 1, name))};
    };
  };

  unary("Abs", [](const at::Tensor& x) { return at::abs(x); });
  unary("Neg", [](const at::Tensor& x) { return at::neg(x); });
  unary("Square", [](const at::Tensor& x) { return at::mul(x, x); });
  unary("Sign", [](const at::Tensor& x) { return at::sign(x); });
  unary("Floor", [](const at::Tensor& x) { return x.is_floating_point() ? at::floor(x) : x; });
  unary("Ceil", [](const at::Tensor& x) { return x.is_floating_point() ? at::ceil(x) : x; });
  unary("Round", [](const at::Tensor& x) { return x.is_floating_point() ? at::round(x) : x; });
  unary("Relu", [](const at::Tensor& x) { return at::relu(x); });
  unary("Relu6", [](const at::Tensor& x) { return at::clamp(x, 0, 6); });
  unary("LogicalNot", [](const at::Tensor& x) { return at::logical_not(x); });
  unary("IsNan", [](const at::Tensor& x) { return at::isnan(x); });
  unary("IsInf", [](const at::Tensor& x) { return at::isinf(x); });
  unary("IsFinite", [](const at::Tensor& x) { return at::isfinite(x); });
  unary("OnesLike", [](const at::Tensor& x) { return at::ones_like(x); });
  unary("ZerosLike", [](const at::Tensor& x) { return at::zeros_like(x); });
  unary("Identity", [](const at::Tensor& x) { return x; });
  floatUnary("Exp", [](const at::Tensor& x) { return at::exp(x); });
  floatUnary("Expm1", [](const at::Tensor& x) { return at::expm1(x); });
  floatUnary("Log", [](const at::Tensor& x) { return at::log(x); });
  floatUnary("Log1p", [](const at::Tensor& x) { return at::log1p(x); });
  floatUnary("Sqrt", [](const at::Tensor& x) { return at::sqrt(x); });
  floatUnary("Rsqrt", [](const at::Tensor& x) { return at::rsqrt(x); });
  floatUnary("Reciprocal", [](const at::Tensor& x) { return at::reciprocal(x); });
  floatUnary("Sigmoid", [](const at::Tensor& x) { return at::sigmoid(x); });
  floatUnary("Softplus", [](const at::Tensor& x) { return at::softplus(x); });
  floatUnary("Tanh", [](const at::Tensor& x) { return at::tanh(x); });
  floatUnary("Sin", [](const at::Tensor& x) { return at::sin(x); });
  floatUnary("Cos", [](const at::Tensor& x) { return at::cos(x); });
  floatUnary("Tan", [](const at::Tensor& x) { return at::tan(x); });
  floatUnary("Asin", [](const at::Tensor& x) { return at::asin(x); });
  floatUnary("Acos", [](const at::Tensor& x) { return at::acos(x); });
  floatUnary("Atan", [](const at::Tensor& x) { return at::atan(x); });
  floatUnary("Sinh", [](const at::Tensor& x) { return at::sinh(x); });
  floatUnary("Cosh", [](const at::Tensor& x) { return at::cosh(x); });
  floatUnary("Asinh", [](const at::Tensor& x) { return at::asinh(x); });
  floatUnary("Acosh", [](const at::Tensor& x) { return at::acosh(x); });
  floatUnary("Atanh", [](const at::Tensor& x) { return at::atanh(x); });
  floatUnary("Erf", [](const at::Tensor& x) { return at::erf(x); });
  floatUnary("Elu", [](const at::Tensor& x) { return at::elu(x); });
  floatUnary("Selu", [](const at::Tensor& x) { return at::selu(x); });

  r["Cast"] = [](const Tensors& xs, const Attrs& a) -> Tensors { return {castTo(in(xs, 0, "Cast"), dtypeAttr(a))}; };
  r["Step"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    const at::Tensor x = in(xs, 0, "Step").to(at::kFloat);
    at::Tensor y = at::where(at::gt(x, 0), at::ones_like(x), at::full_like(x, a.f("alpha")));
    return {at::where(at::isnan(x), x, y)};
  };
  r["LeakyRelu"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    const at::Tensor& x = in(xs, 0, "LeakyRelu");
    return {at::leaky_relu(x, a.f("alpha"))};
  };
  r["ClipByValue"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {at::clamp(in(xs, 0, "ClipByValue"), a.f("clipValueMin"), a.f("clipValueMax"))};
  };
  r["EluGrad"] = [](const Tensors& xs, const Attrs&) -> Tensors {
    const at::Tensor &dy = in(xs, 0, "EluGrad"), &y = in(xs, 1, "EluGrad");
    return {at::where(at::ge(y, 0), dy, at::mul(dy, at::add(y, 1)))};
  };

  binary("Add", [](const at::Tensor& x, const at::Tensor& y) { return at::add(x, y); });
  binary("Sub", [](const at::Tensor& x, const at::Tensor& y) { return at::sub(x, y); });
  binary("Multiply", [](const at::Tensor& x, const at::Tensor& y) { return at::mul(x, y); });
  binary("RealDiv", [](const at::Tensor& x, const at::Tensor& y) { return at::div(x, y); });
  binary("FloorDiv", [](const at::Tensor& x, const at::Tensor& y) {
    return at::div(x, y, c10::string_view("floor"));
  });
  binary("Mod", [](const at::Tensor& x, const at::Tensor& y) { return at::remainder(x, y); });
  binary("Pow", [](const at::Tensor& x, const at::Tensor& y) { return at::pow(x, y); });
  binary("Maximum", [](const at::Tensor& x, const at::Tensor& y) { return at::maximum(x, y); });
  binary("Minimum", [](const at::Tensor& x, const at::Tensor& y) { return at::minimum(x, y); });
  binary("SquaredDifference", [](const at::Tensor& x, const at::Tensor& y) {
    at::Tensor d = at::sub(x, y);
    return at::mul(d, d);
  });
  binary("Atan2", [](const at::Tensor& x, const at::Tensor& y) { return at::atan2(x.to(at::kFloat), y.to(at::kFloat)); });
  binary("Equal", [](const at::Tensor& x, const at::Tensor& y) { return at::eq(x, y); });
  binary("NotEqual", [](const at::Tensor& x, const at::Tensor& y) { return at::ne(x, y); });
  binary("Less", [](const at::Tensor& x, const at::Tensor& y) { return at::lt(x, y); });
  binary("LessEqual", [](const at::Tensor& x, const at::Tensor& y) { return at::le(x, y); });
  binary("Greater", [](const at::Tensor& x, const at::Tensor& y) { return at::gt(x, y); });
  binary("GreaterEqual", [](const at::Tensor& x, const at::Tensor& y) { return at::ge(x, y); });
  binary("LogicalAnd", [](const at::Tensor& x, const at::Tensor& y) { return at::logical_and(x, y); });
  binary("LogicalOr", [](const at::Tensor& x, const at::Tensor& y) { return at::logical_or(x, y); });
  binary("LogicalXor", [](const at::Tensor& x, const at::Tensor& y) { return at::logical_xor(x, y); });
  binary("Prelu", [](const at::Tensor& x, const at::Tensor& alpha) {
    return at::where(at::lt(x, 0), at::mul(x, alpha), x);
  });
  r["AddN"] = [](const Tensors& xs, const Attrs&) -> Tensors {
    at::Tensor acc = in(xs, 0, "AddN").clone();
    for (size_t i = 1; i < xs.size(); ++i) acc.add_(xs[i]);
    return {acc};
  };

  for (const char* name : {"Sum", "Prod", "Mean", "Max", "Min", "All", "Any"}) {
    r[name] = [name](const Tensors& xs, const Attrs& a) { return reduce(xs, a, name); };
  }
  r["ArgMax"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {at::argmax(in(xs, 0, "ArgMax"), a.i("axis"), false)};
  };
  r["ArgMin"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {at::argmin(in(xs, 0, "ArgMin"), a.i("axis"), false)};
  };
  r["Softmax"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {at::softmax(in(xs, 0, "Softmax"), a.i("dim"))};
  };
  r["Cumsum"] = [](const Tensors& xs, const Attrs& a) { return cumulative(xs, a, false); };
  r["Cumprod"] = [](const Tensors& xs, const Attrs& a) { return cumulative(xs, a, true); };

  r["Reshape"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {in(xs, 0, "Reshape").reshape(a.ints("shape"))};
  };
  r["Transpose"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {in(xs, 0, "Transpose").permute(a.ints("perm")).contiguous()};
  };
  r["Concat"] = [](const Tensors& xs, const Attrs& a) -> Tensors { return {at::cat(xs, a.i("axis"))}; };
  r["Pack"] = [](const Tensors& xs, const Attrs& a) -> Tensors { return {at::stack(xs, a.i("axis"))}; };
  r["Unpack"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return at::unbind(in(xs, 0, "Unpack"), a.i("axis"));
  };
  r["SplitV"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return at::split_with_sizes(in(xs, 0, "SplitV"), a.ints("sizeSplits"), a.i("axis"));
  };
  r["Slice"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    at::Tensor x = in(xs, 0, "Slice");
    std::vector<int64_t> begin = a.ints("begin"), size = a.ints("size");
    for (size_t d = 0; d < begin.size(); ++d) x = x.narrow(static_cast<int64_t>(d), begin[d], size[d]);
    return {x};
  };
  r["StridedSlice"] = stridedSlice;
  r["PadV2"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    std::vector<int64_t> p = a.ints("paddings");  // [before0, after0, before1, after1, …]
    std::vector<int64_t> rev;
    for (size_t d = p.size() / 2; d-- > 0;) {
      rev.push_back(p[2 * d]);
      rev.push_back(p[2 * d + 1]);
    }
    return {at::constant_pad_nd(in(xs, 0, "PadV2"), rev, a.f("constantValue"))};
  };
  r["Tile"] = [](const Tensors& xs, const Attrs& a) -> Tensors { return {in(xs, 0, "Tile").repeat(a.ints("reps"))}; };
  r["Reverse"] = [](const Tensors& xs, const Attrs& a) -> Tensors { return {at::flip(in(xs, 0, "Reverse"), a.ints("dims"))}; };
  r["BroadcastTo"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {in(xs, 0, "BroadcastTo").expand(a.ints("shape"))};
  };
  r["GatherV2"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    const at::Tensor &x = in(xs, 0, "GatherV2"), &idx = in(xs, 1, "GatherV2");
    int64_t axis = a.i("axis"), batchDims = a.i("batchDims");
    if (batchDims != 0) throw std::runtime_error("batchDims " + std::to_string(batchDims) + " is not supported natively");
    at::Tensor flat = at::index_select(x, axis, idx.reshape({-1}).to(at::kLong));
    std::vector<int64_t> shape(x.sizes().begin(), x.sizes().begin() + axis);
    for (int64_t s : idx.sizes()) shape.push_back(s);
    for (int64_t d = axis + 1; d < x.dim(); ++d) shape.push_back(x.size(d));
    return {flat.reshape(shape)};
  };
  r["Select"] = [](const Tensors& xs, const Attrs&) -> Tensors {
    at::Tensor c = in(xs, 0, "Select");
    const at::Tensor &t = in(xs, 1, "Select"), &e = in(xs, 2, "Select");
    if (c.scalar_type() == at::kBool && c.sizes() == t.sizes() && t.sizes() == e.sizes() &&
        t.scalar_type() == e.scalar_type() && (t.scalar_type() == at::kFloat || t.scalar_type() == at::kInt)) {
      return {selectSameShape(c, t, e)};
    }
    if (c.dim() == 1 && t.dim() > 1) {
      // A rank-1 condition picks whole rows.
      std::vector<int64_t> shape(t.dim(), 1);
      shape[0] = c.size(0);
      c = c.reshape(shape);
    }
    return {at::where(castTo(c, at::kBool), t, e)};
  };
  r["Fill"] = [](const Tensors&, const Attrs& a) -> Tensors {
    return {at::full(a.ints("shape"), a.f("value"), at::TensorOptions().dtype(dtypeAttr(a)))};
  };
  r["OneHot"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    const at::Tensor& idx = in(xs, 0, "OneHot");
    at::Tensor hot = at::eq(idx.to(at::kLong).unsqueeze(-1), at::arange(a.i("depth"), at::TensorOptions().dtype(at::kLong)));
    auto opts = at::TensorOptions().dtype(dtypeAttr(a));
    return {at::where(hot, at::scalar_tensor(a.f("onValue"), opts), at::scalar_tensor(a.f("offValue"), opts))};
  };

  r["FusedBatchNorm"] = fusedBatchNorm;
  r["BatchMatMul"] = matmul;
  r["_FusedMatMul"] = [](const Tensors& xs, const Attrs& a) { return fusedEpilogue(matmul(xs, a)[0], xs, a); };

  r["Conv2D"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {cropNHWC(conv2d(in(xs, 0, "Conv2D"), in(xs, 1, "Conv2D"), geometry(a), false), a.ints("outHW"))};
  };
  r["FusedConv2D"] = [](const Tensors& xs, const Attrs& a) {
    return fusedEpilogue(cropNHWC(conv2d(in(xs, 0, "FusedConv2D"), in(xs, 1, "FusedConv2D"), geometry(a), false), a.ints("outHW")),
                         xs, a);
  };
  r["DepthwiseConv2dNative"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {cropNHWC(conv2d(in(xs, 0, "DepthwiseConv2dNative"), in(xs, 1, "DepthwiseConv2dNative"), geometry(a), true),
                     a.ints("outHW"))};
  };
  r["FusedDepthwiseConv2D"] = [](const Tensors& xs, const Attrs& a) {
    return fusedEpilogue(cropNHWC(conv2d(in(xs, 0, "FusedDepthwiseConv2D"), in(xs, 1, "FusedDepthwiseConv2D"), geometry(a), true),
                                  a.ints("outHW")),
                         xs, a);
  };
  r["Conv2DBackpropInput"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {convBackpropInput(in(xs, 0, "Conv2DBackpropInput"), in(xs, 1, "Conv2DBackpropInput"),
                              a.ints("inputShape"), geometry(a), false)};
  };
  r["DepthwiseConv2dNativeBackpropInput"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {convBackpropInput(in(xs, 0, "DepthwiseConv2dNativeBackpropInput"),
                              in(xs, 1, "DepthwiseConv2dNativeBackpropInput"), a.ints("inputShape"), geometry(a), true)};
  };
  r["Conv2DBackpropFilter"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {convBackpropFilter(in(xs, 0, "Conv2DBackpropFilter"), in(xs, 1, "Conv2DBackpropFilter"),
                               a.ints("filterShape"), geometry(a), false)};
  };
  r["DepthwiseConv2dNativeBackpropFilter"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    return {convBackpropFilter(in(xs, 0, "DepthwiseConv2dNativeBackpropFilter"),
                               in(xs, 1, "DepthwiseConv2dNativeBackpropFilter"), a.ints("filterShape"), geometry(a), true)};
  };
  for (auto& [name, kernel] : fusedKernels()) r[name] = kernel;
  r["MaxPool"] = maxPool;
  r["MaxPoolGrad"] = maxPoolGrad;
  r["ResizeNearestNeighbor"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    const at::Tensor& x = in(xs, 0, "ResizeNearestNeighbor");
    return {at::index_select(at::index_select(x, 1, indexTensor(a.ints("rows"))), 2, indexTensor(a.ints("cols")))};
  };
  r["ResizeNearestNeighborGrad"] = [](const Tensors& xs, const Attrs& a) -> Tensors {
    // The adjoint of the gather above: every output pixel's gradient goes back to its source pixel.
    const at::Tensor &dy = in(xs, 0, "ResizeNearestNeighborGrad"), &images = in(xs, 1, "ResizeNearestNeighborGrad");
    at::Tensor dyf = dy.to(at::kFloat);
    at::Tensor rowsDone = at::zeros({dy.size(0), images.size(1), dy.size(2), dy.size(3)}, dyf.options());
    rowsDone.index_add_(1, indexTensor(a.ints("rows")), dyf);
    at::Tensor dx = at::zeros({dy.size(0), images.size(1), images.size(2), dy.size(3)}, dyf.options());
    dx.index_add_(2, indexTensor(a.ints("cols")), rowsDone);
    return {dx};
  };
  return r;
}

const std::unordered_map<std::string, Kernel>& registry() {
  static const std::unordered_map<std::string, Kernel> r = buildRegistry();
  return r;
}

}  // namespace

Tensors runKernel(const std::string& name, const Tensors& inputs, const Attrs& attrs) {
  auto it = registry().find(name);
  if (it == registry().end()) throw std::runtime_error("no native kernel named '" + name + "'");
  return it->second(inputs, attrs);
}

bool hasKernel(const std::string& name) { return registry().count(name) > 0; }

std::vector<std::string> kernelNames() {
  std::vector<std::string> names;
  for (const auto& kv : registry()) names.push_back(kv.first);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace fy
