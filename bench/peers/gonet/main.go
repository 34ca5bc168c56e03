// gonet: the Go 1.19 peers of gort's network examples, standard library only.
//
//	gonet -mode echo -addr 127.0.0.1:9000    TCP echo, one goroutine per connection
//	gonet -mode http -addr 127.0.0.1:9000    net/http, GET / answers "Hello, World!\n"
//
// GOMAXPROCS comes from the environment (the Go runtime reads it itself). Once the listener is
// open, one line containing "listening on" is printed on stdout. The process runs until killed.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
)

const hello = "Hello, World!\n"

func main() {
	mode := flag.String("mode", "echo", "echo | http")
	addr := flag.String("addr", "127.0.0.1:9000", "listen address HOST:PORT")
	iocopy := flag.Bool("iocopy", false, "echo with io.Copy(conn, conn) (splice(2) through a pipe on Linux) "+
		"instead of the plain read/write loop")
	flag.Parse()
	if *mode != "echo" && *mode != "http" {
		fmt.Fprintf(os.Stderr, "gonet: unknown -mode %q (echo | http)\n", *mode)
		os.Exit(2)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gonet: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("gonet %s listening on %s (GOMAXPROCS=%d, %s)\n", *mode, ln.Addr(), runtime.GOMAXPROCS(0),
		runtime.Version())
	os.Stdout.Sync()

	if *mode == "http" {
		serveHTTP(ln)
	} else {
		serveEcho(ln, *iocopy)
	}
}

func serveEcho(ln net.Listener, iocopy bool) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Temporary() {
				continue
			}
			fmt.Fprintf(os.Stderr, "gonet: accept: %v\n", err)
			os.Exit(1)
		}
		// Accepted *net.TCPConn has TCP_NODELAY set by default.
		if iocopy {
			go func(c net.Conn) {
				defer c.Close()
				io.Copy(c, c)
			}(c)
		} else {
			go echo(c)
		}
	}
}

// echo is io.Copy's loop written out (same 32 KiB buffer), so every message costs one read and
// one write, as in the C loop and in gort.
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 32*1024)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func serveHTTP(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, hello)
	})
	srv := &http.Server{Handler: mux}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "gonet: %v\n", err)
		os.Exit(1)
	}
}
