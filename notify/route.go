package notify

import "github.com/odyssey-1/roman"

// Routed reports whether a channel receives alerts of a kind under an
// environment's alert_routes: a channel the routes do not name receives
// every kind; a named channel receives the kinds listed ("all" for every
// kind), so an empty list mutes it.
func Routed(routes map[string][]string, channel, kind string) bool {
	kinds, ok := routes[channel]
	if !ok {
		return true
	}
	for _, k := range kinds {
		if k == "all" || k == kind {
			return true
		}
	}
	return false
}

// Router builds a roman.AlertRouter from a function returning, for an
// environment, which channels are configured and its routes.
func Router(env func(name string) (configured []string, routes map[string][]string)) roman.AlertRouter {
	return func(a *roman.Alert) []string {
		configured, routes := env(a.Environment)
		var out []string
		for _, ch := range configured {
			if Routed(routes, ch, a.Kind) {
				out = append(out, ch)
			}
		}
		return out
	}
}
