package postgres

import (
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// userRowFolder folds the users summary's roll-up rows (actor, country,
// last_seen, last_ip, actor_id, events, failures) per actor and country
// from pgx's raw values, before store.UserAgg sees them: a week of
// user_days is ~45 000 rows on the 1 M benchmark schema for ~9 500 actor
// and country pairs, and scanning each row into fresh strings was most of
// the query's Go time (CPU profile of BenchmarkQuery/users_7d). A string
// is allocated once per pair, or when the newest row's address changes.
type userRowFolder struct {
	actors map[string]*actorRows
	order  []*userRow
}

type actorRows struct{ rows []*userRow } // one per country, few

type userRow struct {
	actor, country, ip, actorID string
	last, n, fails              int64
}

func newUserRowFolder() *userRowFolder { return &userRowFolder{actors: map[string]*actorRows{}} }

// fold reads rows to the end.
func (f *userRowFolder) fold(rows pgx.Rows) error {
	fds := rows.FieldDescriptions()
	if len(fds) != 7 {
		return fmt.Errorf("user rows: %d columns, want 7", len(fds))
	}
	num := func(i int, b []byte) (int64, error) {
		if fds[i].Format == pgx.BinaryFormatCode {
			if len(b) != 8 {
				return 0, fmt.Errorf("user rows: column %s: %d bytes, want a bigint", fds[i].Name, len(b))
			}
			return int64(binary.BigEndian.Uint64(b)), nil // #nosec G115 -- a bigint's 8 bytes are its two's complement: this conversion is the decoding
		}
		return strconv.ParseInt(string(b), 10, 64)
	}
	for rows.Next() {
		raw := rows.RawValues()
		var v [3]int64
		for j, i := range [3]int{2, 5, 6} {
			n, err := num(i, raw[i])
			if err != nil {
				return err
			}
			v[j] = n
		}
		a := f.actors[string(raw[0])]
		if a == nil {
			a = &actorRows{}
			f.actors[string(raw[0])] = a
		}
		var r *userRow
		for _, c := range a.rows {
			if c.country == string(raw[1]) {
				r = c
				break
			}
		}
		if r == nil {
			r = &userRow{actor: string(raw[0]), country: string(raw[1]), last: v[0], ip: string(raw[3]), actorID: string(raw[4])}
			a.rows = append(a.rows, r)
			f.order = append(f.order, r)
		} else if v[0] >= r.last { // as UserAgg: the newest row wins, the later one on a tie
			r.last = v[0]
			if r.ip != string(raw[3]) {
				r.ip = string(raw[3])
			}
			if r.actorID != string(raw[4]) {
				r.actorID = string(raw[4])
			}
		}
		r.n += v[1]
		r.fails += v[2]
	}
	return rows.Err()
}

// rows is the folded rows in the shape store.UserAgg.ScanActivity reads.
func (f *userRowFolder) rows() *foldedUserRows { return &foldedUserRows{rows: f.order, i: -1} }

type foldedUserRows struct {
	rows []*userRow
	i    int
}

func (r *foldedUserRows) Next() bool { r.i++; return r.i < len(r.rows) }
func (r *foldedUserRows) Err() error { return nil }

func (r *foldedUserRows) Scan(dest ...any) error {
	u := r.rows[r.i]
	if len(dest) != 7 {
		return fmt.Errorf("user rows: scan into %d values, want 7", len(dest))
	}
	ptrs := [...]*string{&u.actor, &u.country, nil, &u.ip, &u.actorID}
	for i, p := range ptrs {
		if p == nil {
			continue
		}
		d, ok := dest[i].(*string)
		if !ok {
			return fmt.Errorf("user rows: column %d is a string, not %T", i, dest[i])
		}
		*d = *p
	}
	for j, i := range [3]int{2, 5, 6} {
		v := [3]int64{u.last, u.n, u.fails}[j]
		d, ok := dest[i].(*int64)
		if !ok {
			return fmt.Errorf("user rows: column %d is an int64, not %T", i, dest[i])
		}
		*d = v
	}
	return nil
}
