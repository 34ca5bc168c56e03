package main

// tcpecho: in-process TCP echo over loopback (same as bench/macro/macro_main.cpp's run_tcpecho).
// tcpEchoConns connections, each with a client goroutine that sends 64 bytes and waits for them to
// come back, and a server goroutine that echoes; n round trips in all; ns per round trip.

import (
	"bytes"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

const (
	tcpEchoConns = 100
	tcpEchoSize  = 64
)

func runTCPEcho(n int) (float64, string, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err == nil, "listen on 127.0.0.1:0 (%v)", err)
	var served int64
	var servers sync.WaitGroup
	servers.Add(tcpEchoConns)
	go func() {
		for i := 0; i < tcpEchoConns; i++ {
			c, err := ln.Accept()
			if err != nil {
				servers.Done()
				continue
			}
			go func(c net.Conn) {
				buf := make([]byte, 4096)
				for {
					got, err := c.Read(buf)
					if got == 0 || err != nil {
						break
					}
					if _, err := c.Write(buf[:got]); err != nil {
						break
					}
					atomic.AddInt64(&served, int64(got))
				}
				c.Close()
				servers.Done()
			}(c)
		}
	}()
	conns := make([]net.Conn, tcpEchoConns)
	for i := range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			check(false, "dial %s (%v)", ln.Addr(), err)
		}
		conns[i] = c
	}
	check(true, "%d connections to %s", tcpEchoConns, ln.Addr())
	per := n / tcpEchoConns
	if per < 1 {
		per = 1
	}
	var bad int64
	var clients sync.WaitGroup
	clients.Add(tcpEchoConns)
	start := time.Now()
	for i, c := range conns {
		go func(i int, c net.Conn) {
			out := make([]byte, tcpEchoSize)
			in := make([]byte, tcpEchoSize)
			for k := 0; k < per; k++ {
				for j := range out {
					out[j] = byte(i + k)
				}
				if _, err := c.Write(out); err != nil {
					atomic.AddInt64(&bad, 1)
					break
				}
				if _, err := io.ReadFull(c, in); err != nil || !bytes.Equal(in, out) {
					atomic.AddInt64(&bad, 1)
					break
				}
			}
			clients.Done()
		}(i, c)
	}
	clients.Wait()
	el := time.Since(start)
	for _, c := range conns {
		c.Close()
	}
	servers.Wait()
	ln.Close()
	want := int64(per * tcpEchoConns * tcpEchoSize)
	check(bad == 0, "every round trip came back intact")
	check(served == want, "server echoed %d bytes (want %d)", served, want)
	return float64(el.Nanoseconds()) / float64(per*tcpEchoConns), "ns_per_roundtrip", ""
}
