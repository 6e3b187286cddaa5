package mgmtsvc

// isUUID reports whether s is a UUID in its text form,
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex digits of either case).
func isUUID(s string) bool {
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
