// What a debugger needs to list goroutines without running code in the process (a core file, a
// stopped process): plain extern "C" data that runtime/gort_gdb.py reads by symbol name. It
// needs the program's symbol table only, not its debug information, so it works on Release
// builds; the layout table, not DWARF, tells it where a descriptor's fields are.
#pragma once

#include <cstddef>

namespace gort::rt {

struct G;

// The descriptor slabs changed (goroutine.cpp, under the slab lock): republish them. A stopped
// process or a core file shows a consistent pair unless it stopped inside this call.
void debugger_note_slabs(G* const* slabs, size_t count, size_t per_slab);

}  // namespace gort::rt
