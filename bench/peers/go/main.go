// Go peer of bench/macro/macro_main.cpp: the same workloads, run by the Go runtime, so that
// bench/compare.sh can put gort and Go side by side. One workload per invocation; the one line
// on stdout is machine-readable:
//
//	RESULT runtime=go workload=NAME procs=N value=X unit=U [note=...]
//
// Checks and extra detail go to stderr. Exit status: 0 ok, 1 check failed, 2 usage error.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
)

// A workload runs once with size n (0: its standard size) and returns value, unit, optional note.
type workload struct {
	defaultN int
	run      func(n int) (value float64, unit string, note string)
}

var workloads = map[string]workload{
	"spawn":       {1_000_000, runSpawn},
	"skynet":      {1_000_000, runSkynet},
	"skynet_chan": {1_000_000, runSkynetChan},
	"fib":         {35, runFib},
	"yield":       {10_000_000, runYield},
	"mutex":       {10_000_000, runMutex},
	"parked":      {1_000_000, runParked},
	"timers":      {1_000_000, runTimers},
	"tcpecho":     {400_000, runTCPEcho},
}

func names() string {
	var s []string
	for k := range workloads {
		s = append(s, k)
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

func main() {
	name := flag.String("workload", "", "workload: "+names())
	procs := flag.Int("procs", 1, "GOMAXPROCS")
	n := flag.Int("n", 0, "workload size (0: standard size; see bench/README.md)")
	flag.Parse()
	w, ok := workloads[*name]
	if !ok || *procs < 1 || *n < 0 {
		fmt.Fprintf(os.Stderr, "usage: gortpeers -workload NAME -procs N [-n SIZE]; workloads: %s\n", names())
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*procs)
	size := *n
	if size == 0 {
		size = w.defaultN
	}
	value, unit, note := w.run(size)
	line := fmt.Sprintf("RESULT runtime=go workload=%s procs=%d value=%.1f unit=%s", *name, *procs, value, unit)
	if note != "" {
		line += " note=" + note
	}
	fmt.Println(line)
}

func check(ok bool, format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	if !ok {
		fmt.Fprintln(os.Stderr, "CHECK FAILED: "+msg)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "check ok: "+msg)
}
