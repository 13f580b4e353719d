package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/odyssey-1/roman/policy"
)

// newPolicyCmd returns `roman policy`: offline tools for the constitution.
// They need no server: they compile the embedded defaults plus a user file
// exactly as `roman serve` does at start.
func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test and show the constitution (rollback validation rules), offline",
		Long: `The constitution is the rule set every rollback is validated against: the
embedded default rules (the seed's laws and the stability rules; "roman
policy show" prints them) plus the rules of a user file (ROMAN_CONSTITUTION).
See docs/constitution.md in the repository.`,
	}
	cmd.AddCommand(newPolicyTestCmd(), newPolicyShowCmd())
	return cmd
}

// policyTestReport is the JSON form of `roman policy test --output json`.
type policyTestReport struct {
	Constitution string              `json:"constitution"`
	Cases        []policy.CaseResult `json:"cases"`
	Passed       int                 `json:"passed"`
	Failed       int                 `json:"failed"`
}

func newPolicyTestCmd() *cobra.Command {
	var casesPath, output string
	cmd := &cobra.Command{
		Use:   "test FILE --input CASES",
		Short: "Evaluate the defaults plus FILE against sample inputs; exit 1 when an expectation fails",
		Long: `Compile the embedded default rules plus the rules of FILE, evaluate each case
of the case file given with --input, and compare the verdict with the case's
expectation. Exits 0 when every case passes, 1 when one fails or a file is
invalid. Case file format:

  defaults:            # optional, merged into every case's input
    environment: production
  cases:
    - name: Friday spike waits for a human
      input:           # fields of the CEL variables; unset ones take defaults
        trigger: automatic
        now: 2025-12-19T14:00:00Z
        health: {error_rate_per_minute: 8.5, reason: "High error rate: 8.5 errors/minute"}
      expect:
        compliant: false
        violations: ["Production freeze"]    # substrings of violations
        warnings: []                         # substrings of warnings
        rules: [production_freeze]           # rules that must fire`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFlag(output); err != nil {
				return err
			}
			if casesPath == "" {
				return errors.New("--input CASES is required (a YAML case file)")
			}
			c, err := policy.Load(args[0])
			if err != nil {
				return err
			}
			cf, err := policy.LoadCases(casesPath)
			if err != nil {
				return err
			}
			results, err := c.RunCases(cmd.Context(), cf)
			if err != nil {
				return err
			}
			rep := policyTestReport{Constitution: args[0], Cases: results}
			for _, r := range results {
				if r.Passed {
					rep.Passed++
				} else {
					rep.Failed++
				}
			}
			out := cmd.OutOrStdout()
			if output == outputJSON {
				if err := printJSON(out, rep); err != nil {
					return err
				}
			} else {
				printCaseResults(out, rep)
			}
			if rep.Failed > 0 {
				return fmt.Errorf("%d of %d cases failed", rep.Failed, len(results))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&casesPath, "input", "i", "", "YAML case file: sample inputs and expected verdicts")
	cmd.Flags().StringVarP(&output, "output", "o", outputTable, "output format: table or json")
	return cmd
}

func printCaseResults(w io.Writer, rep policyTestReport) {
	for _, r := range rep.Cases {
		status := "PASS"
		if !r.Passed {
			status = "FAIL"
		}
		fmt.Fprintf(w, "%s  %s\n", status, r.Name)
		for _, f := range r.Failures {
			fmt.Fprintf(w, "      %s\n", f)
		}
		if !r.Passed {
			fmt.Fprintf(w, "      verdict: compliant=%t violations=%s warnings=%s\n",
				r.Verdict.Compliant, jsonList(r.Verdict.Violations), jsonList(r.Verdict.Warnings))
		}
	}
	fmt.Fprintf(w, "%d cases: %d passed, %d failed\n", len(rep.Cases), rep.Passed, rep.Failed)
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// policyShow is the JSON form of `roman policy show --output json`.
type policyShow struct {
	File      string        `json:"file,omitempty"`
	Rules     []policy.Rule `json:"rules"`
	Disabled  []string      `json:"disabled"`
	Variables []policyVar   `json:"variables"`
}

type policyVar struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Fields []string `json:"fields,omitempty"`
}

func newPolicyShowCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show [FILE]",
		Short: "Print the effective rules: the defaults plus FILE (default $ROMAN_CONSTITUTION)",
		Long: `Print the effective rules in evaluation order — name, law, severity,
overridable, when, require and message — after compiling them as the server
does. Without FILE the file named by ROMAN_CONSTITUTION is used, if any.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFlag(output); err != nil {
				return err
			}
			path := os.Getenv("ROMAN_CONSTITUTION")
			if len(args) == 1 {
				path = args[0]
			}
			c, err := policy.Load(path)
			if err != nil {
				return err
			}
			show := policyShow{File: path, Rules: c.Rules(), Disabled: c.Disabled()}
			if show.Disabled == nil {
				show.Disabled = []string{}
			}
			for _, v := range policy.Variables() {
				show.Variables = append(show.Variables, policyVar{Name: v.Name, Type: v.Type, Fields: v.Fields})
			}
			if output == outputJSON {
				return printJSON(cmd.OutOrStdout(), show)
			}
			printRules(cmd.OutOrStdout(), show)
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", outputTable, "output format: table or json")
	return cmd
}

func printRules(w io.Writer, s policyShow) {
	src := "embedded defaults"
	if s.File != "" {
		src += " + " + s.File
	}
	fmt.Fprintf(w, "Constitution: %s (%d rules)\n", src, len(s.Rules))
	if len(s.Disabled) > 0 {
		fmt.Fprintf(w, "Disabled defaults: %s\n", strings.Join(s.Disabled, ", "))
	}
	for _, r := range s.Rules {
		over := "overridable"
		if !r.Overridable {
			over = "not overridable"
		}
		fmt.Fprintf(w, "\n%s  (%s)\n", r.Name, r.Source)
		field := func(name, value string) {
			if value == "" {
				value = "-"
			}
			fmt.Fprintf(w, "  %-9s %s\n", name+":", value)
		}
		field("law", r.Law)
		field("severity", r.Severity+", "+over)
		field("when", r.When)
		field("require", r.Require)
		field("message", r.Message)
	}
}

// checkOutputFlag accepts the two output formats of every command.
func checkOutputFlag(o string) error {
	switch o {
	case outputTable, outputJSON:
		return nil
	}
	return fmt.Errorf("invalid --output %q (want table or json)", o)
}
