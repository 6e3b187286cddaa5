package multinode

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/drpc"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

// repo is the repository root, seen from this package.
var repo = filepath.Join("..", "..", "..")

// The programs, each built once, as users build them.
var (
	serverProgram = &daemontest.Program{Name: "drpc-server", Module: filepath.Join(repo, "server"), Package: "./cmd/drpc-server"}
	agentProgram  = &daemontest.Program{Name: "drpc-agent", Module: filepath.Join(repo, "agent"), Package: "./cmd/drpc-agent"}
	engineProgram = &daemontest.Program{Name: "drpc-engine", Module: filepath.Join(repo, "tools"), Package: "./cmd/drpc-engine"}
	drpcProgram   = &daemontest.Program{Name: "drpc", Module: filepath.Join(repo, "tools"), Package: "./cmd/drpc"}
)

// Bounds on how long the tests wait for something to happen; they bound a
// broken run and assert nothing about speed.
const (
	waitFor = 20 * time.Second
	tick    = time.Millisecond
)

// clientEnv makes the test binary a client process (clientMain): the
// variable holds "SOCKET POOL HANDLE".
const clientEnv = "MULTINODE_TEST_CLIENT"

func TestMain(m *testing.M) {
	if args := os.Getenv(clientEnv); args != "" {
		os.Exit(clientMain(args))
	}
	os.Exit(daemontest.Main(m))
}

// clientMain is a client process, as libdaos is to the agent: it connects
// a pool handle (235) over its own connection, prints "connected", and
// blocks until it is killed (it never disconnects).
func clientMain(args string) int {
	var socket, pool, handle string
	if _, err := fmt.Sscan(args, &socket, &pool, &handle); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 2
	}
	ctx := context.Background()
	conn := drpc.NewClientConnection(socket)
	if err := conn.Connect(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	resp, err := mgmtv1drpc.NewMgmtServiceClient(conn).NotifyPoolConnect(ctx,
		&mgmtv1.PoolMonitorReq{PoolUuid: pool, PoolHandleUuid: handle, Jobid: "job-" + fmt.Sprint(os.Getpid())})
	if err != nil || resp.GetStatus() != 0 {
		fmt.Fprintln(os.Stderr, "client: connect:", err, resp.GetStatus())
		return 1
	}
	fmt.Println("connected")
	select {}
}

// startClient starts a client process on the agent's socket and waits for
// it to have connected its pool handle.
func startClient(t testing.TB, socket, pool, handle string) *daemontest.Process {
	t.Helper()
	p := daemontest.Start(t, os.Args[0], daemontest.ProcessOptions{Env: []string{clientEnv + "=" + socket + " " + pool + " " + handle}}, "-test.run=^$")
	line, err := p.Stdout.ReadString('\n')
	require.NoError(t, err, "client: %s", p.Stderr.String())
	require.Equal(t, "connected\n", line)
	return p
}

