package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	srvv1drpc "github.com/cc532012/drpc/api/srv/v1/srvv1drpc"
	"github.com/cc532012/drpc/drpc"
	srvv1 "github.com/cc532012/drpc/proto/drpc/srv/v1"
)

func eventCommand() *cobra.Command {
	var (
		c         common
		msg       string
		id        uint32
		eventType uint32
		severity  uint32
		sequence  uint64
		rank      uint32
	)
	cmd := &cobra.Command{
		Use:   "event --socket-dir DIR --index N --msg TEXT",
		Short: "Send a RAS event to the server (method 304) and print the reply",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := c.check(); err != nil {
				return err
			}
			if msg == "" {
				return usageError{errors.New("--msg is required: give the event's message")}
			}
			if !cmd.Flags().Changed("rank") {
				rank = c.index
			}
			host, _ := os.Hostname()
			req := &srvv1.ClusterEventReq{Sequence: sequence, Event: &srvv1.RASEvent{
				Id:           id,
				Msg:          msg,
				Timestamp:    time.Now().Format(time.RFC3339Nano),
				Type:         eventType,
				Severity:     severity,
				Hostname:     host,
				Rank:         rank,
				ProcId:       uint64(os.Getpid()),
				ExtendedInfo: &srvv1.RASEvent_StrInfo{StrInfo: fmt.Sprintf("engine instance %d", c.index)},
			}}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			server := filepath.Join(c.socketDir, serverSocket)
			var resp *srvv1.ClusterEventResp
			err := call(ctx, server, func(conn *drpc.ClientConnection) error {
				var err error
				resp, err = srvv1drpc.NewSrvServiceClient(conn).ClusterEvent(ctx, req)
				return err
			})
			if err != nil {
				return serverError("cluster event", server, err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "sequence %d status %d\n", resp.GetSequence(), resp.GetStatus())
			if err == nil && resp.GetStatus() != 0 {
				err = fmt.Errorf("the server refused the event: status %d: see the server's log for why", resp.GetStatus())
			}
			return err
		},
	}
	c.add(cmd)
	fs := cmd.Flags()
	fs.StringVar(&msg, "msg", "", "the event's message (required)")
	fs.Uint32Var(&id, "id", 1, "the event's ID")
	fs.Uint32Var(&eventType, "type", 0, "the event's type")
	fs.Uint32Var(&severity, "severity", 1, "the event's severity")
	fs.Uint64Var(&sequence, "sequence", 1, "the event's sequence number")
	fs.Uint32Var(&rank, "rank", 0, "the rank the event is about (default: the index)")
	return cmd
}
