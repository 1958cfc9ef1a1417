/*
 * Signatures that operating systems scan memory for (RSDP "RSD PTR " and
 * SMBIOS "_SM_"/"_SM3_" in 0xe0000-0xfffff, "_MP_" and "$PIR" there and in
 * the EBDA). The ROM itself lies in that range, so a literal copy of one in
 * its code or data would be found ahead of the real structure. Here each is
 * kept inverted and made whole only at run time, behind an optimisation
 * barrier that stops the compiler from folding it back into an immediate.
 */
#ifndef MINIBIOS_SIGNATURE_H
#define MINIBIOS_SIGNATURE_H

#include "types.h"

#define SIG4(a, b, c, d) ((u32)(a) | (u32)(b) << 8 | (u32)(c) << 16 | (u32)(d) << 24)

static inline u32 sig_unhide(u32 hidden)
{
	__asm__("" : "+r"(hidden));
	return ~hidden;
}

/* Four signature bytes as a little-endian u32, built at run time. */
#define SIGNATURE(a, b, c, d) sig_unhide(~SIG4(a, b, c, d))
#define SIG_RSDP_LO SIGNATURE('R', 'S', 'D', ' ')
#define SIG_RSDP_HI SIGNATURE('P', 'T', 'R', ' ')
#define SIG_MP SIGNATURE('_', 'M', 'P', '_')
#define SIG_PIR SIGNATURE('$', 'P', 'I', 'R')
#define SIG_SM SIGNATURE('_', 'S', 'M', '_')
#define SIG_SM3 SIGNATURE('_', 'S', 'M', '3') /* then '_' */

static inline void sig_put(void *dst, u32 sig) { __builtin_memcpy(dst, &sig, 4); }

static inline bool sig_is(const void *p, u32 sig)
{
	u32 v;

	__builtin_memcpy(&v, p, 4);
	return v == sig;
}

#endif
