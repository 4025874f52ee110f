package test

// What the plain keyinit in C (pam/front/plain_keyinit.c) logs where the Go
// core cannot run: one line, what it did and why.

// plainKeyinitSays stands in every line of the plain keyinit, between what
// it did and why the Go core did not run.
const plainKeyinitSays = ", in C: the Go core cannot run here: "

// logWarning is syslog.h's LOG_WARNING: the plain keyinit's line where the
// session got its keyring (or found none was needed).
const logWarning = 4
