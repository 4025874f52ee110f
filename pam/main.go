// Command pam_keyinit_go is built with -buildmode=c-shared into the PAM
// module pam_keyinit_go.so. The PAM hooks are C (module.c), which enter the
// Go bridge (bridge.go) only where Go can run; the policy is in ../keyinit.
package main

func main() {}
