package interceptor

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/cc532012/drpc/drpc"
)

// AllowUIDs returns an interceptor that lets a call run only if the
// process that made it (the session's peer credentials, which the kernel
// records and the peer cannot forge) runs as one of uids; any other call
// is refused with STATUS_FAILURE before the handler runs. With no uids,
// every call is refused.
func AllowUIDs(uids ...uint32) drpc.Interceptor {
	allowed := slices.Clone(uids)
	slices.Sort(allowed)
	return func(ctx context.Context, s *drpc.Session, m drpc.Method, body []byte, next drpc.Handler) ([]byte, error) {
		uid := s.PeerCredentials().UID
		if _, ok := slices.BinarySearch(allowed, uid); !ok {
			return nil, drpc.WrapFailure(drpc.StatusFailure,
				fmt.Errorf("%w: uid %d may not call %s", ErrNotAllowed, uid, m))
		}
		return next.HandleCall(ctx, s, m, body)
	}
}

// ErrNotAllowed is wrapped by the failure AllowUIDs refuses a call with.
var ErrNotAllowed = errors.New("dRPC caller not allowed")
