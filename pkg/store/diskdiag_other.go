//go:build !(linux || darwin || freebsd)

package store

// writeLimit has no diagnosis on this platform.
func writeLimit(string) string { return "" }
