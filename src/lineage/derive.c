/*
 * derive.c
 *		Column-level derivation: which source columns a query's output
 *		columns are computed from, and the static lineage of the views and
 *		materialized views built on data products.
 *
 * A value is derived from the columns its expression reads, followed
 * through subqueries, joins, CTEs and scalar sublinks down to relations.
 * Columns that only filter or order rows (WHERE, JOIN ... ON, ORDER BY) are
 * not derivations: they are read, and the access history records them, but
 * no output value is computed from them.  A view is a source in its own
 * right: derivation stops at it (and at a view that the rewriter has
 * expanded into a subquery), so that the lineage graph shows each hop.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_rewrite.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "rewrite/prs2lock.h"
#include "rewrite/rewriteSupport.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/governance/governance.h"
#include "meshpg/lineage/lineage.h"

#define MAX_DERIVE_DEPTH 32

/*
 * The walk follows a column into the subquery or CTE it comes from, and a
 * query may name the same column of the same subquery many times: CTEs
 * built as "c(n) = c(n-1) a JOIN c(n-1) b" have 2^n paths to their first
 * one.  Each (query, column) is derived once (done), and each source column
 * found is added once (seen): the walk is bounded by the size of the
 * statement, not by its number of paths.  A Query node has one place in
 * the tree, so the enclosing queries are the same whichever way it is
 * reached.
 */
typedef struct DeriveKey
{
	const void *node;			/* a Query, or NULL for a source column */
	Oid			relid;
	AttrNumber	attno;
} DeriveKey;

typedef struct DeriveContext
{
	List	   *queries;		/* innermost first: levelsup indexes it */
	List	   *out;			/* of ColumnSource * */
	int			depth;
	bool		overflowed;		/* MAX_DERIVE_DEPTH reached: all sources added */
	HTAB	   *done;			/* of DeriveKey: derived or added already */
	bool		sources_hashed; /* out's entries are in done too */
} DeriveContext;

