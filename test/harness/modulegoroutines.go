package harness

/*
#include <dlfcn.h>
#include <stdlib.h>

// The core must be loaded already (RTLD_NOLOAD): this only asks it.
static int module_goroutines(const char *core, int *n)
{
	void *h = dlopen(core, RTLD_NOW | RTLD_NOLOAD);
	int (*count)(void);

	if (h == NULL)
		return -1;
	count = (int (*)(void))dlsym(h, "kig_core_goroutines");
	if (count != NULL)
		*n = count();
	dlclose(h);
	return count != NULL ? 0 : -2;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// ModuleGoroutines is the number of goroutines in the Go runtime of the
// test build of the core at path, loaded in this process: the module's
// runtime is not this process's, and runtime.NumGoroutine cannot see it.
func ModuleGoroutines(core string) (int, error) {
	c := C.CString(core)
	defer C.free(unsafe.Pointer(c))
	var n C.int
	switch C.module_goroutines(c, &n) {
	case -1:
		return 0, fmt.Errorf("%s is not loaded in this process", core)
	case -2:
		return 0, fmt.Errorf("%s has no kig_core_goroutines: not the test build", core)
	}
	return int(n), nil
}
