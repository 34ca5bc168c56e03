package main

// Channel workloads, the Go side of bench/macro/chan_workloads.cpp. They register themselves so
// main.go's table stays as it is.

import (
	"sync"
	"time"
)

func init() {
	workloads["pingpong"] = workload{1_000_000, runPingPong}
	workloads["ring"] = workload{1_000, runRing}
	workloads["mpmc"] = workload{2_000_000, runMpmc}
	workloads["select2"] = workload{2_000_000, func(n int) (float64, string, string) { return runSelect(n, 2) }}
	workloads["select4"] = workload{2_000_000, func(n int) (float64, string, string) { return runSelect(n, 4) }}
}

// pingpong: n round trips over two unbuffered channels between two goroutines; ns per round trip.
func runPingPong(n int) (float64, string, string) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	bad := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		if <-pong != i {
			bad++
		}
	}
	el := time.Since(start)
	close(ping)
	check(bad == 0, "pingpong values")
	return float64(el.Nanoseconds()) / float64(n), "ns_per_roundtrip", ""
}

// ring: n goroutines in a ring of unbuffered channels pass a token 1000 times around; ns per hop.
func runRing(n int) (float64, string, string) {
	const laps = 1000
	links := make([]chan int, n+1)
	for i := range links {
		links[i] = make(chan int)
	}
	for i := 0; i < n; i++ {
		go func(in <-chan int, out chan<- int) {
			for v := range in {
				out <- v + 1
			}
			close(out)
		}(links[i], links[i+1])
	}
	bad := 0
	start := time.Now()
	for l := 0; l < laps; l++ {
		links[0] <- 0
		if <-links[n] != n {
			bad++
		}
	}
	el := time.Since(start)
	check(bad == 0, "ring token")
	close(links[0])
	for range links[n] {
	}
	return float64(el.Nanoseconds()) / float64(laps*n), "ns_per_hop", ""
}

// mpmc: 4 producers and 4 consumers move n ints through a channel of capacity 128; ns per message.
func runMpmc(n int) (float64, string, string) {
	ch := make(chan int, 128)
	var prod, cons sync.WaitGroup
	var sums [4]int64
	per := n / 4
	start := time.Now()
	for p := 0; p < 4; p++ {
		prod.Add(1)
		go func() {
			for i := 0; i < per; i++ {
				ch <- i
			}
			prod.Done()
		}()
	}
	for c := 0; c < 4; c++ {
		cons.Add(1)
		go func(c int) {
			for v := range ch {
				sums[c] += int64(v)
			}
			cons.Done()
		}(c)
	}
	prod.Wait()
	close(ch)
	cons.Wait()
	el := time.Since(start)
	var total int64
	for _, s := range sums {
		total += s
	}
	check(total == 4*int64(per)*int64(per-1)/2, "mpmc checksum")
	return float64(el.Nanoseconds()) / float64(4*per), "ns_per_msg", ""
}

// selectK: a producer per channel keeps k unbuffered channels busy; one consumer selects over
// all k, n times; ns per select.
func runSelect(n, k int) (float64, string, string) {
	chans := make([]chan int, k)
	done := make(chan struct{})
	for i := range chans {
		chans[i] = make(chan int)
		go func(c chan int) {
			for {
				select {
				case c <- 1:
				case <-done:
					return
				}
			}
		}(chans[i])
	}
	got := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		if k == 2 {
			select {
			case v := <-chans[0]:
				got += v
			case v := <-chans[1]:
				got += v
			}
		} else {
			select {
			case v := <-chans[0]:
				got += v
			case v := <-chans[1]:
				got += v
			case v := <-chans[2]:
				got += v
			case v := <-chans[3]:
				got += v
			}
		}
	}
	el := time.Since(start)
	close(done)
	check(got == n, "select count")
	return float64(el.Nanoseconds()) / float64(n), "ns_per_select", ""
}
