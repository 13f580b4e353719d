package executor

import (
	"regexp"
	"strings"

	"github.com/odyssey-1/roman/internal/scrub"
)

// secretName matches the names of options and variables that hold
// secrets: api-token, GITHUB_TOKEN, password, client_secret, auth, key…
var secretName = regexp.MustCompile(`(?i)(token|secret|passw(or)?d|passwd|pwd|key|auth|credential|cookie|signature|session)`)

// commandSecrets returns the secrets written into a command line's
// arguments, so that what the command prints can be scrubbed of them (a
// deploy script that echoes its options must not put a token into
// rollback_steps, roman_events or logs):
//
//   - the value of an option or assignment whose name says it is secret
//     (--api-token=VALUE, GITHUB_TOKEN=VALUE), and the word after such an
//     option given alone (--api-token VALUE, -p VALUE is not recognised);
//   - the credentials of an Authorization header (Bearer/Basic/token …);
//   - the userinfo, path and query secrets of URLs (scrub.URLSecrets).
func commandSecrets(argv []string) []string {
	var out []string
	for i, arg := range argv {
		if i == 0 {
			continue
		}
		if name, value, ok := strings.Cut(arg, "="); ok && secretName.MatchString(name) && !strings.Contains(name, " ") {
			out = append(out, arg, value)
		} else if strings.HasPrefix(arg, "-") && secretName.MatchString(arg) && !strings.Contains(arg, "=") && i+1 < len(argv) {
			out = append(out, argv[i+1])
		}
		if _, cred, ok := strings.Cut(arg, "Authorization:"); ok {
			cred = strings.TrimSpace(cred)
			out = append(out, cred)
			if _, token, ok := strings.Cut(cred, " "); ok {
				out = append(out, strings.TrimSpace(token))
			}
		}
		for _, word := range strings.Fields(arg) {
			if strings.Contains(word, "://") {
				out = append(out, scrub.URLSecrets(strings.Trim(word, `'"`))...)
			}
		}
	}
	return out
}
