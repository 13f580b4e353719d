package sqldb

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/odyssey-1/roman"
)

// sqliteTimeLayout is how SQLite stores timestamps: fixed width, UTC, with
// microseconds, so that text order is time order.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// ts converts t to the value the dialect stores: UTC with microsecond
// precision, as fixed-width text on SQLite.
func (db *DB) ts(t time.Time) any {
	t = roman.UTC(t)
	if db.dialect == DialectSQLite {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// tsPtr is ts for a nullable timestamp.
func (db *DB) tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return db.ts(*t)
}

// orNow returns t, or the store's clock when t is zero.
func (db *DB) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return roman.UTC(db.now())
	}
	return roman.UTC(t)
}

// jsonArg converts a JSON document to a query argument: NULL when empty.
func jsonArg(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

// marshalArg marshals v to a JSON query argument: NULL for a nil map.
func marshalArg[M ~map[K]V, K comparable, V any](v M) (any, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// strArg returns NULL for a nil or empty string, else its value.
func strArg(s *string) any {
	if s == nil || *s == "" {
		return nil
	}
	return *s
}

// idArg returns NULL for an empty (nullable) uuid, else its value.
func idArg(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeScan scans a timestamp of either dialect (time.Time from pgx, text
// from SQLite) into a time.Time (zero for NULL) or, with ptr, a *time.Time.
type timeScan struct {
	t   *time.Time
	ptr **time.Time
}

func scanTime(t *time.Time) timeScan     { return timeScan{t: t} }
func scanTimePtr(p **time.Time) timeScan { return timeScan{ptr: p} }

// Scan implements sql.Scanner.
func (s timeScan) Scan(src any) error {
	var t time.Time
	switch v := src.(type) {
	case nil:
		if s.ptr != nil {
			*s.ptr = nil
		} else {
			*s.t = time.Time{}
		}
		return nil
	case time.Time:
		t = v
	case string:
		p, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return fmt.Errorf("sqldb: bad timestamp %q: %w", v, err)
		}
		t = p
	case []byte:
		p, err := time.Parse(time.RFC3339Nano, string(v))
		if err != nil {
			return fmt.Errorf("sqldb: bad timestamp %q: %w", v, err)
		}
		t = p
	default:
		return fmt.Errorf("sqldb: cannot scan %T into a timestamp", src)
	}
	t = roman.UTC(t)
	if s.ptr != nil {
		*s.ptr = &t
	} else {
		*s.t = t
	}
	return nil
}

// jsonScan scans a JSON column of either dialect into a json.RawMessage, nil
// for NULL. The bytes are copied: the driver may reuse its buffer.
type jsonScan struct{ dst *json.RawMessage }

// Scan implements sql.Scanner.
func (s jsonScan) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.dst = nil
	case string:
		*s.dst = json.RawMessage(v)
	case []byte:
		*s.dst = append(json.RawMessage(nil), v...)
	default:
		return fmt.Errorf("sqldb: cannot scan %T into JSON", src)
	}
	return nil
}

// idScan scans a nullable uuid (or text) column into a string, "" for NULL,
// or, with ptr, a *string.
type idScan struct {
	s   *string
	ptr **string
}

// Scan implements sql.Scanner.
func (s idScan) Scan(src any) error {
	var v string
	switch x := src.(type) {
	case nil:
		if s.ptr != nil {
			*s.ptr = nil
		} else {
			*s.s = ""
		}
		return nil
	case string:
		v = x
	case []byte:
		v = string(x)
	case [16]byte:
		v = fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	default:
		return fmt.Errorf("sqldb: cannot scan %T into a uuid", src)
	}
	if s.ptr != nil {
		*s.ptr = &v
	} else {
		*s.s = v
	}
	return nil
}

var (
	_ sql.Scanner = timeScan{}
	_ sql.Scanner = jsonScan{}
	_ sql.Scanner = idScan{}
)

// normID validates and lower-cases a uuid given for a column of kind. An
// empty id is returned as it is (the caller decides whether it is allowed).
func normID(kind, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	if !roman.ValidUUID(id) {
		return "", roman.Errorf(roman.EINVALID, "%s must be a UUID", kind)
	}
	return strings.ToLower(id), nil
}

// lookupID lower-cases id for a lookup and reports whether it can exist at
// all; an id that is not a UUID is simply not found.
func lookupID(id string) (string, bool) {
	return strings.ToLower(id), roman.ValidUUID(id)
}
