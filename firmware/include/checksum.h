#ifndef MINIBIOS_CHECKSUM_H
#define MINIBIOS_CHECKSUM_H

#include "types.h"

/* The 8-bit sum of len bytes: ACPI, SMBIOS and MP structures sum to zero. */
u8 checksum8(const void *p, u32 len);

#endif
