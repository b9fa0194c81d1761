/*
 * counters.c
 *		Keeps a filtered product's activity counters from the readers its row
 *		policies apply to.
 *
 * PostgreSQL counts, per relation, the tuples every scan reads and fetches
 * and the blocks it touches (pg_stat_user_tables, pg_stat_user_indexes and
 * their pg_stat_xact_* forms, and the pg_stat_get_* functions behind them).
 * A scan under a row policy reads the hidden rows too, before the policy
 * drops them: a consumer comparing seq_tup_read or idx_tup_fetch before and
 * after a probe by key learns whether a hidden row with that key exists.
 *
 * Reading the counters cannot be governed where they are read: the
 * pg_stat_get_* functions are built in, and the fmgr hook never sees a
 * built-in function, and a call can hide in places no planner hook sees (a
 * CHECK constraint, a domain's check, a trigger's WHEN).  So they are kept
 * where they are written instead.  When a statement whose plan applies a
 * row policy to its reader starts (the planner's MESH_MARK_POLICY_* marks
 * say so; a parallel worker, whose copy of the plan has no marks, asks the
 * policies), every relation it reads (the product, its partitions and
 * children, the tables behind a view product, a row policy's mapping table,
 * and whatever else it scans: all but the targets of its writes), and the
 * indexes it scans them through, count into a
 * scratch struct of this backend for as long as the statement runs: their
 * counts never reach the per-backend pending entries (what the pg_stat_xact
 * views read) nor, at the next report, the shared statistics.  The scratch
 * struct hangs off the relcache entry's pgstat_info, which PostgreSQL leaves
 * alone when the relation is opened again, so a nested open cannot restore
 * counting half way through a scan.  When the statement ends, counting
 * resumes; a relation hidden by a statement still running stays hidden.
 *
 * The rows a consumer is shown are not affected: only counters move.  What
 * the owner and the exempt readers do is counted as always, and so is a
 * write (its result relations are left alone).  meshpg.hide_filtered_activity
 * turns this off.  What remains visible (reltuples and relpages in pg_class,
 * pg_relation_size, n_live_tup, gaps in ctid) is documented in
 * doc/enforcement.md.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/relation.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "catalog/pg_class.h"
#include "nodes/nodeFuncs.h"
#include "nodes/pathnodes.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "pgstat.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/governance/governance.h"
#include "meshpg/policy/policy.h"

bool		mesh_hide_filtered_activity = true;


/* A relation whose counting a running statement stopped. */
typedef struct Hidden
{
	PgStat_TableStatus *scratch;	/* what rel->pgstat_info points to */
	Oid			relid;
	QueryDesc  *query;			/* the statement that hid it */
	Relation	opened;			/* opened here (a TOAST relation): closed at
								 * the statement's end */
} Hidden;

/*
 * Arrays in TopMemoryContext, grown by doubling and never shrunk: a
 * statement that applies a row policy allocates nothing once warm.
 */
typedef struct PtrArray
{
	void	  **items;
	int			n;
	int			max;
} PtrArray;

static Hidden *hidden = NULL;	/* the running statements' hidings */
static int	nhidden = 0;
static int	maxhidden = 0;
static PtrArray pool;			/* scratch structs free for use */
static PtrArray retired;		/* released in this transaction */
static PtrArray retired_before; /* released in the transaction before */
static bool callbacks_registered = false;

static void
push(PtrArray *a, void *p)
{
	if (a->n == a->max)
	{
		int			max = a->max == 0 ? 16 : a->max * 2;

		if (a->items == NULL)
			a->items = MemoryContextAlloc(TopMemoryContext, sizeof(void *) * max);
		else
			a->items = repalloc(a->items, sizeof(void *) * max);
		a->max = max;
	}
	a->items[a->n++] = p;
}

/*
 * Scratch structs a transaction counted writes into may still be linked
 * from its pgstat transaction stack until AtEOXact_PgStat, which runs after
 * the transaction callbacks: they are reused one transaction later.
 */
static void
rotate_retired(void)
{
	PtrArray	t;

	for (int i = 0; i < retired_before.n; i++)
		push(&pool, retired_before.items[i]);
	retired_before.n = 0;
	t = retired_before;
	retired_before = retired;
	retired = t;
}

