package proto_test

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	authv1 "github.com/cc532012/drpc/proto/drpc/auth/v1"
	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
	drpcv1 "github.com/cc532012/drpc/proto/drpc/v1"
	mgmtpb "github.com/cc532012/drpc/proto/mgmt"
)

// readGolden reads testdata/golden/<name>.hex: hex bytes separated by white
// space, with '#' starting a comment that runs to the end of the line.
func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "golden", name+".hex"))
	require.NoError(t, err)
	var digits strings.Builder
	for line := range strings.SplitSeq(string(raw), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	require.NoError(t, err, "golden file %s holds bad hex", name)
	return b
}

// TestGoldenWireVectors pins the binary encoding to bytes written by hand
// from the wire contract's field numbers: if a field number, type or enum
// number drifts from DAOS's, the bytes change and this test fails.
func TestGoldenWireVectors(t *testing.T) {
	tests := []struct {
		golden string
		msg    proto.Message
	}{
		{"call_module1_method101_seq1", &drpcv1.Call{Module: 1, Method: 101, Sequence: 1}},
		{"call_empty", &drpcv1.Call{}},
		{"call_security_validate_with_body", &drpcv1.Call{Module: 4, Method: 401, Sequence: 7, Body: []byte("hi")}},
		{"call_negative_module", &drpcv1.Call{Module: -1, Sequence: 300}},
		{"response_success_body", &drpcv1.Response{Sequence: 1, Status: drpcv1.Status_STATUS_SUCCESS, Body: []byte{1, 2}}},
		{"response_empty", &drpcv1.Response{}},
		{"response_failed_unmarshal_call", &drpcv1.Response{Sequence: -1, Status: drpcv1.Status_STATUS_FAILED_UNMARSHAL_CALL}},
		{"response_unknown_module", &drpcv1.Response{Sequence: 3, Status: drpcv1.Status_STATUS_UNKNOWN_MODULE}},
		{"response_failed_marshal", &drpcv1.Response{Sequence: 9, Status: drpcv1.Status_STATUS_FAILED_MARSHAL}},
		{"daos_resp_error", &mgmtv1.DaosResp{Status: -1}},
		{"set_rank_req", &mgmtv1.SetRankReq{Rank: 1, MapVersion: 2, DaosVersion: 3}},
		{"token_auth_sys", &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS, Data: []byte("ab")}},
		{"get_cred_resp", &authv1.GetCredResp{Cred: &authv1.Credential{
			Token:  &authv1.Token{Flavor: authv1.Flavor_FLAVOR_AUTH_SYS},
			Origin: "agent",
		}}},
		{"ras_event_engine_state", &srvv1.RASEvent{
			Id:           1,
			Incarnation:  2,
			ExtendedInfo: &srvv1.RASEvent_EngineStateInfo{EngineStateInfo: &srvv1.RASEvent_EngineStateEventInfo{Instance: 1}},
		}},
		{"notify_ready_req", &srvv1.NotifyReadyReq{InstanceIdx: 1, DrpcListenerSock: "/s", SecondaryNctxs: []uint32{2, 3}}},
		{"cluster_event_resp", &srvv1.ClusterEventResp{Sequence: 5, Status: -2}},
		{"pool_monitor_req", &mgmtv1.PoolMonitorReq{Sys: "s", PoolUuid: "p", PoolHandleUuid: "h", Jobid: "j"}},
		{"get_attach_info_req", &mgmtv1.GetAttachInfoReq{Sys: "s", AllRanks: true}},
		{"get_attach_info_resp", &mgmtv1.GetAttachInfoResp{
			RankUris:      []*mgmtv1.GetAttachInfoResp_RankUri{{Rank: 1, Uri: "u", NumCtxs: 2}},
			MsRanks:       []uint32{1},
			ClientNetHint: &mgmtv1.ClientNetHint{Provider: "p", CrtTimeout: 5, SrvSrxSet: -1, EnvVars: []string{"A=1"}},
			DataVersion:   3,
			Sys:           "s",
		}},
		{"pool_evict_req", &mgmtv1.PoolEvictReq{Sys: "d", Id: "p", SvcRanks: []uint32{1, 2}, Handles: []string{"h"}, Destroy: true, Machine: "m"}},
		{"pool_evict_resp", &mgmtv1.PoolEvictResp{Status: -1, Count: 2}},
	}
	for _, tc := range tests {
		t.Run(tc.golden, func(t *testing.T) {
			want := readGolden(t, tc.golden)

			got, err := proto.MarshalOptions{Deterministic: true}.Marshal(tc.msg)
			require.NoError(t, err)
			require.Equal(t, hex.EncodeToString(want), hex.EncodeToString(got), "marshalled bytes differ from the golden vector")

			decoded := tc.msg.ProtoReflect().New().Interface()
			require.NoError(t, proto.Unmarshal(want, decoded))
			require.True(t, proto.Equal(tc.msg, decoded), "golden vector decodes to %v, want %v", decoded, tc.msg)
		})
	}
}

// TestMgmtSvcPaths pins the gRPC method paths of the server's management
// service to DAOS's: a gRPC path is "/<package>.<service>/<method>", and
// the agent and the server build theirs from this descriptor.
func TestMgmtSvcPaths(t *testing.T) {
	svc := mgmtpb.File_mgmt_mgmt_proto.Services().ByName("MgmtSvc")
	require.NotNil(t, svc)
	var paths []string
	for i := range svc.Methods().Len() {
		m := svc.Methods().Get(i)
		paths = append(paths, "/"+string(svc.FullName())+"/"+string(m.Name()))
	}
	require.Equal(t, []string{"/mgmt.MgmtSvc/GetAttachInfo", "/mgmt.MgmtSvc/PoolEvict"}, paths)
	require.Equal(t, (&mgmtv1.GetAttachInfoReq{}).ProtoReflect().Descriptor(), svc.Methods().ByName("GetAttachInfo").Input(),
		"the gRPC service and dRPC method 206 share their messages")
	require.Equal(t, (&mgmtv1.PoolEvictResp{}).ProtoReflect().Descriptor(), svc.Methods().ByName("PoolEvict").Output())
}
