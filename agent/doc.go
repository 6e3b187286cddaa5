// Package agent is the dRPC agent daemon and its modules (the security agent
// that hands out credentials). It is filled in by later work; for now it only
// marks the module's place in the layering: proto <- drpc <- agent.
package agent
