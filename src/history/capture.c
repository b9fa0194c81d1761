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
 * A statement's reads are encoded once per plan, role and purpose: a
 * prepared or cached statement's next executions copy its records and set
 * their time, statement and rows (PlanRecords).
 *
 * Statements are found by their QueryDesc rather than by nesting level:
 * cursors end out of order, and ExecutorFinish needs no hook because rows
 * are counted at ExecutorRun and entries appended at ExecutorEnd.
 *
 * No read of a product escapes: the only statements left out are meshpg's
 * own catalog writes, the plan a parallel worker runs for its leader (the
 * leader records it), and PostgreSQL's referential-integrity query itself.
 * That query is told apart by where it starts, not by the mode it runs in:
 * ri_triggers.c plans and runs it with row security in its no-force mode,
 * and everything it sets off inherits that mode (a consumer's BEFORE
 * trigger on the table a cascade deletes from, a default or a constraint
 * its UPDATE evaluates, a function the planner folds while planning it).
 * So every executor open in this backend is tracked (open_execs), and so is
 * planning in that mode: a statement that starts in the no-force mode while
 * no executor or planning in that mode encloses it is the RI query; one
 * that starts inside such an executor or planning was set off by it, and is
 * recorded like any other.  (A referential-integrity query that a statement
 * of that kind sets off is recorded too: an honest record of a read, as
 * whoever the engine ran it as.)  Even in a statement that starts as the RI
 * query, only the table it locks or writes is left out: a rule on that
 * table adds reads of its own (a DO ALSO action that SPI runs in the RI
 * query's place, a conditional INSTEAD rule's condition), and those are
 * recorded.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/sysattr.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "optimizer/planner.h"
#include "parser/parsetree.h"
#include "utils/acl.h"
#include "utils/memutils.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/governance/governance.h"
#include "meshpg/policy/policy.h"
#include "meshpg/history/history.h"
#include "meshpg/hooks.h"
#include "meshpg/lineage/lineage.h"
#include "meshpg/meshpg.h"
#include "meshpg/citus/citus.h"


/* A statement whose records are built and not yet appended. */
typedef struct OpenStatement
{
	QueryDesc  *query;
	SubTransactionId subid;
	int			first;			/* its records: bytes first .. first + len of staged */
	int			len;
	int			n;
	uint64		rows;
	char		command;
	Oid			target;
	bool		rewrite;		/* command or target learnt after encoding */
	bool		running;		/* in ExecutorRun, since subtransaction run_subid */
	SubTransactionId run_subid;
} OpenStatement;

static OpenStatement *open_stmts = NULL;
static int	nopen = 0;
static int	maxopen = 0;
static uint8 *staged = NULL;	/* encoded records (buffer.c) */
static int	staged_len = 0;
static int	staged_size = 0;
static uint64 statement_counter = 0;
static bool callbacks_registered = false;

/*
 * The records a plan yields are the same at every execution for the same
 * roles, purpose, command and catalog: a cached or prepared statement's
 * records are kept here, keyed by the serial the planner hook stamps on
 * every plan, and copied instead of built.  A serial is never reused in a
 * backend, and a copy of a plan (the plan cache makes some) is the same
 * plan, so a serial stands for one plan's range table and marks.
 */
#define PLAN_RECORDS	64		/* plans remembered; a power of two */

typedef struct PlanRecords
{
	uint64		serial;			/* 0: unused */
	uint64		catalog_generation;
	uint64		purpose_generation;
	Oid			current_user;
	Oid			session_user;
	char		command;
	Oid			target;
	int			n;
	int			len;
	int			size;
	uint8	   *records;
} PlanRecords;

static PlanRecords plan_records[PLAN_RECORDS];
static uint64 plan_serial = 0;

/*
 * Every executor open in this backend, in the order they started (cursors
 * end out of order), with whether it began in row security's no-force mode
 * and whether it is the referential-integrity query itself; and how many
 * plannings in that mode are under way.  See the head comment.
 */
typedef struct OpenExecutor
{
	QueryDesc  *query;
	SubTransactionId subid;
	bool		noforce;
	bool		ri_query;
} OpenExecutor;

static OpenExecutor *open_execs = NULL;
static int	nexecs = 0;
static int	maxexecs = 0;
static int	noforce_execs = 0;	/* open_execs entries with noforce */
static int	noforce_planning = 0;

static void history_xact_callback(XactEvent event, void *arg);
static void history_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
									 SubTransactionId parentSubid, void *arg);

