/*
 * setup.c
 *		The SLO concern's part of _PG_init: its settings, shared memory and
 *		hooks (change tracking, read gate).
 */
#include "postgres.h"

#include "utils/guc.h"

#include "meshpg/meshpg.h"
#include "meshpg/slo/slo.h"

void
mesh_slo_init(void)
{
	mesh_changes_init();
	mesh_slo_gate_init();
	DefineCustomIntVariable("meshpg.slo_history_days",
							"Days of SLO results the scheduler keeps beyond each SLO's compliance window.",
							"0 keeps everything.  Results within the compliance window are always kept.",
							&mesh_slo_history_days,
							90, 0, 36500,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);
}
