// Package runtimefloor is what the Go core's runtime needs from the process
// that starts it (floor.h, which the C front includes too): the limits below
// which the front refuses to start it, and "keyinit-go check" warns.
package runtimefloor

import (
	_ "embed"
	"strconv"
	"strings"
)

//go:embed floor.h
var header string

// The floor, in KiB or threads (floor.h says what each is).
var (
	AddressSpaceKiB = define("KIG_FLOOR_AS_KIB")
	DataKiB         = define("KIG_FLOOR_DATA_KIB")
	StackMinKiB     = define("KIG_FLOOR_STACK_MIN_KIB")
	StackMinPages   = define("KIG_FLOOR_STACK_MIN_PAGES")
	StackMaxKiB     = define("KIG_FLOOR_STACK_MAX_KIB")
	Threads         = define("KIG_FLOOR_THREADS")
	MemoryKiB       = define("KIG_FLOOR_MEMORY_KIB")
	HostKiB         = define("KIG_FLOOR_HOST_KIB")
	DefaultStackKiB = define("KIG_FLOOR_DEFAULT_STACK_KIB")
)

// AddressSpaceLimitKiB is the least absolute address-space limit under
// which a login host can start the runtime: its own mappings, the runtime's
// reservation and its threads' default stacks.
func AddressSpaceLimitKiB() uint64 {
	return HostKiB + AddressSpaceKiB + Threads*DefaultStackKiB
}

// StackLeastKiB is the least thread stack the front accepts on a machine
// with pages of pageSize bytes: KIG_FLOOR_STACK_MIN_KIB, or
// KIG_FLOOR_STACK_MIN_PAGES pages where that is more (stack_fits in
// pam/front/preflight.c).
func StackLeastKiB(pageSize int) uint64 {
	return max(StackMinKiB, StackMinPages*uint64(pageSize)/1024)
}

// DataLimitKiB is the least absolute data limit under which a login host
// can start the runtime.
func DataLimitKiB() uint64 {
	return HostKiB + DataKiB
}

// define returns the value of "#define NAME VALUE" in floor.h; a name it
// lacks is a build mistake, caught by the package's test, not at run time.
func define(name string) uint64 {
	for _, line := range strings.Split(header, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "#define" && f[1] == name {
			if v, err := strconv.ParseUint(f[2], 10, 64); err == nil {
				return v
			}
		}
	}
	panic("runtimefloor: floor.h has no #define " + name)
}
