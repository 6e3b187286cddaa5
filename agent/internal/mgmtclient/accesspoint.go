package mgmtclient

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ParseAccessPoint returns the address "HOST:PORT" of an access point
// written as DAOS's access_points are: "host", "host:port", "1.2.3.4",
// "[::1]:10001" or "::1"; defaultPort is used when it has none.
func ParseAccessPoint(ap string, defaultPort int) (string, error) {
	if ap == "" || strings.ContainsAny(ap, " \t/") {
		return "", fmt.Errorf("access point %q: want HOST or HOST:PORT", ap)
	}
	host, port, err := net.SplitHostPort(ap)
	if err != nil {
		// No port: a host name, an IPv4 address, or an IPv6 address
		// without brackets.
		var ae *net.AddrError
		if !errors.As(err, &ae) || strings.Count(ap, ":") == 1 || strings.HasPrefix(ap, "[") {
			return "", fmt.Errorf("access point %q: %w", ap, err)
		}
		host, port = strings.Trim(ap, "[]"), strconv.Itoa(defaultPort)
		if strings.Contains(host, ":") && net.ParseIP(host) == nil {
			return "", fmt.Errorf("access point %q: not a host name or IP address", ap)
		}
	}
	if host == "" {
		return "", fmt.Errorf("access point %q: no host", ap)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("access point %q: port %q is not a TCP port (1 to 65535)", ap, port)
	}
	return net.JoinHostPort(host, strconv.Itoa(n)), nil
}
