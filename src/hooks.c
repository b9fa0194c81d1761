/*
 * hooks.c
 *		The one owner of meshpg's PostgreSQL hooks: for each hook point, the
 *		concerns that take part, in the order they run, and why.
 *
 * Each hook point has one function here.  It is installed once, after the
 * previous hook was saved, and it runs the concerns' steps in the order of
 * the table below it; each step goes on with mesh_next_<hook>(..., next)
 * (meshpg/hooks.h), and after the last step the previous hook runs (the
 * one installed before meshpg: Citus's, as citus is listed first in
 * shared_preload_libraries), else PostgreSQL's standard function.  So
 * meshpg's steps always run as one block around whatever was there before,
 * and a library loaded after meshpg wraps all of them.
 *
 * A step listed first is the outermost: it runs before the ones below it
 * and sees their results last.  The orders are those meshpg had when each
 * concern installed its own hooks (doc/architecture.md, "Hook order"); the
 * tests pin them (history sees a query before governance rewrites it,
 * lineage sees a CREATE TABLE AS before the DDL guards run it, ...).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "storage/ipc.h"
#include "utils/lsyscache.h"

#include "meshpg/contract/contract.h"
#include "meshpg/governance/governance.h"
#include "meshpg/policy/policy.h"
#include "meshpg/history/history.h"
#include "meshpg/hooks.h"
#include "meshpg/lineage/lineage.h"
#include "meshpg/registry/registry.h"
#include "meshpg/slo/slo.h"
#include "meshpg/worker/worker.h"

/* The hooks installed before meshpg's, chained after the last step. */
static planner_hook_type prev_planner = NULL;
static ExecutorStart_hook_type prev_executor_start = NULL;
static ExecutorRun_hook_type prev_executor_run = NULL;
static ExecutorEnd_hook_type prev_executor_end = NULL;
static ExecutorCheckPerms_hook_type prev_check_perms = NULL;
static ProcessUtility_hook_type prev_utility = NULL;
static object_access_hook_type prev_object_access = NULL;
static emit_log_hook_type prev_emit_log = NULL;
static needs_fmgr_hook_type prev_needs_fmgr = NULL;
static fmgr_hook_type prev_fmgr = NULL;
static get_relation_stats_hook_type prev_relation_stats = NULL;
static get_index_stats_hook_type prev_index_stats = NULL;
static get_relation_info_hook_type prev_relation_info = NULL;
static get_attavgwidth_hook_type prev_attavgwidth = NULL;
static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

/* ----------------------------------------------------------------------
 * planner_hook
 * ---------------------------------------------------------------------- */
typedef PlannedStmt *(*PlannerStep) (Query *parse, const char *query_string,
									 int cursorOptions, ParamListInfo boundParams,
									 MeshHookStep next);

static const PlannerStep planner_steps[] = {
	/*
	 * lineage: notes the targets of a query's data-modifying CTEs from the
	 * query as written, and marks the finished plan with them; outermost,
	 * so its marks go on the plan after everyone else's.
	 */
	lineage_planner,
	/*
	 * history: stamps every plan with a serial of its own after it is made
	 * (the access history tells plans apart by it), governed or not.
	 */
	history_planner,
	/*
	 * governance: checks and rewrites the reads of governed relations
	 * (masks, row filters, the reader's grants) and marks the plan role
	 * dependent; innermost, so that it rewrites the very query the
	 * planner then plans.
	 */
	mesh_planner,
};

