package multinode

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	mgmtv1drpc "github.com/cc532012/drpc/api/mgmt/v1/mgmtv1drpc"
	"github.com/cc532012/drpc/daemon/daemontest"
	"github.com/cc532012/drpc/daemon/tlsconfig"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

const (
	pool   = "8d1c3b2a-0f4e-4b6a-9c1d-2e3f4a5b6c7d"
	handle = "11111111-2222-4333-8444-555555555555"
)

// system is a storage node (a server and two engines) and two client nodes
// (an agent each), with mutual TLS between them.
type system struct {
	srv     *server
	engines []*daemontest.Process
	agents  []*agent
}

// startSystem starts the two-node picture and waits until each agent
// answers 206 with both engines' URIs.
func startSystem(t testing.TB) *system {
	t.Helper()
	certs := genCerts(t, "node1", "node2")
	s := &system{srv: startServer(t, serverTLS(certs))}
	for i := range 2 {
		s.engines = append(s.engines, startEngine(t, s.srv, i))
	}
	require.Eventually(t, func() bool { return readyEngines(status(t, s.srv)) == 2 }, waitFor, 10*time.Millisecond)
	for _, node := range []string{"node1", "node2"} {
		s.agents = append(s.agents, startAgent(t, s.srv.addr, agentTLS(certs, node)))
	}
	for _, a := range s.agents {
		// The agent's first fetch may have run before both engines were
		// ready: SIGUSR2 fetches again.
		a.Signal(t, syscall.SIGUSR2)
		require.Eventually(t, func() bool { return len(attachInfo(t, a).GetRankUris()) == 2 }, waitFor, 10*time.Millisecond,
			"agent %s; stderr:\n%s", a.Name, a.Stderr.String())
	}
	return s
}

// attachInfo calls 206 on the agent, as a client process does.
func attachInfo(t testing.TB, a *agent) *mgmtv1.GetAttachInfoResp {
	t.Helper()
	conn := daemontest.Connect(t, a.socket)
	defer conn.Close()
	resp, err := mgmtv1drpc.NewMgmtServiceClient(conn).GetAttachInfo(context.Background(), &mgmtv1.GetAttachInfoReq{AllRanks: true})
	require.NoError(t, err)
	return resp
}

