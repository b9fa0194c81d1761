/*
 * hooks.h
 *		The hook chain's interface: what a concern's hook step calls to go on
 *		to the next step.
 *
 * src/hooks.c owns every PostgreSQL hook meshpg installs: it saves the hook
 * that was installed before (Citus's, when citus is listed first), installs
 * one function per hook point, and that function runs the concerns' steps
 * in a fixed order written down there.  A step is the concern's hook
 * function with one more argument, `next`: it calls mesh_next_<hook>(...,
 * next) where it used to call the previous hook, and that runs the next
 * concern's step, or, after the last one, the previous hook (or PostgreSQL's
 * standard function).  `next` travels on the stack, so nested and
 * re-entered hooks (planning inside planning, an error caught by PL/pgSQL)
 * always go on where they should.
 *
 * This header is in the bottom layer (every concern may include it); its
 * implementation is at the top (src/hooks.c), which alone knows the concerns.
 */
#ifndef MESHPG_HOOKS_H
#define MESHPG_HOOKS_H

#include "catalog/objectaccess.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "nodes/pathnodes.h"
#include "optimizer/planner.h"
#include "tcop/utility.h"
#include "utils/elog.h"
#include "utils/selfuncs.h"

/* The position of the next step in a hook point's chain. */
typedef int MeshHookStep;

extern PlannedStmt *mesh_next_planner(Query *parse, const char *query_string,
									  int cursorOptions, ParamListInfo boundParams,
									  MeshHookStep next);
extern void mesh_next_executor_start(QueryDesc *queryDesc, int eflags, MeshHookStep next);
extern void mesh_next_executor_run(QueryDesc *queryDesc, ScanDirection direction,
								   uint64 count, bool execute_once, MeshHookStep next);
extern void mesh_next_executor_end(QueryDesc *queryDesc, MeshHookStep next);
extern bool mesh_next_check_perms(List *rangeTable, bool ereport_on_violation,
								  MeshHookStep next);
extern void mesh_next_utility(PlannedStmt *pstmt, const char *queryString,
							  bool readOnlyTree, ProcessUtilityContext context,
							  ParamListInfo params, QueryEnvironment *queryEnv,
							  DestReceiver *dest, QueryCompletion *qc, MeshHookStep next);
extern void mesh_next_object_access(ObjectAccessType access, Oid classId, Oid objectId,
									int subId, void *arg, MeshHookStep next);
extern void mesh_next_emit_log(ErrorData *edata, MeshHookStep next);
extern bool mesh_next_needs_fmgr(Oid funcid, MeshHookStep next);
extern void mesh_next_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private,
						   MeshHookStep next);
extern bool mesh_next_relation_stats(PlannerInfo *root, RangeTblEntry *rte,
									 AttrNumber attnum, VariableStatData *vardata,
									 MeshHookStep next);
extern bool mesh_next_index_stats(PlannerInfo *root, Oid indexOid, AttrNumber indexattnum,
								  VariableStatData *vardata, MeshHookStep next);
extern void mesh_next_relation_info(PlannerInfo *root, Oid relationObjectId,
									bool inhparent, RelOptInfo *rel, MeshHookStep next);
extern int32 mesh_next_attavgwidth(Oid relid, AttrNumber attnum, MeshHookStep next);

/* src/hooks.c: install every hook, once, from _PG_init */
extern void mesh_install_hooks(void);

#endif							/* MESHPG_HOOKS_H */
