// Command pam_keyinit_go is built with -buildmode=c-shared into the PAM
// module pam_keyinit_go.so. The PAM hooks are C (module.c), which enter the
// Go bridge (bridge.go) only where Go can run; the policy is in ../keyinit.
//
// containermaxprocs=0: otherwise the Go runtime keeps the cgroup CPU quota
// files (/sys/fs/cgroup/.../cpu.cfs_quota_us, cpu.cfs_period_us) open in
// the host process for good, two descriptors the host never opened; the
// module runs no parallel work, so it has no use for a container-sized
// GOMAXPROCS.
//
//go:debug containermaxprocs=0
package main

func main() {}
