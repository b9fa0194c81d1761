/*
 * planner.c
 *		planner_hook.  Installed from the start so that meshpg's place in the
 *		hook chain never changes; column masking and row policies will
 *		specialise plans here.
 */
#include "postgres.h"

#include "optimizer/planner.h"

#include "meshpg.h"

static planner_hook_type prev_planner_hook = NULL;

static PlannedStmt *
mesh_planner(Query *parse, const char *query_string, int cursorOptions,
			 ParamListInfo boundParams)
{
	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

void
mesh_install_planner_hook(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = mesh_planner;
}
