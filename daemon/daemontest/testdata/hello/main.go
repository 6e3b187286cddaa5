// Command hello is the program that the tests of package daemontest build
// and run:
//
//	hello echo WORDS...   prints WORDS on stdout and a line on stderr
//	hello exit CODE       exits with CODE
//	hello env NAME        prints the variable NAME
//	hello serve           a daemon: reports how it was started, sends
//	                      READY=1 to NOTIFY_SOCKET, then on SIGTERM sends
//	                      STOPPING=1 and exits 0
package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hello echo|exit|env|serve ...")
		os.Exit(2)
	}
	arg := func(i int) string {
		if i < len(os.Args) {
			return os.Args[i]
		}
		return ""
	}
	switch os.Args[1] {
	case "echo":
		fmt.Println(strings.Join(os.Args[2:], " "))
		fmt.Fprintln(os.Stderr, "hello on stderr")
	case "exit":
		code, err := strconv.Atoi(arg(2))
		if err != nil {
			fmt.Fprintln(os.Stderr, "hello: exit wants a number:", err)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "exiting with", code)
		os.Exit(code)
	case "env":
		fmt.Println(os.Getenv(arg(2)))
	case "serve":
		serve()
	default:
		fmt.Fprintln(os.Stderr, "hello: unknown command", os.Args[1])
		os.Exit(2)
	}
}

func serve() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	fmt.Printf("LISTEN_FDS=%s own LISTEN_PID=%t\n", os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()))
	notify("READY=1\nSTATUS=serving")
	<-stop
	notify("STOPPING=1")
}

func notify(msg string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	c, err := net.Dial("unixgram", path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello: notify:", err)
		os.Exit(1)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		fmt.Fprintln(os.Stderr, "hello: notify:", err)
		os.Exit(1)
	}
}
