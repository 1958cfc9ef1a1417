/* Whether the boot milestones are written: only when fw_cfg asks. */
#include "debugport.h"
#include "fw_cfg.h"

bool milestones_on;

void milestones_init(bool force)
{
	milestones_on = force || fw_cfg_dir_find(fw_cfg_directory(), MILESTONES_FILE);
	milestone(MILESTONE_FIRMWARE_START);
}
