package mgmtv1_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	mgmtv1 "github.com/cc532012/drpc/proto/drpc/mgmt/v1"
)

func TestIsUUID(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"2f8f6b1c-4c9a-4d0e-9a43-0d6f2a8b5e71", true},
		{"2F8F6B1C-4C9A-4D0E-9A43-0D6F2A8B5E71", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"", false},
		{"2f8f6b1c4c9a4d0e9a430d6f2a8b5e71", false},          // no dashes
		{"2f8f6b1c-4c9a-4d0e-9a43-0d6f2a8b5e7", false},       // one short
		{"2f8f6b1c-4c9a-4d0e-9a43-0d6f2a8b5e711", false},     // one long
		{"2f8f6b1c-4c9a-4d0e-9a43_0d6f2a8b5e71", false},      // wrong separator
		{"2f8f6b1g-4c9a-4d0e-9a43-0d6f2a8b5e71", false},      // not hex
		{"{2f8f6b1c-4c9a-4d0e-9a43-0d6f2a8b5e71}", false},    // braces
		{"2f8f6b1c-4c9a-4d0e-9a43-0d6f2a8b5e7\u00e9", false}, // not ASCII
	} {
		assert.Equal(t, tc.want, mgmtv1.IsUUID(tc.s), "%q", tc.s)
	}
}