PlannedStmt *
mesh_next_planner(Query *parse, const char *query_string, int cursorOptions,
				  ParamListInfo boundParams, MeshHookStep next)
{
	if (next < (int) lengthof(planner_steps))
		return planner_steps[next] (parse, query_string, cursorOptions, boundParams,
									next + 1);
	if (prev_planner)
		return prev_planner(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

static PlannedStmt *
meshpg_planner(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	return mesh_next_planner(parse, query_string, cursorOptions, boundParams, 0);
}

/* ----------------------------------------------------------------------
 * ExecutorStart_hook
 * ---------------------------------------------------------------------- */
typedef void (*ExecutorStartStep) (QueryDesc *queryDesc, int eflags, MeshHookStep next);

static const ExecutorStartStep executor_start_steps[] = {
	/* history: opens the statement's record once the executor has started */
	history_executor_start,
	/*
	 * governance: refuses a cached plan whose rules expired or were made
	 * for another reader, before the executor starts
	 */
	mesh_executor_start,
};

void
mesh_next_executor_start(QueryDesc *queryDesc, int eflags, MeshHookStep next)
{
	if (next < (int) lengthof(executor_start_steps))
		executor_start_steps[next] (queryDesc, eflags, next + 1);
	else if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
meshpg_executor_start(QueryDesc *queryDesc, int eflags)
{
	mesh_next_executor_start(queryDesc, eflags, 0);
}

/* ----------------------------------------------------------------------
 * ExecutorRun_hook
 * ---------------------------------------------------------------------- */
typedef void (*ExecutorRunStep) (QueryDesc *queryDesc, ScanDirection direction,
								 uint64 count, bool execute_once, MeshHookStep next);

static const ExecutorRunStep executor_run_steps[] = {
	/* history: counts the rows of each run, and notes a run that fails */
	history_executor_run,
	/*
	 * governance: withholds the text of errors raised while a plan that
	 * passes raw values to a non-leakproof function runs
	 */
	mesh_executor_run,
};

void
mesh_next_executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
					   bool execute_once, MeshHookStep next)
{
	if (next < (int) lengthof(executor_run_steps))
		executor_run_steps[next] (queryDesc, direction, count, execute_once, next + 1);
	else if (prev_executor_run)
		prev_executor_run(queryDesc, direction, count, execute_once);
	else
		standard_ExecutorRun(queryDesc, direction, count, execute_once);
}

static void
meshpg_executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
					bool execute_once)
{
	mesh_next_executor_run(queryDesc, direction, count, execute_once, 0);
}

/* ----------------------------------------------------------------------
 * ExecutorEnd_hook
 * ---------------------------------------------------------------------- */
typedef void (*ExecutorEndStep) (QueryDesc *queryDesc, MeshHookStep next);

static const ExecutorEndStep executor_end_steps[] = {
	/*
	 * history: closes the statement's record (and records indirect lineage)
	 * after every inner step has finished with it
	 */
	history_executor_end,
	/* slo: notes the relations a statement changed, for freshness */
	slo_executor_end,
};

void
mesh_next_executor_end(QueryDesc *queryDesc, MeshHookStep next)
{
	if (next < (int) lengthof(executor_end_steps))
		executor_end_steps[next] (queryDesc, next + 1);
	else if (prev_executor_end)
		prev_executor_end(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

static void
meshpg_executor_end(QueryDesc *queryDesc)
{
	mesh_next_executor_end(queryDesc, 0);
}

/* ----------------------------------------------------------------------
 * ExecutorCheckPerms_hook
 * ---------------------------------------------------------------------- */
typedef bool (*CheckPermsStep) (List *rangeTable, bool ereport_on_violation,
								MeshHookStep next);

static const CheckPermsStep check_perms_steps[] = {
	/*
	 * governance: may the reader read each product now (grant, state,
	 * expiry); then the read checks other concerns registered (a deprecated
	 * product's notice, the SLO gate).  The previous hook runs first.
	 */
	mesh_check_perms,
};

bool
mesh_next_check_perms(List *rangeTable, bool ereport_on_violation, MeshHookStep next)
{
	if (next < (int) lengthof(check_perms_steps))
		return check_perms_steps[next] (rangeTable, ereport_on_violation, next + 1);
	if (prev_check_perms)
		return prev_check_perms(rangeTable, ereport_on_violation);
	return true;
}

static bool
meshpg_check_perms(List *rangeTable, bool ereport_on_violation)
{
	return mesh_next_check_perms(rangeTable, ereport_on_violation, 0);
}

/* ----------------------------------------------------------------------
 * ProcessUtility_hook
 * ---------------------------------------------------------------------- */
typedef void (*UtilityStep) (PlannedStmt *pstmt, const char *queryString,
							 bool readOnlyTree, ProcessUtilityContext context,
							 ParamListInfo params, QueryEnvironment *queryEnv,
							 DestReceiver *dest, QueryCompletion *qc, MeshHookStep next);

static const UtilityStep utility_steps[] = {
	/*
	 * lineage: notes what a CREATE TABLE AS, REFRESH or ATTACH PARTITION
	 * derives from, around everything else (its plan is made inside)
	 */
	lineage_utility,
	/*
	 * governance: DDL guards (products, contracts), COPY of a product
	 * rewritten to a governed query, EXPLAIN ANALYZE noted
	 */
	mesh_utility,
	/* slo: notes the relations a utility statement changed (TRUNCATE, ...) */
	slo_utility,
};

void
mesh_next_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				  ProcessUtilityContext context, ParamListInfo params,
				  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc,
				  MeshHookStep next)
{
	if (next < (int) lengthof(utility_steps))
		utility_steps[next] (pstmt, queryString, readOnlyTree, context, params,
							 queryEnv, dest, qc, next + 1);
	else if (prev_utility)
		prev_utility(pstmt, queryString, readOnlyTree, context, params,
					 queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

static void
meshpg_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			   ProcessUtilityContext context, ParamListInfo params,
			   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	mesh_next_utility(pstmt, queryString, readOnlyTree, context, params,
					  queryEnv, dest, qc, 0);
}

/* ----------------------------------------------------------------------
 * Hooks with one concern (governance).  Each still goes through its step
 * table, so that a second concern is one more row.
 * ---------------------------------------------------------------------- */

/* object_access_hook: drops of products, domain schemas, policy functions */
typedef void (*ObjectAccessStep) (ObjectAccessType access, Oid classId, Oid objectId,
								  int subId, void *arg, MeshHookStep next);
static const ObjectAccessStep object_access_steps[] = {mesh_object_access};

void
mesh_next_object_access(ObjectAccessType access, Oid classId, Oid objectId,
						int subId, void *arg, MeshHookStep next)
{
	if (next < (int) lengthof(object_access_steps))
		object_access_steps[next] (access, classId, objectId, subId, arg, next + 1);
	else if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);
}

static void
meshpg_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					 int subId, void *arg)
{
	mesh_next_object_access(access, classId, objectId, subId, arg, 0);
}

/* emit_log_hook: withholds messages raised under a policy's function */
typedef void (*EmitLogStep) (ErrorData *edata, MeshHookStep next);
static const EmitLogStep emit_log_steps[] = {mesh_emit_log};

void
mesh_next_emit_log(ErrorData *edata, MeshHookStep next)
{
	if (next < (int) lengthof(emit_log_steps))
		emit_log_steps[next] (edata, next + 1);
	else if (prev_emit_log)
		prev_emit_log(edata);
}

static void
meshpg_emit_log(ErrorData *edata)
{
	mesh_next_emit_log(edata, 0);
}

/* needs_fmgr_hook / fmgr_hook: policy functions run on a pinned path */
typedef bool (*NeedsFmgrStep) (Oid funcid, MeshHookStep next);
static const NeedsFmgrStep needs_fmgr_steps[] = {mesh_needs_fmgr};

bool
mesh_next_needs_fmgr(Oid funcid, MeshHookStep next)
{
	if (next < (int) lengthof(needs_fmgr_steps))
		return needs_fmgr_steps[next] (funcid, next + 1);
	return prev_needs_fmgr != NULL && prev_needs_fmgr(funcid);
}

static bool
meshpg_needs_fmgr(Oid funcid)
{
	return mesh_next_needs_fmgr(funcid, 0);
}

typedef void (*FmgrStep) (FmgrHookEventType event, FmgrInfo *flinfo, Datum *private,
						  MeshHookStep next);
static const FmgrStep fmgr_steps[] = {mesh_fmgr};

void
mesh_next_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private,
			   MeshHookStep next)
{
	if (next < (int) lengthof(fmgr_steps))
		fmgr_steps[next] (event, flinfo, private, next + 1);
	else if (prev_fmgr)
		prev_fmgr(event, flinfo, private);
}

