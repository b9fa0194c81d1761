/*
 * descriptor.c
 *		Descriptors: settings and SQL entry points.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "contract/contract.h"

int			mesh_descriptor_max_size = 1024 * 1024;

void
mesh_define_contract_settings(void)
{
	DefineCustomIntVariable("meshpg.descriptor_max_size",
							"Largest descriptor meshpg.apply() and meshpg.plan() accept, in bytes.",
							"Bigger documents are refused before they are parsed.",
							&mesh_descriptor_max_size,
							1024 * 1024, 1024, 64 * 1024 * 1024,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
}
