/*
 * executor.c
 *		Executor hooks.  ExecutorCheckPerms is the last word on every read:
 *		it sees the final range table of every plan and of COPY, and refuses
 *		a data product to anyone the catalog does not let read it.
 *
 * SQL privileges alone are not enough: a grant may have expired, a product
 * may be retired, or someone may have granted SELECT by hand.  A reader of
 * a product is let through if it is a superuser, has the privileges of the
 * domain's owner role, or holds (directly or through a role) a meshpg grant
 * that has not expired.  The check runs as whoever the engine checks
 * privileges as: the view owner for relations behind a view.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "executor/instrument.h"
#include "nodes/nodeFuncs.h"
#include "nodes/plannodes.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "catalog/catalog.h"
#include "citus/citus.h"
#include "contract/contract.h"
#include "governance/governance.h"
#include "governance/policy.h"
#include "meshpg.h"

static ExecutorCheckPerms_hook_type prev_check_perms_hook = NULL;
static ExecutorStart_hook_type prev_executor_start_hook = NULL;
static ExecutorRun_hook_type prev_executor_run_hook = NULL;
static ExecutorFinish_hook_type prev_executor_finish_hook = NULL;
static ExecutorEnd_hook_type prev_executor_end_hook = NULL;

static bool plan_is_filtered(QueryDesc *queryDesc);

/*
 * Errors raised while a plan marked MESH_MARK_CONTAIN runs (planner.c): a
 * policy expression written by a team passes raw values to a function that
 * may report them ("invalid input syntax for type integer: ...").  Which
 * expression raised cannot be told from here, so the text of every error
 * of the plan is replaced; its SQLSTATE stays.  Not: notices and warnings,
 * which only the reader's functions raise (a policy's function is
 * contained in planner.c); cancellations, resource and serialization
 * errors, which carry no values; and constraint and check-option
 * violations, which no expression raises and which show the row written,
 * built from masked values (and none of a table under row security).
 */
static void
contain_policy_error(void *arg)
{
	int			category = ERRCODE_TO_CATEGORY(geterrcode());

	if (category == ERRCODE_SUCCESSFUL_COMPLETION || category == ERRCODE_WARNING ||
		category == ERRCODE_NO_DATA || category == ERRCODE_OPERATOR_INTERVENTION ||
		category == ERRCODE_INSUFFICIENT_RESOURCES ||
		category == ERRCODE_TRANSACTION_ROLLBACK ||
		category == ERRCODE_INTEGRITY_CONSTRAINT_VIOLATION ||
		category == ERRCODE_WITH_CHECK_OPTION_VIOLATION)
		return;
	errmsg(MESH_WITHHELD_QUERY_MSG);
	errdetail("A policy's expression gets values the policy hides, and its errors could show them.");
	errhint("The owning domain team can reproduce it as a role the policy does not apply to.");
	internalerrquery(NULL);
	internalerrposition(0);
	errposition(0);
}

/*
 * The context lines of a withheld message were added before it was
 * withheld, by the functions it went through: a policy's PL/pgSQL function
 * running dynamic SQL built from a value shows that statement.  No context
 * callback can remove them; the message is recognised here, as it is
 * reported, and sent without them.
 */
static emit_log_hook_type prev_emit_log_hook = NULL;

static bool
withheld(ErrorData *edata)
{
	return edata->message_id != NULL &&
		(strcmp(edata->message_id, MESH_WITHHELD_QUERY_MSG) == 0 ||
		 strcmp(edata->message_id, MESH_WITHHELD_FUNCTION_MSG) == 0);
}

/* Drops what a withheld message must not carry along. */
static void
strip_withheld(ErrorData *edata)
{
	edata->context = NULL;
	edata->internalquery = NULL;
	edata->internalpos = 0;
	edata->cursorpos = 0;
}