/* Starts tracking query; returns its entry's index. */
static int
push_executor(QueryDesc *query)
{
	OpenExecutor *e;

	if (nexecs == maxexecs)
	{
		int			n = maxexecs == 0 ? 16 : maxexecs * 2;

		if (open_execs == NULL)
			open_execs = MemoryContextAlloc(TopMemoryContext, sizeof(OpenExecutor) * n);
		else
			open_execs = repalloc(open_execs, sizeof(OpenExecutor) * n);
		maxexecs = n;
	}
	/* an executor that fails to start is forgotten at the abort */
	if (!callbacks_registered)
	{
		RegisterXactCallback(history_xact_callback, NULL);
		RegisterSubXactCallback(history_subxact_callback, NULL);
		callbacks_registered = true;
	}
	e = &open_execs[nexecs];
	e->query = query;
	e->subid = GetCurrentSubTransactionId();
	e->noforce = InNoForceRLSOperation();
	/* in that mode, with nothing in it around: the RI trigger's own query */
	e->ri_query = e->noforce && noforce_execs == 0 && noforce_planning == 0;
	if (e->noforce)
		noforce_execs++;
	return nexecs++;
}

static int
find_executor(QueryDesc *query)
{
	for (int i = nexecs - 1; i >= 0; i--)
		if (open_execs[i].query == query)
			return i;
	return -1;
}

static void
remove_executor(int i)
{
	if (open_execs[i].noforce)
		noforce_execs--;
	if (i + 1 < nexecs)
		memmove(&open_execs[i], &open_execs[i + 1], sizeof(OpenExecutor) * (nexecs - i - 1));
	nexecs--;
}

static void
ensure_room(int stmts, int bytes)
{
	if (open_stmts == NULL)
	{
		maxopen = 8;
		staged_size = 4 * MESH_HISTORY_MAX_RECORD;
		open_stmts = MemoryContextAlloc(TopMemoryContext, sizeof(OpenStatement) * maxopen);
		staged = MemoryContextAlloc(TopMemoryContext, staged_size);
	}
	while (nopen + stmts > maxopen)
	{
		maxopen *= 2;
		open_stmts = repalloc(open_stmts, sizeof(OpenStatement) * maxopen);
	}
	while (staged_len + bytes > staged_size)
	{
		staged_size *= 2;
		staged = repalloc(staged, staged_size);
	}
}

/* Appends statement i's records and forgets it. */
static void
close_statement(int i, bool incomplete)
{
	OpenStatement *s = &open_stmts[i];
	uint8	   *record = staged + s->first;

	for (int j = 0; j < s->n; j++)
	{
		mesh_history_record_end(record, s->rows, incomplete);
		if (s->rewrite)
		{
			uint8		rewritten[MESH_HISTORY_MAX_RECORD];
			int			len = mesh_history_record_rewrite(record, s->command, s->target,
														  rewritten);

			mesh_history_append(rewritten, len, 1);
		}
		record += mesh_history_record_len(record);
	}
	if (!s->rewrite)
		mesh_history_append(staged + s->first, s->len, s->n);

	/* statements close mostly in LIFO order: usually nothing moves */
	if (s->first + s->len < staged_len)
	{
		int			removed = s->len;

		memmove(staged + s->first, staged + s->first + removed,
				staged_len - s->first - removed);
		for (int k = i + 1; k < nopen; k++)
			open_stmts[k].first -= removed;
	}
	staged_len -= s->len;
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

	if (abort || event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE ||
		event == XACT_EVENT_PARALLEL_COMMIT)
	{
		while (nopen > 0)
			close_statement(nopen - 1, abort);
		/* what a statement that failed while being captured left */
		staged_len = 0;
		nexecs = 0;
		noforce_execs = 0;
		noforce_planning = 0;
	}
	if (abort)
		mesh_lineage_reset();
}

