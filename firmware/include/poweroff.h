#ifndef MINIBIOS_POWEROFF_H
#define MINIBIOS_POWEROFF_H

#include "types.h"

/* Turn the machine off by whatever means it has; never returns. */
__noreturn void power_off(void);

#endif
