package unixsock

import "errors"

// Errors a caller can test for with errors.Is; the errors returned wrap them
// with the path and what to do.
var (
	// ErrSocketInUse: a server is listening at the path.
	ErrSocketInUse = errors.New("socket path is in use by a listening server")
	// ErrNotSocket: something that is not a socket exists at the path.
	ErrNotSocket = errors.New("socket path holds a file that is not a socket")
	// ErrPathEmpty: the socket path is empty.
	ErrPathEmpty = errors.New("socket path is empty")
	// ErrPathTooLong: the path does not fit in sockaddr_un.sun_path.
	ErrPathTooLong = errors.New("socket path is too long")
	// ErrDirNotFound: the directory that should hold the socket is missing
	// or is not a directory.
	ErrDirNotFound = errors.New("socket directory does not exist")
)