static void
mesh_emit_log(ErrorData *edata)
{
	if (withheld(edata))
		strip_withheld(edata);
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

/*
 * Buffer and WAL usage of a filtered read.  A probe by key that finds a
 * hidden row reads its heap page, one that finds nothing does not: the
 * number of buffers a statement touched tells whether a hidden row exists.
 * PostgreSQL adds it up in pgBufferUsage, which every module that measures
 * a statement reads as a difference (pg_stat_statements' shared_blks_hit
 * for the statement, and for the utility statement around it: FETCH,
 * COPY, CREATE TABLE AS; EXPLAIN (ANALYZE, BUFFERS) of an enclosing
 * statement that is not filtered itself).  So the usage of every phase of
 * a filtered plan (workers' included, which are added to the leader's in
 * it) is taken back out when the phase returns, error or not, and the
 * totals a module collected for the statement from inside this hook (one
 * loaded before meshpg) are cleared before it stores them at ExecutorEnd.
 * Filtered reads therefore count no buffers; rows and durations stay.  In
 * a parallel worker too: what a statement a function runs there uses would
 * reach the leader's totals with the worker's.
 */
typedef struct UsageSaved
{
	BufferUsage buffers;
	WalUsage	wal;
	int			track_functions;
} UsageSaved;

/*
 * Function call counts likewise (track_functions, pg_stat_user_functions
 * and pg_stat_get_xact_function_calls, readable by anyone): a row policy
 * that calls a PL/pgSQL function calls it for every row it is asked
 * about, hidden ones included.  pgstat asks the setting at every call, so
 * while a filtered plan runs, calls count nothing, the reader's own
 * functions' included.
 */
static void
usage_save(UsageSaved *saved)
{
	saved->buffers = pgBufferUsage;
	saved->wal = pgWalUsage;
	saved->track_functions = pgstat_track_functions;
	pgstat_track_functions = TRACK_FUNC_OFF;
}

static void
usage_restore(const UsageSaved *saved)
{
	pgBufferUsage = saved->buffers;
	pgWalUsage = saved->wal;
	pgstat_track_functions = saved->track_functions;
}

static void
run_plan_inner(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
			   bool execute_once)
{
	if (prev_executor_run_hook)
		prev_executor_run_hook(queryDesc, direction, count, execute_once);
	else
		standard_ExecutorRun(queryDesc, direction, count, execute_once);
}

static void
run_plan(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
		 bool execute_once)
{
	UsageSaved	saved;

	if (!plan_is_filtered(queryDesc))
	{
		run_plan_inner(queryDesc, direction, count, execute_once);
		return;
	}
	usage_save(&saved);
	PG_TRY();
	{
		run_plan_inner(queryDesc, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		usage_restore(&saved);
	}
	PG_END_TRY();
}

static void
finish_plan(QueryDesc *queryDesc)
{
	if (prev_executor_finish_hook)
		prev_executor_finish_hook(queryDesc);
	else
		standard_ExecutorFinish(queryDesc);
}

static void
mesh_executor_finish(QueryDesc *queryDesc)
{
	UsageSaved	saved;

	if (!plan_is_filtered(queryDesc))
	{
		finish_plan(queryDesc);
		return;
	}
	usage_save(&saved);
	PG_TRY();
	{
		finish_plan(queryDesc);
	}
	PG_FINALLY();
	{
		usage_restore(&saved);
	}
	PG_END_TRY();
}

static void
end_plan(QueryDesc *queryDesc)
{
	if (prev_executor_end_hook)
		prev_executor_end_hook(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

static void
mesh_executor_end(QueryDesc *queryDesc)
{
	UsageSaved	saved;

	if (!plan_is_filtered(queryDesc))
	{
		end_plan(queryDesc);
		return;
	}
	/* what a module inside this hook measured, before it stores it */
	if (queryDesc->totaltime != NULL)
	{
		memset(&queryDesc->totaltime->bufusage, 0, sizeof(BufferUsage));
		memset(&queryDesc->totaltime->walusage, 0, sizeof(WalUsage));
	}
	usage_save(&saved);
	PG_TRY();
	{
		end_plan(queryDesc);
	}
	PG_FINALLY();
	{
		usage_restore(&saved);
	}
	PG_END_TRY();
}

static void
mesh_executor_run(QueryDesc *queryDesc, ScanDirection direction, uint64 count,
				  bool execute_once)
{
	ErrorContextCallback callback;
	bool		contain = false;
	ListCell   *lc;
	MemoryContext oldcxt = CurrentMemoryContext;

	foreach(lc, queryDesc->plannedstmt->invalItems)
		contain |= ((PlanInvalItem *) lfirst(lc))->cacheId == MESH_MARK_CONTAIN;
	if (!contain)
	{
		run_plan(queryDesc, direction, count, execute_once);
		return;
	}

	/* an error longjmps past the pop: whoever catches it restores the stack */
	callback.callback = contain_policy_error;
	callback.arg = NULL;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	PG_TRY();
	{
		run_plan(queryDesc, direction, count, execute_once);
	}
	PG_CATCH();
	{
		/*
		 * A withheld error is caught on its way out, so that a reader's
		 * EXCEPTION block (GET STACKED DIAGNOSTICS) gets it without the
		 * context lines either (see mesh_emit_log).
		 */
		MemoryContext ecxt = MemoryContextSwitchTo(oldcxt);
		ErrorData  *edata = CopyErrorData();

		if (!withheld(edata))
		{
			MemoryContextSwitchTo(ecxt);
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		FlushErrorState();
		strip_withheld(edata);
		ReThrowError(edata);
	}
	PG_END_TRY();
	error_context_stack = callback.previous;
}

/*
 * EXPLAIN ANALYZE counts the rows each node produced and removed ("Rows
 * Removed by Filter"): of a plan whose rows are filtered for the reader, it
 * would count the hidden rows.  The planner refuses to plan such a read
 * under EXPLAIN ANALYZE, but a plan can reach the executor without being
 * planned again: a prepared statement's cached generic plan through
 * EXPLAIN (ANALYZE) EXECUTE or EXPLAIN ANALYZE CREATE TABLE AS EXECUTE.
 * So the executor checks too, at every start, from the plan's mark
 * (planner.c) and the instrumentation asked for: a plan is built for one
 * reader, and replanned for another (it is role-dependent), so its mark
 * speaks for the reader that runs it.
 *
 * Instrumentation asked for before the executor starts is refused too,
 * whoever asked: the caller reads it when the plan has run, and may not
 * cope with nodes left uninstrumented (Citus's
 * worker_save_query_explain_analyze(), which any role may call, crashes).
 *
 * Instrumentation added by a module whose ExecutorStart hook runs after
 * this one (loaded before meshpg) is taken away instead: that is how
 * auto_explain with log_analyze works, whose output a reader can get with
 * client_min_messages = log.  Refusing would break every filtered read on
 * a server that logs plans; auto_explain logs the plan without row counts
 * or timings, as core EXPLAIN prints uninstrumented nodes.
 */
static bool
instrumented(PlanState *ps, void *context)
{
	if (ps == NULL)
		return false;
	if (ps->instrument != NULL)
		return true;
	return planstate_tree_walker(ps, instrumented, context);
}

static bool
drop_instrumentation(PlanState *ps, void *context)
{
	if (ps == NULL)
		return false;
	ps->instrument = NULL;
	return planstate_tree_walker(ps, drop_instrumentation, context);
}

static bool
plan_is_filtered(QueryDesc *queryDesc)
{
	ListCell   *lc;

	foreach(lc, queryDesc->plannedstmt->invalItems)
		if (((PlanInvalItem *) lfirst(lc))->cacheId == MESH_MARK_FILTERED)
			return true;
	return false;
}

/* Before the executor starts: any instrumentation asked for is refused. */
static void
uncount_before(QueryDesc *queryDesc)
{
	if (queryDesc->instrument_options != 0)
		mesh_refuse_explain_analyze();
}

/*
 * After: a module whose ExecutorStart hook runs after this one (loaded
 * before meshpg) instrumented the nodes.  They have not run yet, so taking
 * the instrumentation away now leaves them uncounted.
 */
static void
uncount_after(QueryDesc *queryDesc)
{
	if (queryDesc->instrument_options == 0 &&
		(queryDesc->planstate == NULL || !instrumented(queryDesc->planstate, NULL)))
		return;
	if (mesh_explain_analyze_depth > 0)
		mesh_refuse_explain_analyze();
	queryDesc->instrument_options = 0;
	if (queryDesc->estate != NULL)
		queryDesc->estate->es_instrument = 0;	/* parallel workers */
	if (queryDesc->planstate != NULL)
		(void) drop_instrumentation(queryDesc->planstate, NULL);
}

/*
 * Every execution: a changed outer user (SET ROLE, set_config, the end of
 * SET LOCAL ROLE) resets the plan cache before cached plans are looked up
 * by the statements this one runs.
 */
/* Whether the plan's marks say meshpg governed product id. */
static bool
plan_governed(PlannedStmt *stmt, int64 id)
{
	ListCell   *lc;
	uint32		lo = 0;
	bool		have_lo = false;

	foreach(lc, stmt->invalItems)
	{
		PlanInvalItem *item = lfirst(lc);

		if (item->cacheId == MESH_MARK_GOVERNED_LO)
		{
			lo = item->hashValue;
			have_lo = true;
		}
		else if (item->cacheId == MESH_MARK_GOVERNED_HI && have_lo)
		{
			if ((int64) (((uint64) item->hashValue << 32) | lo) == id)
				return true;
			have_lo = false;
		}
	}
	return false;
}

/*
 * Every product the plan reads must have been governed by meshpg's planner.
 * Two kinds of plan escape it: one that Citus made for a shard itself, and
 * one that reaches a product only as an inheritance child or partition the
 * planner expanded from a parent that is not a product (its domain's
 * internal table), after meshpg saw the query.  A reader exempt from every
 * policy of the product loses nothing by the second; anyone else is refused
 * rather than read the product ungoverned.
 */
static void
check_plan_governed(PlannedStmt *stmt)
{
	ListCell   *lc;
	Index		rti = 0;

	if (stmt->commandType == CMD_UTILITY)
		return;
	foreach(lc, stmt->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		const MeshProduct *product;
		MeshRules	rules;

		rti++;
		if (rte->rtekind != RTE_RELATION || rte->relkind == RELKIND_VIEW)
			continue;
		product = mesh_product_by_relid(rte->relid);
		if (product == NULL || product->citus_table || plan_governed(stmt, product->id))
			continue;
		if (rte->requiredPerms == 0)
		{
			/* the plan holds its locks */
			Relation	rel = relation_open(rte->relid, NoLock);
			int			natts = RelationGetNumberOfAttributes(rel);

			relation_close(rel, NoLock);
			if (!mesh_compile_rules(product, rte->relid, rti, natts, InvalidOid, &rules))
				continue;

			/* a child of two products, read through the other one */
			{
				char	   *first = pstrdup(product->qualname);
				char	   *other = mesh_product_other_ancestor(rte->relid, product->id);

				/* looking may have reloaded the cache */
				product = mesh_product_by_relid(rte->relid);
				if (product == NULL)
					elog(ERROR, "data product \"%s\" vanished", first);
				if (other != NULL)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot read relation \"%s\": it inherits from data products \"%s\" and \"%s\"",
									get_rel_name(rte->relid), first, other),
							 errdetail("It would be read without the policies of \"%s\", which apply to you.", first),
							 errhint("Read the parent with ONLY, or make the relation inherit from one data product only.")));
			}
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot read data product \"%s\" through a plan meshpg did not govern",
						product->qualname),
				 rte->requiredPerms == 0 ?
				 errdetail("Relation \"%s\" is reached as a child of a table that is not a data product, so its policies were not applied.",
						   get_rel_name(rte->relid)) :
				 errdetail("The plan for relation \"%s\" was made without meshpg's planner hook.",
						   get_rel_name(rte->relid)),
				 rte->requiredPerms == 0 ?
				 errhint("Read the data product itself, or read the parent with ONLY.") :
				 errhint("If Citus made it, check that citus is listed before meshpg in shared_preload_libraries.")));
	}
}

