package roman

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"time"
)

// Snapshot types (seed: ops.system_snapshots.snapshot_type).
const (
	SnapshotPreDeployment  = "pre_deployment"
	SnapshotPostDeployment = "post_deployment"
	SnapshotPreRollback    = "pre_rollback"
)

// ValidSnapshotType reports whether t is one of the three snapshot types.
func ValidSnapshotType(t string) bool {
	return t == SnapshotPreDeployment || t == SnapshotPostDeployment || t == SnapshotPreRollback
}

// Snapshot is one row of ops.system_snapshots.
type Snapshot struct {
	ID                 int64            `json:"id"`
	SnapshotID         string           `json:"snapshot_id"`
	DeploymentID       string           `json:"deployment_id"`
	SnapshotType       string           `json:"snapshot_type"`
	DatabaseSchemaHash string           `json:"database_schema_hash"`
	TableCounts        map[string]int64 `json:"table_counts"`
	// TableCountMethods says, per table of TableCounts, how it was counted:
	// CountExact, CountEstimate or CountAtLeast. Empty for snapshots taken
	// before roman recorded it, whose counts are exact.
	TableCountMethods map[string]string `json:"table_count_methods,omitempty"`
	KeyMetrics        json.RawMessage   `json:"key_metrics"`
	EnvironmentConfig map[string]any    `json:"environment_config"`
	CreatedAt         time.Time         `json:"created_at"`
}

// SnapshotDiff compares two snapshots.
type SnapshotDiff struct {
	From          string             `json:"from"`
	To            string             `json:"to"`
	SchemaChanged bool               `json:"schema_changed"`
	TableCounts   map[string]int64   `json:"table_count_deltas"`
	AddedTables   []string           `json:"added_tables"`
	RemovedTables []string           `json:"removed_tables"`
	Metrics       map[string]float64 `json:"metric_deltas"`
	ConfigChanged []string           `json:"config_changed"`
}

// DiffSnapshots returns what changed from a to b: whether the schema hash
// changed, per-table count deltas (b − a), numeric key-metric deltas and the
// environment-config keys whose values differ.
func DiffSnapshots(a, b *Snapshot) SnapshotDiff {
	d := SnapshotDiff{
		From: a.SnapshotID, To: b.SnapshotID,
		SchemaChanged: a.DatabaseSchemaHash != b.DatabaseSchemaHash,
		TableCounts:   map[string]int64{}, AddedTables: []string{}, RemovedTables: []string{},
		Metrics: map[string]float64{}, ConfigChanged: []string{},
	}
	for t, n := range b.TableCounts {
		if m, ok := a.TableCounts[t]; ok {
			d.TableCounts[t] = n - m
		} else {
			d.AddedTables = append(d.AddedTables, t)
			d.TableCounts[t] = n
		}
	}
	for t, m := range a.TableCounts {
		if _, ok := b.TableCounts[t]; !ok {
			d.RemovedTables = append(d.RemovedTables, t)
			d.TableCounts[t] = -m
		}
	}
	ma, mb := numericFields(a.KeyMetrics), numericFields(b.KeyMetrics)
	for k, v := range mb {
		if w, ok := ma[k]; ok {
			d.Metrics[k] = v - w
		}
	}
	keys := map[string]bool{}
	for k := range a.EnvironmentConfig {
		keys[k] = true
	}
	for k := range b.EnvironmentConfig {
		keys[k] = true
	}
	for k := range keys {
		va, _ := json.Marshal(a.EnvironmentConfig[k])
		vb, _ := json.Marshal(b.EnvironmentConfig[k])
		if string(va) != string(vb) {
			d.ConfigChanged = append(d.ConfigChanged, k)
		}
	}
	sort.Strings(d.AddedTables)
	sort.Strings(d.RemovedTables)
	sort.Strings(d.ConfigChanged)
	return d
}

func numericFields(raw json.RawMessage) map[string]float64 {
	var m map[string]any
	out := map[string]float64{}
	if json.Unmarshal(raw, &m) != nil {
		return out
	}
	for k, v := range m {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// Redacted is what a secret value is replaced with.
const Redacted = "[REDACTED]"

var secretKeyRE = regexp.MustCompile(`(?i)secret|token|password|passw|key|dsn|credential|webhook`)

// IsSecretKey reports whether a configuration key names a secret (secret,
// token, password, key, dsn, credential) or a webhook, since a webhook URL
// is itself the credential.
func IsSecretKey(k string) bool { return secretKeyRE.MatchString(k) }

// RedactConfig returns a copy of cfg with every value whose key names a secret
// replaced by [REDACTED], recursively through nested maps and lists.
func RedactConfig(cfg map[string]any) map[string]any {
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		if IsSecretKey(k) {
			out[k] = Redacted
			continue
		}
		out[k] = redactValue(v)
	}
	return out
}

func redactValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return RedactConfig(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = redactValue(x[i])
		}
		return out
	}
	return v
}

// How a snapshot's table count was obtained (Snapshot.TableCountMethods).
const (
	// CountExact is a count of every row: the table is small.
	CountExact = "exact"
	// CountEstimate comes from the database's statistics (PostgreSQL's
	// reltuples or n_live_tup, SQLite's sqlite_stat1 or the rowid span).
	CountEstimate = "estimate"
	// CountAtLeast is a lower bound: counting stopped there.
	CountAtLeast = "at_least"
)

// AppDatabaseCounts is an AppDatabase that also says how each table count
// was obtained; snapshots record it when the application database offers it.
type AppDatabaseCounts interface {
	// InspectCounts is Inspect with the method of every table's count
	// (CountExact, CountEstimate or CountAtLeast).
	InspectCounts(ctx context.Context) (schemaHash string, tableCounts map[string]int64, methods map[string]string, err error)
}

// AppDatabase is the application database roman snapshots and, with
// with_migrations, runs rollback scripts against.
type AppDatabase interface {
	// Inspect returns the schema hash (SHA-256 over the sorted table, column,
	// type list) and the row count of every table, exact for small tables
	// and estimated or bounded for large ones.
	Inspect(ctx context.Context) (schemaHash string, tableCounts map[string]int64, err error)
}

// SnapshotService creates and reads snapshots.
type SnapshotService interface {
	// Create takes a snapshot of the system for a deployment. ENOTFOUND for
	// an unknown deployment, EINVALID for a bad type.
	Create(ctx context.Context, deploymentID, snapshotType string) (*Snapshot, error)
	// Get returns a snapshot or ENOTFOUND.
	Get(ctx context.Context, snapshotID string) (*Snapshot, error)
	// List returns a deployment's snapshots, newest first.
	List(ctx context.Context, deploymentID string) ([]*Snapshot, error)
}
