// Package server is the dRPC server daemon and its modules (srv, security,
// and the mgmt client that calls engines). It is filled in by later work; for
// now it only marks the module's place in the layering: proto <- drpc <- server.
package server