// writeFile writes lines to dir/name and returns its path.
func writeFile(t testing.TB, dir, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

// genCerts makes a CA and the certificates of the server and agents in a
// new directory with drpc-server gen-certs.
func genCerts(t testing.TB, agents ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	args := []string{"gen-certs", "--out", dir}
	for _, a := range agents {
		args = append(args, "--agent", a)
	}
	r := daemontest.Run(t, exec.Command(serverProgram.Path(t), args...))
	require.Equal(t, 0, r.Code, r.Stderr)
	return dir
}

// server is a running drpc-server.
type server struct {
	*daemontest.Process
	dir  string // socket directory
	addr string // the management service's HOST:PORT
}

// serverTLS is the transport_config section of a server with the
// certificates of dir; "insecure" turns TLS off.
func serverTLS(dir string) []string {
	if dir == "insecure" {
		return []string{"transport_config:", "  allow_insecure: true"}
	}
	return []string{
		"transport_config:",
		"  ca_cert: " + filepath.Join(dir, "daosCA.crt"),
		"  cert: " + filepath.Join(dir, "server.crt"),
		"  key: " + filepath.Join(dir, "server.key"),
		"  client_cert_dir: " + filepath.Join(dir, "clients"),
	}
}

// startServer starts a server whose management service listens on a free
// port of 127.0.0.1, and reads that port from its log.
func startServer(t testing.TB, tls []string) *server {
	t.Helper()
	dir := daemontest.SocketDir(t)
	cfg := writeFile(t, t.TempDir(), "server.yaml", append([]string{
		"socket_dir: " + dir,
		"keys_dir: " + filepath.Join(dir, "keys"),
		"ping_interval: 100ms",
		"log_level: debug",
		"port: 0",
		"listen_address: 127.0.0.1",
	}, tls...)...)
	p := daemontest.Start(t, serverProgram.Path(t), daemontest.ProcessOptions{Notify: true}, "start", "--config", cfg)
	p.WaitReady(t)
	waitLogged(t, p, 0, `msg="management service listening"`) // stderr comes through a pipe: it may lag READY=1
	m := regexp.MustCompile(`msg="management service listening" address=(127\.0\.0\.1:\d+)`).FindStringSubmatch(p.Stderr.String())
	require.NotNil(t, m, "the server logs its address:\n%s", p.Stderr.String())
	return &server{Process: p, dir: dir, addr: m[1]}
}

// agentTLS is the transport_config section of an agent with the
// certificate name of dir; "insecure" turns TLS off.
func agentTLS(dir, name string) []string {
	if dir == "insecure" {
		return []string{"transport_config:", "  allow_insecure: true"}
	}
	return []string{
		"transport_config:",
		"  ca_cert: " + filepath.Join(dir, "daosCA.crt"),
		"  cert: " + filepath.Join(dir, name+".crt"),
		"  key: " + filepath.Join(dir, name+".key"),
	}
}

// agent is a running drpc-agent: a client node.
type agent struct {
	*daemontest.Process
	socket string
}

// startAgent starts an agent with its own runtime directory whose access
// point is the server's management service.
func startAgent(t testing.TB, addr string, tls []string) *agent {
	t.Helper()
	dir := daemontest.SocketDir(t)
	cfg := writeFile(t, t.TempDir(), "agent.yaml", append([]string{
		"runtime_dir: " + dir,
		"allow_insecure: true", // credentials unsigned: not what these tests are about
		"log_level: debug",
		"access_points: [" + addr + "]",
		"attach_info_ttl: 1m",
	}, tls...)...)
	p := daemontest.Start(t, agentProgram.Path(t), daemontest.ProcessOptions{Notify: true}, "start", "--config", cfg)
	p.WaitReady(t)
	return &agent{Process: p, socket: filepath.Join(dir, "daos_agent.sock")}
}

// startEngine starts an engine of the server.
func startEngine(t testing.TB, srv *server, index int) *daemontest.Process {
	t.Helper()
	return daemontest.Start(t, engineProgram.Path(t), daemontest.ProcessOptions{}, "--socket-dir", srv.dir, "--index", fmt.Sprint(index))
}

// statusJSON is what the tests read of `drpc-server status --json`.
type statusJSON struct {
	Server struct {
		MgmtAddress       string `json:"mgmt_address"`
		MgmtTLS           bool   `json:"mgmt_tls"`
		EvictionsReceived int    `json:"evictions_received"`
		HandlesEvicted    int    `json:"handles_evicted"`
	} `json:"server"`
	Engines []struct {
		Index   int    `json:"index"`
		State   string `json:"state"`
		RankSet bool   `json:"rank_set"`
	} `json:"engines"`
	Evictions []struct {
		Pool     string   `json:"pool"`
		Handles  []string `json:"handles"`
		Machine  string   `json:"machine"`
		PeerName string   `json:"peer_name"`
		Count    int      `json:"count"`
	} `json:"evictions"`
}

func status(t testing.TB, srv *server) statusJSON {
	t.Helper()
	r := daemontest.Run(t, exec.Command(serverProgram.Path(t), "status", "--socket-dir", srv.dir, "--json"))
	require.Equal(t, 0, r.Code, r.Stderr)
	var s statusJSON
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &s), r.Stdout)
	return s
}

// readyEngines counts the engines that are ready with their rank set.
func readyEngines(s statusJSON) int {
	n := 0
	for _, e := range s.Engines {
		if e.State == "ready" && e.RankSet {
			n++
		}
	}
	return n
}

// waitLogged waits until p's log holds every one of want, after offset
// bytes, and fails with the log if it does not within waitFor.
func waitLogged(t testing.TB, p *daemontest.Process, offset int, want ...string) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		log := p.Stderr.String()
		if offset > len(log) {
			offset = len(log)
		}
		missing := ""
		for _, w := range want {
			if !strings.Contains(log[offset:], w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			require.FailNow(t, "not logged", "%s did not log %q; its log:\n%s", p.Name, missing, log)
		}
		time.Sleep(tick)
	}
}

// stop stops p with SIGTERM and checks that it exits 0.
func stop(t testing.TB, p *daemontest.Process) {
	t.Helper()
	require.Equal(t, 0, p.Stop(t, syscall.SIGTERM), "%s; stderr:\n%s", p.Name, p.Stderr.String())
}
