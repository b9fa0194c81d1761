/*
 * stats.c
 *		Statistics the planner must not use for a reader: those of rows the
 *		reader may not see and of columns masked for it.
 */
#include "postgres.h"

#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/plancat.h"
#include "utils/lsyscache.h"
#include "utils/selfuncs.h"

#include "meshpg/governance/governance.h"
#include "meshpg/policy/policy.h"


/*
 * Relations whose statistics the planner must not use for the query being
 * planned.  pg_statistic and pg_statistic_ext_data hold raw values of every
 * row: most common values, histogram bounds, distinct counts.  Selectivity
 * estimators read them for any qual with a leakproof operator, and plain
 * EXPLAIN prints the estimates they give, so "WHERE name = 'x'" estimated
 * from a hidden row's value would tell that value exists.  A governed
 * relation whose rows are filtered for the reader (or a governed view's
 * expansion: every relation under it) has none of its statistics used; a
 * masked-only one, none of its masked columns'.  Set for the duration of
 * one planner call (nested planning saves and restores it).
 */
typedef struct HiddenStats
{
	Oid			relid;
	bool		all;			/* every column, and extended statistics */
	Bitmapset  *cols;			/* else: these columns */
} HiddenStats;

static List *hidden_stats = NIL;

static void
hide_stats(Oid relid, bool all, Bitmapset *cols)
{
	HiddenStats *h = palloc(sizeof(HiddenStats));

	h->relid = relid;
	h->all = all;
	h->cols = cols;
	hidden_stats = lappend(hidden_stats, h);
}

/* A relation and its inheritance children or partitions, queried through it. */
static void
hide_relation_stats(Oid relid, bool all, Bitmapset *cols)
{
	List	   *children;
	ListCell   *lc;

	hide_stats(relid, all, cols);
	if (!has_subclass(relid))
		return;
	children = find_all_inheritors(relid, NoLock, NULL);
	foreach(lc, children)
		if (lfirst_oid(lc) != relid)
			hide_stats(lfirst_oid(lc), true, NULL);
}

/* Every relation a governed view's expansion reads. */
static bool
hide_view_stats_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	/* nested queries recurse without nodeFuncs.c checking */
	check_stack_depth();
	if (IsA(node, Query))
	{
		Query	   *q = (Query *) node;
		ListCell   *lc;

		foreach(lc, q->rtable)
		{
			RangeTblEntry *rte = lfirst(lc);

			if (rte->rtekind == RTE_RELATION && rte->relkind != RELKIND_VIEW)
				hide_relation_stats(rte->relid, true, NULL);
		}
		return query_tree_walker(q, hide_view_stats_walker, context, 0);
	}
	return expression_tree_walker(node, hide_view_stats_walker, context);
}

static HiddenStats *
find_hidden_stats(Oid relid)
{
	ListCell   *lc;

	foreach(lc, hidden_stats)
	{
		HiddenStats *h = lfirst(lc);

		if (h->relid == relid)
			return h;
	}
	return NULL;
}

static bool
stats_hidden(Oid relid, AttrNumber attnum)
{
	ListCell   *lc;
	bool		hidden = false;

	/* a relation may be listed more than once: any entry hides */
	foreach(lc, hidden_stats)
	{
		HiddenStats *h = lfirst(lc);

		if (h->relid == relid)
			hidden |= h->all || attnum <= 0 || bms_is_member(attnum, h->cols);
	}
	return hidden;
}

bool
mesh_relation_stats(PlannerInfo *root, RangeTblEntry *rte, AttrNumber attnum,
					VariableStatData *vardata, MeshHookStep next)
{
	if (rte->rtekind == RTE_RELATION && stats_hidden(rte->relid, attnum))
	{
		vardata->statsTuple = NULL;
		vardata->freefunc = NULL;
		return true;
	}
	return mesh_next_relation_stats(root, rte, attnum, vardata, next);
}

/* An expression index's statistics are its table's values too. */
bool
mesh_index_stats(PlannerInfo *root, Oid indexOid, AttrNumber indexattnum,
				 VariableStatData *vardata, MeshHookStep next)
{
	if (hidden_stats != NIL &&
		find_hidden_stats(IndexGetRelation(indexOid, false)) != NULL)
	{
		vardata->statsTuple = NULL;
		vardata->freefunc = NULL;
		return true;
	}
	return mesh_next_index_stats(root, indexOid, indexattnum, vardata, next);
}

/* Extended statistics (MCV lists, ndistinct, dependencies) likewise. */
void
mesh_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent,
				   RelOptInfo *rel, MeshHookStep next)
{
	mesh_next_relation_info(root, relationObjectId, inhparent, rel, next);
	if (find_hidden_stats(relationObjectId) != NULL)
		rel->statlist = NIL;
}

/*
 * A column's average width is an aggregate of its hidden values too (and
 * shows in EXPLAIN): a hidden one gets its type's default, as if never
 * analysed.  Core reads pg_statistic when the hook returns 0, so it returns
 * the default itself.
 */
int32
mesh_attavgwidth(Oid relid, AttrNumber attnum, MeshHookStep next)
{
	if (hidden_stats != NIL && stats_hidden(relid, attnum))
	{
		Oid			type;
		int32		typmod;
		Oid			collation;

		get_atttypetypmodcoll(relid, attnum, &type, &typmod, &collation);
		return get_typavgwidth(type, typmod);
	}
	return mesh_next_attavgwidth(relid, attnum, next);
}

/*
 * What a governed entry's rules hide: everything of a filtered or
 * aggregate-only relation (or of every relation under a governed view),
 * else its masked and projected columns (a histogram lists their values).
 */
void
mesh_hide_stats(RangeTblEntry *rte, Oid relid, const MeshRules *rules)
{
	if (rte->rtekind == RTE_SUBQUERY)
		(void) hide_view_stats_walker((Node *) rte->subquery, NULL);
	else if (rules->quals != NIL || rules->agg_rules != NIL)
		hide_relation_stats(relid, true, NULL);
	else
	{
		Bitmapset  *cols = NULL;

		for (int i = 0; i < rules->natts; i++)
			if (rules->masks[i] != NULL ||
				(rules->projected != NULL && rules->projected[i] != NULL))
				cols = bms_add_member(cols, i + 1);
		hide_relation_stats(relid, false, cols);
	}
}

/* A planner call starts with nothing hidden; the outer call's list is kept. */
List *
mesh_hidden_stats_enter(void)
{
	List	   *outer = hidden_stats;

	hidden_stats = NIL;
	return outer;
}

void
mesh_hidden_stats_leave(List *outer)
{
	hidden_stats = outer;
}
