// The goroutine dump (DESIGN §6): every goroutine's id, state, wait reason and roughly for how
// long, creation site, and the frames a parked one is parked in. gort::goroutine_dump() returns
// it; SIGQUIT prints it and ends the process the way SIGQUIT would have (Go's behaviour); the
// deadlock report prints it before aborting.
//
// It is a snapshot taken while goroutines keep running, not a stopped world: a goroutine that
// changes state while it is read is shown in one state or the other, and the frames of one
// resumed meanwhile may be cut short (the walk stays inside its stack; see backtrace.hpp).
#pragma once

#include <string>

namespace gort::rt {

std::string dump_goroutines();
// SIGQUIT: installed by run_main when Config::sigquit_dump is set and the signal has its default
// action; removed (the previous action restored) when the run ends.
void sigquit_install();
void sigquit_restore();
// sysmon, each round: prints the dump and re-raises SIGQUIT when one arrived.
void sigquit_poll();

}  // namespace gort::rt
