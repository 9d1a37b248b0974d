// A caching CPU allocator for libtorch: blocks of at least kMinCachedBytes are kept on free and handed
// out again for a request of the same size (up to kSlack larger), so a training step, which frees and
// allocates the same activation sizes every step, stops paying glibc's mmap/munmap and the page faults
// of touching fresh pages (measured above ~32 MB, glibc's largest mmap threshold). The cache is bounded
// (oldest blocks are released first), can be emptied with trimAllocator(), and is thread-safe
// (ATen may allocate from its worker threads). Smaller blocks go straight to c10's alloc_cpu/free_cpu.
#include "allocator.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>

namespace fy {
namespace {

constexpr size_t kMinCachedBytes = size_t{1} << 20;  // smaller blocks are glibc's business
constexpr size_t kGranule = size_t{1} << 12;         // sizes are rounded to whole pages
constexpr size_t kSlack = 8;                         // reuse a block at most 1/kSlack larger than asked
constexpr size_t kAlignment = 64;                    // c10's own CPU alignment
constexpr size_t kDefaultLimitBytes = size_t{1} << 30;

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(size_t limit) : limit_(limit) {}

  c10::DataPtr allocate(size_t n) const override {
    void* p = n >= kMinCachedBytes ? self()->take((n + kGranule - 1) / kGranule * kGranule) : c10::alloc_cpu(n);
    return {p, p, &release, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  // Frees every cached block; returns the bytes released.
  size_t trim() {
    std::lock_guard<std::mutex> lock(mutex_);
    size_t released = cachedBytes_;
    for (auto& kv : free_) {
      size_.erase(kv.second.ptr);
      std::free(kv.second.ptr);
    }
    free_.clear();
    cachedBytes_ = 0;
    return released;
  }

  struct Stats {
    size_t cachedBytes, cachedBlocks, liveBytes, limit;
    uint64_t hits, misses, releasedBytes;
  };
  Stats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {cachedBytes_, free_.size(), liveBytes_, limit_, hits_, misses_, releasedBytes_};
  }

 private:
  struct FreeBlock {
    void* ptr;
    uint64_t freedAt;  // for releasing the oldest first
  };

  // allocate() is const in c10's interface; the cache is this object's mutable state.
  CachingCpuAllocator* self() const { return const_cast<CachingCpuAllocator*>(this); }

  void* take(size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_.lower_bound(bytes);
      if (it != free_.end() && it->first <= bytes + bytes / kSlack) {
        void* p = it->second.ptr;
        cachedBytes_ -= it->first;
        liveBytes_ += it->first;
        free_.erase(it);
        ++hits_;
        return p;
      }
      ++misses_;
    }
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, bytes) != 0) {
      // Memory is short: give the cache back and try once more.
      trim();
      if (posix_memalign(&p, kAlignment, bytes) != 0) throw std::bad_alloc();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    size_[p] = bytes;
    liveBytes_ += bytes;
    return p;
  }

  // Called for every block this allocator handed out (the DataPtr's deleter).
  static void release(void* p) {
    if (p == nullptr) return;
    CachingCpuAllocator& a = *instance;
    std::unique_lock<std::mutex> lock(a.mutex_);
    auto it = a.size_.find(p);
    if (it == a.size_.end()) {
      lock.unlock();
      c10::free_cpu(p);
      return;
    }
    size_t bytes = it->second;
    a.liveBytes_ -= bytes;
    if (bytes > a.limit_) {
      a.size_.erase(it);
      a.releasedBytes_ += bytes;
      lock.unlock();
      std::free(p);
      return;
    }
    while (a.cachedBytes_ + bytes > a.limit_) a.releaseOldest();
    a.free_.insert({bytes, FreeBlock{p, a.clock_++}});
    a.cachedBytes_ += bytes;
  }

  // Caller holds mutex_ and the cache is not empty.
  void releaseOldest() {
    auto oldest = free_.begin();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second.freedAt < oldest->second.freedAt) oldest = it;
    }
    cachedBytes_ -= oldest->first;
    releasedBytes_ += oldest->first;
    size_.erase(oldest->second.ptr);
    std::free(oldest->second.ptr);
    free_.erase(oldest);
  }

  std::mutex mutex_;
  std::multimap<size_t, FreeBlock> free_;     // cached blocks by size
  std::unordered_map<void*, size_t> size_;    // every large block, live or cached
  size_t limit_;
  size_t cachedBytes_ = 0, liveBytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0, releasedBytes_ = 0, clock_ = 0;

 public:
  // Never destroyed: tensors may be freed during process exit after static destructors ran.
  static CachingCpuAllocator* instance;
};

CachingCpuAllocator* CachingCpuAllocator::instance = nullptr;

size_t limitFromEnv() {
  const char* raw = std::getenv("FOCAL_YOLO_ALLOCATOR_CACHE_MB");
  if (raw == nullptr || *raw == '\0') return kDefaultLimitBytes;
  char* end = nullptr;
  unsigned long long mb = std::strtoull(raw, &end, 10);
  if (end == raw || *end != '\0') return kDefaultLimitBytes;
  return static_cast<size_t>(mb) << 20;
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  CachingCpuAllocator* a = CachingCpuAllocator::instance;
  o.Set("enabled", Napi::Boolean::New(env, a != nullptr));
  if (a == nullptr) return o;
  CachingCpuAllocator::Stats s = a->stats();
  o.Set("cachedBytes", Napi::Number::New(env, static_cast<double>(s.cachedBytes)));
  o.Set("cachedBlocks", Napi::Number::New(env, static_cast<double>(s.cachedBlocks)));
  o.Set("liveBytes", Napi::Number::New(env, static_cast<double>(s.liveBytes)));
  o.Set("limitBytes", Napi::Number::New(env, static_cast<double>(s.limit)));
  o.Set("hits", Napi::Number::New(env, static_cast<double>(s.hits)));
  o.Set("misses", Napi::Number::New(env, static_cast<double>(s.misses)));
  o.Set("releasedBytes", Napi::Number::New(env, static_cast<double>(s.releasedBytes)));
  return o;
}

Napi::Value Trim(const Napi::CallbackInfo& info) {
  CachingCpuAllocator* a = CachingCpuAllocator::instance;
  return Napi::Number::New(info.Env(), a == nullptr ? 0.0 : static_cast<double>(a->trim()));
}

}  // namespace

void installCachingAllocator() {
  const char* flag = std::getenv("FOCAL_YOLO_CACHING_ALLOCATOR");
  if (flag != nullptr && std::string(flag) == "0") return;
  if (CachingCpuAllocator::instance != nullptr) return;
  CachingCpuAllocator::instance = new CachingCpuAllocator(limitFromEnv());
  // Priority above c10's default CPU allocator (0); tensors made before keep their own deleters.
  c10::SetCPUAllocator(CachingCpuAllocator::instance, 1);
}

void exportAllocator(Napi::Env env, Napi::Object exports) {
  exports.Set("allocator", Napi::Function::New(env, Stats));
  exports.Set("trimAllocator", Napi::Function::New(env, Trim));
}

}  // namespace fy