static void
mesh_executor_start(QueryDesc *queryDesc, int eflags)
{
	ListCell   *lc;
	Oid			relid = InvalidOid;
	uint64		until = 0;
	bool		filtered;

	mesh_track_outer_user();

	/*
	 * A parallel worker runs a plan it did not build.  The functions that
	 * the plan's policies call must run under the policies' search path
	 * here too (planner.c pins them), but only a backend that loaded the
	 * policies knows which they are, and the leader's search path, which
	 * the worker inherits, is the reader's: without this, a policy's
	 * PARALLEL SAFE PL/pgSQL or SQL function would resolve lower() or = to
	 * the reader's own, with the raw value, in the workers only.  Loading
	 * the policies of every governed relation of the plan pins them before
	 * InitPlan looks the functions up.
	 */
	if (IsParallelWorker() && mesh_catalog() != NULL)
	{
		foreach(lc, queryDesc->plannedstmt->rtable)
		{
			RangeTblEntry *rte = lfirst(lc);
			const MeshProduct *product;

			if (rte->rtekind != RTE_RELATION)
				continue;
			product = mesh_product_by_relid(rte->relid);
			if (product != NULL)
				mesh_ensure_policies(product, rte->relid);
		}
	}

	/*
	 * Every product this plan reads must have been governed by meshpg's
	 * planner hook.  A plan made without it (code that calls
	 * standard_planner itself, such as Citus's local fast path for a shard
	 * on this node) would read the rows raw: refused.  A Citus table's own
	 * entry is routed, not read (planner.c checks the plan); a view's entry
	 * is never scanned.
	 */
	if (!IsParallelWorker() && mesh_catalog() != NULL)
		check_plan_governed(queryDesc->plannedstmt);

	/*
	 * Reads of view and materialized-view products that the planner let
	 * through on a meshpg grant (planner.c) are checked again at every
	 * execution: a cached plan must not outlive the grant's expiry.
	 */
	if (!IsParallelWorker())
	{
		foreach(lc, queryDesc->plannedstmt->invalItems)
		{
			PlanInvalItem *item = lfirst(lc);

			if (item->cacheId == MESH_MARK_RELID)
				relid = (Oid) item->hashValue;
			else if (item->cacheId == MESH_MARK_USER && OidIsValid(relid))
			{
				const MeshProduct *product = mesh_product_by_relid(relid);

				if (product != NULL)
				{
					(void) mesh_may_read(product, (Oid) item->hashValue, true);

					/*
					 * A foreign-table product's entry keeps the reader and
					 * needs no SQL privilege (planner.c), so mesh_check_perms
					 * does not see it: what it does for a read, here.
					 */
					if (product->relkind == RELKIND_FOREIGN_TABLE)
					{
						if (product->state == MESH_DEPRECATED)
							mesh_contract_deprecated_read(product, (Oid) item->hashValue);
						mesh_slo_gate(product);
					}
				}
				relid = InvalidOid;
			}
			else if (item->cacheId == MESH_MARK_UNTIL_HI)
				until = (uint64) item->hashValue << 32;
			else if (item->cacheId == MESH_MARK_UNTIL_LO)
			{
				until |= item->hashValue;

				/*
				 * A cached plan was built on a purpose that an expiring grant
				 * named, and the grant has expired.  Nothing can replan it
				 * from here: refuse, and make every cached plan replan.
				 */
				if (GetCurrentTransactionStartTimestamp() >= (TimestampTz) until)
				{
					ResetPlanCache();
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("this cached plan relied on an access grant that has expired"),
							 errdetail("The grant named the session's purpose, which lifted a policy."),
							 errhint("Run the statement again: it will be planned afresh.")));
				}
			}
		}
	}

	/*
	 * Also in a parallel worker: the plan it runs for its leader carries no
	 * marks (the leader checks it), but a statement that a function runs
	 * there was planned there, and is checked like any other.
	 */
	filtered = (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0 &&
		plan_is_filtered(queryDesc);
	if (filtered)
		uncount_before(queryDesc);
	if (prev_executor_start_hook)
		prev_executor_start_hook(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
	if (filtered)
		uncount_after(queryDesc);

	/* the relations are open: keep a filtered product's counters (counters.c) */
	mesh_hide_activity(queryDesc);
}

typedef enum
{
	READ_ALLOWED,
	READ_NO_GRANT,
	READ_EXPIRED,
	READ_RETIRED
} ReadVerdict;

static ReadVerdict
may_read(const MeshProduct *product, Oid userid, const MeshGrant **expired)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	ReadVerdict verdict = READ_NO_GRANT;

	if (superuser_arg(userid) || has_privs_of_role(userid, product->domain_owner))
		return READ_ALLOWED;
	if (product->state == MESH_RETIRED)
		return READ_RETIRED;
	for (int i = 0; i < product->ngrants; i++)
	{
		const MeshGrant *g = &product->grants[i];

		if (!has_privs_of_role(userid, g->grantee))
			continue;
		if (!g->has_expiry || g->expires_at > now)
			return READ_ALLOWED;
		verdict = READ_EXPIRED;
		*expired = g;
	}
	return verdict;
}

