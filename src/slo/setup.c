/*
 * setup.c
 *		The SLO concern's part of _PG_init: its settings, shared memory and
 *		hooks (change tracking, read gate).
 */
#include "postgres.h"

#include "meshpg.h"
#include "slo/slo.h"

void
mesh_slo_init(void)
{
	mesh_changes_init();
	mesh_slo_gate_init();
}