// TestTwoClientNodes: each agent gives its clients both engines' URIs; a
// client that registered a pool handle is killed with SIGKILL and both
// engines evict the handle, through its agent and the server; the server's
// status shows it.
func TestTwoClientNodes(t *testing.T) {
	s := startSystem(t)
	host, err := os.Hostname()
	require.NoError(t, err)

	for _, a := range s.agents {
		resp := attachInfo(t, a)
		assert.Zero(t, resp.GetStatus())
		assert.Equal(t, "daos_server", resp.GetSys())
		var uris []string
		for _, r := range resp.GetRankUris() {
			uris = append(uris, r.GetUri())
		}
		slices.Sort(uris)
		assert.Equal(t, []string{"tcp://127.0.0.1:31416", "tcp://127.0.0.1:31417"}, uris)
		assert.Equal(t, []uint32{0, 1}, resp.GetMsRanks())
		assert.Equal(t, "ofi+tcp", resp.GetClientNetHint().GetProvider())
	}

	// The drpc tool calls module 2 by name, with JSON bodies.
	r := daemontest.Run(t, exec.Command(drpcProgram.Path(t), "call", "--socket", s.agents[1].socket, "--method", "GetAttachInfo", "--data", `{"all_ranks": true}`))
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "tcp://127.0.0.1:31417")
	// (A pool connect from the tool would be evicted when the tool exits:
	// this one is refused, its pool is not a UUID.)
	r = daemontest.Run(t, exec.Command(drpcProgram.Path(t), "call", "--socket", s.agents[1].socket, "--method", "mgmt.NotifyPoolConnect",
		"--data", `{"pool_uuid": "tank", "pool_handle_uuid": "`+handle+`"}`))
	require.Equal(t, 0, r.Code, r.Stderr)
	assert.Contains(t, r.Stdout, "-1003")
	r = daemontest.Run(t, exec.Command(drpcProgram.Path(t), "call", "--socket", s.agents[1].socket, "--method", "MgmtService/NotifyExit"))
	require.Equal(t, 0, r.Code, r.Stderr)
	waitLogged(t, s.agents[1].Process, 0, `msg="pool connect refused: the pool or handle is not a UUID" pool=tank`, `msg="process exits cleanly"`)

	// A client of node 1 connects a pool and is killed.
	agent1 := s.agents[0]
	offsets := []int{len(s.engines[0].Stderr.String()), len(s.engines[1].Stderr.String())}
	client := startClient(t, agent1.socket, pool, handle)
	pid := client.PID()
	killed := time.Now()
	client.Signal(t, syscall.SIGKILL)
	for i, e := range s.engines {
		waitLogged(t, e, offsets[i], fmt.Sprintf(`msg="pool handle evicted" index=%d pool=%s handle=%s machine=%s`, i, pool, handle, host))
	}
	t.Logf("SIGKILL to the engines' records: %v (the issue asks for less than 2 s; timed by BenchmarkEvictionAfterKill)", time.Since(killed))
	waitLogged(t, agent1.Process, 0, `msg="pool handles of an exited process evicted" pid=`+strconv.Itoa(pid)+` pool=`+pool+` handles=`+handle)
	waitLogged(t, s.srv.Process, 0, `msg="pool handles evicted" pool=`+pool+` handles=`+handle+` machine=`+host, `peer_name=node1 engines=2 count=2 status=0`)
	assert.NotContains(t, s.agents[1].Stderr.String(), "evicted", "node 2's agent had nothing to evict")

	st := status(t, s.srv)
	assert.Equal(t, s.srv.addr, st.Server.MgmtAddress)
	assert.True(t, st.Server.MgmtTLS)
	assert.Equal(t, 2, st.Server.HandlesEvicted)
	require.Len(t, st.Evictions, 1)
	assert.Equal(t, pool, st.Evictions[0].Pool)
	assert.Equal(t, []string{handle}, st.Evictions[0].Handles)
	assert.Equal(t, host, st.Evictions[0].Machine)
	assert.Equal(t, "node1", st.Evictions[0].PeerName)
	assert.Equal(t, 2, st.Evictions[0].Count)

	for _, a := range s.agents {
		stop(t, a.Process)
	}
	stop(t, s.srv.Process)
	for _, e := range s.engines {
		stop(t, e)
	}
}

