//go:build unix

package executor

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts cmd in a process group of its own and makes a
// cancelled context send SIGTERM to the whole group, so a deploy script's
// children stop with it.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
}

// killProcessGroup sends SIGKILL to the process group led by pid; a group
// that is gone already is not an error.
func killProcessGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}
