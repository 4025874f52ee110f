#include "textflag.h"

// The magic kig_core_start (../core_entry.c) finds this entry by in the
// core's .init_array (it is the immediate of the first instruction, whose
// bytes are 48 b8 imm64: that file's table of entries, one row for each
// architecture), and passes in DX to say "start". ld.so passes the host's
// environ in DX, a pointer, and no user-space pointer is this
// non-canonical value, nor the next one: the callers cannot be confused.
#define KIG_RT0_MAGIC $0x2131746f72676b69

// Passed in DX instead, it asks for the address of runtime·sigtable, which
// kig_core_start edits before it starts the runtime (../runtime_guard.c).
#define KIG_RT0_SIGTABLE $0x2132746f72676b69

// func kig_core_rt0(argc int, argv **byte, magic_or_envp uintptr), C ABI.
TEXT kig_core_rt0(SB),NOSPLIT|NOFRAME,$0
	MOVQ	KIG_RT0_MAGIC, AX
	CMPQ	DX, AX
	JEQ	start
	MOVQ	KIG_RT0_SIGTABLE, AX
	CMPQ	DX, AX
	JEQ	sigtable
	RET
sigtable:
	LEAQ	runtime·sigtable(SB), AX
	RET
start:
	JMP	_rt0_amd64_linux_lib(SB)
