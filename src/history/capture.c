/*
 * capture.c
 *		Executor hooks that record every read of a data product: who read
 *		it, which columns, under which masks and row policies, for what
 *		purpose, and how many rows the statement returned.
 *
 * Each statement that reads a product (at any nesting level: inside
 * functions, cursors and utility commands too) gets its entries built at
 * ExecutorStart from the final range table, its rows counted at every
 * ExecutorRun, and the entries appended to the shared ring at ExecutorEnd.
 * A statement that fails after starting is still recorded, flagged
 * incomplete, at the end of its (sub)transaction: it may have returned rows
 * before failing.  The policies applied come from the marks the governance
 * planner leaves in the plan (MESH_MARK_POLICY_*), so a cached plan reports
 * the policies it was built with.  Capturing reads no catalog by SQL,
 * allocates nothing per statement once warm, and cannot fail a query; the
 * lineage of a write (runtime.c) is written in the writer's transaction.
 *
 * Statements are found by their QueryDesc rather than by nesting level:
 * cursors end out of order, and ExecutorFinish needs no hook because rows
 * are counted at ExecutorRun and entries appended at ExecutorEnd.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/sysattr.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/memutils.h"

#include "catalog/catalog.h"
#include "governance/governance.h"
#include "governance/policy.h"
#include "history/history.h"
#include "lineage/lineage.h"

static ExecutorStart_hook_type prev_executor_start = NULL;
static ExecutorRun_hook_type prev_executor_run = NULL;
static ExecutorEnd_hook_type prev_executor_end = NULL;

/* A statement whose entries are built and not yet appended. */
typedef struct OpenStatement
{
	QueryDesc  *query;
	SubTransactionId subid;
	int			first;			/* in staged[] */
	int			n;
	uint64		rows;
} OpenStatement;

static OpenStatement *open_stmts = NULL;
static int	nopen = 0;
static int	maxopen = 0;
static HistoryEntry *staged = NULL;
static int	nstaged = 0;
static int	maxstaged = 0;
static uint64 statement_counter = 0;
static bool callbacks_registered = false;

static void
ensure_room(int stmts, int entries)
{
	if (open_stmts == NULL)
	{
		maxopen = 8;
		maxstaged = 32;
		open_stmts = MemoryContextAlloc(TopMemoryContext, sizeof(OpenStatement) * maxopen);
		staged = MemoryContextAlloc(TopMemoryContext, sizeof(HistoryEntry) * maxstaged);
	}
	while (nopen + stmts > maxopen)
	{
		maxopen *= 2;
		open_stmts = repalloc(open_stmts, sizeof(OpenStatement) * maxopen);
	}
	while (nstaged + entries > maxstaged)
	{
		maxstaged *= 2;
		staged = repalloc(staged, sizeof(HistoryEntry) * maxstaged);
	}
}

/* Appends statement i's entries and forgets it. */
static void
close_statement(int i, bool incomplete)
{
	OpenStatement *s = &open_stmts[i];

	for (int j = 0; j < s->n; j++)
	{
		staged[s->first + j].rows = s->rows;
		if (incomplete)
			staged[s->first + j].shape.flags |= MESH_HISTORY_INCOMPLETE;
	}
	mesh_history_append(&staged[s->first], s->n);

	/* statements close mostly in LIFO order: usually nothing moves */
	if (s->first + s->n < nstaged)
	{
		int			removed = s->n;

		memmove(&staged[s->first], &staged[s->first + removed],
				sizeof(HistoryEntry) * (nstaged - s->first - removed));
		for (int k = i + 1; k < nopen; k++)
			open_stmts[k].first -= removed;
	}
	nstaged -= s->n;
	if (i + 1 < nopen)
		memmove(&open_stmts[i], &open_stmts[i + 1], sizeof(OpenStatement) * (nopen - i - 1));
	nopen--;
}

static int
find_statement(QueryDesc *query)
{
	for (int i = nopen - 1; i >= 0; i--)
		if (open_stmts[i].query == query)
			return i;
	return -1;
}

