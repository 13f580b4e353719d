package health

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
)

// Sources builds the pulled sources of each environment from its
// configuration, once, and caches them. The built-in source is not among
// them: the Checker always reads the store. It is safe for concurrent use.
type Sources struct {
	// Config returns the configured sources of an environment.
	Config func(env string) []SourceConfig
	// AppDatabaseURL is what a postgres source without a url measures: the
	// application database (ROMAN_APP_DATABASE, or roman's own database).
	AppDatabaseURL string

	mu      sync.Mutex
	byEnv   map[string][]roman.HealthSource
	byKey   map[string]roman.HealthSource
	closers []io.Closer
}

// For returns the pulled sources of env.
func (s *Sources) For(env string) []roman.HealthSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	if out, ok := s.byEnv[env]; ok {
		return out
	}
	if s.byEnv == nil {
		s.byEnv, s.byKey = map[string][]roman.HealthSource{}, map[string]roman.HealthSource{}
	}
	var out []roman.HealthSource
	for _, c := range s.Config(env) {
		if c.Type == SourceBuiltin {
			continue
		}
		out = append(out, s.build(c))
	}
	s.byEnv[env] = out
	return out
}

// build returns the source of one configuration entry; equal entries share
// one source (and one connection). A source that cannot be built is a
// Broken one, so its signals show as unknown with the reason.
func (s *Sources) build(c SourceConfig) roman.HealthSource {
	u := c.URL.Value()
	if c.Type == SourcePostgres && u == "" {
		u = s.AppDatabaseURL
	}
	key := c.Type + "\x00" + u + "\x00" + c.Timeout.String() + "\x00" + queriesKey(c.Queries)
	if src, ok := s.byKey[key]; ok {
		return src
	}
	var src roman.HealthSource
	var err error
	switch c.Type {
	case SourcePostgres:
		var p *PGStat
		if p, err = NewPGStat(u, c.Timeout); err == nil {
			src = p
			s.closers = append(s.closers, p)
		} else if c.URL.Value() == "" {
			err = errors.New("postgres source: the application database is not PostgreSQL; set the source's url or app_database")
		}
	case SourcePrometheus:
		src, err = NewPrometheus(u, c.Queries, c.Timeout)
	case SourceProbe:
		src, err = NewProbe(u, c.Timeout)
	default:
		err = errors.New("unknown health source type " + c.Type)
	}
	if err != nil {
		src = &Broken{Kind: c.Type, Err: err, signals: brokenSignals(c)}
	}
	s.byKey[key] = src
	return src
}

// Close releases the sources' connections.
func (s *Sources) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c.Close())
	}
	s.closers, s.byEnv, s.byKey = nil, nil, nil
	return errors.Join(errs...)
}

func queriesKey(q map[string]string) string {
	var b []byte
	for _, sig := range roman.Signals {
		if v, ok := q[sig]; ok {
			b = append(b, sig...)
			b = append(b, '=')
			b = append(b, v...)
			b = append(b, 0)
		}
	}
	return string(b)
}

func brokenSignals(c SourceConfig) []string {
	switch c.Type {
	case SourcePostgres:
		return pgStatSignals
	case SourcePrometheus:
		var out []string
		for _, sig := range roman.Signals {
			if _, ok := c.Queries[sig]; ok {
				out = append(out, sig)
			}
		}
		return out
	}
	return nil
}

// Broken stands in for a source whose configuration cannot work: every
// reading fails with Err, so its signals are unknown with the reason rather
// than silently absent.
type Broken struct {
	Kind    string
	Err     error
	signals []string
}

// Name implements roman.HealthSource.
func (b *Broken) Name() string { return b.Kind }

// Signals implements roman.HealthSource.
func (b *Broken) Signals() []string { return b.signals }

// Measure implements roman.HealthSource: it always fails.
func (b *Broken) Measure(context.Context, *roman.Deployment, time.Time) (roman.Measurement, error) {
	return roman.Measurement{}, b.Err
}
