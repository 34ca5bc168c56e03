// Boost.Context backend for the two context functions declared in runtime/context.hpp, for
// platforms without a port in asm/. Built instead of the asm/ file when GORT_CONTEXT=boost.
//
// How the fcontext model is mapped onto make/swap:
//
// fcontext hands the *resumed* side a transfer_t {fctx, data}: fctx is the handle of the side
// that just suspended, data is whatever that side passed to jump_fcontext. gort_ctx_swap, on
// the other hand, must leave the suspended side's handle in *save. So the suspending side
// passes `save` as the data, and every side that resumes stores t.fctx into the slot it
// receives before running any of its own code:
//
//   A: gort_ctx_swap(&a, b)  ->  jump_fcontext(b, &a)
//   B (resumes inside its own earlier gort_ctx_swap): t = {A's fctx, &a}; a = t.fctx; return.
//
// Thus *save is written by the resumed side, on the same thread, before any code of the
// resumed context runs: once gort_ctx_swap has returned in the other context, *save is valid,
// which is the same guarantee the asm backend gives.
//
// A fresh context has no earlier gort_ctx_swap to resume into, and fcontext's entry function
// receives a transfer_t instead of our `arg`. gort_ctx_make therefore places a small record
// {fctx, entry, arg, save} at the top of the new stack and returns its address with the low
// bit set (fcontext handles and the record are at least 16-byte aligned, so the bit is free).
// gort_ctx_swap recognises the tag, stores `save` into the record and jumps to record->fctx
// with the record as the data; the trampoline then stores t.fctx into *record->save and calls
// entry(arg). The record stays at the top of the stack, unused, for the context's lifetime.
//
// FP control state: on x86_64 Boost saves MXCSR and the x87 CW per context, like the asm
// backend; on other architectures it depends on the Boost port.
#include <boost/context/detail/fcontext.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "runtime/context.hpp"

namespace {

namespace bctx = boost::context::detail;

struct alignas(16) FreshRecord {
  bctx::fcontext_t fctx;
  void (*entry)(void*);
  void* arg;
  void** save;  // filled in by the first swap into this context
};

constexpr uintptr_t kFreshTag = 1;

// make_fcontext takes a stack size too, but the ELF ports (x86_64, arm64, ppc64, riscv64, ...)
// only use the top address; the real size is not known here.
constexpr std::size_t kNominalStackSize = 64 * 1024;

void fresh_trampoline(bctx::transfer_t t) {
  auto* rec = static_cast<FreshRecord*>(t.data);
  *rec->save = t.fctx;
  rec->entry(rec->arg);
  std::abort();  // entry must never return
}

}  // namespace

extern "C" void* gort_ctx_make(void* stack_top, void (*entry)(void*), void* arg) {
  auto top = reinterpret_cast<uintptr_t>(stack_top) & ~uintptr_t{15};
  auto* rec = reinterpret_cast<FreshRecord*>(top - sizeof(FreshRecord));
  rec->entry = entry;
  rec->arg = arg;
  rec->save = nullptr;
  // The fcontext frame goes below the record.
  rec->fctx = bctx::make_fcontext(rec, kNominalStackSize, &fresh_trampoline);
  return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(rec) | kFreshTag);
}

extern "C" void gort_ctx_swap(void** save, void* handle) {
  const auto h = reinterpret_cast<uintptr_t>(handle);
  bctx::transfer_t t;
  if (h & kFreshTag) {
    auto* rec = reinterpret_cast<FreshRecord*>(h & ~kFreshTag);
    rec->save = save;
    t = bctx::jump_fcontext(rec->fctx, rec);
  } else {
    t = bctx::jump_fcontext(handle, save);
  }
  // Resumed: whoever switched to us passed its own save slot.
  *static_cast<void**>(t.data) = t.fctx;
}
