//go:build !unix

package testpg

import "errors"

// startCluster is not supported off unix: set ROMAN_TEST_POSTGRES instead.
func startCluster() (string, func(), error) {
	return "", nil, errors.New("a throwaway cluster needs a unix system; set " + EnvURL)
}
