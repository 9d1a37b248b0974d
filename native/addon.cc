// Node-API surface of the focal-yolo libtorch addon: a table of at::Tensor handles addressed by
// integer ids, copies in and out of JS typed arrays, and one generic kernel entry point.
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <cstring>
#include <stdexcept>

#include "allocator.h"
#include "tensor_table.h"

namespace fy {
namespace {

// Tensors live here until JS frees their id; id 0 is never handed out.
std::vector<at::Tensor> table(1);
std::vector<uint32_t> freeIds;
int64_t liveCount = 0;

enum DtypeCode : int32_t { kF32 = 0, kI32 = 1, kBool = 2 };

at::ScalarType scalarType(int32_t code) {
  switch (code) {
    case kF32: return at::kFloat;
    case kI32: return at::kInt;
    case kBool: return at::kBool;
    default: throw std::runtime_error("dtype code " + std::to_string(code) + " is not float32/int32/bool");
  }
}

int32_t dtypeCode(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return kF32;
    case at::kInt: return kI32;
    case at::kBool: return kBool;
    default: throw std::runtime_error(std::string("result dtype ") + c10::toString(t) + " has no tfjs dtype");
  }
}

// Kernels may produce int64/float64/non-contiguous results; tfjs sees only contiguous float32/int32/bool.
at::Tensor normalise(at::Tensor t) {
  if (t.scalar_type() == at::kLong) t = t.to(at::kInt);
  else if (t.scalar_type() == at::kDouble) t = t.to(at::kFloat);
  return t.contiguous();
}

uint32_t store(at::Tensor t) {
  ++liveCount;
  if (!freeIds.empty()) {
    uint32_t id = freeIds.back();
    freeIds.pop_back();
    table[id] = std::move(t);
    return id;
  }
  table.push_back(std::move(t));
  return static_cast<uint32_t>(table.size() - 1);
}

const at::Tensor& lookup(uint32_t id) {
  if (id == 0 || id >= table.size() || !table[id].defined()) {
    throw std::runtime_error("tensor id " + std::to_string(id) + " is not live (used after dispose?)");
  }
  return table[id];
}

uint32_t idArg(const Napi::Value& v) { return v.As<Napi::Number>().Uint32Value(); }

std::vector<int64_t> shapeArg(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out[i] = a.Get(i).As<Napi::Number>().Int64Value();
  return out;
}

// Turns any exception into a JS Error carrying libtorch's message without its C++ backtrace.
template <typename F>
Napi::Value guarded(const Napi::CallbackInfo& info, const char* what, F body) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Napi::Error::New(info.Env(), std::string(what) + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(what) + ": " + e.what());
  }
}

Napi::Value Create(const Napi::CallbackInfo& info) {
  return guarded(info, "create", [&]() -> Napi::Value {
    Napi::TypedArray src = info[0].As<Napi::TypedArray>();
    std::vector<int64_t> shape = shapeArg(info[1]);
    at::ScalarType type = scalarType(info[2].As<Napi::Number>().Int32Value());
    at::Tensor t = at::empty(shape, at::TensorOptions().dtype(type));
    size_t bytes = t.numel() * t.element_size();
    if (src.ByteLength() != bytes) {
      throw std::runtime_error("values hold " + std::to_string(src.ByteLength()) + " bytes, shape needs " +
                               std::to_string(bytes));
    }
    auto* base = static_cast<uint8_t*>(src.ArrayBuffer().Data()) + src.ByteOffset();
    if (bytes > 0) std::memcpy(t.data_ptr(), base, bytes);
    return Napi::Number::New(info.Env(), store(std::move(t)));
  });
}

Napi::Value Read(const Napi::CallbackInfo& info) {
  return guarded(info, "read", [&]() -> Napi::Value {
    at::Tensor t = lookup(idArg(info[0])).contiguous();
    size_t n = t.numel();
    size_t bytes = n * t.element_size();
    Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(info.Env(), bytes);
    if (bytes > 0) std::memcpy(buf.Data(), t.data_ptr(), bytes);
    switch (dtypeCode(t.scalar_type())) {
      case kF32: return Napi::Float32Array::New(info.Env(), n, buf, 0);
      case kI32: return Napi::Int32Array::New(info.Env(), n, buf, 0);
      default: return Napi::Uint8Array::New(info.Env(), n, buf, 0);
    }
  });
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  uint32_t id = idArg(info[0]);
  if (id != 0 && id < table.size() && table[id].defined()) {
    if (table[id].dim() == 4) dropConvertedWeight(table[id].unsafeGetTensorImpl());
    table[id] = at::Tensor();
    freeIds.push_back(id);
    --liveCount;
  }
  return info.Env().Undefined();
}

