package drivers

import (
	"testing"

	_ "modernc.org/sqlite"
)

func BenchmarkModernc(b *testing.B) { run(b, "sqlite") }
