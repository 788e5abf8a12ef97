//go:build !(linux || darwin || freebsd)

package store

// writeLimit has no diagnosis on this platform.
func writeLimit(string) string { return "" }

// diskFree is unknown on this platform.
func diskFree(string) (uint64, bool) { return 0, false }

// sameVolume is assumed on this platform (the larger need is checked).
func sameVolume(string, string) bool { return true }