Napi::Value Op(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  return guarded(info, name.c_str(), [&]() -> Napi::Value {
    Napi::Array ids = info[1].As<Napi::Array>();
    Tensors inputs;
    inputs.reserve(ids.Length());
    for (uint32_t i = 0; i < ids.Length(); ++i) inputs.push_back(lookup(idArg(ids.Get(i))));
    Attrs attrs(info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>()
                                                        : Napi::Object::New(info.Env()));
    Tensors outs = runKernel(name, inputs, attrs);
    Napi::Env env = info.Env();
    Napi::Array result = Napi::Array::New(env, outs.size());
    for (size_t k = 0; k < outs.size(); ++k) {
      at::Tensor t = normalise(outs[k]);
      int32_t code = dtypeCode(t.scalar_type());
      Napi::Array meta = Napi::Array::New(env, 2 + t.dim());
      for (int64_t d = 0; d < t.dim(); ++d) meta.Set(2 + d, Napi::Number::New(env, t.size(d)));
      meta.Set(1u, Napi::Number::New(env, code));
      meta.Set(0u, Napi::Number::New(env, store(std::move(t))));
      result.Set(k, meta);
    }
    return result;
  });
}

Napi::Value Kernels(const Napi::CallbackInfo& info) {
  std::vector<std::string> names = kernelNames();
  Napi::Array a = Napi::Array::New(info.Env(), names.size());
  for (size_t i = 0; i < names.size(); ++i) a.Set(i, Napi::String::New(info.Env(), names[i]));
  return a;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  return guarded(info, "setThreads", [&]() -> Napi::Value {
    at::set_num_threads(info[0].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  });
}

Napi::Value Threads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), at::get_num_threads());
}

Napi::Value Live(const Napi::CallbackInfo& info) {
  int64_t bytes = 0;
  for (const at::Tensor& t : table) {
    if (t.defined()) bytes += t.numel() * t.element_size();
  }
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("tensors", Napi::Number::New(info.Env(), static_cast<double>(liveCount)));
  o.Set("bytes", Napi::Number::New(info.Env(), static_cast<double>(bytes)));
  o.Set("convertedWeights", Napi::Number::New(info.Env(), static_cast<double>(convertedWeightCount())));
  return o;
}

Napi::Value Config(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), at::show_config());
}

}  // namespace

// --- Attrs -----------------------------------------------------------------------------------

Napi::Value Attrs::get(const char* key) const {
  Napi::Value v = obj_.Get(key);
  if (v.IsUndefined() || v.IsNull()) throw std::runtime_error(std::string("attribute '") + key + "' is missing");
  return v;
}
bool Attrs::has(const char* key) const {
  Napi::Value v = obj_.Get(key);
  return !(v.IsUndefined() || v.IsNull());
}
int64_t Attrs::i(const char* key) const { return get(key).As<Napi::Number>().Int64Value(); }
double Attrs::f(const char* key) const { return get(key).As<Napi::Number>().DoubleValue(); }
bool Attrs::b(const char* key) const { return get(key).ToBoolean().Value(); }
std::string Attrs::s(const char* key) const { return get(key).As<Napi::String>().Utf8Value(); }
std::vector<int64_t> Attrs::ints(const char* key) const { return shapeArg(get(key)); }

}  // namespace fy

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  fy::installCachingAllocator();
  exports.Set("create", Napi::Function::New(env, fy::Create));
  exports.Set("read", Napi::Function::New(env, fy::Read));
  exports.Set("free", Napi::Function::New(env, fy::Free));
  exports.Set("op", Napi::Function::New(env, fy::Op));
  exports.Set("kernels", Napi::Function::New(env, fy::Kernels));
  exports.Set("setThreads", Napi::Function::New(env, fy::SetThreads));
  exports.Set("threads", Napi::Function::New(env, fy::Threads));
  exports.Set("live", Napi::Function::New(env, fy::Live));
  exports.Set("config", Napi::Function::New(env, fy::Config));
  fy::exportAllocator(env, exports);
  return exports;
}

NODE_API_MODULE(focal_yolo_torch, Init)
