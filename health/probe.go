package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/odyssey-1/roman"
)

// ProbeFingerprint marks the error events a failed probe records.
const ProbeFingerprint = "roman-health-probe"

// Probe is a pulled source that GETs the application's health URL. It gives
// no signal of its own: a failed probe (an answer other than 2xx, or none in
// time) counts as an error event of the deployment, so a dead
// application raises its error rate like any other error.
type Probe struct {
	url     string
	client  *http.Client
	timeout time.Duration
}

var _ roman.HealthSource = (*Probe)(nil)

// NewProbe returns the probe of rawURL; timeout bounds one GET (0: the
// sampler's).
func NewProbe(rawURL string, timeout time.Duration) (*Probe, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("probe source: url is not an http(s) URL")
	}
	// Redirects are not followed: a health endpoint answers itself.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &Probe{url: rawURL, client: c, timeout: timeout}, nil
}

// Name implements roman.HealthSource.
func (p *Probe) Name() string { return "probe" }

// Signals implements roman.HealthSource: none; failures are error events.
func (p *Probe) Signals() []string { return nil }

// Measure implements roman.HealthSource: one GET.
func (p *Probe) Measure(ctx context.Context, d *roman.Deployment, now time.Time) (roman.Measurement, error) {
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	why := p.get(ctx)
	if why == "" {
		return roman.Measurement{}, nil
	}
	return roman.Measurement{Errors: []roman.ErrorEvent{{
		OccurredAt: roman.UTC(now), Message: "Health probe failed: " + why,
		Severity: "error", Fingerprint: ProbeFingerprint,
	}}}, nil
}

// get probes once and returns why it failed, or "" when it passed. The
// reason never contains the URL, which may carry credentials.
func (p *Probe) get(ctx context.Context) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return "invalid request"
	}
	req.Header.Set("User-Agent", "roman-health-probe/"+roman.Version)
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "no answer in time"
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err.Error()
		}
		return "request failed"
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return ""
}
