package postgres

// GroupUserRowsInSQL makes s group the users summary's roll-up rows in
// SQL, as before they were folded in Go (benchmarks only).
func GroupUserRowsInSQL(s *Store) { s.groupUserRowsInSQL = true }
