#ifndef MINIBIOS_ACPI_H
#define MINIBIOS_ACPI_H

#include "types.h"


/* Install QEMU's ACPI tables; the RSDP's address, or 0 if QEMU has none. */
u32 acpi_setup(void);
/* A table by signature, found through the RSDP's RSDT/XSDT; NULL if absent. */
const void *acpi_find_table(u32 rsdp, const char *signature);

#endif
