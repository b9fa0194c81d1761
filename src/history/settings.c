/*
 * settings.c
 *		The access history's settings, defined once from _PG_init (its
 *		shared memory and hook steps are run by src/hooks.c).
 */
#include "postgres.h"

#include <limits.h>

#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/guc.h"

#include "meshpg/history/history.h"
#include "meshpg/meshpg.h"

bool		mesh_history_enabled = true;
int			mesh_history_buffer_size = 16384;
int			mesh_history_retention = 90 * 24 * 60;
static int	mesh_usage_window_days = 30;

void
mesh_define_history_settings(void)
{
	/* Turning it off hides reads from the audit trail: superusers only. */
	DefineCustomBoolVariable("meshpg.history",
							 "Records every read of a data product in the access history.",
							 NULL,
							 &mesh_history_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("meshpg.history_buffer_size",
							"Slots of 128 bytes in the shared access-history buffer, which holds reads until a flush.",
							"Reads come in batches of one backend's reads: a read of the same shape as the one before it takes 26 bytes. "
							"When the buffer is full, further reads are counted as dropped.",
							&mesh_history_buffer_size,
							16384, 64, 1048576,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("meshpg.history_retention",
							"How long the access history keeps rows; 0 keeps them forever.",
							NULL,
							&mesh_history_retention,
							90 * 24 * 60, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomIntVariable("meshpg.usage_window",
							"Days of access history that meshpg.product_usage summarises.",
							NULL,
							&mesh_usage_window_days,
							30, 1, 36500,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

