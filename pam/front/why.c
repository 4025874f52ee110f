/* The reason the Go core cannot serve a hook (struct kig_why, front.h).
 *
 * The checks that decide whether Go may run (trust.c, preflight.c,
 * seccomp_probe.c, core_load.c) say why not here instead of logging, so
 * that a refused hook logs one line: what the plain keyinit in C then did,
 * and why (plain_keyinit.c). */
#include <stdarg.h>
#include <stdio.h>

#include "front.h"

void kig_why(struct kig_why *why, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why->text, sizeof(why->text), fmt, ap);
	va_end(ap);
}
