package harness

import "runtime"

// The main goroutine keeps the process's main thread to itself, so that no
// OnNewThread goroutine ever lands on it: Go does not end the main thread
// when a goroutine locked to it exits (it parks it instead), so the session
// keyring and ids such a goroutine left there would stay for the whole run.
func init() { runtime.LockOSThread() }
