//go:build mattn

package drivers

import (
	"testing"

	_ "github.com/mattn/go-sqlite3"
)

func BenchmarkMattn(b *testing.B) { run(b, "sqlite3") }
