package logging

import (
	"io"
	"log/slog"
)

// New returns a JSON logger at level whose output never carries a secret
// (see replaceAttr). level may be a *slog.LevelVar to change it at run time.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttr}))
}

// ParseLevel reads debug, info, warn or error (HOTPOOL_LOG_LEVEL); anything
// else is info, so a typo never silences the logs.
func ParseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}