/* Whether an entry other than hidden[i] still hides its relation. */
static bool
still_hidden(int i)
{
	for (int j = 0; j < nhidden; j++)
		if (j != i && hidden[j].scratch == hidden[i].scratch)
			return true;
	return false;
}

/* hidden[i] is over: counting resumes unless another entry hides it. */
static void
release(int i)
{
	PgStat_TableStatus *scratch = hidden[i].scratch;

	if (!still_hidden(i))
	{
		Relation	rel = scratch->relation;

		/* closed and rebuilt, or unlinked by PostgreSQL: nothing points here */
		if (rel != NULL && rel->pgstat_info == scratch)
			rel->pgstat_info = NULL;	/* the pending entry is linked again lazily */
		scratch->relation = NULL;
		push(&retired, scratch);
	}
	hidden[i] = hidden[--nhidden];
}

/*
 * Releases the entries of query, or all of them (query NULL).  What was
 * opened here is held by the transaction's resource owner (see
 * hide_opened) and closed here: at the statement's end, or, for a
 * statement that failed, at the end of the transaction, before that owner
 * lets go of what it holds.
 */
static void
release_entries(QueryDesc *query)
{
	for (int i = nhidden - 1; i >= 0; i--)
		if (query == NULL || hidden[i].query == query)
		{
			Relation	opened = hidden[i].opened;

			release(i);
			if (opened != NULL)
			{
				ResourceOwner save = CurrentResourceOwner;

				CurrentResourceOwner = TopTransactionResourceOwner;
				relation_close(opened, NoLock);
				CurrentResourceOwner = save;
			}
		}
}

/* The transaction ended: every hiding ends (statements left unended too). */
static void
counters_xact_callback(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PREPARE && event != XACT_EVENT_PARALLEL_COMMIT &&
		event != XACT_EVENT_PARALLEL_ABORT)
		return;
	release_entries(NULL);
	rotate_retired();
}

/* Stops counting rel for query; returns whether it made a new entry. */
static bool
hide(Relation rel, QueryDesc *query)
{
	PgStat_TableStatus *scratch = NULL;

	if (rel == NULL)
		return false;
	for (int i = 0; i < nhidden; i++)
		if (hidden[i].relid == RelationGetRelid(rel) &&
			hidden[i].scratch->relation == rel && rel->pgstat_info == hidden[i].scratch)
		{
			if (hidden[i].query == query)
				return false;
			scratch = hidden[i].scratch;	/* hidden by another statement too */
		}
	/* a relation without storage counts nothing */
	if (scratch == NULL && !rel->pgstat_enabled && rel->pgstat_info == NULL)
		return false;
	if (nhidden == maxhidden)
	{
		int			max = maxhidden == 0 ? 16 : maxhidden * 2;

		if (hidden == NULL)
			hidden = MemoryContextAlloc(TopMemoryContext, sizeof(Hidden) * max);
		else
			hidden = repalloc(hidden, sizeof(Hidden) * max);
		maxhidden = max;
	}
	if (scratch == NULL)
	{
		if (pool.n > 0)
			scratch = pool.items[--pool.n];
		else
			scratch = MemoryContextAlloc(TopMemoryContext, sizeof(PgStat_TableStatus));
		memset(scratch, 0, sizeof(PgStat_TableStatus));
		if (rel->pgstat_info != NULL)
			pgstat_unlink_relation(rel);
		scratch->t_id = RelationGetRelid(rel);
		scratch->t_shared = rel->rd_rel->relisshared;
		scratch->relation = rel;
		rel->pgstat_info = scratch;
	}
	hidden[nhidden].scratch = scratch;
	hidden[nhidden].relid = RelationGetRelid(rel);
	hidden[nhidden].query = query;
	hidden[nhidden].opened = NULL;
	nhidden++;
	return true;
}

/*
 * Stops counting rel (opened here, under the transaction's resource owner)
 * for query, holding it open until the statement ends: a relation whose
 * relcache entry were dropped and built again meanwhile would count again.
 * The reference belongs to the transaction's resource owner, not to the
 * statement's: a statement that fails never reaches ExecutorEnd, and its
 * entries are released later (at the end of the transaction, or by a
 * later statement whose QueryDesc has its address), when the statement's
 * owner may be gone.  Returns whether rel is kept (else it was closed).
 */
