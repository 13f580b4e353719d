package executor

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/odyssey-1/roman"
	"github.com/odyssey-1/roman/internal/scrub"
)

// MaxOutputBytes caps the command output kept in the execute step: the last
// 64 KiB, where a failing deploy script prints its error.
const MaxOutputBytes = 64 << 10

// KillGrace is how long a timed-out command's process group has between
// SIGTERM and SIGKILL.
const KillGrace = 5 * time.Second

// Command runs a configured command line to redeploy. The line is split
// into words the way a POSIX shell splits them (single and double quotes,
// backslash escapes) but no shell runs it: there is no variable expansion,
// globbing, pipe or redirection. Who needs those writes the shell into the
// line, e.g. `/bin/sh -c 'deploy.sh "$ROMAN_TARGET_VERSION" | tee -a log'`.
//
// The command inherits roman's environment except roman's own ROMAN_*
// variables (which hold roman's secrets), plus the target in these
// variables: ROMAN_TARGET_VERSION, ROMAN_TARGET_COMMIT, ROMAN_TARGET_BRANCH,
// ROMAN_TARGET_DEPLOYMENT_ID (the known-good deployment), ROMAN_DEPLOYMENT_ID
// (the deployment row the rollback recorded), ROMAN_ENVIRONMENT,
// ROMAN_EVENT_ID, ROMAN_BAD_VERSION, ROMAN_BAD_COMMIT and
// ROMAN_BAD_DEPLOYMENT_ID.
//
// What it prints is kept in the execute step (the last MaxOutputBytes),
// scrubbed of the secrets written into its arguments (commandSecrets) in
// every encoding the scrub package knows.
//
// It runs in its own process group; at the timeout the group gets SIGTERM,
// and SIGKILL KillGrace later. Exit status 0 is success.
type Command struct {
	argv    []string
	timeout time.Duration
	opts    Options
	// scrub removes the secrets of the command line's arguments
	// (commandSecrets) from the output kept in the step detail.
	scrub *scrub.Scrubber
}

var _ roman.Executor = (*Command)(nil)

// NewCommand parses line and returns the executor. EINVALID for an empty
// line or unbalanced quotes.
func NewCommand(line string, timeout time.Duration, opts Options) (*Command, error) {
	argv, err := SplitCommand(line)
	if err != nil {
		return nil, err
	}
	if len(argv) == 0 {
		return nil, roman.Errorf(roman.EINVALID, "executor_command is empty")
	}
	return &Command{argv: argv, timeout: timeout, opts: opts.withDefaults(), scrub: scrub.New(commandSecrets(argv)...)}, nil
}

// Name returns "command".
func (c *Command) Name() string { return "command" }

// Resumable returns false: running an arbitrary command twice may not be
// safe, so an interrupted run is marked failed instead.
func (c *Command) Resumable(json.RawMessage) bool { return false }

// Execute runs the command and waits for it, bounded by the timeout.
func (c *Command) Execute(ctx context.Context, req roman.ExecuteRequest) (json.RawMessage, error) {
	target, err := targetOf(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout(ctx, c.timeout)
	defer cancel()

	out := &tailBuffer{max: MaxOutputBytes}
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Env = commandEnv(os.Environ(), req, target)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = KillGrace
	setProcessGroup(cmd)
	started := time.Now()
	err = cmd.Start()
	if err == nil {
		if req.Progress != nil {
			req.Progress(mustJSON(map[string]any{"executor": "command", "pid": cmd.Process.Pid}))
		}
		err = cmd.Wait()
	}
	timedOut := ctx.Err() != nil
	if timedOut && cmd.Process != nil {
		killProcessGroup(cmd.Process.Pid)
	}
	detail := map[string]any{
		"executor":         "command",
		"command":          c.argv[0],
		"duration_ms":      time.Since(started).Milliseconds(),
		"output":           c.scrub.Scrub(out.String()),
		"output_bytes":     out.total,
		"output_truncated": out.total > int64(len(out.buf)),
	}
	if cmd.ProcessState != nil {
		detail["exit_code"] = cmd.ProcessState.ExitCode()
	}
	raw := mustJSON(detail)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return raw, nil
	case timedOut && errors.Is(ctx.Err(), context.DeadlineExceeded):
		detail["timed_out"] = true
		return mustJSON(detail), failure(err, "command %s timed out after %s; its process group was killed", c.argv[0], c.timeout)
	case timedOut:
		return raw, failure(err, "command %s was interrupted: %v", c.argv[0], ctx.Err())
	case errors.As(err, &ee):
		return raw, failure(err, "command %s failed with exit status %d", c.argv[0], ee.ExitCode())
	}
	return raw, failure(err, "command %s could not run: %v", c.argv[0], err)
}

