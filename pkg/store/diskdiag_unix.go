//go:build linux || darwin || freebsd

package store

import (
	"fmt"
	"syscall"
)

// writeLimit names what stops the store at path from growing, when
// something does: a file size limit on this process (ulimit -f), or a
// volume with (almost) no space left. It is asked after an I/O error whose
// errno SQLite does not pass on (EFBIG from RLIMIT_FSIZE arrives as a bare
// SQLITE_IOERR_WRITE).
func writeLimit(dir string) string {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &rl); err == nil && rl.Cur != rlimInfinity {
		return fmt.Sprintf("this process may not write files beyond %d bytes (ulimit -f / RLIMIT_FSIZE): raise the limit", rl.Cur)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err == nil {
		if free := uint64(st.Bavail) * uint64(st.Bsize); free < lowSpace { // #nosec G115 -- Statfs counts are never negative
			return fmt.Sprintf("the volume holding %s has %d bytes free: free space", dir, free)
		}
	}
	return ""
}

const rlimInfinity = ^uint64(0)

// diskFree is the space this process may still write on the volume of
// dir (false: unknown).
func diskFree(dir string) (uint64, bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return uint64(st.Bavail) * uint64(st.Bsize), true // #nosec G115 -- Statfs counts are never negative
}

// sameVolume reports whether a and b are on one file system.
func sameVolume(a, b string) bool {
	var sa, sb syscall.Stat_t
	return syscall.Stat(a, &sa) == nil && syscall.Stat(b, &sb) == nil && sa.Dev == sb.Dev
}
