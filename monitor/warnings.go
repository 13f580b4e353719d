package monitor

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// WarningAlertEvery is how often at most a release's health warning alerts
// people about one signal: a signal that leaves its warning state and
// enters it again within this time writes its roman_events row but sends no
// second alert.
const WarningAlertEvery = 5 * time.Minute

// warnState is what a watch remembers of its health warnings.
type warnState struct {
	// signals is the set of signals in a warning state, as last logged.
	signals map[string]bool
	// alerted maps a signal to when a health warning alert about it was
	// last sent for the release.
	alerted map[string]time.Time
	// loaded is set once alerted was read back from roman_events, so the
	// rate limit survives a restart or a change of leader.
	loaded bool
}

// warn acts on the warnings of h: a roman_events row when the set of
// signals in a warning state changes, carrying an alert only for the
// signals that entered it and were not alerted on within
// WarningAlertEvery. A value moving within a warning state ("2 errors/minute",
// then "3") changes nothing. While a trigger fires, a signal does not leave
// its warning state: an error rate above the trigger hides its warning, but
// it is worse, not better.
func (m *Monitor) warn(ctx context.Context, w *watch, h roman.Health, now time.Time) {
	st := &w.warn
	texts := map[string]string{}
	cur := map[string]bool{}
	for _, text := range h.Warnings {
		if s := roman.WarningSignal(text); s != "" {
			cur[s], texts[s] = true, text
		}
	}
	if h.Reason != "" {
		for s := range st.signals {
			cur[s] = true
		}
	}
	entered := []string{}
	for s := range cur {
		if !st.signals[s] {
			entered = append(entered, s)
		}
	}
	left := 0
	for s := range st.signals {
		if !cur[s] {
			left++
		}
	}
	if len(entered) == 0 && left == 0 {
		return
	}
	st.signals = cur
	if len(h.Warnings) == 0 {
		return // back to health (or only a trigger): nothing to warn about
	}
	sort.Strings(entered)
	if st.alerted == nil {
		st.alerted = map[string]time.Time{}
	}
	if !st.loaded {
		// A failed read is retried on the next change; meanwhile an alert
		// is sent rather than lost.
		if err := m.loadAlerted(ctx, w, now); err != nil {
			m.Logger.Error("monitor: reading earlier health warnings failed", "deployment_id", w.d.DeploymentID, "err", err)
		}
	}
	alerted, alertTexts := []string{}, []string{}
	held := map[string]string{}
	for _, s := range entered {
		if last, ok := st.alerted[s]; ok && now.Sub(last) < WarningAlertEvery {
			held[s] = last.UTC().Format(time.RFC3339)
			continue
		}
		st.alerted[s] = now
		alerted, alertTexts = append(alerted, s), append(alertTexts, texts[s])
	}
	meta := map[string]any{"warnings": h.Warnings, "health": h, "signals": sortedSet(cur), "entered": entered,
		"alerted": alerted, "alert_warnings": alertTexts}
	if len(held) > 0 {
		meta["alert_held"] = held
	}
	m.event(ctx, w.d, roman.EventHealthWarning, roman.SeverityWarning,
		fmt.Sprintf("Health warning for %s in %s: %s", w.d.Version, w.d.Environment, strings.Join(h.Warnings, "; ")), meta)
}

// loadAlerted reads when the release's health warnings last alerted about
// each signal from its roman_events rows of the last WarningAlertEvery: the
// rate limit is the audit trail's, not the process's.
func (m *Monitor) loadAlerted(ctx context.Context, w *watch, now time.Time) error {
	st := &w.warn
	evs, err := m.Store.ListRomanEvents(ctx, roman.RomanEventFilter{EventType: roman.EventHealthWarning, DeploymentID: w.d.DeploymentID, Limit: 100})
	if err != nil {
		return err
	}
	for _, e := range evs {
		if now.Sub(e.Timestamp) >= WarningAlertEvery {
			continue
		}
		var md struct {
			Alerted []string `json:"alerted"`
		}
		if json.Unmarshal(e.Metadata, &md) != nil {
			continue
		}
		for _, s := range md.Alerted {
			if last, ok := st.alerted[s]; !ok || e.Timestamp.After(last) {
				st.alerted[s] = e.Timestamp
			}
		}
	}
	st.loaded = true
	return nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
