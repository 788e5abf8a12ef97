package postgres

// ResetPool closes every connection of s's pool (tests: the next write
// opens new ones, which pick up settings changed on the server since).
func ResetPool(s *Store) { s.pool.Reset() }
