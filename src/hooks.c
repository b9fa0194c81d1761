/*
 * hooks.c
 *		The one owner of meshpg's PostgreSQL hooks: for each hook point, the
 *		concerns that take part, in the order they run, and why.
 *
 * Each hook point has one function here.  It is installed once, after the
 * previous hook was saved, and it runs the concerns' steps in the order of
 * the table below it (it calls the first step itself: one call less on
 * every query); each step goes on with mesh_next_<hook>(..., next)
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

#include "meshpg/citus/citus.h"
#include "meshpg/contract/contract.h"
#include "meshpg/governance/governance.h"
#include "meshpg/governance/privacy.h"
#include "meshpg/policy/policy.h"
#include "meshpg/history/history.h"
#include "meshpg/hooks.h"
#include "meshpg/lineage/lineage.h"
#include "meshpg/registry/registry.h"
#include "meshpg/slo/slo.h"
#include "meshpg/worker/worker.h"

/* The hooks installed before meshpg's, chained after the last step. */
planner_hook_type mesh_prev_planner = NULL;
ExecutorStart_hook_type mesh_prev_executor_start = NULL;
ExecutorRun_hook_type mesh_prev_executor_run = NULL;
ExecutorFinish_hook_type mesh_prev_executor_finish = NULL;
ExecutorEnd_hook_type mesh_prev_executor_end = NULL;
ExecutorCheckPerms_hook_type mesh_prev_check_perms = NULL;
ProcessUtility_hook_type mesh_prev_utility = NULL;
object_access_hook_type mesh_prev_object_access = NULL;
emit_log_hook_type mesh_prev_emit_log = NULL;
needs_fmgr_hook_type mesh_prev_needs_fmgr = NULL;
fmgr_hook_type mesh_prev_fmgr = NULL;
get_relation_stats_hook_type mesh_prev_relation_stats = NULL;
get_index_stats_hook_type mesh_prev_index_stats = NULL;
get_relation_info_hook_type mesh_prev_relation_info = NULL;
get_attavgwidth_hook_type mesh_prev_attavgwidth = NULL;
static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

/* ----------------------------------------------------------------------
 * planner_hook
 * ---------------------------------------------------------------------- */

const MeshPlannerStep mesh_planner_steps[] = {
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

const int	mesh_planner_nsteps = lengthof(mesh_planner_steps);

static PlannedStmt *
meshpg_planner(Query *parse, const char *query_string, int cursorOptions,
			   ParamListInfo boundParams)
{
	return mesh_planner_steps[0] (parse, query_string, cursorOptions, boundParams, 1);
}

/* ----------------------------------------------------------------------
 * ExecutorStart_hook
 * ---------------------------------------------------------------------- */

const MeshExecutorStartStep mesh_executor_start_steps[] = {
	/* history: opens the statement's record once the executor has started */
	history_executor_start,
	/*
	 * governance: refuses a cached plan whose rules expired or were made
	 * for another reader, before the executor starts; once it has, keeps
	 * a filtered product's activity counters (counters.c)
	 */
	mesh_executor_start,
	/*
	 * privacy: a plan rewritten for a privacy policy spends the reader's
	 * budget, or is refused, once governance has accepted the plan and
	 * before the executor starts (innermost: nothing runs before the
	 * spend); then sets up the per-execution contribution bounds
	 */
	mesh_privacy_executor_start,
};

const int	mesh_executor_start_nsteps = lengthof(mesh_executor_start_steps);

static void
meshpg_executor_start(QueryDesc *queryDesc, int eflags)
{
	mesh_executor_start_steps[0] (queryDesc, eflags, 1);
}

/* ----------------------------------------------------------------------
 * ExecutorRun_hook
 * ---------------------------------------------------------------------- */

const MeshExecutorRunStep mesh_executor_run_steps[] = {
	/* history: counts the rows of each run, and notes a run that fails */
	history_executor_run,
	/*
	 * governance: withholds the text of errors raised while a plan that
	 * passes raw values to a non-leakproof function runs
	 */
	mesh_executor_run,
};

const int	mesh_executor_run_nsteps = lengthof(mesh_executor_run_steps);

static void
meshpg_executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
					bool execute_once)
{
	mesh_executor_run_steps[0] (queryDesc, direction, count, execute_once, 1);
}

/* ----------------------------------------------------------------------
 * ExecutorFinish_hook
 * ---------------------------------------------------------------------- */

const MeshExecutorFinishStep mesh_executor_finish_steps[] = {
	/*
	 * governance: the buffers, WAL and function calls a filtered plan's
	 * finishing phase (AFTER triggers, the rest of a data-modifying CTE)
	 * uses are taken back out (executor.c)
	 */
	mesh_executor_finish,
};

