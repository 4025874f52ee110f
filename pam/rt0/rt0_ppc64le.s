#include "textflag.h"

// kig_core_rt0 for ppc64le (ELFv2); rt0_amd64.s says what it is for. The C
// ABI passes argc, argv and the third argument in R3, R4 and R5 (arguments
// are R3 to R10), the return address in LR, which neither path touches,
// and the entry's own address in R12 when it is called through its global
// entry point, as ld.so and a C function pointer call it. Go's assembler
// starts every function of a shared build with two instructions that set
// the TOC pointer (R2) from R12, as Go's own _rt0_ppc64le_linux_lib is
// entered; R2 then stays this object's for the runtime's entry, which is
// branched to, not called.
//
// A 64-bit constant takes several instructions (or a load from the TOC),
// so the magic is kept as data, a 64-bit word in the machine's byte order
// at offset 12, after the TOC prologue and a branch over it: kig_core_start
// (../core_entry.c, its table of entries) recognises the entry by both.
#define KIG_RT0_MAGIC $0x2131746f72676b69
#define KIG_RT0_SIGTABLE $0x2132746f72676b69

// func kig_core_rt0(argc int, argv **byte, magic_or_envp uintptr), C ABI.
TEXT kig_core_rt0(SB),NOSPLIT|NOFRAME,$0
	BR	code	// 0x4800000c: 12 bytes on
	DWORD	KIG_RT0_MAGIC
code:
	MOVD	KIG_RT0_MAGIC, R6
	CMP	R5, R6
	BEQ	start
	MOVD	KIG_RT0_SIGTABLE, R6
	CMP	R5, R6
	BEQ	sigtable
	RET
sigtable:
	MOVD	$runtime·sigtable(SB), R3
	RET
start:
	BR	_rt0_ppc64le_linux_lib(SB)
