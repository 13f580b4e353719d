package config

import (
	"net/url"
	"strings"

	"github.com/odyssey-1/roman"
)

// RedactURL returns raw with the password of its user info and the values of
// secret-looking query parameters (password, sslkey, token, ...) replaced by
// [REDACTED], so that a database or webhook URL can be logged. A setting that
// is not a URL with a scheme is returned as is when it holds no '=' or '@'
// (a plain file path), and fully redacted otherwise.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	if !strings.Contains(raw, "://") {
		if strings.ContainsAny(raw, "=@") {
			return roman.Redacted
		}
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return roman.Redacted
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if roman.IsSecretKey(k) {
				q.Set(k, "REDACTED")
			}
		}
		u.RawQuery = q.Encode()
	}
	s := u.String()
	return strings.ReplaceAll(s, "REDACTED", roman.Redacted)
}
