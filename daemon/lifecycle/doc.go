// Package lifecycle runs a dRPC daemon from start to stop, the same way for
// every daemon, so that each only says what it serves:
//
//  1. take the listening socket systemd passed, if the daemon was
//     socket-activated (package activation), and build the service with it;
//  2. handle signals (package signals): SIGINT and SIGTERM stop, SIGUSR2
//     reloads if the daemon can, SIGPIPE is ignored;
//  3. Start the service; print "metrics: URL" on stdout when it has a
//     metrics endpoint, so that scripts learn the port; tell systemd
//     READY=1 with a status line (package sdnotify);
//  4. wait for a stop signal (or the end of the caller's context), log it,
//     tell systemd STOPPING=1, and Shutdown the service, letting calls in
//     flight finish for at most a shutdown timeout.
//
// A daemon's Run is then a call of Run with its constructor and a few
// options:
//
//	func Run(ctx context.Context, cfg Config, opts RunOptions) error {
//		return lifecycle.Run(ctx, func(ln *net.UnixListener) (*Agent, error) {
//			o := opts.Options
//			o.Listener = ln
//			return New(cfg, o)
//		}, lifecycle.Options[*Agent]{
//			Name:    "agent",
//			Logger:  opts.Logger,
//			Serving: "credentials",
//			Reload:  (*Agent).Reload,
//			Stdout:  opts.Stdout,
//		})
//	}
package lifecycle