static void
history_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;

	/*
	 * Also a cursor of an outer (sub)transaction whose FETCH failed in this
	 * one: its run began here and never returned, and its portal, now
	 * failed, never reaches ExecutorEnd.  Left open, it would be recorded
	 * complete at commit, and its QueryDesc, freed, could be taken for a
	 * later statement's.
	 */
	for (int i = nopen - 1; i >= 0; i--)
		if (open_stmts[i].subid >= mySubid ||
			(open_stmts[i].running && open_stmts[i].run_subid >= mySubid))
			close_statement(i, true);
	/* executors started in it never reach ExecutorEnd */
	for (int i = nexecs - 1; i >= 0; i--)
		if (open_execs[i].subid >= mySubid)
			remove_executor(i);
	/* planning in it ended with the error (history_planner's PG_FINALLY) */
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
add_policies(List *items, Oid relid, HistoryShape *shape)
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

			if (attno > 0 && !(shape->flags & MESH_HISTORY_WHOLE_ROW) &&
				(attno > MESH_HISTORY_MAX_ATTNO ||
				 !(shape->columns[(attno - 1) / 8] & (1 << ((attno - 1) % 8)))))
				continue;
			if (shape->npolicies == MESH_HISTORY_MAX_POLICIES)
			{
				shape->flags |= MESH_HISTORY_MORE_POLICIES;
				continue;
			}
			shape->policies[shape->npolicies] = id;
			shape->policy_attnos[shape->npolicies] = attno;
			shape->npolicies++;
		}
	}
}

/* The relation a statement writes, if any. */
static Oid
target_of(QueryDesc *query, char command)
{
	PlannedStmt *stmt = query->plannedstmt;

	if (command == 'c' || command == 'r')
		return mesh_lineage_utility_target(command);
	if (command != 's' && stmt->resultRelations != NIL)
		return rt_fetch(linitial_int(stmt->resultRelations), stmt->rtable)->relid;
	return InvalidOid;
}

/*
 * Copies src into a shape's fixed field of size bytes, cut at a character
 * boundary: a purpose longer than the field cut mid-character would be
 * recorded as text that is not valid in the database's encoding.
 */