static void
report_denied(const MeshProduct *product, Oid userid, ReadVerdict verdict,
			  const MeshGrant *expired)
{
	const char *user = GetUserNameFromId(userid, false);

	switch (verdict)
	{
		case READ_EXPIRED:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for data product \"%s\"", product->qualname),
					 errdetail("The access grant of role \"%s\" expired at %s.",
							   GetUserNameFromId(expired->grantee, false),
							   timestamptz_to_str(expired->expires_at)),
					 errhint("Ask the owning domain team to renew it with meshpg.grant_access().")));
			break;
		case READ_RETIRED:
			{
				char	   *successor = mesh_contract_successor(product);

				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied for data product \"%s\"", product->qualname),
						 errdetail("The data product is retired."),
						 successor ? errhint("Read its successor \"%s\" instead.", successor) : 0));
			}
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for data product \"%s\"", product->qualname),
					 errdetail("Role \"%s\" holds no meshpg access grant on it.", user),
					 errhint("Ask the owning domain team for access through meshpg.grant_access().")));
	}
}

/*
 * Whether userid may read product now; with ereport, refuses with the
 * reason instead of returning false.
 */
bool
mesh_may_read(const MeshProduct *product, Oid userid, bool ereport_on_violation)
{
	const MeshGrant *expired = NULL;
	ReadVerdict verdict = may_read(product, userid, &expired);

	if (verdict == READ_ALLOWED)
		return true;
	if (ereport_on_violation)
		report_denied(product, userid, verdict, expired);
	return false;
}

