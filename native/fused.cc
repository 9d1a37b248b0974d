// Fused training ops of the focal-yolo libtorch backend: convolution + BatchNorm (batch statistics)
// + activation forward and backward in one addon call each, and Mish. tfjs composes the same layer
// from ~20 small kernels (each a full-size temporary); here ATen's own fused kernels do it on NHWC
// storage seen as channels-last NCHW, so nothing is copied between layouts.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "tensor_table.h"

namespace fy {
namespace {

const at::Tensor& arg(const Tensors& xs, size_t i, const char* kernel) {
  if (i >= xs.size() || !xs[i].defined()) {
    throw std::runtime_error(std::string(kernel) + " needs input " + std::to_string(i));
  }
  return xs[i];
}

// NHWC storage as a channels-last NCHW view, and back (no copy when the layout is channels-last).
at::Tensor nchw(const at::Tensor& x) { return x.permute({0, 3, 1, 2}); }
at::Tensor nhwc(const at::Tensor& y) { return y.permute({0, 2, 3, 1}).contiguous(); }

// [N, H, W, C] → [N·H, 1, W, C]: a 1×1 stride-1 convolution under this free view has batch N·H, so
// ATen takes oneDNN rather than im2col + reference BLAS (see kernels.cc foldRows).
at::Tensor foldRows(const at::Tensor& t) { return t.reshape({t.size(0) * t.size(1), 1, t.size(2), t.size(3)}); }

struct Geometry {
  std::vector<int64_t> strides, padding;  // padding: rows, cols (symmetric)
  bool pointwise;
};

Geometry geometry(const at::Tensor& weightOHWI, const Attrs& a, const char* kernel) {
  std::vector<int64_t> s = a.ints("strides"), p = a.ints("pads");  // pads: top, bottom, left, right
  if (s.size() != 2 || p.size() != 4) throw std::runtime_error(std::string(kernel) + ": strides need 2 values and pads 4");
  if (p[0] != p[1] || p[2] != p[3]) {
    throw std::runtime_error(std::string(kernel) + ": asymmetric padding is not fused; use the composed path");
  }
  bool pointwise = weightOHWI.size(1) == 1 && weightOHWI.size(2) == 1 && s[0] == 1 && s[1] == 1 && p[0] == 0 && p[2] == 0;
  return {s, {p[0], p[2]}, pointwise};
}

enum class Activation { kLinear, kLeaky, kMish };

Activation activationAttr(const Attrs& a, const char* kernel) {
  std::string s = a.s("activation");
  if (s == "linear") return Activation::kLinear;
  if (s == "leaky") return Activation::kLeaky;
  if (s == "mish") return Activation::kMish;
  throw std::runtime_error(std::string(kernel) + ": activation '" + s + "' is not one of linear, leaky, mish");
}

// Inputs: x [N,H,W,I], filter [kh,kw,I,O], gamma [O], beta [O], running mean [O], running variance [O].
// Outputs: activation [N,Ho,Wo,O], conv output y, batch mean, batch 1/√(σ²+ε), the filter in ATen's
// layout [O,kh,kw,I] (kept for the backward pass), new running mean, new running variance, and the
// normalised pre-activation z when the activation is Mish (its gradient needs z).
Tensors convBnActForward(const Tensors& xs, const Attrs& a) {
  const char* k = "FyConvBnAct";
  const at::Tensor &x = arg(xs, 0, k), &filter = arg(xs, 1, k);
  at::Tensor weight = filter.permute({3, 0, 1, 2}).contiguous();  // [O, kh, kw, I]
  Geometry g = geometry(weight, a, k);
  Activation act = activationAttr(a, k);
  const std::vector<int64_t> ones{1, 1};
  at::Tensor w = nchw(weight);  // [O, I, kh, kw], channels-last
  at::Tensor y;
  if (g.pointwise) {
    y = nhwc(at::convolution(nchw(foldRows(x)), w, {}, ones, {0, 0}, ones, false, {0, 0}, 1))
            .view({x.size(0), x.size(1), x.size(2), weight.size(0)});
  } else {
    y = nhwc(at::convolution(nchw(x), w, {}, g.strides, g.padding, ones, false, {0, 0}, 1));
  }
  // ATen updates the running statistics in place (momentum, unbiased variance): on copies, since the
  // inputs are tfjs tensors that must not change.
  at::Tensor runningMean = arg(xs, 4, k).clone(), runningVar = arg(xs, 5, k).clone();
  auto bn = at::native_batch_norm(nchw(y), arg(xs, 2, k), arg(xs, 3, k), runningMean, runningVar, true,
                                  a.f("momentum"), a.f("epsilon"));
  const at::Tensor& z = std::get<0>(bn);
  at::Tensor out = act == Activation::kLeaky ? at::leaky_relu(z, a.f("alpha"))
                   : act == Activation::kMish ? at::mish(z)
                                              : z;
  Tensors result{nhwc(out), y, std::get<1>(bn), std::get<2>(bn), weight, runningMean, runningVar};
  if (act == Activation::kMish) result.push_back(nhwc(z));
  return result;
}

// Inputs: dy, x, the filter as FyConvBnAct returned it [O,kh,kw,I], gamma, y, batch mean, batch invstd,
// and the activation's saved tensor (its output for leaky, z for Mish, unused for linear).
// Outputs: dx (only when attribute needDx), dfilter [kh,kw,I,O], dgamma, dbeta.
Tensors convBnActBackward(const Tensors& xs, const Attrs& a) {
  const char* k = "FyConvBnActGrad";
  const at::Tensor &dy = arg(xs, 0, k), &x = arg(xs, 1, k), &weight = arg(xs, 2, k);
  Geometry g = geometry(weight, a, k);
  Activation act = activationAttr(a, k);
  bool needDx = a.b("needDx");
  at::Tensor dz = nchw(dy);
  if (act == Activation::kLeaky) dz = at::leaky_relu_backward(dz, nchw(arg(xs, 7, k)), a.f("alpha"), true);
  if (act == Activation::kMish) dz = at::mish_backward(dz, nchw(arg(xs, 7, k)));
  auto bn = at::native_batch_norm_backward(dz, nchw(arg(xs, 4, k)), arg(xs, 3, k), {}, {}, arg(xs, 5, k), arg(xs, 6, k),
                                           true, a.f("epsilon"), {true, true, true});
  at::Tensor dyConv = nhwc(std::get<0>(bn));
  const std::vector<int64_t> ones{1, 1};
  at::Tensor w = nchw(weight);
  at::Tensor xin = g.pointwise ? foldRows(x) : x;
  at::Tensor gin = g.pointwise ? foldRows(dyConv) : dyConv;
  auto conv = at::convolution_backward(nchw(gin), nchw(xin), w, c10::nullopt, g.pointwise ? ones : g.strides,
                                       g.pointwise ? std::vector<int64_t>{0, 0} : g.padding, ones, false, {0, 0}, 1,
                                       {needDx, true, false});
  Tensors result;
  if (needDx) result.push_back(nhwc(std::get<0>(conv)).view(x.sizes()));
  result.push_back(std::get<1>(conv).permute({2, 3, 1, 0}).contiguous());  // [O,I,kh,kw] → [kh,kw,I,O]
  result.push_back(std::get<1>(bn));
  result.push_back(std::get<2>(bn));
  return result;
}

// Mish for inference in one pass with one exp per element: with t = eˣ, tanh(softplus(x)) =
// ((1+t)² − 1)/((1+t)² + 1) = n/(n + 2), n = t·(t + 2). Above x = 20 the factor is 1 in float (and n
// would overflow past x ≈ 44), so y = x. ATen's mish evaluates exp, log1p and tanh per element.
at::Tensor mishForward(const at::Tensor& xIn) {
  if (xIn.scalar_type() != at::kFloat) return at::mish(xIn);
  at::Tensor x = xIn.contiguous();
  at::Tensor y = at::empty_like(x, at::MemoryFormat::Contiguous);
  const float* px = x.data_ptr<float>();
  float* py = y.data_ptr<float>();
  at::parallel_for(0, x.numel(), 32768, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float v = px[i];
      float t = std::exp(std::min(v, 20.0f));
      float n = t * (t + 2.0f);
      py[i] = v > 20.0f ? v : v * (n / (n + 2.0f));
    }
  });
  return y;
}

}  // namespace

std::vector<std::pair<std::string, KernelFn>> fusedKernels() {
  return {
      {"FyConvBnAct", convBnActForward},
      {"FyConvBnActGrad", convBnActBackward},
      {"FyMish", [](const Tensors& xs, const Attrs&) -> Tensors { return {mishForward(arg(xs, 0, "FyMish"))}; }},
      {"FyMishGrad",
       [](const Tensors& xs, const Attrs&) -> Tensors {
         return {at::mish_backward(arg(xs, 0, "FyMishGrad"), arg(xs, 1, "FyMishGrad"))};
       }},
  };
}

}  // namespace fy