static bool
hide_opened(Relation rel, QueryDesc *query)
{
	if (hide(rel, query))
	{
		hidden[nhidden - 1].opened = rel;
		return true;
	}
	relation_close(rel, NoLock);
	return false;
}

/*
 * The TOAST relation of rel and its index.  A row policy that reads a
 * long value of a hidden row (a function, a LIKE) fetches it from there:
 * its counters would tell that the row exists.
 *
 * They are opened without a lock of their own: the statement holds rel
 * locked, and a TOAST relation is only replaced or dropped under a lock on
 * its table that conflicts with that one.  This runs for every filtered
 * statement, and a lock taken and released on each TOAST relation and
 * index was most of what hiding cost a point lookup.
 */
static void
hide_toast(Relation rel, QueryDesc *query)
{
	Oid			toastrelid = rel->rd_rel->reltoastrelid;
	ResourceOwner save = CurrentResourceOwner;
	Relation	toast;
	ListCell   *lc;

	if (!OidIsValid(toastrelid) || TopTransactionResourceOwner == NULL)
		return;
	CurrentResourceOwner = TopTransactionResourceOwner;
	toast = try_relation_open(toastrelid, NoLock);
	if (toast != NULL)
	{
		/* a copy: opening an index may rebuild the TOAST relation's entry */
		List	   *indexes = RelationGetIndexList(toast);

		foreach(lc, indexes)
		{
			Relation	index = try_relation_open(lfirst_oid(lc), NoLock);

			if (index != NULL)
				(void) hide_opened(index, query);
		}
		list_free(indexes);
		(void) hide_opened(toast, query);
	}
	CurrentResourceOwner = save;
}


typedef struct HideContext
{
	QueryDesc  *query;
	List	   *heaps;			/* relids hidden by this statement */
} HideContext;

/* The indexes a plan scans its hidden relations through. */
static bool
hide_indexes_walker(PlanState *ps, void *arg)
{
	HideContext *ctx = arg;
	Relation	index = NULL;

	if (ps == NULL)
		return false;
	if (IsA(ps, IndexScanState))
		index = ((IndexScanState *) ps)->iss_RelationDesc;
	else if (IsA(ps, IndexOnlyScanState))
		index = ((IndexOnlyScanState *) ps)->ioss_RelationDesc;
	else if (IsA(ps, BitmapIndexScanState))
		index = ((BitmapIndexScanState *) ps)->biss_RelationDesc;
	if (index != NULL && index->rd_index != NULL &&
		list_member_oid(ctx->heaps, index->rd_index->indrelid))
		(void) hide(index, ctx->query);
	return planstate_tree_walker(ps, hide_indexes_walker, arg);
}

/*
 * Whether range table entry rti, or an entry it was expanded from, is a
 * relation in filtered.  Every step up the plan's append relations is
 * looked at, not only the topmost: a UNION ALL that the planner flattened
 * makes its arms children of a subquery entry, above the product they read
 * (SELECT ... FROM product UNION ALL SELECT ... FROM product), and a
 * partition's product may sit under such a subquery too.
 */
static bool
reads_filtered(PlannedStmt *stmt, Index rti, List *filtered)
{
	bool		moved = true;

	/* bounded: each step goes one level up a finite tree */
	for (int guard = 0; guard <= list_length(stmt->rtable); guard++)
	{
		RangeTblEntry *rte = rt_fetch(rti, stmt->rtable);
		ListCell   *lc;

		if (rte->rtekind == RTE_RELATION && list_member_oid(filtered, rte->relid))
			return true;
		if (!moved)
			break;
		moved = false;
		foreach(lc, stmt->appendRelations)
		{
			AppendRelInfo *ai = lfirst(lc);

			if (ai->child_relid == rti)
			{
				rti = ai->parent_relid;
				moved = true;
				break;
			}
		}
	}
	return false;
}

/*
 * A parallel worker runs a copy of the plan without its marks (and without
 * its append relations): it asks the policies themselves which relations of
 * the plan a row policy filters for the reader.
 */
