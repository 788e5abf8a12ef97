package postgres

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/oktaguard/oktaguard/pkg/store/postgres/pgtest"
)

// roundNumeric agrees with PostgreSQL's round(v::numeric, p)::float8 on
// half-way values, negative ones, tiny and large ones and random
// coordinates.
func TestRoundNumericAsPostgres(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	vs := []float64{4.825, -4.825, 4.815, 45.745, 0.005, -0.005, 0.0049999, 1e-5, 0.5, 0.05, 179.995, -179.995, 37.7749, 12345.675,
		1.005, 2.675, 0.285, 1.255, 99.995, -0.045, 1e-300, 0}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 2000 {
		v := (rng.Float64()*360 - 180)
		if rng.IntN(2) == 0 {
			v = math.Round(v*1e4) / 1e4 // coordinates as Okta gives them
		}
		if rng.IntN(4) == 0 {
			v = math.Round(v*1000)/1000 + 0.0005*float64(rng.IntN(3)-1) // half-way cases
		}
		vs = append(vs, v)
	}
	for _, places := range []int{1, 2} {
		var want []float64
		if err := conn.QueryRow(ctx, "SELECT array_agg(round(v::numeric, $2)::float8 ORDER BY i) FROM unnest($1::float8[]) WITH ORDINALITY AS u(v, i)",
			vs, places).Scan(&want); err != nil {
			t.Fatal(err)
		}
		for i, v := range vs {
			if got := roundNumeric(v, places); got != want[i] {
				t.Fatalf("roundNumeric(%v, %d) = %v, PostgreSQL %v", v, places, got, want[i])
			}
		}
	}
}