static void
copy_clipped(char *dst, const char *src, int size)
{
	int			len = pg_mbcliplen(src, strlen(src), size - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

/*
 * A foreign-table product read on a meshpg grant: the planner left its
 * entry with no SQL privilege to check (the reader's own user mapping must
 * connect) and marked the plan with its relid instead (planner.c).
 */
static bool
read_by_grant(PlannedStmt *stmt, RangeTblEntry *rte)
{
	ListCell   *lc;

	if (rte->relkind != RELKIND_FOREIGN_TABLE || rte->requiredPerms != 0)
		return false;
	foreach(lc, stmt->invalItems)
	{
		PlanInvalItem *item = lfirst(lc);

		if (item->cacheId == MESH_MARK_RELID && (Oid) item->hashValue == rte->relid)
			return true;
	}
	return false;
}

/*
 * Whether range table entry rti is an inheritance child or partition that
 * the planner expanded from a parent the statement reads, no relation on
 * the way up being a product: a product that is a partition of a table
 * that is not one (its domain's internal table) is read through it with
 * no privileges of its own to check.
 */
static bool
read_through_parent(PlannedStmt *stmt, Index rti)
{
	bool		moved = true;

	for (int guard = 0; moved && guard < list_length(stmt->rtable); guard++)
	{
		ListCell   *lc;

		moved = false;
		foreach(lc, stmt->appendRelations)
		{
			AppendRelInfo *ai = lfirst(lc);
			RangeTblEntry *parent;

			if (ai->child_relid != rti)
				continue;
			parent = rt_fetch(ai->parent_relid, stmt->rtable);
			/* a product above records the read itself */
			if (parent->rtekind != RTE_RELATION ||
				mesh_product_by_relid(parent->relid) != NULL)
				return false;
			if (parent->requiredPerms & ACL_SELECT)
				return true;
			rti = ai->parent_relid;
			moved = true;
			break;
		}
	}
	return false;
}

/*
 * Whether rti is what a referential-integrity query itself reads: the
 * table its SELECT ... FOR KEY SHARE locks, or the one its cascade writes
 * (with their partitions).  Anything else in the plan of a statement that
 * starts as the RI query was put there by a rule of the table (a DO ALSO
 * action, which SPI runs as a statement of its own, or a conditional
 * INSTEAD rule's condition, which joins the RI query itself): a read of a
 * product there is the consumer's, and is recorded.
 */
static bool
ri_own_relation(PlannedStmt *stmt, Index rti)
{
	ListCell   *lc;

	if (list_member_int(stmt->resultRelations, rti))
		return true;
	foreach(lc, stmt->rowMarks)
		if (((PlanRowMark *) lfirst(lc))->rti == rti)
			return true;
	return false;
}

/*
 * Encodes a record for every product the statement reads at the end of
 * staged; returns how many.  Their time and statement are set later.
 */
static int
encode_reads(QueryDesc *query, char command, Oid *target, bool ri_query)
{
	PlannedStmt *stmt = query->plannedstmt;
	ListCell   *lc;
	int			n = 0;
	HistoryEntry e;
	Index		rti = 0;

	foreach(lc, stmt->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		const MeshProduct *product;
		int			x = -1;
		bool		by_grant;

		rti++;
		if (rte->rtekind != RTE_RELATION)
			continue;
		/* the RI query's own read: the table it locks or writes */
		if (ri_query && ri_own_relation(stmt, rti))
			continue;
		by_grant = read_by_grant(stmt, rte);
		/* expanded children carry no privileges: read if their parent is */
		if ((rte->requiredPerms & ACL_SELECT) == 0 && !by_grant &&
			(rte->requiredPerms != 0 || stmt->appendRelations == NIL))
			continue;
		product = mesh_product_by_relid(rte->relid);
		if (product == NULL)
			continue;
		if ((rte->requiredPerms & ACL_SELECT) == 0 && !by_grant &&
			!read_through_parent(stmt, rti))
			continue;

		/*
		 * A shard read Citus sent from another node is part of a read that
		 * node records once, with the rows its reader got.
		 */
		if (product->citus_shard && mesh_citus_internal_backend())
			continue;
		if (n == 0)
			*target = target_of(query, command);

		memset(&e, 0, sizeof(HistoryEntry));
		e.shape.query_id = stmt->queryId;
		e.shape.product_id = product->id;
		e.shape.backend_start = MyStartTimestamp;
		e.shape.relid = rte->relid;
		e.shape.current_user = GetUserId();
		e.shape.session_user = GetSessionUserId();
		e.shape.pid = MyProcPid;
		e.shape.command = command;
		e.shape.target = *target;
		if (mesh_session_purpose != NULL)
			copy_clipped(e.shape.purpose, mesh_session_purpose, sizeof(e.shape.purpose));
		if (product->version != NULL)
			copy_clipped(e.shape.version, product->version, sizeof(e.shape.version));
		while ((x = bms_next_member(rte->selectedCols, x)) >= 0)
		{
			AttrNumber	attno = x + FirstLowInvalidHeapAttributeNumber;

			if (attno == InvalidAttrNumber)
				e.shape.flags |= MESH_HISTORY_WHOLE_ROW;
			else if (attno > 0 && attno <= MESH_HISTORY_MAX_ATTNO)
				e.shape.columns[(attno - 1) / 8] |= 1 << ((attno - 1) % 8);
		}
		add_policies(stmt->invalItems, rte->relid, &e.shape);
		ensure_room(0, MESH_HISTORY_MAX_RECORD);
		staged_len += mesh_history_encode(&e, staged + staged_len);
		n++;
	}
	return n;
}

/* The serial history_planner stamped on the plan, or 0. */
static uint64
serial_of(PlannedStmt *stmt)
{
	ListCell   *lc;
	uint32		lo = 0;

	/* they are the first items, unless a later planner hook prepended more */
	foreach(lc, stmt->invalItems)
	{
		PlanInvalItem *item = lfirst(lc);

		if (item->cacheId == MESH_MARK_SERIAL_LO)
			lo = item->hashValue;
		else if (item->cacheId == MESH_MARK_SERIAL_HI)
			return (uint64) item->hashValue << 32 | lo;
	}
	return 0;
}

static void
capture_statement(QueryDesc *query, bool ri_query)
{
	char		command = command_of(query);
	uint64		serial = serial_of(query->plannedstmt);
	PlanRecords *kept = NULL;
	Oid			target = InvalidOid;
	int			first = staged_len;
	int			n;
	uint8	   *record;
	TimestampTz now;

	/*
	 * CREATE TABLE AS and REFRESH find their target by name: built each
	 * time.  So are the RI query's, which leave its own table out: the same
	 * plan run inside another RI action's statement records it.
	 */
	if (serial != 0 && command != 'c' && command != 'r' && !ri_query)
		kept = &plan_records[serial % PLAN_RECORDS];
	if (kept != NULL && kept->serial == serial && kept->command == command &&
		kept->current_user == GetUserId() && kept->session_user == GetSessionUserId() &&
		kept->purpose_generation == mesh_purpose_generation &&
		kept->catalog_generation == mesh_catalog_generation())
	{
		n = kept->n;
		if (n == 0)
			return;
		ensure_room(0, kept->len);
		memcpy(staged + first, kept->records, kept->len);
		staged_len += kept->len;
		target = kept->target;
	}
	else
	{
		/* before: loading a product may process invalidations */
		uint64		generation = mesh_catalog_generation();

		n = encode_reads(query, command, &target, ri_query);
		if (kept != NULL)
		{
			int			len = staged_len - first;

			if (kept->size < len)
			{
				int			size = Max(len, 2 * MESH_HISTORY_MAX_RECORD);

				/* empty, should the allocation fail */
				kept->serial = 0;
				kept->size = 0;
				if (kept->records != NULL)
					pfree(kept->records);
				kept->records = MemoryContextAlloc(TopMemoryContext, size);
				kept->size = size;
			}
			memcpy(kept->records, staged + first, len);
			kept->serial = serial;
			kept->catalog_generation = generation;
			kept->purpose_generation = mesh_purpose_generation;
			kept->current_user = GetUserId();
			kept->session_user = GetSessionUserId();
			kept->command = command;
			kept->target = target;
			kept->n = n;
			kept->len = len;
		}
		if (n == 0)
			return;
	}

	statement_counter++;
	now = GetCurrentStatementStartTimestamp();
	record = staged + first;
	for (int i = 0; i < n; i++)
	{
		mesh_history_record_start(record, now, statement_counter);
		record += mesh_history_record_len(record);
	}

	ensure_room(1, 0);
	open_stmts[nopen].query = query;
	open_stmts[nopen].subid = GetCurrentSubTransactionId();
	open_stmts[nopen].first = first;
	open_stmts[nopen].len = staged_len - first;
	open_stmts[nopen].n = n;
	open_stmts[nopen].rows = 0;
	open_stmts[nopen].command = command;
	open_stmts[nopen].target = target;
	open_stmts[nopen].rewrite = false;
	open_stmts[nopen].running = false;
	open_stmts[nopen].run_subid = InvalidSubTransactionId;
	nopen++;

	if (!callbacks_registered)
	{
		RegisterXactCallback(history_xact_callback, NULL);
		RegisterSubXactCallback(history_subxact_callback, NULL);
		callbacks_registered = true;
	}
}

/* Stamps every plan with a serial of its own (see PlanRecords). */
PlannedStmt *
history_planner(Query *parse, const char *query_string, int cursorOptions,
				ParamListInfo boundParams, MeshHookStep next)
{
	PlannedStmt *stmt;
	PlanInvalItem *lo = makeNode(PlanInvalItem);
	PlanInvalItem *hi = makeNode(PlanInvalItem);

	/*
	 * Planning in the no-force mode (the RI query's, or a statement's it set
	 * off) may run a consumer's function (constant folding): a statement
	 * that function runs is not the RI query.
	 */
	if (InNoForceRLSOperation())
	{
		noforce_planning++;
		PG_TRY();
		{
			stmt = mesh_next_planner(parse, query_string, cursorOptions, boundParams, next);
		}
		PG_FINALLY();
		{
			noforce_planning--;
		}
		PG_END_TRY();
	}
	else
		stmt = mesh_next_planner(parse, query_string, cursorOptions, boundParams, next);

	plan_serial++;
	lo->cacheId = MESH_MARK_SERIAL_LO;
	lo->hashValue = (uint32) plan_serial;
	hi->cacheId = MESH_MARK_SERIAL_HI;
	hi->hashValue = (uint32) (plan_serial >> 32);
	stmt->invalItems = list_concat(list_make2(lo, hi), stmt->invalItems);
	return stmt;
}

/*
 * Whether the statement of open executor i, executed with eflags, is
 * recorded: not EXPLAIN without ANALYZE (nothing is read), not the plan a
 * parallel worker runs for its leader (the leader records it; a statement
 * a function runs inside the worker is recorded by the worker), not the
 * referential-integrity query itself (the engine's own read, as the table
 * owner; see the head comment), not meshpg's own lineage writes.
 */
static bool
history_applies(int i, int eflags)
{
	return mesh_history_enabled && !(eflags & EXEC_FLAG_EXPLAIN_ONLY) &&
		!(IsParallelWorker() && i == 0) &&
		!mesh_lineage_writing() && mesh_catalog() != NULL;
}

void
history_executor_start(QueryDesc *query, int eflags, MeshHookStep next)
{
	/*
	 * Tracked before it starts: a consumer's code may run while it does
	 * (partition pruning, initial plans).  Left behind by an error, the
	 * entry goes with its subtransaction.
	 */
	int			i;

	/*
	 * Backpressure: reads this backend captured that the full ring had no
	 * room for are waited for here, before the statement reads more.
	 */
	mesh_history_backpressure();
	i = push_executor(query);

	mesh_next_executor_start(query, eflags, next);

	if (mesh_history_ready() && (i = find_executor(query)) >= 0 &&
		history_applies(i, eflags))
		capture_statement(query, open_execs[i].ri_query);
}

void
history_executor_run(QueryDesc *query, ScanDirection direction, uint64 count,
					 bool execute_once, MeshHookStep next)
{
	int			i;

	/*
	 * A run that never returns failed: the subtransaction abort that follows
	 * closes the statement (history_subxact_callback).  A run cannot outlive
	 * the subtransaction it began in, so a statement still running when that
	 * subtransaction aborts was interrupted.
	 */
	if (nopen > 0 && (i = find_statement(query)) >= 0)
	{
		open_stmts[i].running = true;
		open_stmts[i].run_subid = GetCurrentSubTransactionId();
	}

	mesh_next_executor_run(query, direction, count, execute_once, next);

	/* es_processed counts this run only: a cursor's FETCHes add up */
	if (nopen > 0 && (i = find_statement(query)) >= 0)
	{
		OpenStatement *s = &open_stmts[i];

		s->running = false;
		s->rows += query->estate->es_processed;

		/*
		 * CREATE TABLE AS EXECUTE starts the prepared plan as a SELECT and
		 * gives it the new table's receiver only to run.
		 */
		if (s->command == 's' && query->dest->mydest == DestIntoRel)
		{
			s->command = 'c';
			s->rewrite = true;
		}
	}
}

/*
 * A statement that read no product but wrote a relation, whose lineage may
 * still matter (mesh_lineage_record_indirect).  Checked before the executor
 * state is freed; a plain SELECT costs one test.
 */
static bool
may_derive_indirectly(QueryDesc *query, int exec)
{
	/*
	 * A portal held across COMMIT (a PL/pgSQL FOR loop over a query that
	 * commits) ends its executor after PersistHoldablePortal has dropped
	 * its receiver: no dest then, and nothing written through one.
	 */
	if (query->operation == CMD_SELECT && !query->plannedstmt->hasModifyingCTE &&
		(query->dest == NULL ||
		 (query->dest->mydest != DestIntoRel && query->dest->mydest != DestTransientRel)))
		return false;
	return query->estate != NULL && exec >= 0 && !open_execs[exec].ri_query &&
		history_applies(exec, query->estate->es_top_eflags);
}

void
history_executor_end(QueryDesc *query, MeshHookStep next)
{
	int			exec = find_executor(query);
	int			i = nopen > 0 ? find_statement(query) : -1;
	bool		indirect = i < 0 && may_derive_indirectly(query, exec);

	/* ended: what runs from here on is not inside it */
	if (exec >= 0)
		remove_executor(exec);

	mesh_next_executor_end(query, next);

	if (indirect)
	{
		char		command = command_of(query);

		mesh_lineage_record_indirect(query->plannedstmt, target_of(query, command), command);
	}

	if (i >= 0 && (i = find_statement(query)) >= 0)
	{
		OpenStatement *s = &open_stmts[i];

		/* CREATE TABLE AS creates its table only once it runs */
		if (s->command == 'c' && !OidIsValid(s->target))
		{
			s->target = mesh_lineage_utility_target('c');
			s->rewrite |= OidIsValid(s->target);
		}
		/* a data-modifying CTE writes whatever the statement's command */
		if (OidIsValid(s->target) || query->plannedstmt->hasModifyingCTE)
		{
			Oid		   *sources = palloc(sizeof(Oid) * s->n);
			uint8	   *record = staged + s->first;

			for (int j = 0; j < s->n; j++)
			{
				sources[j] = mesh_history_record_relid(record);
				record += mesh_history_record_len(record);
			}
			mesh_lineage_record(query->plannedstmt, s->target, s->command, sources, s->n);
			pfree(sources);
		}
		/* recording lineage ran statements: find it again */
		if ((i = find_statement(query)) >= 0)
			close_statement(i, false);
	}

	/* what the ring had no room for: waited for now, before the next read */
	mesh_history_backpressure();
}