static List *
filtered_in_worker(PlannedStmt *stmt)
{
	List	   *filtered = NIL;
	ListCell   *lc;

	if (mesh_catalog() == NULL)
		return NIL;
	foreach(lc, stmt->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		const MeshProduct *product;
		ListCell   *pc;

		if (rte->rtekind != RTE_RELATION ||
			(product = mesh_product_by_relid(rte->relid)) == NULL)
			continue;
		foreach(pc, mesh_load_policies(product, rte->relid))
		{
			MeshPolicy *policy = lfirst(pc);
			const char *why;

			if (policy->is_row && !mesh_policy_exempt(product, policy, GetUserId(), &why))
			{
				filtered = list_append_unique_oid(filtered, rte->relid);
				break;
			}
		}
	}
	return filtered;
}

/*
 * Called once the executor has opened what the statement scans: hides the
 * relations of the products it filters for its reader (see the head
 * comment).  A statement that applies no row policy costs a pass over its
 * plan's marks.
 */
void
mesh_hide_activity(QueryDesc *query)
{
	PlannedStmt *stmt = query->plannedstmt;
	EState	   *estate = query->estate;
	List	   *filtered = NIL;
	ListCell   *lc;
	Oid			relid = InvalidOid;
	HideContext ctx;
	int			rti = 0;

	if (!mesh_hide_filtered_activity || !pgstat_track_counts || estate == NULL ||
		estate->es_relations == NULL)
		return;
	if (IsParallelWorker())
		filtered = filtered_in_worker(stmt);
	foreach(lc, stmt->invalItems)
	{
		PlanInvalItem *item = lfirst(lc);

		if (item->cacheId == MESH_MARK_POLICY_REL)
			relid = (Oid) item->hashValue;
		/* attribute 0: a row policy */
		else if (item->cacheId == MESH_MARK_POLICY_HI && OidIsValid(relid) &&
				 (item->hashValue & 0xffff) == 0)
			filtered = list_append_unique_oid(filtered, relid);
	}
	if (filtered == NIL)
		return;
	if (!callbacks_registered)
	{
		RegisterXactCallback(counters_xact_callback, NULL);
		callbacks_registered = true;
	}

	ctx.query = query;
	ctx.heaps = NIL;
	foreach(lc, stmt->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		Relation	rel;
		bool		in_filtered;

		rti++;
		if (rte->rtekind != RTE_RELATION || (Index) rti > estate->es_range_table_size)
			continue;
		rel = estate->es_relations[rti - 1];
		if (rel == NULL)
			continue;			/* not opened: pruned, or not scanned */
		in_filtered = reads_filtered(stmt, rti, filtered);
		/* a write's target counts as ever, unless it is the product itself */
		if (list_member_int(stmt->resultRelations, rti) && !in_filtered)
			continue;

		/*
		 * Every other relation the statement reads is hidden too, not only
		 * the product's own: a row policy's subquery reads its mapping
		 * table for the rows the policy is asked about, hidden ones
		 * included (a hashed subplan is even built only when the first row
		 * reaches it), the tables behind a view product are read for its
		 * hidden rows, and what the statement's other scans count depends
		 * on those rows too (a join's inner side, probed for each of them).
		 */
		(void) hide(rel, query);
		hide_toast(rel, query);
		ctx.heaps = lappend_oid(ctx.heaps, RelationGetRelid(rel));
	}
	if (ctx.heaps != NIL && query->planstate != NULL)
		(void) hide_indexes_walker(query->planstate, &ctx);
}

/* The statement ended: what it hid counts again. */
void
counters_executor_end(QueryDesc *query, MeshHookStep next)
{
	mesh_next_executor_end(query, next);

	if (nhidden > 0)
		release_entries(query);
}

void
mesh_define_counter_settings(void)
{
	DefineCustomBoolVariable("meshpg.hide_filtered_activity",
							 "Keeps the activity counters of data products filtered by a row policy from the readers the policy applies to.",
							 "Their scans count nothing in pg_stat_user_tables, pg_stat_user_indexes and the pg_stat_xact views, "
							 "which would otherwise tell how many hidden rows a probe touched.",
							 &mesh_hide_filtered_activity,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}