// BenchmarkEvictionAfterKill times the path the issue asks to take less
// than 2 s: from SIGKILL to a client that registered a pool handle, to the
// line of each engine that records the handle evicted (the agent's pidfd,
// gRPC PoolEvict to the server over mutual TLS, dRPC 230 to both
// engines). The client's start is not timed.
func BenchmarkEvictionAfterKill(b *testing.B) {
	s := startSystem(b)
	var total, worst time.Duration
	for i := range b.N {
		h := fmt.Sprintf("%08x-2222-4333-8444-555555555555", i)
		offsets := []int{len(s.engines[0].Stderr.String()), len(s.engines[1].Stderr.String())}
		client := startClient(b, s.agents[i%2].socket, pool, h)
		killed := time.Now()
		client.Signal(b, syscall.SIGKILL)
		for j, e := range s.engines {
			waitLogged(b, e, offsets[j], `msg="pool handle evicted" index=`+strconv.Itoa(j)+` pool=`+pool+` handle=`+h)
		}
		d := time.Since(killed)
		total += d
		worst = max(worst, d)
		client.Wait(b)
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/eviction")
	b.ReportMetric(float64(worst.Microseconds())/1000, "worst-ms")
}

// TestRefusedLinks: a certificate of another CA (either way), an expired
// certificate and TLS on one side only are refused, and both the agent's
// and the server's logs say why.
func TestRefusedLinks(t *testing.T) {
	certs := genCerts(t, "node1")
	other := genCerts(t, "node1")
	// An expired agent certificate, from the right CA and listed in
	// client_cert_dir.
	ca, err := tlsconfig.LoadAuthority(filepath.Join(certs, "daosCA.crt"), filepath.Join(certs, "daosCA.key"))
	require.NoError(t, err)
	past := time.Now().Add(-72 * time.Hour)
	certPEM, keyPEM, err := ca.Issue(tlsconfig.Leaf{CommonName: "old", Client: true, NotBefore: past, NotAfter: past.Add(24 * time.Hour)})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(certs, "old.crt"), certPEM, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(certs, "old.key"), keyPEM, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(certs, "clients", "old.crt"), certPEM, 0o644))
	// An agent certificate of the other CA that trusts the right CA.
	mixed := t.TempDir()
	for name, from := range map[string]string{"daosCA.crt": filepath.Join(certs, "daosCA.crt"), "node1.crt": filepath.Join(other, "node1.crt"), "node1.key": filepath.Join(other, "node1.key")} {
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		mode := os.FileMode(0o644)
		if filepath.Ext(name) == ".key" {
			mode = 0o400
		}
		require.NoError(t, os.WriteFile(filepath.Join(mixed, name), b, mode))
	}

	tlsServer := startServer(t, serverTLS(certs))
	plainServer := startServer(t, serverTLS("insecure"))
	tests := []struct {
		name       string
		srv        *server
		agent      []string
		agentLogs  []string
		serverLogs []string
	}{
		{"agent trusts another CA", tlsServer, agentTLS(other, "node1"),
			[]string{"x509: certificate signed by unknown authority", `hint="the peer's certificate is not signed by the CA this side trusts`},
			[]string{"remote error: tls: bad certificate", `hint="the peer refused this side's certificate`}},
		{"agent certificate of another CA", tlsServer, agentTLS(mixed, "node1"),
			[]string{"remote error: tls: unknown certificate authority", `hint="the peer does not trust the CA that signed this side's certificate`},
			[]string{"x509: certificate signed by unknown authority", `hint="the peer's certificate is not signed by the CA this side trusts`}},
		{"expired agent certificate", tlsServer, agentTLS(certs, "old"),
			[]string{"this side's certificate is not valid now", "remote error: tls: expired certificate", `hint="the peer says this side's certificate has expired`},
			[]string{"x509: certificate has expired or is not yet valid", `hint="the peer's certificate has expired`}},
		{"insecure agent, TLS server", tlsServer, agentTLS("insecure", ""),
			[]string{`hint="the server hung up at once: it probably requires TLS, and this side has transport_config.allow_insecure: true`},
			[]string{"first record does not look like a TLS handshake", `hint="the peer does not speak TLS: it has transport_config.allow_insecure: true and this side has not`}},
		{"TLS agent, insecure server", plainServer, agentTLS(certs, "node1"),
			[]string{"remote error: tls: handshake failure", `hint="the server refused the TLS handshake: it probably runs without TLS`},
			[]string{"the client speaks TLS, and this server has transport_config.allow_insecure: true"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			offset := len(tc.srv.Stderr.String())
			a := startAgent(t, tc.srv.addr, tc.agent)
			waitLogged(t, a.Process, 0, append([]string{`msg="management service access point failed"`}, tc.agentLogs...)...)
			waitLogged(t, tc.srv.Process, offset, append([]string{`msg="management service refused a connection"`}, tc.serverLogs...)...)
			resp := attachInfo(t, a)
			assert.EqualValues(t, -1006, resp.GetStatus(), "no attach info: -DER_UNREACH")
			stop(t, a.Process)
		})
	}
	stop(t, tlsServer.Process)
	stop(t, plainServer.Process)
}
