#ifndef MINIBIOS_POWEROFF_H
#define MINIBIOS_POWEROFF_H

#include "types.h"

/* Turn the machine off by whatever means it has; never returns. */
__noreturn void power_off(void);
/* Ask QEMU for a machine reset (port 0xcf9 on pc/q35, a triple fault on microvm). */
__noreturn void machine_reset(void);

#endif