/* Whether the key was entered before; enters it if enter. */
static bool
derive_seen(DeriveContext *ctx, const void *node, Oid relid, AttrNumber attno,
			bool enter)
{
	DeriveKey	key;
	bool		found;

	if (ctx->done == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(DeriveKey);
		ctl.entrysize = sizeof(DeriveKey);
		ctl.hcxt = CurrentMemoryContext;
		ctx->done = hash_create("meshpg derivation", 64, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.node = node;
	key.relid = relid;
	key.attno = attno;
	if (!enter)
		return hash_search(ctx->done, &key, HASH_FIND, NULL) != NULL;
	(void) hash_search(ctx->done, &key, HASH_ENTER, &found);
	return found;
}

static bool derive_walker(Node *node, DeriveContext *ctx);

static void
add_source(DeriveContext *ctx, Oid relid, AttrNumber attno)
{
	ColumnSource *s;

	/* a short list is scanned; a long one is looked up */
	if (list_length(ctx->out) < 32)
	{
		ListCell   *lc;

		foreach(lc, ctx->out)
		{
			s = lfirst(lc);
			if (s->relid == relid && s->attno == attno)
				return;
		}
	}
	else if (!ctx->sources_hashed)
	{
		ListCell   *lc;

		foreach(lc, ctx->out)
		{
			s = lfirst(lc);
			(void) derive_seen(ctx, NULL, s->relid, s->attno, true);
		}
		ctx->sources_hashed = true;
	}
	if (ctx->sources_hashed && derive_seen(ctx, NULL, relid, attno, true))
		return;
	s = palloc(sizeof(ColumnSource));
	s->relid = relid;
	s->attno = attno;
	ctx->out = lappend(ctx->out, s);
}

static void
add_all_columns(DeriveContext *ctx, Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	int			natts;

	if (!HeapTupleIsValid(tup))
		return;
	natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
	ReleaseSysCache(tup);
	for (int a = 1; a <= natts; a++)
		if (get_attname(relid, a, true) != NULL)
			add_source(ctx, relid, a);
}

/* Every column of every relation a query reads, at any level. */
static bool
add_reachable(Node *node, DeriveContext *ctx)
{
	if (node == NULL)
		return false;
	check_stack_depth();
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
			add_all_columns(ctx, rte->relid);
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, add_reachable, ctx, QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, add_reachable, ctx);
}

/*
 * Too deep to follow: fail safe, as if the value came from every column the
 * statement reads (its outermost query holds all the others).
 */
static void
fail_safe(DeriveContext *ctx, Query *q)
{
	if (ctx->overflowed)
		return;
	ctx->overflowed = true;
	(void) add_reachable((Node *) (ctx->queries != NIL ? llast(ctx->queries) : q), ctx);
}

/* Derives expr within query q, pushed as the innermost query. */
static void
derive_in(DeriveContext *ctx, Query *q, Node *expr)
{
	List	   *saved = ctx->queries;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (ctx->depth >= MAX_DERIVE_DEPTH)
	{
		fail_safe(ctx, q);
		return;
	}
	ctx->depth++;
	ctx->queries = lcons(q, list_copy(saved));
	(void) derive_walker(expr, ctx);
	ctx->queries = saved;
	ctx->depth--;
}

/*
 * Column attno of a subquery-like source: its target entry, or all.  A
 * data-modifying CTE's columns are its RETURNING list (over the relation it
 * wrote), not the target list of what it wrote.
 */
static void
derive_tlist(DeriveContext *ctx, Query *sub, AttrNumber attno)
{
	ListCell   *lc;

	/* all its columns (attno 0), or this one, derived before */
	if ((attno != 0 && derive_seen(ctx, sub, InvalidOid, 0, false)) ||
		derive_seen(ctx, sub, InvalidOid, attno, true))
		return;

	foreach(lc, sub->commandType == CMD_SELECT ? sub->targetList : sub->returningList)
	{
		TargetEntry *tle = lfirst(lc);

		if (tle->resjunk || (attno != 0 && tle->resno != attno))
			continue;
		derive_in(ctx, sub, (Node *) tle->expr);
	}
}

/* Column attno of subquery entry rte of the query levelsup levels up. */
static void
derive_subquery(DeriveContext *ctx, RangeTblEntry *rte, AttrNumber attno, Index levelsup)
{
	Oid			view = mesh_expanded_view(rte);

	if (OidIsValid(view))
	{
		if (attno > 0)
			add_source(ctx, view, attno);
		else if (attno == 0)
			add_all_columns(ctx, view);
	}
	else if (rte->rtekind == RTE_SUBQUERY && rte->subquery != NULL && attno >= 0)
	{
		/* the subquery sits one level below that query */
		List	   *saved = ctx->queries;

		ctx->queries = list_copy_tail(saved, levelsup);
		derive_tlist(ctx, rte->subquery, attno);
		ctx->queries = saved;
	}
}

static void
derive_var(Var *var, DeriveContext *ctx)
{
	Query	   *q;
	RangeTblEntry *rte;

	if (var->varlevelsup >= (Index) list_length(ctx->queries))
		return;
	q = list_nth(ctx->queries, var->varlevelsup);
	if (var->varno <= 0 || var->varno > list_length(q->rtable))
		return;
	rte = rt_fetch(var->varno, q->rtable);
	switch (rte->rtekind)
	{
		case RTE_RELATION:
			if (var->varattno > 0)
				add_source(ctx, rte->relid, var->varattno);
			else if (var->varattno == 0)
				add_all_columns(ctx, rte->relid);
			break;
		case RTE_SUBQUERY:
			if (q->setOperations == NULL)
				derive_subquery(ctx, rte, var->varattno, var->varlevelsup);
			else
			{
				ListCell   *lc;

				/*
				 * A set operation's output column names its leftmost arm
				 * only, yet its values come from every arm (the leaves are
				 * the subquery entries of q's range table).
				 */
				foreach(lc, q->rtable)
					derive_subquery(ctx, lfirst(lc), var->varattno, var->varlevelsup);
			}
			break;
		case RTE_JOIN:
			{
				List	   *saved = ctx->queries;

				ctx->queries = list_copy_tail(saved, var->varlevelsup);
				if (var->varattno > 0 && var->varattno <= list_length(rte->joinaliasvars))
				{
					Node	   *alias = list_nth(rte->joinaliasvars, var->varattno - 1);

					/* alias Vars are relative to q itself */
					if (alias != NULL && ctx->depth >= MAX_DERIVE_DEPTH)
						fail_safe(ctx, q);
					else if (alias != NULL)
					{
						ctx->depth++;
						(void) derive_walker(alias, ctx);
						ctx->depth--;
					}
				}
				else if (var->varattno == 0)
				{
					ListCell   *lc;

					foreach(lc, rte->joinaliasvars)
						if (lfirst(lc) != NULL)
							(void) derive_walker(lfirst(lc), ctx);
				}
				ctx->queries = saved;
				break;
			}
		case RTE_CTE:
			{
				Index		levels = var->varlevelsup + rte->ctelevelsup;
				Query	   *owner;
				ListCell   *lc;

				if (levels >= (Index) list_length(ctx->queries) || var->varattno < 0)
					break;
				owner = list_nth(ctx->queries, levels);
				foreach(lc, owner->cteList)
				{
					CommonTableExpr *cte = lfirst(lc);

					if (strcmp(cte->ctename, rte->ctename) == 0 && IsA(cte->ctequery, Query))
					{
						List	   *saved = ctx->queries;

						ctx->queries = list_copy_tail(saved, levels);
						derive_tlist(ctx, (Query *) cte->ctequery, var->varattno);
						ctx->queries = saved;
						break;
					}
				}
				break;
			}
		default:
			break;
	}
}

static bool
derive_walker(Node *node, DeriveContext *ctx)
{
	if (node == NULL)
		return false;
	check_stack_depth();
	if (IsA(node, Var))
	{
		derive_var((Var *) node, ctx);
		return false;
	}
	if (IsA(node, SubLink))
	{
		SubLink    *sl = (SubLink *) node;

		(void) derive_walker(sl->testexpr, ctx);
		/* a scalar or array sublink's value comes from its output column */
		if ((sl->subLinkType == EXPR_SUBLINK || sl->subLinkType == ARRAY_SUBLINK ||
			 sl->subLinkType == MULTIEXPR_SUBLINK) && IsA(sl->subselect, Query))
			derive_tlist(ctx, (Query *) sl->subselect, 0);
		return false;
	}
	if (IsA(node, Query))
		return false;
	return expression_tree_walker(node, derive_walker, ctx);
}

List *
mesh_expr_sources(Query *outer, Query *q, Node *expr)
{
	DeriveContext ctx = {NIL, NIL, 0, false, NULL, false};

	/* a data-modifying CTE's query refers to its siblings one level up */
	if (outer != NULL)
		ctx.queries = list_make1(outer);
	derive_in(&ctx, q, expr);
	return ctx.out;
}

/* ------------------------------------------------------------------------
 * Static lineage: meshpg._static_lineage()
 * ------------------------------------------------------------------------ */

/* The relation a rewrite rule belongs to (no syscache for rule OIDs). */
static Oid
rule_relation(Oid rule)
{
	Relation	rewrite = table_open(RewriteRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			result = InvalidOid;

	ScanKeyInit(&key, Anum_pg_rewrite_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(rule));
	scan = systable_beginscan(rewrite, RewriteOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		result = ((Form_pg_rewrite) GETSTRUCT(tup))->ev_class;
	systable_endscan(scan);
	table_close(rewrite, AccessShareLock);
	return result;
}

/* Views and materialized views whose rules depend on relid. */
static List *
dependent_views(Oid relid)
{
	Relation	dep = table_open(DependRelationId, AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(relid));
	scan = systable_beginscan(dep, DependReferenceIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tup);
		Oid			view;

		if (d->classid != RewriteRelationId || d->deptype != DEPENDENCY_NORMAL)
			continue;
		view = rule_relation(d->objid);
		if (OidIsValid(view) && view != relid && !list_member_oid(result, view))
			result = lappend_oid(result, view);
	}
	systable_endscan(scan);
	table_close(dep, AccessShareLock);
	return result;
}

/*
 * The stored query of a view or materialized view (its ON SELECT rule),
 * read from pg_rewrite under the catalog snapshot rather than through the
 * relation: opening the relation would take a lock on it, and a view
 * downstream of a product may belong to a consumer, who can hold an
 * ACCESS EXCLUSIVE lock on it (LOCK TABLE, REFRESH MATERIALIZED VIEW) for as
 * long as it likes.  Tag propagation runs inside the domain team's CREATE
 * VIEW and register_product, and must not wait for that.  A definition
 * being replaced concurrently is read as last committed; the replacement
 * propagates again when it commits (ddl_command_end).  NULL if the view is
 * gone.
 */
static Query *
stored_query(Oid view)
{
	Relation	rewrite = table_open(RewriteRelationId, AccessShareLock);
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	Query	   *result = NULL;

	ScanKeyInit(&key[0], Anum_pg_rewrite_ev_class, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(view));
	ScanKeyInit(&key[1], Anum_pg_rewrite_rulename, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum(ViewSelectRuleName));
	scan = systable_beginscan(rewrite, RewriteRelRulenameIndexId, true, NULL, 2, key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup) &&
		((Form_pg_rewrite) GETSTRUCT(tup))->ev_type == '0' + CMD_SELECT)
	{
		bool		isnull;
		Datum		action = heap_getattr(tup, Anum_pg_rewrite_ev_action,
										  RelationGetDescr(rewrite), &isnull);
		List	   *actions = isnull ? NIL :
			(List *) stringToNode(TextDatumGetCString(action));

		if (list_length(actions) == 1 && IsA(linitial(actions), Query))
			result = linitial_node(Query, actions);
	}
	systable_endscan(scan);
	table_close(rewrite, AccessShareLock);
	return result;
}

static char *
column_name(Oid relid, AttrNumber attno)
{
	return get_attname(relid, attno, true);
}

/* The relations a view's rule reads (pg_depend), itself left out. */
static List *
view_sources(Oid view)
{
	Relation	dep;
	Relation	rewrite;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *rules = NIL;
	List	   *result = NIL;
	ListCell   *lc;

	/* the view's rules */
	rewrite = table_open(RewriteRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_rewrite_ev_class, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(view));
	scan = systable_beginscan(rewrite, RewriteRelRulenameIndexId, true, NULL, 1, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		rules = lappend_oid(rules, ((Form_pg_rewrite) GETSTRUCT(tup))->oid);
	systable_endscan(scan);
	table_close(rewrite, AccessShareLock);

	dep = table_open(DependRelationId, AccessShareLock);
	foreach(lc, rules)
	{
		ScanKeyInit(&key[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(RewriteRelationId));
		ScanKeyInit(&key[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(lfirst_oid(lc)));
		scan = systable_beginscan(dep, DependDependerIndexId, true, NULL, 2, key);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_depend d = (Form_pg_depend) GETSTRUCT(tup);
			char		relkind;

			if (d->refclassid != RelationRelationId || d->refobjid == view ||
				d->deptype != DEPENDENCY_NORMAL || list_member_oid(result, d->refobjid))
				continue;
			relkind = get_rel_relkind(d->refobjid);
			if (relkind == RELKIND_RELATION || relkind == RELKIND_VIEW ||
				relkind == RELKIND_MATVIEW || relkind == RELKIND_PARTITIONED_TABLE ||
				relkind == RELKIND_FOREIGN_TABLE)
				result = lappend_oid(result, d->refobjid);
		}
		systable_endscan(scan);
	}
	table_close(dep, AccessShareLock);
	return result;
}

/* Emits the edges into one view: per source relation, then per column. */
static void
describe_view(ReturnSetInfo *rsinfo, Oid view)
{
	const char *kind = get_rel_relkind(view) == RELKIND_MATVIEW ? "materialized view" : "view";
	List	   *sources = view_sources(view);
	ListCell   *lc;
	Query	   *q;
	Datum		values[5];

	values[2] = ObjectIdGetDatum(view);
	values[4] = CStringGetTextDatum(kind);
	foreach(lc, sources)
	{
		bool		nulls[5] = {false, true, false, true, false};

		values[0] = ObjectIdGetDatum(lfirst_oid(lc));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	/* column level: the view's query, derived per output column (no lock) */
	q = stored_query(view);
	if (q != NULL)
	{
		foreach(lc, q->targetList)
		{
			TargetEntry *tle = lfirst(lc);
			ListCell   *sc;
			char	   *target_col;
			List	   *derived;

			if (tle->resjunk || (target_col = column_name(view, tle->resno)) == NULL)
				continue;
			derived = mesh_expr_sources(NULL, q, (Node *) tle->expr);
			foreach(sc, derived)
			{
				ColumnSource *s = lfirst(sc);
				char	   *source_col;
				bool		nulls[5] = {false, false, false, false, false};

				if (!list_member_oid(sources, s->relid) ||
					(source_col = column_name(s->relid, s->attno)) == NULL)
					continue;
				values[0] = ObjectIdGetDatum(s->relid);
				values[1] = CStringGetTextDatum(source_col);
				values[3] = CStringGetTextDatum(target_col);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
	}
}

/*
 * meshpg._static_lineage(tagged_only): the views and materialized views
 * downstream of a data product (transitively), and those that are products
 * themselves: for each, one row per relation it reads (columns null) and
 * one per column derivation.  Tag propagation asks only downstream of the
 * products that carry a tag, which keeps it cheap in a large catalog.
 */
PG_FUNCTION_INFO_V1(meshpg_static_lineage);

Datum
meshpg_static_lineage(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	List	   *queue = NIL;
	List	   *views = NIL;
	ListCell   *lc;
	MeshSpiState spi;
	MemoryContext caller = CurrentMemoryContext;
	bool		tagged_only = !PG_ARGISNULL(0) && PG_GETARG_BOOL(0);
	HASHCTL		ctl;
	HTAB	   *queued;
	HTAB	   *listed;

	InitMaterializedSRF(fcinfo, 0);
	if (mesh_catalog() == NULL)
		return (Datum) 0;

	/*
	 * Metadata, readable by all: read as the catalog owner.  SPI leaves its
	 * own context current, which mesh_spi_end frees: build the lists in ours.
	 */
	mesh_spi_begin(&spi);
	(void) mesh_spi_exec(tagged_only ?
						 "SELECT p.relid::oid FROM meshpg.cat_product p WHERE EXISTS "
						 "(SELECT 1 FROM meshpg.cat_column_tag t WHERE t.product_id = p.id)" :
						 "SELECT relid::oid FROM meshpg.cat_product", 0, NULL, NULL, NULL);
	MemoryContextSwitchTo(caller);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
		char		relkind = get_rel_relkind(relid);

		queue = lappend_oid(queue, relid);
		if (!tagged_only && (relkind == RELKIND_VIEW || relkind == RELKIND_MATVIEW))
			views = list_append_unique_oid(views, relid);
	}
	mesh_spi_end(&spi);

	/*
	 * Downstream, breadth first; the queue grows as it is walked.  Anyone
	 * may build views of views over a product: each relation is queued and
	 * listed once (a visited set, not a scan of the lists), so the walk
	 * costs what the graph has of relations and edges.
	 */
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid);
	ctl.hcxt = CurrentMemoryContext;
	queued = hash_create("meshpg static lineage", 256, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	listed = hash_create("meshpg static lineage views", 256, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	foreach(lc, queue)
		(void) hash_search(queued, &lfirst_oid(lc), HASH_ENTER, NULL);
	foreach(lc, views)
		(void) hash_search(listed, &lfirst_oid(lc), HASH_ENTER, NULL);
	foreach(lc, queue)
	{
		List	   *dependents;
		ListCell   *vc;

		CHECK_FOR_INTERRUPTS();
		dependents = dependent_views(lfirst_oid(lc));
		foreach(vc, dependents)
		{
			Oid			view = lfirst_oid(vc);
			bool		found;

			(void) hash_search(queued, &view, HASH_ENTER, &found);
			if (!found)
				queue = lappend_oid(queue, view);
			(void) hash_search(listed, &view, HASH_ENTER, &found);
			if (!found)
				views = lappend_oid(views, view);
		}
	}
	foreach(lc, views)
	{
		CHECK_FOR_INTERRUPTS();
		describe_view(rsinfo, lfirst_oid(lc));
	}
	return (Datum) 0;
}