// commandEnv is base without roman's own ROMAN_* variables, plus the
// target's.
func commandEnv(base []string, req roman.ExecuteRequest, target *roman.Deployment) []string {
	env := make([]string, 0, len(base)+10)
	for _, kv := range base {
		if !strings.HasPrefix(kv, "ROMAN_") {
			env = append(env, kv)
		}
	}
	add := func(k, v string) { env = append(env, k+"="+v) }
	add("ROMAN_TARGET_VERSION", target.Version)
	add("ROMAN_TARGET_COMMIT", target.GitCommit)
	add("ROMAN_TARGET_BRANCH", target.GitBranch)
	add("ROMAN_TARGET_DEPLOYMENT_ID", target.DeploymentID)
	add("ROMAN_DEPLOYMENT_ID", req.NewDeploymentID)
	add("ROMAN_ENVIRONMENT", req.Environment)
	add("ROMAN_EVENT_ID", req.EventID)
	if b := req.BadDeployment; b != nil {
		add("ROMAN_BAD_VERSION", b.Version)
		add("ROMAN_BAD_COMMIT", b.GitCommit)
		add("ROMAN_BAD_DEPLOYMENT_ID", b.DeploymentID)
	}
	return env
}

// SplitCommand splits a command line into words like a POSIX shell's
// tokenizer: blanks separate words; 'single quotes' keep everything
// literally; "double quotes" keep everything but a backslash before one of
// \ " $ ` and newline; an unquoted backslash escapes the next character.
// Nothing is expanded. EINVALID for an unterminated quote or a trailing
// backslash.
func SplitCommand(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case c == '\\':
			if i+1 >= len(line) {
				return nil, roman.Errorf(roman.EINVALID, "executor_command ends with a backslash")
			}
			i++
			if line[i] != '\n' {
				cur.WriteByte(line[i])
			}
			inWord = true
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, roman.Errorf(roman.EINVALID, "executor_command has an unterminated single quote")
			}
			cur.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) && strings.IndexByte("\\\"$`\n", line[j+1]) >= 0 {
					j++
					if line[j] != '\n' {
						cur.WriteByte(line[j])
					}
					continue
				}
				cur.WriteByte(line[j])
			}
			if j >= len(line) {
				return nil, roman.Errorf(roman.EINVALID, "executor_command has an unterminated double quote")
			}
			i = j
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// tailBuffer keeps the last max bytes written to it and counts them all.
type tailBuffer struct {
	mu    sync.Mutex
	max   int
	buf   []byte
	total int64
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total += int64(len(p))
	if len(p) >= b.max {
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
		return len(p), nil
	}
	if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.ToValidUTF8(string(b.buf), "\uFFFD")
}

// failure returns an error whose message is recorded in the execute step;
// cause is kept for the log.
func failure(cause error, format string, args ...any) error {
	e := roman.Errorf(roman.EUNAVAILABLE, format, args...)
	e.Err = cause
	return e
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with marshalable values
	}
	return b
}

// RedactCommand returns a command line as snapshots and other displays show
// it: the program as written, then one roman.Redacted per argument, since
// arguments often carry credentials (--api-token=…) and nothing tells
// a secret argument from a harmless one. A line that does not split (an
// unterminated quote) is redacted whole.
func RedactCommand(line string) string {
	argv, err := SplitCommand(line)
	if err != nil {
		return roman.Redacted
	}
	if len(argv) == 0 {
		return ""
	}
	return strings.Join(append(argv[:1], slices.Repeat([]string{roman.Redacted}, len(argv)-1)...), " ")
}
