// SIGINT / SIGTERM as an event a goroutine can wait for, so servers stop by returning from
// their main goroutine instead of dying inside a handler.
#pragma once

namespace examples {

// Blocks SIGINT and SIGTERM and returns a signalfd that becomes readable when one arrives.
// Call it in main() before gort::run: threads inherit the signal mask, and every runtime thread
// must have the signals blocked or one of them would take the default action.
int block_shutdown_signals();

// Parks the calling goroutine until SIGINT or SIGTERM arrives; returns the signal number.
int wait_for_shutdown_signal(int signal_fd);

}  // namespace examples
