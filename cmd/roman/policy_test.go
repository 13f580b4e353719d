package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The constitution and cases of the policy package's examples.
const (
	exampleRules = "../../policy/testdata/freeze.yaml"
	exampleCases = "../../policy/testdata/freeze_cases.yaml"
	failingCases = "../../policy/testdata/failing_cases.yaml"
)

// buildRoman compiles the real binary once per test.
func buildRoman(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "roman")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestPolicyCommands runs `roman policy test` and `roman policy show`
// in-process.
func TestPolicyCommands(t *testing.T) {
	t.Setenv("ROMAN_CONSTITUTION", "")
	out, _, err := cliRun(t, "policy", "test", exampleRules, "--input", exampleCases)
	if err != nil || !strings.Contains(out, "PASS  error spike on a Friday waits for a human") || !strings.HasSuffix(out, "7 cases: 7 passed, 0 failed\n") {
		t.Fatalf("passing cases: %v\n%s", err, out)
	}
	out, _, err = cliRun(t, "policy", "test", exampleRules, "--input", failingCases)
	if err == nil || err.Error() != "1 of 2 cases failed" || !strings.Contains(out, "FAIL  a Friday automatic rollback is approved (wrong)\n      compliant is false, want true\n") ||
		!strings.Contains(out, "PASS  a Thursday automatic rollback is approved") || !strings.Contains(out, `violations=["Production freeze`) {
		t.Fatalf("failing cases: %v\n%s", err, out)
	}
	out, _, err = cliRun(t, "policy", "test", exampleRules, "--input", failingCases, "-o", "json")
	var rep policyTestReport
	if err == nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Failed != 1 || rep.Passed != 1 || rep.Cases[0].Verdict.Rules[0] != "production_freeze" {
		t.Fatalf("json: %v %s", err, out)
	}
	if _, _, err = cliRun(t, "policy", "test", exampleRules); err == nil || !strings.Contains(err.Error(), "--input") {
		t.Fatalf("no --input: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("rules:\n  - name: x\n    require: health.eror_rate > 1.0\n    message: m\n"), 0o600)
	if _, _, err = cliRun(t, "policy", "test", bad, "--input", exampleCases); err == nil || !strings.Contains(err.Error(), `rule "x": require: undefined field "eror_rate" of health`) {
		t.Fatalf("bad constitution: %v", err)
	}

	out, _, err = cliRun(t, "policy", "show")
	if err != nil || !strings.HasPrefix(out, "Constitution: embedded defaults (8 rules)\n") ||
		!strings.Contains(out, "\ntarget  (default)\n  law:      Rollback target\n  severity: violation, not overridable\n  when:     -\n  require:  target != null\n  message:  No valid rollback target found\n") {
		t.Fatalf("show: %v\n%s", err, out)
	}
	out, _, err = cliRun(t, "policy", "show", exampleRules)
	if err != nil || !strings.Contains(out, "(10 rules)") || !strings.Contains(out, "Disabled defaults: stability_manual\n") ||
		!strings.Contains(out, "\nproduction_freeze  ("+exampleRules+")\n  law:      Change freeze\n") {
		t.Fatalf("show file: %v\n%s", err, out)
	}
	t.Setenv("ROMAN_CONSTITUTION", exampleRules)
	out, _, err = cliRun(t, "policy", "show", "-o", "json")
	var show policyShow
	if err != nil || json.Unmarshal([]byte(out), &show) != nil || show.File != exampleRules || len(show.Rules) != 10 ||
		!slices.Equal(show.Disabled, []string{"stability_manual"}) || len(show.Variables) != 13 {
		t.Fatalf("show json: %v\n%s", err, out)
	}
}

// TestPolicyExitCodes runs the real binary: `roman policy test` exits 0
// when every case passes and 1 when one fails or a file is bad, and
// `roman serve` with a malformed constitution exits 1 at start with the
// reason.
func TestPolicyExitCodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildRoman(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("rules:\n  - name: freeze\n    require: now.getDayOfWeek() != \"friday\"\n    message: m\n"), 0o600)
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"policy", "test", exampleRules, "--input", exampleCases}, 0, ""},
		{[]string{"policy", "test", exampleRules, "--input", failingCases}, 1, "roman: 1 of 2 cases failed"},
		{[]string{"policy", "test", bad, "--input", exampleCases}, 1, `rule "freeze": require: ERROR`},
		{[]string{"policy", "test", exampleRules, "--input", "nope.yaml"}, 1, "case file nope.yaml"},
		{[]string{"policy", "show", exampleRules}, 0, ""},
		{[]string{"policy", "show", bad}, 1, "no matching overload"},
	} {
		cmd := exec.Command(bin, tc.args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("roman %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), code, stderr.String(), tc.code, tc.stderr)
		}
	}

	dir := t.TempDir()
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ROMAN_LISTEN=127.0.0.1:0", "ROMAN_DATABASE=", "ROMAN_API_KEYS=", "ROMAN_CONSTITUTION="+bad)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "roman: constitution "+bad+`: rule "freeze": require: `) {
		t.Fatalf("serve with a malformed constitution: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "roman.db")); !os.IsNotExist(err) {
		t.Fatalf("serve opened the database before refusing the constitution: %v", err)
	}
}
