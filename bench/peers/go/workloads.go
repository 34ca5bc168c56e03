package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// spawn: n trivial goroutines, each only signals a WaitGroup; ns per goroutine, spawn to last exit.
func runSpawn(n int) (float64, string, string) {
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	el := time.Since(start)
	return float64(el.Nanoseconds()) / float64(n), "ns_per_goroutine", ""
}

// skynet: a 10-ary tree of goroutines with n leaves (a power of 10); leaf i returns i, each inner
// node sums its children. Fork-join with a WaitGroup and one result slot per child.
func skynetWG(num, size int64, out *int64, done *sync.WaitGroup) {
	if size == 1 {
		*out = num
		done.Done()
		return
	}
	var slots [10]int64
	var wg sync.WaitGroup
	wg.Add(10)
	sub := size / 10
	for i := int64(0); i < 10; i++ {
		go skynetWG(num+i*sub, sub, &slots[i], &wg)
	}
	wg.Wait()
	var sum int64
	for _, v := range slots {
		sum += v
	}
	*out = sum
	done.Done()
}

func skynetSize(n int) int64 {
	size := int64(1)
	for size < int64(n) {
		size *= 10
	}
	if size != int64(n) {
		fmt.Fprintf(os.Stderr, "skynet: n=%d is not a power of 10\n", n)
		os.Exit(2)
	}
	return size
}

func runSkynet(n int) (float64, string, string) {
	size := skynetSize(n)
	var result int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(1)
	go skynetWG(0, size, &result, &wg)
	wg.Wait()
	el := time.Since(start)
	check(result == size*(size-1)/2, "skynet sum %d (want %d)", result, size*(size-1)/2)
	return float64(el.Nanoseconds()) / 1e6, "ms", ""
}

// skynet_chan: the original skynet, children report on an unbuffered channel per node.
func skynetChan(c chan<- int64, num, size int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64)
	sub := size / 10
	for i := int64(0); i < 10; i++ {
		go skynetChan(rc, num+i*sub, sub)
	}
	var sum int64
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

func runSkynetChan(n int) (float64, string, string) {
	size := skynetSize(n)
	c := make(chan int64)
	start := time.Now()
	go skynetChan(c, 0, size)
	result := <-c
	el := time.Since(start)
	check(result == size*(size-1)/2, "skynet_chan sum %d (want %d)", result, size*(size-1)/2)
	return float64(el.Nanoseconds()) / 1e6, "ms", ""
}

// fib: fork-join fib(n). Above the cutoff a call spawns fib(n-1), computes fib(n-2) itself and
// waits on a WaitGroup; at or below it, plain recursion.
const fibCutoff = 15

func fibSeq(n int) int64 {
	if n < 2 {
		return int64(n)
	}
	return fibSeq(n-1) + fibSeq(n-2)
}

func fibPar(n int) int64 {
	if n <= fibCutoff {
		return fibSeq(n)
	}
	var a int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		a = fibPar(n - 1)
		wg.Done()
	}()
	b := fibPar(n - 2)
	wg.Wait()
	return a + b
}

func runFib(n int) (float64, string, string) {
	start := time.Now()
	r := fibPar(n)
	el := time.Since(start)
	want := fibSeq(n)
	check(r == want, "fib(%d) = %d (want %d, cutoff %d)", n, r, want, fibCutoff)
	return float64(el.Nanoseconds()) / 1e6, "ms", ""
}

// yield: two goroutines each call Gosched n/2 times; ns per yield (total time / n).
func runYield(n int) (float64, string, string) {
	per := n / 2
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	for g := 0; g < 2; g++ {
		go func() {
			for i := 0; i < per; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	return float64(el.Nanoseconds()) / float64(2*per), "ns_per_yield", ""
}

// mutex: 4 goroutines each do n/4 Lock/increment/Unlock on one sync.Mutex; ns per pair.
func runMutex(n int) (float64, string, string) {
	const workers = 4
	per := n / workers
	var mu sync.Mutex
	var counter int64
	var wg sync.WaitGroup
	wg.Add(workers)
	start := time.Now()
	for g := 0; g < workers; g++ {
		go func() {
			for i := 0; i < per; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	check(counter == int64(workers*per), "mutex counter %d (want %d)", counter, workers*per)
	return float64(el.Nanoseconds()) / float64(workers*per), "ns_per_lock", ""
}

// procStatusKB returns the named fields (in kB) of /proc/self/status.
func procStatusKB(keys ...string) map[string]int64 {
	out := map[string]int64{}
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range keys {
			if strings.HasPrefix(line, k+":") {
				fields := strings.Fields(line[len(k)+1:])
				if len(fields) > 0 {
					v, _ := strconv.ParseInt(fields[0], 10, 64)
					out[k] = v
				}
			}
		}
	}
	return out
}

// parked: n goroutines blocked at once on a shared WaitGroup; process memory growth (VmRSS +
// VmPTE, the same figure as the gort side) per goroutine while all are parked; then released.
func runParked(n int) (float64, string, string) {
	runtime.GC()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	before := procStatusKB("VmRSS", "VmPTE")

	var started, finished, release sync.WaitGroup
	release.Add(1)
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			release.Wait()
			finished.Done()
		}()
	}
	started.Wait()
	alive := runtime.NumGoroutine()
	after := procStatusKB("VmRSS", "VmPTE")
	runtime.ReadMemStats(&ms1)

	release.Done()
	finished.Wait()

	grow := (after["VmRSS"] + after["VmPTE"]) - (before["VmRSS"] + before["VmPTE"])
	per := float64(grow*1024) / float64(n)
	fmt.Fprintf(os.Stderr, "parked: %d goroutines alive; VmRSS %d -> %d kB, VmPTE %d -> %d kB; "+
		"MemStats Sys %d -> %d (%.0f B/G), StackInuse %d -> %d\n",
		alive, before["VmRSS"], after["VmRSS"], before["VmPTE"], after["VmPTE"],
		ms0.Sys, ms1.Sys, float64(ms1.Sys-ms0.Sys)/float64(n), ms0.StackInuse, ms1.StackInuse)
	check(alive >= n, "%d goroutines parked at once (want >= %d)", alive, n)
	return per, "bytes_per_goroutine", "rss+pte"
}

// timers: n goroutines, each sleeping a random 0-100 ms (the same pseudo-random sequence as the
// gort side); (time from the first spawn to the last wake-up - 100 ms) / n, ns per timed goroutine.
func runTimers(n int) (float64, string, string) {
	var wg sync.WaitGroup
	var early int64
	var mu sync.Mutex
	wg.Add(n)
	start := time.Now()
	for i := 0; i < n; i++ {
		x := uint32(i) * 2654435761
		d := time.Duration(x%100000) * time.Microsecond
		go func() {
			deadline := time.Now().Add(d)
			time.Sleep(d)
			if time.Now().Before(deadline) {
				mu.Lock()
				early++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(start) - 100*time.Millisecond
	check(early == 0, "%d goroutines woke early (want 0)", early)
	return float64(el.Nanoseconds()) / float64(n), "ns_per_timer", ""
}
