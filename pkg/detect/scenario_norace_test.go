//go:build !race

package detect_test

const raceBuild = false