const int	mesh_executor_finish_nsteps = lengthof(mesh_executor_finish_steps);

static void
meshpg_executor_finish(QueryDesc *queryDesc)
{
	mesh_executor_finish_steps[0] (queryDesc, 1);
}

/* ----------------------------------------------------------------------
 * ExecutorEnd_hook
 * ---------------------------------------------------------------------- */

const MeshExecutorEndStep mesh_executor_end_steps[] = {
	/*
	 * history: closes the statement's record (and records indirect lineage)
	 * after every inner step has finished with it
	 */
	history_executor_end,
	/*
	 * citus: after a Citus function that changes the cluster's tables or
	 * nodes (create_distributed_table, citus_add_node, ...) has run, sends
	 * the catalog to the nodes again; around the inner steps, so that it
	 * sends once everything below has finished with the statement
	 */
	mesh_citus_executor_end,
	/*
	 * governance: what a filtered product's scans hid from the activity
	 * counters counts again, once the statement has ended (counters.c)
	 */
	counters_executor_end,
	/*
	 * governance: a filtered plan's buffer, WAL and function-call usage,
	 * what the steps inside and the hooks of libraries loaded before
	 * meshpg (pg_stat_statements) measure at the end, taken back out
	 * (executor.c)
	 */
	mesh_executor_end,
	/* slo: notes the relations a statement changed, for freshness */
	slo_executor_end,
};

const int	mesh_executor_end_nsteps = lengthof(mesh_executor_end_steps);

static void
meshpg_executor_end(QueryDesc *queryDesc)
{
	mesh_executor_end_steps[0] (queryDesc, 1);
}

/* ----------------------------------------------------------------------
 * ExecutorCheckPerms_hook
 * ---------------------------------------------------------------------- */

const MeshCheckPermsStep mesh_check_perms_steps[] = {
	/*
	 * governance: may the reader read each product now (grant, state,
	 * expiry); then the read checks other concerns registered (a deprecated
	 * product's notice, the SLO gate).  The previous hook runs first.
	 */
	mesh_check_perms,
};

const int	mesh_check_perms_nsteps = lengthof(mesh_check_perms_steps);

static bool
meshpg_check_perms(List *rangeTable, bool ereport_on_violation)
{
	return mesh_check_perms_steps[0] (rangeTable, ereport_on_violation, 1);
}

/* ----------------------------------------------------------------------
 * ProcessUtility_hook
 * ---------------------------------------------------------------------- */

const MeshUtilityStep mesh_utility_steps[] = {
	/*
	 * lineage: notes what a CREATE TABLE AS, REFRESH or ATTACH PARTITION
	 * derives from, around everything else (its plan is made inside)
	 */
	lineage_utility,
	/*
	 * citus: notes a SET LOCAL meshpg.purpose that Citus carries to the
	 * workers (citus.propagate_set_commands = 'local'), once the inner
	 * steps have set it, so that the planner lets such reads through
	 */
	mesh_citus_utility,
	/*
	 * governance: DDL guards (products, contracts), COPY of a product
	 * rewritten to a governed query, EXPLAIN ANALYZE noted
	 */
	mesh_utility,
	/* slo: notes the relations a utility statement changed (TRUNCATE, ...) */
	slo_utility,
};

const int	mesh_utility_nsteps = lengthof(mesh_utility_steps);

static void
meshpg_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
			   ProcessUtilityContext context, ParamListInfo params,
			   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	mesh_utility_steps[0] (pstmt, queryString, readOnlyTree, context, params,
					  queryEnv, dest, qc, 1);
}

/* ----------------------------------------------------------------------
 * Hooks with one concern (governance).  Each still goes through its step
 * table, so that a second concern is one more row.
 * ---------------------------------------------------------------------- */

/* object_access_hook: drops of products, domain schemas, policy functions */
const MeshObjectAccessStep mesh_object_access_steps[] = {mesh_object_access};

const int	mesh_object_access_nsteps = lengthof(mesh_object_access_steps);

static void
meshpg_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					 int subId, void *arg)
{
	mesh_object_access_steps[0] (access, classId, objectId, subId, arg, 1);
}

/* emit_log_hook: withholds messages raised under a policy's function */
const MeshEmitLogStep mesh_emit_log_steps[] = {mesh_emit_log};

const int	mesh_emit_log_nsteps = lengthof(mesh_emit_log_steps);

static void
meshpg_emit_log(ErrorData *edata)
{
	mesh_emit_log_steps[0] (edata, 1);
}