static void
meshpg_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	mesh_next_fmgr(event, flinfo, private, 0);
}

/* statistics hooks: a governed relation's hidden values stay hidden */
typedef bool (*RelationStatsStep) (PlannerInfo *root, RangeTblEntry *rte,
								   AttrNumber attnum, VariableStatData *vardata,
								   MeshHookStep next);
static const RelationStatsStep relation_stats_steps[] = {mesh_relation_stats};

bool
mesh_next_relation_stats(PlannerInfo *root, RangeTblEntry *rte, AttrNumber attnum,
						 VariableStatData *vardata, MeshHookStep next)
{
	if (next < (int) lengthof(relation_stats_steps))
		return relation_stats_steps[next] (root, rte, attnum, vardata, next + 1);
	if (prev_relation_stats)
		return prev_relation_stats(root, rte, attnum, vardata);
	return false;
}

static bool
meshpg_relation_stats(PlannerInfo *root, RangeTblEntry *rte, AttrNumber attnum,
					  VariableStatData *vardata)
{
	return mesh_next_relation_stats(root, rte, attnum, vardata, 0);
}

typedef bool (*IndexStatsStep) (PlannerInfo *root, Oid indexOid, AttrNumber indexattnum,
								VariableStatData *vardata, MeshHookStep next);
static const IndexStatsStep index_stats_steps[] = {mesh_index_stats};