/*
 * A failed (sub)transaction: its statements never reach ExecutorEnd.  They
 * are recorded as incomplete, since they may have returned rows.
 */
static void
history_xact_callback(XactEvent event, void *arg)
{
	bool		abort = event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT;

	if (abort || event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE)
		while (nopen > 0)
			close_statement(nopen - 1, abort);
	if (abort)
		mesh_lineage_reset();
}

static void
history_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	for (int i = nopen - 1; i >= 0; i--)
		if (open_stmts[i].subid >= mySubid)
			close_statement(i, true);
}

static char
command_of(QueryDesc *query)
{
	if (query->dest->mydest == DestIntoRel)
		return 'c';
	if (query->dest->mydest == DestTransientRel)
		return 'r';
	switch (query->operation)
	{
		case CMD_INSERT:
			return 'i';
		case CMD_UPDATE:
			return 'u';
		case CMD_DELETE:
			return 'd';
		case CMD_MERGE:
			return 'm';
		default:
			return 's';
	}
}

/* Adds the policies the plan marks for relid; mask policies only if read. */
static void
add_policies(List *items, Oid relid, HistoryEntry *e)
{
	ListCell   *lc;
	bool		mine = false;
	uint32		lo = 0;

	foreach(lc, items)
	{
		PlanInvalItem *item = lfirst(lc);

		if (item->cacheId == MESH_MARK_POLICY_REL)
			mine = item->hashValue == (uint32) relid;
		else if (item->cacheId == MESH_MARK_POLICY_LO && mine)
			lo = item->hashValue;
		else if (item->cacheId == MESH_MARK_POLICY_HI && mine)
		{
			int64		id = (int64) (((uint64) (item->hashValue >> 16)) << 32 | lo);
			AttrNumber	attno = (AttrNumber) (item->hashValue & 0xffff);

			if (attno > 0 && !(e->shape.flags & MESH_HISTORY_WHOLE_ROW) &&
				(attno > MESH_HISTORY_MAX_ATTNO ||
				 !(e->shape.columns[(attno - 1) / 8] & (1 << ((attno - 1) % 8)))))
				continue;
			if (e->shape.npolicies == MESH_HISTORY_MAX_POLICIES)
			{
				e->shape.flags |= MESH_HISTORY_MORE_POLICIES;
				continue;
			}
			e->shape.policies[e->shape.npolicies] = id;
			e->shape.policy_attnos[e->shape.npolicies] = attno;
			e->shape.npolicies++;
		}
	}
}

