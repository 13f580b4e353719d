package roman

// ShortCommit abbreviates a full hexadecimal commit id to seven characters,
// as git does, so that alerts and chat replies stay readable. Anything that
// is not a long hexadecimal id (a tag, a branch name, an already short id) is
// returned as it is, because cutting it would change its meaning.
func ShortCommit(c string) string {
	if len(c) < 12 {
		return c
	}
	for _, r := range c {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return c
		}
	}
	return c[:7]
}
