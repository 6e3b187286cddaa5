package secagent

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// ErrNoName: a uid or gid has no name in the user database nor in the
// configured map.
var ErrNoName = errors.New("identity has no name")

// NoNameError says which uid or gid has no name.
type NoNameError struct {
	// Kind is "uid" or "gid".
	Kind string
	// ID is the number without a name.
	ID uint32
	// Err is the user database's error.
	Err error
}

// Error names the id and says how to give it a name.
func (e *NoNameError) Error() string {
	key := "uid_map"
	if e.Kind == "gid" {
		key = "gid_map"
	}
	return fmt.Sprintf("%s %d has no name in the user database nor in %s: add it to %s in the agent's configuration (%v)",
		e.Kind, e.ID, key, key, e.Err)
}

// Is makes errors.Is(err, ErrNoName) true.
func (e *NoNameError) Is(target error) bool { return target == ErrNoName }

// Unwrap returns the user database's error.
func (e *NoNameError) Unwrap() error { return e.Err }

// resolver turns uids and gids into names: the user database first, the
// configured maps for ids it does not know.
type resolver struct {
	uidMap, gidMap map[uint32]string
	lookupUser     func(uid string) (string, error)
	lookupGroup    func(gid string) (string, error)
}

func newResolver(uidMap, gidMap map[uint32]string) *resolver {
	return &resolver{
		uidMap: uidMap,
		gidMap: gidMap,
		lookupUser: func(uid string) (string, error) {
			u, err := user.LookupId(uid)
			if err != nil {
				return "", err
			}
			return u.Username, nil
		},
		lookupGroup: func(gid string) (string, error) {
			g, err := user.LookupGroupId(gid)
			if err != nil {
				return "", err
			}
			return g.Name, nil
		},
	}
}

func (r *resolver) userName(uid uint32) (string, error) {
	name, err := r.lookupUser(strconv.FormatUint(uint64(uid), 10))
	if err == nil && name != "" {
		return name, nil
	}
	if n, ok := r.uidMap[uid]; ok {
		return n, nil
	}
	if err == nil {
		err = errors.New("empty name")
	}
	return "", &NoNameError{Kind: "uid", ID: uid, Err: err}
}

func (r *resolver) groupName(gid uint32) (string, error) {
	name, err := r.lookupGroup(strconv.FormatUint(uint64(gid), 10))
	if err == nil && name != "" {
		return name, nil
	}
	if n, ok := r.gidMap[gid]; ok {
		return n, nil
	}
	if err == nil {
		err = errors.New("empty name")
	}
	return "", &NoNameError{Kind: "gid", ID: gid, Err: err}
}