bool
mesh_next_index_stats(PlannerInfo *root, Oid indexOid, AttrNumber indexattnum,
					  VariableStatData *vardata, MeshHookStep next)
{
	if (next < (int) lengthof(index_stats_steps))
		return index_stats_steps[next] (root, indexOid, indexattnum, vardata, next + 1);
	if (prev_index_stats)
		return prev_index_stats(root, indexOid, indexattnum, vardata);
	return false;
}

static bool
meshpg_index_stats(PlannerInfo *root, Oid indexOid, AttrNumber indexattnum,
				   VariableStatData *vardata)
{
	return mesh_next_index_stats(root, indexOid, indexattnum, vardata, 0);
}

typedef void (*RelationInfoStep) (PlannerInfo *root, Oid relationObjectId,
								  bool inhparent, RelOptInfo *rel, MeshHookStep next);
static const RelationInfoStep relation_info_steps[] = {mesh_relation_info};

void
mesh_next_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent,
						RelOptInfo *rel, MeshHookStep next)
{
	if (next < (int) lengthof(relation_info_steps))
		relation_info_steps[next] (root, relationObjectId, inhparent, rel, next + 1);
	else if (prev_relation_info)
		prev_relation_info(root, relationObjectId, inhparent, rel);
}

static void
meshpg_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent,
					 RelOptInfo *rel)
{
	mesh_next_relation_info(root, relationObjectId, inhparent, rel, 0);
}

typedef int32 (*AttAvgWidthStep) (Oid relid, AttrNumber attnum, MeshHookStep next);
static const AttAvgWidthStep attavgwidth_steps[] = {mesh_attavgwidth};

int32
mesh_next_attavgwidth(Oid relid, AttrNumber attnum, MeshHookStep next)
{
	if (next < (int) lengthof(attavgwidth_steps))
		return attavgwidth_steps[next] (relid, attnum, next + 1);
	if (prev_attavgwidth)
		return prev_attavgwidth(relid, attnum);
	return 0;
}

static int32
meshpg_attavgwidth(Oid relid, AttrNumber attnum)
{
	return mesh_next_attavgwidth(relid, attnum, 0);
}

/* ----------------------------------------------------------------------
 * Shared memory: one request and one startup for all concerns, after the
 * previous hook's, in a fixed order.
 * ---------------------------------------------------------------------- */
static void
meshpg_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	slo_shmem_request();		/* last-change table of each product */
	worker_shmem_request();		/* the launcher's state */
	mesh_history_shmem_request();	/* the access history's ring */
}

static void
meshpg_shmem_startup(void)
{
	if (prev_shmem_startup)
		prev_shmem_startup();
	slo_shmem_startup();
	worker_shmem_startup();
	mesh_history_shmem_startup();
}

/*
 * Save each previous hook and install meshpg's, once (from _PG_init, which
 * runs once per postmaster: the library is preloaded).
 */
void
mesh_install_hooks(void)
{
	/*
	 * Read checks, run by governance's ExecutorCheckPerms step on every read
	 * a grant allows, in this order: a deprecated product's warning (or its
	 * refusal after the sunset), then the SLO gate.
	 */
	mesh_register_read_check(mesh_contract_deprecated_read);
	mesh_register_read_check(mesh_slo_gate);
	mesh_register_successor_lookup(mesh_contract_successor);

	/* enforcement pins the functions of every policy expression loaded */
	mesh_register_policy_expr_observer(mesh_pin_policy_functions);

	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = meshpg_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = meshpg_shmem_startup;

	prev_planner = planner_hook;
	planner_hook = meshpg_planner;
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = meshpg_executor_start;
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = meshpg_executor_run;
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = meshpg_executor_end;
	prev_check_perms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = meshpg_check_perms;
	prev_utility = ProcessUtility_hook;
	ProcessUtility_hook = meshpg_utility;
	prev_object_access = object_access_hook;
	object_access_hook = meshpg_object_access;
	prev_emit_log = emit_log_hook;
	emit_log_hook = meshpg_emit_log;
	prev_needs_fmgr = needs_fmgr_hook;
	needs_fmgr_hook = meshpg_needs_fmgr;
	prev_fmgr = fmgr_hook;
	fmgr_hook = meshpg_fmgr;
	prev_relation_stats = get_relation_stats_hook;
	get_relation_stats_hook = meshpg_relation_stats;
	prev_index_stats = get_index_stats_hook;
	get_index_stats_hook = meshpg_index_stats;
	prev_relation_info = get_relation_info_hook;
	get_relation_info_hook = meshpg_relation_info;
	prev_attavgwidth = get_attavgwidth_hook;
	get_attavgwidth_hook = meshpg_attavgwidth;
}
