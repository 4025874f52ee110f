package runtimefloor

import "testing"

func TestEveryFloorIsDefined(t *testing.T) {
	for name, v := range map[string]uint64{"as": AddressSpaceKiB, "data": DataKiB, "stack min": StackMinKiB, "stack min pages": StackMinPages,
		"stack max": StackMaxKiB, "threads": Threads, "memory": MemoryKiB, "host": HostKiB, "default stack": DefaultStackKiB} {
		if v == 0 {
			t.Errorf("floor %s is 0", name)
		}
	}
	if StackMinKiB >= StackMaxKiB {
		t.Errorf("stack floor %d KiB is not below its ceiling %d KiB", StackMinKiB, StackMaxKiB)
	}
}
