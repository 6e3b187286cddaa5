// Package logging builds a daemon's *slog.Logger from its --log-level and
// --log-format settings.
//
// Daemons log to stderr: under systemd the journal stores what they write
// and adds the time, the unit and the process. When stderr is connected to
// the journal (systemd sets JOURNAL_STREAM to the device and inode of that
// stream), the time is left out of each record so that it is not written
// twice; anywhere else (a terminal, a file, a test) records carry it.
//
// Levels are "debug", "info" (the default), "warn" (or "warning") and
// "error"; formats are "text" (the default, slog's key=value lines) and
// "json" (one JSON object per line, for log shippers).
package logging
