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
 * This header is in the bottom layer (every concern may include it); the
 * tables it reads are at the top (src/hooks.c), which alone knows the
 * concerns.
 */
#ifndef MESHPG_HOOKS_H
#define MESHPG_HOOKS_H

#include "catalog/objectaccess.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "nodes/pathnodes.h"
#include "optimizer/plancat.h"
#include "optimizer/planner.h"
#include "tcop/utility.h"
#include "utils/elog.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"

/* The position of the next step in a hook point's chain. */
typedef int MeshHookStep;

/*
 * Each hook point's steps and the hook installed before meshpg's: defined
 * in src/hooks.c (nothing else may change them); here so that going on to
 * the next step costs no call of its own.
 */

/* planner */
typedef PlannedStmt *(*MeshPlannerStep) (Query *parse,
					  const char *query_string, int cursorOptions,
					  ParamListInfo boundParams, MeshHookStep next);
extern const MeshPlannerStep mesh_planner_steps[];
extern const int mesh_planner_nsteps;
extern planner_hook_type mesh_prev_planner;

static inline PlannedStmt *
mesh_next_planner(Query *parse, const char *query_string, int cursorOptions,
				  ParamListInfo boundParams, MeshHookStep next)
{
	if (next < mesh_planner_nsteps)
		return mesh_planner_steps[next] (parse, query_string, cursorOptions,
										 boundParams, next + 1);
	if (mesh_prev_planner)
		return mesh_prev_planner(parse, query_string, cursorOptions,
								 boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

/* executor_start */
typedef void (*MeshExecutorStartStep) (QueryDesc *queryDesc, int eflags,
			  MeshHookStep next);
extern const MeshExecutorStartStep mesh_executor_start_steps[];
extern const int mesh_executor_start_nsteps;
extern ExecutorStart_hook_type mesh_prev_executor_start;

static inline void
mesh_next_executor_start(QueryDesc *queryDesc, int eflags, MeshHookStep next)
{
	if (next < mesh_executor_start_nsteps)
	{
		mesh_executor_start_steps[next] (queryDesc, eflags, next + 1);
		return;
	}
	if (mesh_prev_executor_start)
		mesh_prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

/* executor_run */
typedef void (*MeshExecutorRunStep) (QueryDesc *queryDesc,
			  ScanDirection direction, uint64 count, bool execute_once,
			  MeshHookStep next);
extern const MeshExecutorRunStep mesh_executor_run_steps[];
extern const int mesh_executor_run_nsteps;
extern ExecutorRun_hook_type mesh_prev_executor_run;

static inline void
mesh_next_executor_run(QueryDesc *queryDesc, ScanDirection direction,
					   uint64 count, bool execute_once, MeshHookStep next)
{
	if (next < mesh_executor_run_nsteps)
	{
		mesh_executor_run_steps[next] (queryDesc, direction, count,
									   execute_once, next + 1);
		return;
	}
	if (mesh_prev_executor_run)
		mesh_prev_executor_run(queryDesc, direction, count, execute_once);
	else
		standard_ExecutorRun(queryDesc, direction, count, execute_once);
}

/* executor_finish */
typedef void (*MeshExecutorFinishStep) (QueryDesc *queryDesc, MeshHookStep next);
extern const MeshExecutorFinishStep mesh_executor_finish_steps[];
extern const int mesh_executor_finish_nsteps;
extern ExecutorFinish_hook_type mesh_prev_executor_finish;

static inline void
mesh_next_executor_finish(QueryDesc *queryDesc, MeshHookStep next)
{
	if (next < mesh_executor_finish_nsteps)
	{
		mesh_executor_finish_steps[next] (queryDesc, next + 1);
		return;
	}
	if (mesh_prev_executor_finish)
		mesh_prev_executor_finish(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
}

/* executor_end */
typedef void (*MeshExecutorEndStep) (QueryDesc *queryDesc, MeshHookStep next);
extern const MeshExecutorEndStep mesh_executor_end_steps[];
extern const int mesh_executor_end_nsteps;
extern ExecutorEnd_hook_type mesh_prev_executor_end;

static inline void
mesh_next_executor_end(QueryDesc *queryDesc, MeshHookStep next)
{
	if (next < mesh_executor_end_nsteps)
	{
		mesh_executor_end_steps[next] (queryDesc, next + 1);
		return;
	}
	if (mesh_prev_executor_end)
		mesh_prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

/* check_perms */
typedef bool (*MeshCheckPermsStep) (List *rangeTable,
			  bool ereport_on_violation, MeshHookStep next);
extern const MeshCheckPermsStep mesh_check_perms_steps[];
extern const int mesh_check_perms_nsteps;
extern ExecutorCheckPerms_hook_type mesh_prev_check_perms;

static inline bool
mesh_next_check_perms(List *rangeTable, bool ereport_on_violation,
					  MeshHookStep next)
{
	if (next < mesh_check_perms_nsteps)
		return mesh_check_perms_steps[next] (rangeTable, ereport_on_violation,
											 next + 1);
	if (mesh_prev_check_perms)
		return mesh_prev_check_perms(rangeTable, ereport_on_violation);
	return true;
}

/* utility */
typedef void (*MeshUtilityStep) (PlannedStmt *pstmt, const char *queryString,
			  bool readOnlyTree, ProcessUtilityContext context,
			  ParamListInfo params, QueryEnvironment *queryEnv,
			  DestReceiver *dest, QueryCompletion *qc, MeshHookStep next);
extern const MeshUtilityStep mesh_utility_steps[];
extern const int mesh_utility_nsteps;
extern ProcessUtility_hook_type mesh_prev_utility;

static inline void
mesh_next_utility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc, MeshHookStep next)
{
	if (next < mesh_utility_nsteps)
	{
		mesh_utility_steps[next] (pstmt, queryString, readOnlyTree, context,
								  params, queryEnv, dest, qc, next + 1);
		return;
	}
	if (mesh_prev_utility)
		mesh_prev_utility(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/* object_access */
typedef void (*MeshObjectAccessStep) (ObjectAccessType access, Oid classId,
			  Oid objectId, int subId, void *arg, MeshHookStep next);
extern const MeshObjectAccessStep mesh_object_access_steps[];
extern const int mesh_object_access_nsteps;
extern object_access_hook_type mesh_prev_object_access;

static inline void
mesh_next_object_access(ObjectAccessType access, Oid classId, Oid objectId,
						int subId, void *arg, MeshHookStep next)
{
	if (next < mesh_object_access_nsteps)
	{
		mesh_object_access_steps[next] (access, classId, objectId, subId, arg,
										next + 1);
		return;
	}
	if (mesh_prev_object_access)
		mesh_prev_object_access(access, classId, objectId, subId, arg);
}

/* emit_log */
typedef void (*MeshEmitLogStep) (ErrorData *edata, MeshHookStep next);
extern const MeshEmitLogStep mesh_emit_log_steps[];
extern const int mesh_emit_log_nsteps;
extern emit_log_hook_type mesh_prev_emit_log;

static inline void
mesh_next_emit_log(ErrorData *edata, MeshHookStep next)
{
	if (next < mesh_emit_log_nsteps)
	{
		mesh_emit_log_steps[next] (edata, next + 1);
		return;
	}
	if (mesh_prev_emit_log)
		mesh_prev_emit_log(edata);
}

/* needs_fmgr */
typedef bool (*MeshNeedsFmgrStep) (Oid funcid, MeshHookStep next);
extern const MeshNeedsFmgrStep mesh_needs_fmgr_steps[];
extern const int mesh_needs_fmgr_nsteps;
extern needs_fmgr_hook_type mesh_prev_needs_fmgr;

static inline bool
mesh_next_needs_fmgr(Oid funcid, MeshHookStep next)
{
	if (next < mesh_needs_fmgr_nsteps)
		return mesh_needs_fmgr_steps[next] (funcid, next + 1);
	return mesh_prev_needs_fmgr != NULL && mesh_prev_needs_fmgr(funcid);
}

/* fmgr */
typedef void (*MeshFmgrStep) (FmgrHookEventType event, FmgrInfo *flinfo,
			  Datum *private, MeshHookStep next);
extern const MeshFmgrStep mesh_fmgr_steps[];
extern const int mesh_fmgr_nsteps;
extern fmgr_hook_type mesh_prev_fmgr;

static inline void
mesh_next_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private,
			   MeshHookStep next)
{
	if (next < mesh_fmgr_nsteps)
	{
		mesh_fmgr_steps[next] (event, flinfo, private, next + 1);
		return;
	}
	if (mesh_prev_fmgr)
		mesh_prev_fmgr(event, flinfo, private);
}

/* relation_stats */
typedef bool (*MeshRelationStatsStep) (PlannerInfo *root, RangeTblEntry *rte,
			  AttrNumber attnum, VariableStatData *vardata, MeshHookStep next);
extern const MeshRelationStatsStep mesh_relation_stats_steps[];
extern const int mesh_relation_stats_nsteps;
extern get_relation_stats_hook_type mesh_prev_relation_stats;

static inline bool
mesh_next_relation_stats(PlannerInfo *root, RangeTblEntry *rte,
						 AttrNumber attnum, VariableStatData *vardata,
						 MeshHookStep next)
{
	if (next < mesh_relation_stats_nsteps)
		return mesh_relation_stats_steps[next] (root, rte, attnum, vardata,
												next + 1);
	if (mesh_prev_relation_stats)
		return mesh_prev_relation_stats(root, rte, attnum, vardata);
	return false;
}

/* index_stats */
typedef bool (*MeshIndexStatsStep) (PlannerInfo *root, Oid indexOid,
			  AttrNumber indexattnum, VariableStatData *vardata,
			  MeshHookStep next);
extern const MeshIndexStatsStep mesh_index_stats_steps[];
extern const int mesh_index_stats_nsteps;
extern get_index_stats_hook_type mesh_prev_index_stats;

static inline bool
mesh_next_index_stats(PlannerInfo *root, Oid indexOid, AttrNumber indexattnum,
					  VariableStatData *vardata, MeshHookStep next)
{
	if (next < mesh_index_stats_nsteps)
		return mesh_index_stats_steps[next] (root, indexOid, indexattnum,
											 vardata, next + 1);
	if (mesh_prev_index_stats)
		return mesh_prev_index_stats(root, indexOid, indexattnum, vardata);
	return false;
}

/* relation_info */
typedef void (*MeshRelationInfoStep) (PlannerInfo *root, Oid relationObjectId,
			  bool inhparent, RelOptInfo *rel, MeshHookStep next);
extern const MeshRelationInfoStep mesh_relation_info_steps[];
extern const int mesh_relation_info_nsteps;
extern get_relation_info_hook_type mesh_prev_relation_info;

static inline void
mesh_next_relation_info(PlannerInfo *root, Oid relationObjectId,
						bool inhparent, RelOptInfo *rel, MeshHookStep next)
{
	if (next < mesh_relation_info_nsteps)
	{
		mesh_relation_info_steps[next] (root, relationObjectId, inhparent, rel,
										next + 1);
		return;
	}
	if (mesh_prev_relation_info)
		mesh_prev_relation_info(root, relationObjectId, inhparent, rel);
}

/* attavgwidth */
typedef int32 (*MeshAttAvgWidthStep) (Oid relid, AttrNumber attnum,
			   MeshHookStep next);
extern const MeshAttAvgWidthStep mesh_attavgwidth_steps[];
extern const int mesh_attavgwidth_nsteps;
extern get_attavgwidth_hook_type mesh_prev_attavgwidth;

static inline int32
mesh_next_attavgwidth(Oid relid, AttrNumber attnum, MeshHookStep next)
{
	if (next < mesh_attavgwidth_nsteps)
		return mesh_attavgwidth_steps[next] (relid, attnum, next + 1);
	if (mesh_prev_attavgwidth)
		return mesh_prev_attavgwidth(relid, attnum);
	return 0;
}

/* src/hooks.c: install every hook, once, from _PG_init */
extern void mesh_install_hooks(void);

#endif							/* MESHPG_HOOKS_H */
