package mgmtv1

// IsUUID reports whether s is a UUID in the text form that DAOS writes
// the pool and handle UUIDs of these messages in (PoolEvictReq,
// PoolMonitorReq): xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits of
// either case. It is written by hand, beside the generated code, so that
// the agent, the server and the stand-in engine check them alike.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
