/* The C helper the Go bridge calls: syslog's line, the one call back out of
 * Go (the user is resolved before Go runs, core_entry.c). It may take long
 * (a stuck /dev/log), so it runs with the host's own signal mask, as it
 * would without the module: Ctrl-C, a timeout's SIGALRM or a service
 * manager's SIGTERM are not held up by the module. That is safe here, where
 * it is not while Go code runs: the call runs on the thread's own C stack,
 * not on a goroutine's (core_entry.c). */
#include <signal.h>
#include <stddef.h>
#include <syslog.h>
#include <security/pam_ext.h>

#include "keyinit_pam.h"

void kig_log(pam_handle_t *pamh, int priority, const char *msg)
{
	sigset_t go;

	kig_host_signals(&go);
	pam_syslog(pamh, priority, "%s", msg);
	kig_go_signals(&go);
}
