package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// openElsewhere returns the id of a process other than this one that has
// path (or its WAL) open, 0 when none does. It reads Linux's /proc: where
// /proc is missing, or another user's descriptors cannot be read, it
// cannot see them and returns 0.
func openElsewhere(path string) int {
	abs, err := filepath.Abs(path)
	if err != nil {
		return 0
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	self := fmt.Sprintf("/proc/%d/", os.Getpid())
	for _, fd := range procs {
		if strings.HasPrefix(fd, self) {
			continue
		}
		if target, err := os.Readlink(fd); err == nil && (target == abs || target == abs+"-wal") {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}
