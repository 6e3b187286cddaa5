// Package interceptor holds ready-made server interceptors for the dRPC
// transport (drpc.WithInterceptor): Logging logs every call with slog, and
// AllowUIDs refuses calls from processes whose user is not on a list,
// before any handler runs.
//
//	srv, err := drpc.NewDomainSocketServer(path,
//		drpc.WithLogger(log),
//		drpc.WithInterceptor(interceptor.AllowUIDs(0, 1000), interceptor.Logging(log)))
package interceptor
