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

func TestStackLeastKiBByPageSize(t *testing.T) {
	for page, want := range map[int]uint64{4096: StackMinKiB, 16384: max(StackMinKiB, StackMinPages*16), 65536: StackMinPages * 64} {
		if got := StackLeastKiB(page); got != want {
			t.Errorf("StackLeastKiB(%d) = %d; want %d", page, got, want)
		}
	}
	if StackLeastKiB(65536) <= StackMinKiB {
		t.Errorf("with 64 KiB pages the least stack is %d KiB, not above %d KiB: KIG_FLOOR_STACK_MIN_PAGES lost", StackLeastKiB(65536), StackMinKiB)
	}
}
