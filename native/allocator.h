// The addon's caching CPU allocator for large blocks (native/allocator.cc).
#pragma once
#include <napi.h>

namespace fy {

// Registers the caching allocator as libtorch's CPU allocator unless FOCAL_YOLO_CACHING_ALLOCATOR=0.
void installCachingAllocator();

// Adds `allocator()` (statistics) and `trimAllocator()` (release the cache) to the addon's exports.
void exportAllocator(Napi::Env env, Napi::Object exports);

}  // namespace fy