/* needs_fmgr_hook / fmgr_hook: policy functions run on a pinned path */
const MeshNeedsFmgrStep mesh_needs_fmgr_steps[] = {mesh_needs_fmgr};

const int	mesh_needs_fmgr_nsteps = lengthof(mesh_needs_fmgr_steps);

static bool
meshpg_needs_fmgr(Oid funcid)
{
	return mesh_needs_fmgr_steps[0] (funcid, 1);
}

const MeshFmgrStep mesh_fmgr_steps[] = {mesh_fmgr};

const int	mesh_fmgr_nsteps = lengthof(mesh_fmgr_steps);

static void
meshpg_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private)
{
	mesh_fmgr_steps[0] (event, flinfo, private, 1);
}

/* statistics hooks: a governed relation's hidden values stay hidden */
const MeshRelationStatsStep mesh_relation_stats_steps[] = {mesh_relation_stats};

const int	mesh_relation_stats_nsteps = lengthof(mesh_relation_stats_steps);

static bool
meshpg_relation_stats(PlannerInfo *root, RangeTblEntry *rte, AttrNumber attnum,
					  VariableStatData *vardata)
{
	return mesh_relation_stats_steps[0] (root, rte, attnum, vardata, 1);
}

const MeshIndexStatsStep mesh_index_stats_steps[] = {mesh_index_stats};

const int	mesh_index_stats_nsteps = lengthof(mesh_index_stats_steps);

static bool
meshpg_index_stats(PlannerInfo *root, Oid indexOid, AttrNumber indexattnum,
				   VariableStatData *vardata)
{
	return mesh_index_stats_steps[0] (root, indexOid, indexattnum, vardata, 1);
}

const MeshRelationInfoStep mesh_relation_info_steps[] = {mesh_relation_info};

const int	mesh_relation_info_nsteps = lengthof(mesh_relation_info_steps);

static void
meshpg_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent,
					 RelOptInfo *rel)
{
	mesh_relation_info_steps[0] (root, relationObjectId, inhparent, rel, 1);
}

const MeshAttAvgWidthStep mesh_attavgwidth_steps[] = {mesh_attavgwidth};

const int	mesh_attavgwidth_nsteps = lengthof(mesh_attavgwidth_steps);

static int32
meshpg_attavgwidth(Oid relid, AttrNumber attnum)
{
	return mesh_attavgwidth_steps[0] (relid, attnum, 1);
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
	mesh_privacy_shmem_request();	/* privacy spends not yet in the ledger */
}

static void
meshpg_shmem_startup(void)
{
	if (prev_shmem_startup)
		prev_shmem_startup();
	slo_shmem_startup();
	worker_shmem_startup();
	mesh_history_shmem_startup();
	mesh_privacy_shmem_startup();
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

	/*
	 * The catalog asks the cluster (Citus) whether a relation is a shard of
	 * a product's table, and tells it when the catalog changes.
	 */
	mesh_register_cluster(&mesh_citus_cluster_ops);

	/* enforcement pins the functions of every policy expression loaded */
	mesh_register_policy_expr_observer(mesh_pin_policy_functions);

	/* explain_access says which statistics a role's plans use */
	mesh_register_stats_describer(mesh_describe_stats);

	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = meshpg_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = meshpg_shmem_startup;

	mesh_prev_planner = planner_hook;
	planner_hook = meshpg_planner;
	mesh_prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = meshpg_executor_start;
	mesh_prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = meshpg_executor_run;
	mesh_prev_executor_finish = ExecutorFinish_hook;
	ExecutorFinish_hook = meshpg_executor_finish;
	mesh_prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = meshpg_executor_end;
	mesh_prev_check_perms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = meshpg_check_perms;
	mesh_prev_utility = ProcessUtility_hook;
	ProcessUtility_hook = meshpg_utility;
	mesh_prev_object_access = object_access_hook;
	object_access_hook = meshpg_object_access;
	mesh_prev_emit_log = emit_log_hook;
	emit_log_hook = meshpg_emit_log;
	mesh_prev_needs_fmgr = needs_fmgr_hook;
	needs_fmgr_hook = meshpg_needs_fmgr;
	mesh_prev_fmgr = fmgr_hook;
	fmgr_hook = meshpg_fmgr;
	mesh_prev_relation_stats = get_relation_stats_hook;
	get_relation_stats_hook = meshpg_relation_stats;
	mesh_prev_index_stats = get_index_stats_hook;
	get_index_stats_hook = meshpg_index_stats;
	mesh_prev_relation_info = get_relation_info_hook;
	get_relation_info_hook = meshpg_relation_info;
	mesh_prev_attavgwidth = get_attavgwidth_hook;
	get_attavgwidth_hook = meshpg_attavgwidth;
}
