package app

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cc532012/drpc/drpc"
)

func TestResolveForms(t *testing.T) {
	tests := []struct {
		module, method string
		wantModule     drpc.ModuleID
		wantMethod     drpc.MethodID
		known          bool
	}{
		{"", "301", 3, 301, true},
		{"", "drpc.srv.v1.SrvService/NotifyReady", 3, 301, true},
		{"", "drpc.srv.v1.SrvService.NotifyReady", 3, 301, true},
		{"", "SrvService/NotifyReady", 3, 301, true},
		{"", "SrvService.NotifyReady", 3, 301, true},
		{"", "Srv.NotifyReady", 3, 301, true},
		{"", "srv/NotifyReady", 3, 301, true},
		{"", "drpc.srv.v1/NotifyReady", 3, 301, true},
		{"", "NotifyReady", 3, 301, true},
		{"", "notifyready", 3, 301, true},
		{"3", "NotifyReady", 3, 301, true},
		{"srv", "NotifyReady", 3, 301, true},
		{"SrvService", "301", 3, 301, true},
		{"drpc.srv.v1.SrvService", "NotifyReady", 3, 301, true},
		{"", "auth.RequestCredentials", 1, 101, true},
		{"SecurityAgent", "RequestCredentials", 1, 101, true},
		{"", "Echo", 0, 1, true},
		{"0", "1", 0, 1, true},
		{"", "1", 0, 1, true},
		// Numbers the catalog does not know are called as given.
		{"", "999", 9, 999, false},
		{"7", "301", 7, 301, false},
		{"0", "0", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.module+"|"+tt.method, func(t *testing.T) {
			got, err := Resolve(tt.module, tt.method)
			require.NoError(t, err)
			assert.Equal(t, tt.wantModule, got.Module)
			assert.Equal(t, tt.wantMethod, got.Method)
			assert.Equal(t, tt.known, got.Entry != nil)
		})
	}
}

func TestResolveErrors(t *testing.T) {
	tests := []struct {
		name, module, method string
		want                 []string
		suggestions          []string
	}{
		{"typo", "", "NotifyRedy", []string{`unknown method "NotifyRedy"`, "did you mean drpc.srv.v1.SrvService/NotifyReady?"}, []string{"drpc.srv.v1.SrvService/NotifyReady"}},
		{"typo with service", "", "srv.NotfyReady", []string{"did you mean"}, []string{"drpc.srv.v1.SrvService/NotifyReady"}},
		{"substring", "", "Rank", []string{"did you mean one of"}, []string{"drpc.mgmt.v1.MgmtService/SetRank", "drpc.mgmt.v1.MgmtService/PingRank"}},
		{"nothing close", "", "Zzzzzzzzzz", []string{"no method of that name", "drpc list"}, nil},
		{"wrong service", "", "mgmt.NotifyReady", []string{"did you mean"}, []string{"drpc.srv.v1.SrvService/NotifyReady"}},
		{"method in another module", "2", "NotifyReady", []string{"module 3, not in --module 2"}, nil},
		{"unknown module", "srvv", "1", []string{`unknown module "srvv"`, "3 (drpc.srv.v1.SrvService)"}, []string{"3 (drpc.srv.v1.SrvService)"}},
		{"ambiguous module", "auth", "101", []string{"ambiguous", "1 (drpc.auth.v1.SecurityAgentService)", "4 (drpc.auth.v1.SecurityService)"}, nil},
		{"module out of range", "99999999", "1", []string{"out of range"}, nil},
		{"negative method", "", "-1", []string{"out of range"}, nil},
		{"method outside ranges", "", "300", []string{"lies in no module's range", "give --module"}, nil},
		{"no method", "3", "", []string{"--method is required"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Resolve(tt.module, tt.method)
			require.Error(t, err)
			var ne *NameError
			require.True(t, errors.As(err, &ne))
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			for _, s := range tt.suggestions {
				assert.Contains(t, ne.Suggestions, s)
			}
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}
