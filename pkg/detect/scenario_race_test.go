//go:build race

package detect_test

// raceBuild: TestScenarioQuality is left to .ci/test's own step (no race
// detector): three months of traffic under -race take many minutes and
// the test runs no goroutines of its own.
const raceBuild = true