static void
capture_statement(QueryDesc *query)
{
	PlannedStmt *stmt = query->plannedstmt;
	ListCell   *lc;
	int			first = nstaged;
	int			n = 0;
	Oid			target = InvalidOid;
	char		command;
	TimestampTz now = GetCurrentStatementStartTimestamp();

	foreach(lc, stmt->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		const MeshProduct *product;
		HistoryEntry *e;
		int			x = -1;

		if (rte->rtekind != RTE_RELATION || (rte->requiredPerms & ACL_SELECT) == 0)
			continue;
		product = mesh_product_by_relid(rte->relid);
		if (product == NULL)
			continue;

		ensure_room(1, 1);
		e = &staged[nstaged];
		memset(e, 0, sizeof(HistoryEntry));
		e->read_at = now;
		e->shape.query_id = stmt->queryId;
		e->shape.product_id = product->id;
		e->shape.backend_start = MyStartTimestamp;
		e->shape.dbid = MyDatabaseId;
		e->shape.relid = rte->relid;
		e->shape.current_user = GetUserId();
		e->shape.session_user = GetSessionUserId();
		e->shape.pid = MyProcPid;
		if (mesh_session_purpose != NULL)
			strlcpy(e->shape.purpose, mesh_session_purpose, sizeof(e->shape.purpose));
		if (product->version != NULL)
			strlcpy(e->shape.version, product->version, sizeof(e->shape.version));
		while ((x = bms_next_member(rte->selectedCols, x)) >= 0)
		{
			AttrNumber	attno = x + FirstLowInvalidHeapAttributeNumber;

			if (attno == InvalidAttrNumber)
				e->shape.flags |= MESH_HISTORY_WHOLE_ROW;
			else if (attno > 0 && attno <= MESH_HISTORY_MAX_ATTNO)
				e->shape.columns[(attno - 1) / 8] |= 1 << ((attno - 1) % 8);
		}
		add_policies(stmt->invalItems, rte->relid, e);
		nstaged++;
		n++;
	}
	if (n == 0)
		return;

	command = command_of(query);
	if (command == 'c' || command == 'r')
		target = mesh_lineage_utility_target(command);
	else if (command != 's' && stmt->resultRelations != NIL)
		target = rt_fetch(linitial_int(stmt->resultRelations), stmt->rtable)->relid;
	statement_counter++;
	for (int i = 0; i < n; i++)
	{
		staged[first + i].shape.command = command;
		staged[first + i].shape.target = target;
		staged[first + i].statement = statement_counter;
	}

	ensure_room(1, 0);
	open_stmts[nopen].query = query;
	open_stmts[nopen].subid = GetCurrentSubTransactionId();
	open_stmts[nopen].first = first;
	open_stmts[nopen].n = n;
	open_stmts[nopen].rows = 0;
	nopen++;

	if (!callbacks_registered)
	{
		RegisterXactCallback(history_xact_callback, NULL);
		RegisterSubXactCallback(history_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

static void
history_executor_start(QueryDesc *query, int eflags)
{
	if (prev_executor_start)
		prev_executor_start(query, eflags);
	else
		standard_ExecutorStart(query, eflags);

	/*
	 * Not EXPLAIN without ANALYZE (nothing is read), not parallel workers
	 * (the leader records), not referential-integrity checks (the engine's
	 * own reads, as the table owner).
	 */
	if (!mesh_history_enabled || !mesh_history_ready() ||
		(eflags & EXEC_FLAG_EXPLAIN_ONLY) || IsParallelWorker() ||
		InNoForceRLSOperation() || mesh_lineage_writing() || mesh_catalog() == NULL)
		return;
	capture_statement(query);
}

static void
history_executor_run(QueryDesc *query, ScanDirection direction, uint64 count,
					 bool execute_once)
{
	int			i;

	if (prev_executor_run)
		prev_executor_run(query, direction, count, execute_once);
	else
		standard_ExecutorRun(query, direction, count, execute_once);

	/* es_processed counts this run only: a cursor's FETCHes add up */
	if (nopen > 0 && (i = find_statement(query)) >= 0)
		open_stmts[i].rows += query->estate->es_processed;
}

static void
history_executor_end(QueryDesc *query)
{
	int			i = nopen > 0 ? find_statement(query) : -1;

	if (prev_executor_end)
		prev_executor_end(query);
	else
		standard_ExecutorEnd(query);

	if (i >= 0 && (i = find_statement(query)) >= 0)
	{
		OpenStatement *s = &open_stmts[i];

		/* CREATE TABLE AS creates its table only once it runs */
		if (staged[s->first].shape.command == 'c' && !OidIsValid(staged[s->first].shape.target))
		{
			Oid			target = mesh_lineage_utility_target('c');

			for (int j = 0; j < s->n; j++)
				staged[s->first + j].shape.target = target;
		}
		if (OidIsValid(staged[s->first].shape.target))
			mesh_lineage_record(query->plannedstmt, staged[s->first].shape.target,
								staged[s->first].shape.command, &staged[s->first], s->n);
		/* recording lineage ran statements: find it again */
		if ((i = find_statement(query)) >= 0)
			close_statement(i, false);
	}
}

void
mesh_install_history_hooks(void)
{
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = history_executor_start;
	prev_executor_run = ExecutorRun_hook;
	ExecutorRun_hook = history_executor_run;
	prev_executor_end = ExecutorEnd_hook;
	ExecutorEnd_hook = history_executor_end;
}
