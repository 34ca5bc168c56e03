// Fatal misuse of the API by the program (unlocking a mutex nobody holds): reported like Go's
// "fatal error: sync: unlock of unlocked mutex", with who made the mistake.
#pragma once

namespace gort::rt {

// Prints "gort: fatal error: MESSAGE", then the goroutine that called (its id and where it was
// created) or "on a thread outside the runtime", and the caller's stack, symbolized; aborts.
// Not async-signal-safe (it symbolizes): signal handlers use fatal().
[[noreturn]] void fatal_misuse(const char* message);

}  // namespace gort::rt
