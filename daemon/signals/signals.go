package signals

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// Options configure Handle. The zero value logs nothing and has no reload.
type Options struct {
	// Logger receives a record for every signal; nil discards them.
	Logger *slog.Logger
	// Reload runs on SIGUSR2, in the signal goroutine: a SIGUSR2 that
	// arrives during a reload waits for it. Nil means the daemon has
	// nothing to reload; SIGUSR2 is then logged and ignored.
	Reload func()
}

// SignalError is the cause of a context that Handle ended: the signal that
// asked the daemon to stop.
type SignalError struct {
	Signal os.Signal
}

// Error says which signal was received.
func (e *SignalError) Error() string { return fmt.Sprintf("received signal %s", e.Signal) }

// Handle returns a context derived from parent that ends when SIGINT or
// SIGTERM arrives (its cause is a *SignalError), and handles SIGUSR2 and
// SIGPIPE as the package documentation says until stop is called. stop also
// ends the context; call it when the daemon exits.
func Handle(parent context.Context, opts Options) (ctx context.Context, stop func()) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR2, syscall.SIGPIPE)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-done:
				return
			case sig := <-ch:
				handle(ctx, log, sig, cancel, opts.Reload)
			}
		}
	}()
	var once sync.Once
	return ctx, func() {
		once.Do(func() {
			signal.Stop(ch)
			close(done)
			<-finished
			cancel(context.Canceled)
		})
	}
}

func handle(ctx context.Context, log *slog.Logger, sig os.Signal, cancel context.CancelCauseFunc, reload func()) {
	switch sig {
	case syscall.SIGINT, syscall.SIGTERM:
		if ctx.Err() != nil {
			log.Warn("signal received while shutting down; still waiting for calls in flight", "signal", sig.String())
			return
		}
		log.Info("signal received; shutting down", "signal", sig.String())
		cancel(&SignalError{Signal: sig})
	case syscall.SIGUSR2:
		if reload == nil {
			log.Warn("signal received; nothing to reload, ignored", "signal", sig.String())
			return
		}
		log.Info("signal received; reloading", "signal", sig.String())
		reload()
	case syscall.SIGPIPE:
		log.Warn("signal received; ignored (a peer closed its end of a pipe or socket)", "signal", sig.String())
	}
}

// Cause returns the signal that ended ctx, if a signal did (ctx comes from
// Handle).
func Cause(ctx context.Context) (os.Signal, bool) {
	if se, ok := context.Cause(ctx).(*SignalError); ok {
		return se.Signal, true
	}
	return nil, false
}
