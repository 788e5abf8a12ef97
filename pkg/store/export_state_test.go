package store

// SetStateLogThresholds lowers the state log cleaner's thresholds of one
// store (tests of package store_test run the contract suite with the
// cleaner at work on every commit).
func (s *Store) SetStateLogThresholds(slack, minClean int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stateSlack, s.stateMinClean = slack, minClean
}
