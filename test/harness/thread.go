package harness

import "runtime"

// OnNewThread runs f on a new OS thread locked to it, and lets that thread
// die afterwards: the session keyring and any ids f leaves on it never reach
// another test. f must report failures with t.Error, not t.Fatal.
func OnNewThread(f func()) {
	done := make(chan any)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		defer func() { done <- recover() }()
		f()
	}()
	if p := <-done; p != nil {
		panic(p)
	}
}
