//go:build !unix

package executor

import "os/exec"

// setProcessGroup leaves cmd as it is where process groups do not exist;
// a cancelled context kills the process alone.
func setProcessGroup(cmd *exec.Cmd) {}

// killProcessGroup does nothing where process groups do not exist.
func killProcessGroup(pid int) {}