static bool
mesh_check_perms(List *rangeTable, bool ereport_on_violation)
{
	ListCell   *lc;

	if (prev_check_perms_hook &&
		!prev_check_perms_hook(rangeTable, ereport_on_violation))
		return false;

	/* The leader checked; workers run its plan. */
	if (IsParallelWorker() || mesh_catalog() == NULL)
		return true;

	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = lfirst(lc);
		const MeshProduct *product;
		const MeshGrant *expired = NULL;
		ReadVerdict verdict;
		Oid			userid;

		if (rte->rtekind != RTE_RELATION || (rte->requiredPerms & ACL_SELECT) == 0)
			continue;
		product = mesh_product_by_relid(rte->relid);
		if (product == NULL)
			continue;

		userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
		verdict = may_read(product, userid, &expired);
		if (verdict == READ_ALLOWED)
		{
			/* the node Citus sent this shard read from told its reader */
			if (product->citus_shard && mesh_citus_internal_backend())
				continue;
			if (product->state == MESH_DEPRECATED)
				mesh_contract_deprecated_read(product, userid);
			mesh_slo_gate(product);
			continue;
		}
		if (!ereport_on_violation)
			return false;
		report_denied(product, userid, verdict, expired);
	}
	return true;
}

void
mesh_install_executor_hooks(void)
{
	prev_check_perms_hook = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = mesh_check_perms;
	prev_executor_start_hook = ExecutorStart_hook;
	ExecutorStart_hook = mesh_executor_start;
	prev_executor_run_hook = ExecutorRun_hook;
	ExecutorRun_hook = mesh_executor_run;
	prev_executor_finish_hook = ExecutorFinish_hook;
	ExecutorFinish_hook = mesh_executor_finish;
	prev_executor_end_hook = ExecutorEnd_hook;
	ExecutorEnd_hook = mesh_executor_end;
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = mesh_emit_log;
	mesh_install_counter_hooks();
}
