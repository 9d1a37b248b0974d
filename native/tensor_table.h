// Shared declarations of the focal-yolo libtorch addon: the tensor table and the attribute reader.
#pragma once
#include <ATen/ATen.h>
#include <napi.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace fy {

// Reads kernel attributes from the plain JS object the TypeScript side passes.
class Attrs {
 public:
  explicit Attrs(Napi::Object obj) : obj_(obj) {}
  bool has(const char* key) const;
  int64_t i(const char* key) const;
  double f(const char* key) const;
  bool b(const char* key) const;
  std::string s(const char* key) const;
  std::vector<int64_t> ints(const char* key) const;

 private:
  Napi::Value get(const char* key) const;
  Napi::Object obj_;
};

using Tensors = std::vector<at::Tensor>;

// Runs the named kernel; throws std::runtime_error naming the kernel on an unknown name.
Tensors runKernel(const std::string& name, const Tensors& inputs, const Attrs& attrs);

// A native kernel: input tensors and attributes in, output tensors out.
using KernelFn = std::function<Tensors(const Tensors&, const Attrs&)>;

// The fused training kernels of fused.cc, merged into runKernel's registry.
std::vector<std::pair<std::string, KernelFn>> fusedKernels();

// The convolution kernels' cache of filters converted to ATen's layout: drop the entry of a
// freed source tensor at once (the cache also drops stale entries itself), and count the entries.
void dropConvertedWeight(const c10::TensorImpl* source);
size_t convertedWeightCount();

// True when runKernel knows `name`.
bool hasKernel(const std::string& name);

// The names runKernel knows.
std::vector<std::string> kernelNames();

}  // namespace fy
