package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/client"
)

// Defaults of the client flags.
const (
	defaultServer = "http://127.0.0.1:8080"
	outputTable   = "table"
	outputJSON    = "json"
)

// clientOptions are the flags every client command shares. One value is made
// per command tree (no package state); each top-level client command binds
// the same fields as its persistent flags.
type clientOptions struct {
	server string
	token  string
	output string
	// quiet prints only ids (-q); commands that list or record bind it.
	quiet  bool
	getenv func(string) string
}

// clientCommands returns the client subcommands (deploy, rollback, check,
// history, snapshot, migrations, explain, events, errors, version).
func clientCommands() []*cobra.Command {
	o := &clientOptions{getenv: os.Getenv}
	cmds := []*cobra.Command{
		newDeployCmd(o),
		newRollbackCmd(o),
		newCheckCmd(o),
		newHistoryCmd(o),
		newSnapshotCmd(o),
		newMigrationsCmd(o),
		newExplainCmd(o),
		newJudgementsCmd(o),
		newEventsCmd(o),
		newErrorsCmd(o),
	}
	for _, c := range cmds {
		o.bindFlags(c)
	}
	return append(cmds, newVersionCmd(o))
}

// bindFlags adds --server, --token and --output to c and its subcommands.
// The token flag has no default shown, so `--help` never prints a token
// taken from the environment.
func (o *clientOptions) bindFlags(c *cobra.Command) {
	f := c.PersistentFlags()
	f.StringVar(&o.server, "server", "", "roman server URL (env ROMAN_SERVER, default "+defaultServer+")")
	f.StringVar(&o.token, "token", "", "API key sent as a bearer token (env ROMAN_TOKEN)")
	f.StringVarP(&o.output, "output", "o", outputTable, "output format: table or json")
}

// bindQuiet adds -q/--quiet to a command that lists or records things.
func (o *clientOptions) bindQuiet(c *cobra.Command) {
	c.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "print only ids, one a line (for scripts)")
}

// printIDs writes one id a line (the output of -q).
func printIDs(w io.Writer, ids ...string) error {
	for _, id := range ids {
		if _, err := fmt.Fprintln(w, cell(id)); err != nil {
			return err
		}
	}
	return nil
}

// printList prints a list the way every list command does: only the ids
// (one per line) with -q, JSON with -o json (an empty list as []), the line
// none when there is nothing, or else the table that table writes.
func printList[T any](w io.Writer, o *clientOptions, list []T, id func(T) string, none string, table func() error) error {
	if o.quiet {
		ids := make([]string, len(list))
		for i, x := range list {
			ids[i] = id(x)
		}
		return printIDs(w, ids...)
	}
	if o.json() {
		if list == nil {
			list = []T{}
		}
		return printJSON(w, list)
	}
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, none)
		return err
	}
	return table()
}

// client returns an API client for the flags and environment, after
// checking the output format and server URL.
func (o *clientOptions) client() (*client.Client, error) {
	if err := o.checkOutput(); err != nil {
		return nil, err
	}
	server := o.server
	if server == "" {
		server = o.getenv("ROMAN_SERVER")
	}
	if server == "" {
		server = defaultServer
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("invalid server URL %q (want http://host:port)", server)
	}
	token := o.token
	if token == "" {
		token = o.getenv("ROMAN_TOKEN")
	}
	return client.New(server, token), nil
}

func (o *clientOptions) checkOutput() error {
	switch o.output {
	case outputTable, outputJSON:
		return nil
	}
	return fmt.Errorf("invalid --output %q (want table or json)", o.output)
}

func (o *clientOptions) json() bool { return o.output == outputJSON }

// hasToken reports whether a token was given by flag or environment.
func (o *clientOptions) hasToken() bool { return o.token != "" || o.getenv("ROMAN_TOKEN") != "" }

// apiError turns a client error into what the CLI prints after "roman: ":
// the server's own message, plus the event a conflict is about and a hint
// when no token was given.
func (o *clientOptions) apiError(err error) error {
	var e *roman.Error
	if !errors.As(err, &e) {
		return err
	}
	msg := e.Message
	if msg == "" {
		msg = "internal error"
	}
	if e.EventID != "" && !strings.Contains(msg, e.EventID) {
		msg += " (rollback event " + e.EventID + ")"
	}
	if e.Code == roman.EUNAUTHORIZED && !o.hasToken() {
		msg += " (set --token or ROMAN_TOKEN)"
	}
	return errors.New(msg)
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// table writes aligned columns. Cells are cleaned of control characters so
// that text from the server (a reason, a version) can neither break the
// alignment nor send escape sequences to the terminal.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, headers ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	if len(headers) > 0 {
		t.row(headers...)
	}
	return t
}

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = cell(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// fields writes "Name:  value" lines, aligned.
func fields(w io.Writer, pairs ...string) error {
	t := newTable(w)
	for i := 0; i+1 < len(pairs); i += 2 {
		t.row(pairs[i]+":", pairs[i+1])
	}
	return t.flush()
}

func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return formatTime(*t)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func strPtr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// formatDuration rounds a duration for people: 4.2s, 1m15s, 320ms.
func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// rawJSON prints a JSON column compactly, "-" when absent or null.
func rawJSON(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "-"
	}
	return s
}

// exactArgs is cobra.ExactArgs with a message naming the arguments.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return fmt.Errorf("%s needs %s (got %d argument(s)); see --help", cmd.CommandPath(), strings.Join(names, " and "), len(args))
		}
		return nil
	}
}
