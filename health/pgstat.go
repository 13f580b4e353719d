package health

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/odyssey-1/roman"
)

// PGStat is a pulled source that measures the application's PostgreSQL
// database: connections (client backends in pg_stat_activity), their
// utilisation against max_connections in percent, and active queries (other
// than its own). It keeps one connection open.
type PGStat struct {
	db      *sql.DB
	timeout time.Duration
}

var _ roman.HealthSource = (*PGStat)(nil)

// pgStatSignals are the signals PGStat measures.
var pgStatSignals = []string{
	roman.MetricDatabaseConnections, roman.MetricDatabaseConnectionUtilization, roman.MetricActiveQueries,
}

// NewPGStat returns the source for the PostgreSQL database at rawURL;
// timeout bounds each reading (0: the sampler's). The connection is opened
// lazily, so an unreachable database makes signals unknown rather than
// failing roman's start.
func NewPGStat(rawURL string, timeout time.Duration) (*PGStat, error) {
	if !strings.HasPrefix(rawURL, "postgres://") && !strings.HasPrefix(rawURL, "postgresql://") {
		return nil, errors.New("postgres source: url is not a postgres:// URL")
	}
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres source: invalid postgres URL")
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "roman-pgstat"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxIdleTime(time.Minute)
	return &PGStat{db: db, timeout: timeout}, nil
}

// Name implements roman.HealthSource.
func (p *PGStat) Name() string { return "postgres" }

// Signals implements roman.HealthSource.
func (p *PGStat) Signals() []string { return pgStatSignals }

// Measure implements roman.HealthSource: one query over pg_stat_activity.
func (p *PGStat) Measure(ctx context.Context, d *roman.Deployment, now time.Time) (roman.Measurement, error) {
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	var conns, active, maxConns float64
	err := p.db.QueryRowContext(ctx, `SELECT
		count(*) FILTER (WHERE backend_type = 'client backend'),
		count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active'
			AND datname = current_database() AND pid <> pg_backend_pid()),
		current_setting('max_connections')::float8
		FROM pg_stat_activity`).Scan(&conns, &active, &maxConns)
	if err != nil {
		if ctx.Err() != nil {
			return roman.Measurement{}, context.DeadlineExceeded
		}
		return roman.Measurement{}, errors.New("query failed: " + pgError(err))
	}
	v := map[string]float64{roman.MetricDatabaseConnections: conns, roman.MetricActiveQueries: active}
	m := roman.Measurement{Values: v}
	if maxConns > 0 {
		v[roman.MetricDatabaseConnectionUtilization] = conns / maxConns * 100
	} else {
		m.Unknown = map[string]string{roman.MetricDatabaseConnectionUtilization: "max_connections is 0"}
	}
	return m, nil
}

// Close closes the source's connection.
func (p *PGStat) Close() error { return p.db.Close() }

// pgError keeps a driver error's message but never the connection string.
func pgError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "postgres://"); i >= 0 {
		msg = msg[:i] + "[REDACTED]"
	}
	if i := strings.Index(msg, "postgresql://"); i >= 0 {
		msg = msg[:i] + "[REDACTED]"
	}
	return msg
}
