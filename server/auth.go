package server

import (
	"fmt"

	"github.com/odyssey-1/roman"
)

// checkKeyLengths refuses configured API keys shorter than
// roman.MinKeyLength. config.Load already refuses them; this check covers a
// Config built in code, so no path starts a server with a guessable key.
// Stored keys are kept only as hashes, so their length cannot be read back:
// the keyring refuses any token shorter than roman.MinKeyLength instead.
func (m *Server) checkKeyLengths() error {
	for i, k := range m.Config.APIKeys {
		if n := len(k.Token.Value()); n < roman.MinKeyLength {
			return fmt.Errorf("api_keys[%d] (%s): the token has %d characters, fewer than the %d a key needs; %s",
				i, k.Name, n, roman.MinKeyLength, roman.GoodKeyAdvice)
		}
	}
	return nil
}
