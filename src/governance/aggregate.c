/*
 * aggregate.c
 *		Projection and aggregation policies in the planner: what a query over
 *		a constrained product may do, and the rewrite that keeps every group
 *		of an aggregate-only product's result large enough.
 *
 * A projection policy lets a column be used in predicates (WHERE, JOIN ON,
 * HAVING) but never returned: the column may appear nowhere else in the
 * query level that reads it (select list, ORDER BY, GROUP BY, DISTINCT,
 * RETURNING, a LATERAL item), nor in a subquery of the select list (a
 * boolean of it returned is the value's oracle row by row).  Whole-row
 * references carry every column, so they count as the column.
 *
 * An aggregation policy lets a product be read only through aggregates:
 * the query level that reads it must aggregate (GROUP BY or aggregates),
 * without window functions or set-returning functions in its select list;
 * its aggregates are the allowed ones (count, count(DISTINCT), sum, avg,
 * and min and max if the policy says so) over plain columns, with no
 * FILTER, ORDER BY or other DISTINCT: "sum(CASE WHEN id = 42 THEN salary
 * END)" would single one row out of a large group.  Outside aggregates the
 * select list has only grouped expressions.  Then, once rows are filtered
 * and values masked, the query is rewritten (mesh_aggregate_fold) into an
 * inner query that computes the groups and, per group, how many rows or
 * distinct entities of the product it covers, and an outer one that keeps
 * the groups large enough and folds the others into one remainder group
 * with NULL keys, itself suppressed if too small.
 *
 * Both kinds: every function that receives a constrained column's value
 * must be built in or leakproof (a reader's function would be handed the
 * raw value), and the plan's errors are withheld (a cast's error shows its
 * input).  The checks read no data and run at planning, so a refusal takes
 * the same time whatever the rows hold.
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_func.h"
#include "parser/parse_oper.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/typcache.h"

#include "meshpg/governance/aggregate.h"

PG_FUNCTION_INFO_V1(meshpg_entities_step);
PG_FUNCTION_INFO_V1(meshpg_entities_merge_step);
PG_FUNCTION_INFO_V1(meshpg_entities_combine);
PG_FUNCTION_INFO_V1(meshpg_entities_final);
PG_FUNCTION_INFO_V1(meshpg_entities_serialize);
PG_FUNCTION_INFO_V1(meshpg_entities_deserialize);
PG_FUNCTION_INFO_V1(meshpg_entity_count);

/* ------------------------------------------------------------------------
 * Shared helpers
 * ------------------------------------------------------------------------
 */

static MeshAggEntry *
entry_at(List *entries, int varno)
{
	foreach_ptr(MeshAggEntry, e, entries)
		if (e->rti == varno)
		return e;
	return NULL;
}

bool
mesh_agg_entries_have(List *entries, MeshPolicyKind kind)
{
	foreach_ptr(MeshAggEntry, e, entries)
		foreach_ptr(MeshAggRule, r, e->rules)
		if (r->kind == kind)
		return true;
	return false;
}

static void
refuse(const char *product, const char *policy, const char *msg, const char *detail,
	   const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("%s", msg),
			 errdetail("%s (policy \"%s\" on data product \"%s\")", detail, policy, product),
			 errhint("%s", hint)));
}

/*
 * What counts as a constrained reference for a walk: which entries, and
 * whether any column of them (aggregate-only) or only their projected
 * columns.
 */
/* What a placeholder stands for: a constrained column (which), or nothing. */
typedef struct StandIn
{
	bool		constrained;
	MeshAggEntry *entry;
	AttrNumber	attno;
} StandIn;

typedef struct UseContext
{
	List	   *entries;
	int			depth;			/* levels below the query the entries are in */
	bool		projected_only;
	/* the first reference found */
	MeshAggEntry *entry;
	AttrNumber	attno;

	/*
	 * Within the WHEN tests of "CASE x WHEN v ...": whether x is a
	 * constrained column (which), since those tests read x through a
	 * CaseTestExpr placeholder, not through its Var.
	 */
	StandIn		case_arg;
	/* likewise the Params of a sublink's test, for its subquery's output */
	StandIn		sublink_output;
} UseContext;

static bool has_join_rtes(Query *q);

static bool
constrained_var(Var *var, UseContext *ctx)
{
	MeshAggEntry *e;

	if ((int) var->varlevelsup != ctx->depth)
		return false;
	e = entry_at(ctx->entries, var->varno);
	if (e == NULL)
		return false;
	if (ctx->projected_only)
	{
		if (e->projected == NULL)
			return false;
		if (var->varattno == 0)
		{
			for (int i = 0; i < e->natts; i++)
				if (e->projected[i] != NULL)
				{
					ctx->entry = e;
					ctx->attno = i + 1;
					return true;
				}
			return false;
		}
		if (var->varattno < 0 || var->varattno > e->natts || e->projected[var->varattno - 1] == NULL)
			return false;
	}
	ctx->entry = e;
	ctx->attno = var->varattno;
	return true;
}

/* Whether node references a constrained column (at ctx->depth). */
static bool
uses_walker(Node *node, UseContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
		return constrained_var((Var *) node, ctx);
	if (IsA(node, CaseTestExpr) && ctx->case_arg.constrained)
	{
		ctx->entry = ctx->case_arg.entry;
		ctx->attno = ctx->case_arg.attno;
		return true;
	}
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_SUBLINK &&
		ctx->sublink_output.constrained)
	{
		ctx->entry = ctx->sublink_output.entry;
		ctx->attno = ctx->sublink_output.attno;
		return true;
	}
	if (IsA(node, Query))
	{
		bool		found;

		check_stack_depth();
		ctx->depth++;
		found = query_tree_walker((Query *) node, uses_walker, ctx, 0);
		ctx->depth--;
		return found;
	}
	return expression_tree_walker(node, uses_walker, ctx);
}

static bool
uses(Node *node, UseContext *ctx)
{
	return uses_walker(node, ctx);
}

/* What a placeholder for expr stands for (uses() notes the column found). */
static StandIn
stand_in(Node *expr, UseContext *ctx)
{
	StandIn		result;

	result.constrained = uses(expr, ctx);
	result.entry = ctx->entry;
	result.attno = ctx->attno;
	return result;
}

static const char *
column_name(MeshAggEntry *e, AttrNumber attno)
{
	char	   *name;

	if (attno == 0)
		return "(whole row)";
	if (attno < 0)
		return "(system column)";
	name = get_attname(e->relid, attno, true);
	return name ? name : "?";
}

/* The first projection policy of e, for a whole-row reference. */
static const char *
projection_policy(MeshAggEntry *e, AttrNumber attno)
{
	if (attno > 0 && attno <= e->natts && e->projected[attno - 1])
		return e->projected[attno - 1];
	for (int i = 0; i < e->natts; i++)
		if (e->projected[i])
			return e->projected[i];
	return "?";
}

static const char *
agg_policy(MeshAggEntry *e)
{
	foreach_ptr(MeshAggRule, r, e->rules)
		return r->policy_name;
	return "?";
}

/* ------------------------------------------------------------------------
 * Functions handed constrained values
 * ------------------------------------------------------------------------
 */

/*
 * Whether a function may receive a constrained value: a leakproof one, or
 * a built-in one that is immutable, or stable and runs no query of its
 * own.  A volatile built-in can carry the value out (pg_notify,
 * set_config, setseed, pg_logical_emit_message), and so can a stable one
 * that runs SQL built from it (query_to_xml and its family, ts_stat).
 */
static bool
safe_function(Oid funcid)
{
	char		volatility;
	char	   *name;

	if (get_func_leakproof(funcid))
		return true;
	if (funcid >= FirstNormalObjectId)
		return false;
	volatility = func_volatile(funcid);
	if (volatility == PROVOLATILE_IMMUTABLE)
		return true;
	if (volatility != PROVOLATILE_STABLE)
		return false;
	name = get_func_name(funcid);
	return name != NULL && strstr(name, "_to_xml") == NULL &&
		strncmp(name, "ts_stat", 7) != 0 && strncmp(name, "ts_rewrite", 10) != 0;
}

static bool
safe_type(Oid type)
{
	return type < FirstNormalObjectId;
}

static void
refuse_passed_on(UseContext *ctx)
{
	MeshAggEntry *e = ctx->entry;

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("column \"%s\" of data product \"%s\" may not be passed to a FROM item or WITH query of a subquery",
					column_name(e, ctx->attno), e->product),
			 errdetail("Policy \"%s\" hides the column's values; what a FROM item returns is no longer known to be the column, so the functions it reaches could not be checked.",
					   ctx->projected_only ? projection_policy(e, ctx->attno) : agg_policy(e)),
			 errhint("Compare the column in the subquery's WHERE clause instead.")));
}

/*
 * Refuses a function that is neither built in nor leakproof and gets a
 * constrained value, anywhere in node (nested queries included).
 */
static bool
functions_walker(Node *node, UseContext *ctx)
{
	Oid			funcid = InvalidOid;
	List	   *args = NIL;
	bool		bad = false;
	const char *what = NULL;

	if (node == NULL)
		return false;
	check_stack_depth();
	if (IsA(node, Query))
	{
		Query	   *sub = (Query *) node;
		bool		found;
		ListCell   *lc;

		ctx->depth++;

		/*
		 * A subquery of a condition may use the column, but not hand it to
		 * one of its FROM items or WITH queries: what they return is a new
		 * Var ("SELECT 1 FROM (SELECT t.secret AS v) x WHERE f(x.v)"), which
		 * the checks here no longer see as the column.  Refused, not traced.
		 */
		foreach(lc, sub->rtable)
		{
			RangeTblEntry *rte = lfirst(lc);
			Node	   *item = NULL;

			if (rte->rtekind == RTE_SUBQUERY)
				item = (Node *) rte->subquery;
			else if (rte->rtekind == RTE_FUNCTION)
				item = (Node *) rte->functions;
			else if (rte->rtekind == RTE_VALUES)
				item = (Node *) rte->values_lists;
			else if (rte->rtekind == RTE_TABLEFUNC)
				item = (Node *) rte->tablefunc;
			if (item != NULL && uses(item, ctx))
				refuse_passed_on(ctx);
		}
		foreach(lc, sub->cteList)
			if (uses(((CommonTableExpr *) lfirst(lc))->ctequery, ctx))
				refuse_passed_on(ctx);
		found = query_tree_walker(sub, functions_walker, ctx, 0);
		ctx->depth--;
		return found;
	}
	if (IsA(node, SubLink) && ((SubLink *) node)->testexpr != NULL)
	{
		/*
		 * "v = ANY (SELECT t.secret)": the test compares v with a Param that
		 * stands for the subquery's output, with the "=" the search path
		 * finds.  When the subquery uses a constrained column, its Params
		 * count as that column in the test.
		 */
		SubLink    *sl = (SubLink *) node;
		StandIn		saved = ctx->sublink_output;

		if (functions_walker(sl->subselect, ctx))
			return true;
		ctx->sublink_output = stand_in(sl->subselect, ctx);
		if (functions_walker(sl->testexpr, ctx))
			return true;
		ctx->sublink_output = saved;
		return false;
	}
	if (IsA(node, CaseExpr) && ((CaseExpr *) node)->arg != NULL)
	{
		/*
		 * "CASE x WHEN v THEN ..." compares with x's equality operator, found
		 * on the search path: the test is an OpExpr of a placeholder and v,
		 * so it would hand a constrained x to the reader's own "=" unseen.
		 * The tests are walked knowing what the placeholder stands for.
		 */
		CaseExpr   *c = (CaseExpr *) node;
		StandIn		saved = ctx->case_arg;
		ListCell   *lc;

		if (functions_walker((Node *) c->arg, ctx))
			return true;
		ctx->case_arg = stand_in((Node *) c->arg, ctx);
		foreach(lc, c->args)
		{
			CaseWhen   *w = lfirst_node(CaseWhen, lc);

			if (functions_walker((Node *) w->expr, ctx))
				return true;
		}
		ctx->case_arg = saved;
		foreach(lc, c->args)
		{
			CaseWhen   *w = lfirst_node(CaseWhen, lc);

			if (functions_walker((Node *) w->result, ctx))
				return true;
		}
		return functions_walker((Node *) c->defresult, ctx);
	}
	switch (nodeTag(node))
	{
		case T_FuncExpr:
			funcid = ((FuncExpr *) node)->funcid;
			args = ((FuncExpr *) node)->args;
			break;
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
			set_opfuncid((OpExpr *) node);
			funcid = ((OpExpr *) node)->opfuncid;
			args = ((OpExpr *) node)->args;
			break;
		case T_ScalarArrayOpExpr:
			set_sa_opfuncid((ScalarArrayOpExpr *) node);
			funcid = ((ScalarArrayOpExpr *) node)->opfuncid;
			args = ((ScalarArrayOpExpr *) node)->args;
			break;
		case T_Aggref:
			funcid = ((Aggref *) node)->aggfnoid;
			args = ((Aggref *) node)->args;
			bad = funcid >= FirstNormalObjectId;
			what = "aggregate";
			break;
		case T_WindowFunc:
			funcid = ((WindowFunc *) node)->winfnoid;
			args = ((WindowFunc *) node)->args;
			bad = funcid >= FirstNormalObjectId;
			what = "window function";
			break;
		case T_RowCompareExpr:
			{
				ListCell   *lc;

				foreach(lc, ((RowCompareExpr *) node)->opnos)
					if (!safe_function(get_opcode(lfirst_oid(lc))))
						bad = true;
				funcid = linitial_oid(((RowCompareExpr *) node)->opnos);
				args = list_concat_copy(((RowCompareExpr *) node)->largs,
										((RowCompareExpr *) node)->rargs);
				what = "operator";
				if (bad)
					funcid = get_opcode(funcid);
				break;
			}
		case T_CoerceViaIO:
			bad = !safe_type(((CoerceViaIO *) node)->resulttype) ||
				!safe_type(exprType((Node *) ((CoerceViaIO *) node)->arg));
			args = list_make1(((CoerceViaIO *) node)->arg);
			what = "type conversion";
			break;
		case T_ArrayCoerceExpr:
			/* its per-element conversion reads a placeholder, not the column */
			bad = !safe_type(((ArrayCoerceExpr *) node)->resulttype) ||
				!safe_type(exprType((Node *) ((ArrayCoerceExpr *) node)->arg));
			args = list_make1(((ArrayCoerceExpr *) node)->arg);
			what = "type conversion";
			break;
		case T_CoerceToDomain:
			bad = !safe_type(((CoerceToDomain *) node)->resulttype);
			args = list_make1(((CoerceToDomain *) node)->arg);
			what = "domain";
			break;
		case T_SubscriptingRef:
			bad = !safe_type(((SubscriptingRef *) node)->refcontainertype);
			args = list_make1(((SubscriptingRef *) node)->refexpr);
			what = "subscript";
			break;
		default:
			break;
	}
	if (what == NULL && OidIsValid(funcid))
	{
		bad = !safe_function(funcid);
		what = "function";
	}
	if (bad && uses((Node *) args, ctx))
	{
		MeshAggEntry *e = ctx->entry;
		const char *col = column_name(e, ctx->attno);
		const char *policy = ctx->projected_only ? projection_policy(e, ctx->attno) : agg_policy(e);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("%s %s may not receive column \"%s\" of data product \"%s\"",
						what, OidIsValid(funcid) ? format_procedure(funcid) :
						format_type_be(exprType(node)), col, e->product),
				 errdetail("Policy \"%s\" hides the column's values, and a %s that is not leakproof, nor built in and free of side effects, could show them.",
						   policy, what),
				 errhint("Use built-in immutable or stable operators and functions on the column.")));
	}
	return expression_tree_walker(node, functions_walker, ctx);
}

/* Walks q's expressions, not the owner's security quals of its entries. */
static void
check_functions(Query *q, List *entries, bool projected_only)
{
	UseContext	ctx = {entries, 0, projected_only, NULL, 0};

	/*
	 * A merged column of a FULL JOIN ... USING is a Var of the join, not of
	 * the product: COALESCE(t.x, s.x).  Walk the query with the join's
	 * columns replaced by what they stand for, as the projection check does.
	 */
	if (has_join_rtes(q))
	{
		Query	   *f = copyObject(q);

		f->jointree = (FromExpr *) flatten_join_alias_vars(q, (Node *) f->jointree);
		f->targetList = (List *) flatten_join_alias_vars(q, (Node *) f->targetList);
		f->havingQual = flatten_join_alias_vars(q, f->havingQual);
		f->returningList = (List *) flatten_join_alias_vars(q, (Node *) f->returningList);
		f->onConflict = (OnConflictExpr *) flatten_join_alias_vars(q, (Node *) f->onConflict);
		f->mergeActionList = (List *) flatten_join_alias_vars(q, (Node *) f->mergeActionList);
		q = f;
	}
	(void) query_tree_walker(q, functions_walker, &ctx, 0);
}

/* ------------------------------------------------------------------------
 * Projection
 * ------------------------------------------------------------------------
 */

static void
refuse_projection(UseContext *ctx, const char *where)
{
	MeshAggEntry *e = ctx->entry;

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("column \"%s\" of data product \"%s\" may not be returned",
					column_name(e, ctx->attno), e->product),
			 errdetail("Projection policy \"%s\" lets the column be used in WHERE, JOIN ON and HAVING conditions only; the query uses it in %s.",
					   projection_policy(e, ctx->attno), where),
			 errhint("Remove the column from the select list, ORDER BY, GROUP BY, DISTINCT, RETURNING and subqueries that return it; filter on it instead.")));
}

static bool
has_join_rtes(Query *q)
{
	ListCell   *lc;

	foreach(lc, q->rtable)
		if (((RangeTblEntry *) lfirst(lc))->rtekind == RTE_JOIN)
			return true;
	return false;
}

static Node *
flattened(Query *q, Node *node)
{
	if (node == NULL || !has_join_rtes(q))
		return node;
	return flatten_join_alias_vars(q, copyObject(node));
}

static void
check_projection(Query *q, List *entries)
{
	UseContext	ctx = {entries, 0, true, NULL, 0};
	ListCell   *lc;

	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (uses(flattened(q, (Node *) tle->expr), &ctx))
			refuse_projection(&ctx, tle->resjunk ?
							  "ORDER BY, GROUP BY or DISTINCT" : "the select list");
	}
	if (uses(flattened(q, (Node *) q->returningList), &ctx))
		refuse_projection(&ctx, "RETURNING");
	if (uses(flattened(q, (Node *) q->onConflict), &ctx))
		refuse_projection(&ctx, "ON CONFLICT");
	if (uses(flattened(q, (Node *) q->mergeActionList), &ctx))
		refuse_projection(&ctx, "MERGE");
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		Node	   *item = NULL;

		if (rte->rtekind == RTE_SUBQUERY)
			item = (Node *) rte->subquery;
		else if (rte->rtekind == RTE_FUNCTION)
			item = (Node *) rte->functions;
		else if (rte->rtekind == RTE_VALUES)
			item = (Node *) rte->values_lists;
		else if (rte->rtekind == RTE_TABLEFUNC)
			item = (Node *) rte->tablefunc;
		if (item != NULL && uses(flattened(q, item), &ctx))
			refuse_projection(&ctx, "a LATERAL item of the FROM list");
	}
	check_functions(q, entries, true);
}

/* ------------------------------------------------------------------------
 * Aggregation
 * ------------------------------------------------------------------------
 */

static void
refuse_rows(MeshAggEntry *e, const char *detail)
{
	refuse(e->product, agg_policy(e),
		   psprintf("data product \"%s\" may be read only through aggregates", e->product),
		   detail,
		   "Aggregate it: for example SELECT key, count(*), sum(value) FROM product GROUP BY key; "
		   "see meshpg.explain_access() for the allowed aggregates and the minimum group size.");
}

static uint32
allowed_aggregates(List *entries)
{
	uint32		allowed = ~(uint32) 0;

	foreach_ptr(MeshAggEntry, e, entries)
		foreach_ptr(MeshAggRule, r, e->rules)
		allowed &= r->aggregates;
	return allowed;
}

/* The flag of an aggregate call, 0 if it is none of the governed ones. */
static uint32
aggref_flag(Aggref *agg)
{
	char	   *name;

	if (get_func_namespace(agg->aggfnoid) != PG_CATALOG_NAMESPACE)
		return 0;
	name = get_func_name(agg->aggfnoid);
	if (name == NULL)
		return 0;
	if (strcmp(name, "count") == 0)
		return agg->aggdistinct != NIL ? MESH_AGG_COUNT_DISTINCT : MESH_AGG_COUNT;
	if (agg->aggdistinct != NIL)
		return 0;
	return mesh_agg_flag(name) & (MESH_AGG_SUM | MESH_AGG_AVG | MESH_AGG_MIN | MESH_AGG_MAX);
}

typedef struct AggCheck
{
	List	   *entries;
	uint32		allowed;
	int			depth;
} AggCheck;

static bool
check_aggrefs_walker(Node *node, AggCheck *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Aggref) && ((Aggref *) node)->agglevelsup == 0)
	{
		Aggref	   *agg = (Aggref *) node;
		uint32		flag = aggref_flag(agg);
		MeshAggEntry *e = linitial(ctx->entries);
		ListCell   *lc;

		if (flag == 0 || (flag & ctx->allowed) == 0)
			refuse(e->product, agg_policy(e),
				   psprintf("aggregate %s is not allowed over data product \"%s\"",
							format_procedure(agg->aggfnoid), e->product),
				   psprintf("The query reads an aggregate-only product; the aggregates allowed are %s.",
							mesh_agg_flag_names(ctx->allowed)),
				   "Use one of the allowed aggregates.");
		if (agg->aggfilter != NULL || agg->aggorder != NIL || agg->aggdirectargs != NIL)
			refuse(e->product, agg_policy(e),
				   psprintf("aggregate %s with FILTER or ORDER BY is not allowed over data product \"%s\"",
							format_procedure(agg->aggfnoid), e->product),
				   "A FILTER clause could single rows out of a large group.",
				   "Filter in WHERE, or group by the condition.");
		foreach(lc, agg->args)
		{
			Node	   *arg = (Node *) ((TargetEntry *) lfirst(lc))->expr;

			while (arg && IsA(arg, RelabelType))
				arg = (Node *) ((RelabelType *) arg)->arg;
			if (arg == NULL || IsA(arg, Const) ||
				(IsA(arg, Var) && ((Var *) arg)->varlevelsup == 0 && ((Var *) arg)->varattno > 0))
				continue;
			refuse(e->product, agg_policy(e),
				   psprintf("aggregate %s over an expression is not allowed over data product \"%s\"",
							format_procedure(agg->aggfnoid), e->product),
				   "Aggregates of an aggregate-only product take plain columns: an expression such as CASE could single rows out of a large group.",
				   "Aggregate the column itself, and filter or group by the condition.");
		}
		return false;
	}
	if (IsA(node, Query))
		return false;
	return expression_tree_walker(node, check_aggrefs_walker, ctx);
}

/* Vars outside aggregates and outside grouped expressions. */
typedef struct UngroupedContext
{
	List	   *keys;			/* flattened grouping expressions */
} UngroupedContext;

static bool
ungrouped_walker(Node *node, UngroupedContext *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, Aggref) || IsA(node, GroupingFunc))
		return false;
	if (list_member(ctx->keys, node))
		return false;
	if (IsA(node, Var))
		return ((Var *) node)->varlevelsup == 0;
	return expression_tree_walker(node, ungrouped_walker, ctx);
}

static List *
grouping_keys(Query *q)
{
	List	   *keys = NIL;
	ListCell   *lc;

	foreach(lc, q->groupClause)
	{
		TargetEntry *tle = get_sortgroupclause_tle(lfirst(lc), q->targetList);

		keys = lappend(keys, flattened(q, (Node *) tle->expr));
	}
	return keys;
}

static void
check_aggregation(Query *q, List *entries)
{
	MeshAggEntry *e = linitial(entries);
	UseContext	use = {entries, 0, false, NULL, 0};
	AggCheck	actx = {entries, allowed_aggregates(entries), 0};
	UngroupedContext uctx;
	ListCell   *lc;

	if (q->commandType != CMD_SELECT)
		refuse_rows(e, "The statement writes rows read from it.");
	if (!q->hasAggs && q->groupClause == NIL && q->groupingSets == NIL)
		refuse_rows(e, "The query returns its rows, not aggregates of them.");
	if (q->hasWindowFuncs)
		refuse_rows(e, "Window functions compute over its rows, not over groups.");
	if (q->hasTargetSRFs)
		refuse_rows(e, "A set-returning function in the select list multiplies the groups.");
	if (q->rowMarks != NIL)
		refuse_rows(e, "FOR UPDATE and FOR SHARE lock its rows.");
	if (list_length(q->groupClause) > 31)
		refuse_rows(e, "More than 31 grouping columns.");
	foreach(lc, q->targetList)
		if (checkExprHasSubLink((Node *) ((TargetEntry *) lfirst(lc))->expr))
			refuse_rows(e, "A subquery in the select list could return its rows or single out a group.");
	if (checkExprHasSubLink(q->havingQual))
		refuse_rows(e, "A subquery in HAVING could single out a group.");
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		Node	   *item = NULL;

		if (rte->rtekind == RTE_SUBQUERY)
			item = (Node *) rte->subquery;
		else if (rte->rtekind == RTE_FUNCTION)
			item = (Node *) rte->functions;
		else if (rte->rtekind == RTE_VALUES)
			item = (Node *) rte->values_lists;
		else if (rte->rtekind == RTE_TABLEFUNC)
			item = (Node *) rte->tablefunc;
		if (item != NULL && uses(flattened(q, item), &use))
			refuse_rows(use.entry, "A LATERAL item of the FROM list reads its rows.");
	}

	/* aggregates: the allowed ones over plain columns */
	(void) check_aggrefs_walker(flattened(q, (Node *) q->targetList), &actx);
	(void) check_aggrefs_walker(flattened(q, q->havingQual), &actx);

	/* outside aggregates, only grouped expressions */
	uctx.keys = grouping_keys(q);
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (tle->ressortgroupref != 0 && list_member(uctx.keys, flattened(q, (Node *) tle->expr)))
			continue;
		if (ungrouped_walker(flattened(q, (Node *) tle->expr), &uctx))
			refuse_rows(e, "The select list has a column that is neither grouped nor aggregated.");
	}
	check_functions(q, entries, false);
}

/*
 * Step 1 (planner.c): the checks, on the query as written.  Entries with
 * projected columns get the projection checks; entries with rules the
 * aggregate-only ones.  Any constrained entry: errors withheld.
 */
void
mesh_constraints_check(Query *q, List *entries, MeshAggPlanNotes *notes)
{
	List	   *projected = NIL;
	List	   *aggregated = NIL;

	foreach_ptr(MeshAggEntry, e, entries)
	{
		if (e->projected != NULL)
			projected = lappend(projected, e);
		if (e->rules != NIL)
			aggregated = lappend(aggregated, e);
	}
	if (projected != NIL)
		check_projection(q, projected);
	if (aggregated != NIL)
	{
		check_aggregation(q, aggregated);
		notes->filtered = true;
	}
	if (entries != NIL)
		notes->contain = true;
}

/* ------------------------------------------------------------------------
 * The fold
 * ------------------------------------------------------------------------
 */

static Oid
meshpg_func(const char *name, int nargs, Oid *argtypes)
{
	return LookupFuncName(list_make2(makeString("meshpg"), makeString(pstrdup(name))),
						  nargs, argtypes, false);
}

/* An aggregate call of fn over args (plain, no DISTINCT) */
static Aggref *
make_aggref(Oid fn, List *args, Oid inputcollid)
{
	Aggref	   *agg = makeNode(Aggref);
	ListCell   *lc;
	int			i = 1;

	agg->aggfnoid = fn;
	agg->aggtype = get_func_rettype(fn);
	agg->aggcollid = InvalidOid;
	agg->inputcollid = inputcollid;
	agg->aggtranstype = InvalidOid;
	agg->aggkind = AGGKIND_NORMAL;
	agg->agglevelsup = 0;
	agg->aggsplit = AGGSPLIT_SIMPLE;
	agg->aggno = -1;
	agg->aggtransno = -1;
	agg->location = -1;
	agg->aggstar = (args == NIL);
	foreach(lc, args)
	{
		Node	   *arg = lfirst(lc);

		agg->aggargtypes = lappend_oid(agg->aggargtypes, exprType(arg));
		agg->args = lappend(agg->args, makeTargetEntry((Expr *) arg, i++, NULL, false));
	}
	if (OidIsValid(agg->aggtype) && type_is_collatable(agg->aggtype))
		agg->aggcollid = inputcollid;
	return agg;
}

static Aggref *
make_pg_aggref(const char *name, Node *arg)
{
	Oid			type = exprType(arg);
	Oid			fn = LookupFuncName(list_make2(makeString("pg_catalog"), makeString(pstrdup(name))),
									1, &type, true);

	if (!OidIsValid(fn) || get_func_prokind(fn) != PROKIND_AGGREGATE)
		return NULL;
	return make_aggref(fn, list_make1(arg), exprCollation(arg));
}

static Expr *
make_bool_op(Oid opno, Expr *l, Expr *r)
{
	OpExpr	   *op = (OpExpr *) make_opclause(opno, BOOLOID, false, l, r, InvalidOid, InvalidOid);

	set_opfuncid(op);
	return (Expr *) op;
}

/* pg_catalog's >= of type (never one the search path finds first) */
static Oid
pg_ge(Oid type)
{
	return LookupOperName(NULL, list_make2(makeString("pg_catalog"), makeString(">=")),
						  type, type, false, -1);
}

/* How one entry's groups are counted, and the minimum (per entity key). */
typedef struct Counter
{
	MeshAggEntry *entry;
	AttrNumber	key;			/* entity key, 0: none */
	int			min;
	bool		rows;			/* count(*): exact and summable */
	Node	   *arg;			/* what is counted (NULL: rows) */
	int			column;			/* its inner column */
} Counter;

static List *
make_counters(Query *q, List *entries)
{
	List	   *counters = NIL;
	bool		single = list_length(q->jointree->fromlist) == 1 &&
		IsA(linitial(q->jointree->fromlist), RangeTblRef);

	foreach_ptr(MeshAggEntry, e, entries)
	{
		foreach_ptr(MeshAggRule, r, e->rules)
		{
			Counter    *c = NULL;

			if (r->kind != POLICY_AGGREGATION)
				continue;
			foreach_ptr(Counter, have, counters)
				if (have->entry == e && have->key == r->entity_key)
				c = have;
			if (c == NULL)
			{
				RangeTblEntry *rte = rt_fetch(e->rti, q->rtable);

				c = palloc0(sizeof(Counter));
				c->entry = e;
				c->key = r->entity_key;
				if (r->entity_key > 0)
				{
					Oid			type;
					int32		typmod;
					Oid			coll;

					get_atttypetypmodcoll(e->relid, r->entity_key, &type, &typmod, &coll);
					/* a view product's columns are its subquery's outputs */
					c->arg = (Node *) makeVar(e->rti, r->entity_key, type, typmod, coll, 0);
				}
				else if (single && ((RangeTblRef *) linitial(q->jointree->fromlist))->rtindex == e->rti)
					c->rows = true;
				else if (rte->rtekind == RTE_RELATION)
				{
					/* a row joined to many counts once: its physical address */
					Var		   *ctid = makeVar(e->rti, SelfItemPointerAttributeNumber, TIDOID, -1,
											   InvalidOid, 0);

					if (rte->relkind == RELKIND_PARTITIONED_TABLE || has_subclass(e->relid))
					{
						RowExpr    *row = makeNode(RowExpr);

						row->args = list_make2(makeVar(e->rti, TableOidAttributeNumber, OIDOID, -1,
													   InvalidOid, 0), ctid);
						row->row_typeid = RECORDOID;
						row->row_format = COERCE_IMPLICIT_CAST;
						row->colnames = list_make2(makeString("t"), makeString("c"));
						row->location = -1;
						c->arg = (Node *) row;
					}
					else
						c->arg = (Node *) ctid;
				}
				else
					refuse_rows(e, "Its rows cannot be told apart once joined: the policy names no entity key.");
				counters = lappend(counters, c);
			}
			c->min = Max(c->min, r->min_group_size);
		}
	}
	return counters;
}

/* The original select list's pieces, as the outer query sees them. */
typedef struct FoldContext
{
	List	   *keys;			/* grouping expressions (original) */
	List	   *key_columns;	/* their inner column numbers */
	List	   *aggs;			/* Aggrefs found (original) */
	List	   *agg_columns;
	List	   *avg_sums;		/* per aggregate: the inner column of its sum (avg), or 0 */
	List	   *avg_counts;		/* and of its count */
	List	   *inner_tlist;	/* being built */
	List	   *colnames;
	bool		remainder;		/* merge small groups (else: suppress them) */
	Expr	   *small;			/* per inner row: its group is too small */
	List	   *key_types;
} FoldContext;

static int
add_inner(FoldContext *ctx, Expr *expr, const char *name, Index sortgroupref)
{
	int			resno = list_length(ctx->inner_tlist) + 1;
	TargetEntry *tle = makeTargetEntry(expr, resno, pstrdup(name), false);

	tle->ressortgroupref = sortgroupref;
	ctx->inner_tlist = lappend(ctx->inner_tlist, tle);
	ctx->colnames = lappend(ctx->colnames, makeString(pstrdup(name)));
	return resno;
}

static Var *
inner_var(FoldContext *ctx, int column)
{
	TargetEntry *tle = list_nth(ctx->inner_tlist, column - 1);
	Node	   *expr = (Node *) tle->expr;

	return makeVar(1, column, exprType(expr), exprTypmod(expr), exprCollation(expr), 0);
}

/* The outer expression of a grouping key: NULL in the remainder group. */
static Expr *
folded_key(FoldContext *ctx, int column)
{
	Var		   *var = inner_var(ctx, column);
	CaseExpr   *c;
	CaseWhen   *w;

	if (!ctx->remainder)
		return (Expr *) var;
	c = makeNode(CaseExpr);
	w = makeNode(CaseWhen);
	w->expr = copyObject(ctx->small);
	w->result = (Expr *) makeNullConst(var->vartype, var->vartypmod, var->varcollid);
	w->location = -1;
	c->casetype = var->vartype;
	c->casecollid = var->varcollid;
	c->args = list_make1(w);
	c->defresult = (Expr *) var;
	c->location = -1;
	return (Expr *) c;
}

/* The outer expression of an aggregate: its groups' values merged. */
/* expr as type (an explicit cast), if it is not already */
static Expr *
as_type(Expr *expr, Oid type)
{
	if (exprType((Node *) expr) == type)
		return expr;
	return (Expr *) coerce_to_target_type(NULL, (Node *) expr, exprType((Node *) expr), type,
										  -1, COERCION_EXPLICIT, COERCE_IMPLICIT_CAST, -1);
}

static Expr *
merged_agg(FoldContext *ctx, Aggref *orig, int index)
{
	Var		   *var = inner_var(ctx, list_nth_int(ctx->agg_columns, index));
	uint32		flag = aggref_flag(orig);
	Aggref	   *agg;

	if (!ctx->remainder)
		return (Expr *) var;
	if (flag == MESH_AGG_AVG)
	{
		Oid			type = orig->aggtype;
		Expr	   *num = as_type((Expr *) make_pg_aggref("sum", (Node *) inner_var(ctx, list_nth_int(ctx->avg_sums, index))), type);
		Expr	   *den = as_type((Expr *) make_pg_aggref("sum", (Node *) inner_var(ctx, list_nth_int(ctx->avg_counts, index))), type);
		Oid			eq = LookupOperName(NULL, list_make2(makeString("pg_catalog"), makeString("=")),
										type, type, false, -1);
		Oid			div = LookupOperName(NULL, list_make2(makeString("pg_catalog"), makeString("/")),
										 type, type, false, -1);
		NullIfExpr *nz = makeNode(NullIfExpr);
		OpExpr	   *q;

		nz->opno = eq;
		nz->opresulttype = type;
		nz->args = list_make2(den, type == NUMERICOID ?
							  makeConst(NUMERICOID, -1, InvalidOid, -1,
										DirectFunctionCall1(int4_numeric, Int32GetDatum(0)), false, false) :
							  makeConst(FLOAT8OID, -1, InvalidOid, 8, Float8GetDatum(0), false, FLOAT8PASSBYVAL));
		nz->location = -1;
		set_opfuncid((OpExpr *) nz);
		q = (OpExpr *) make_opclause(div, type, false, num, (Expr *) nz, InvalidOid, InvalidOid);
		set_opfuncid(q);
		return (Expr *) q;
	}
	if (flag == MESH_AGG_COUNT || flag == MESH_AGG_SUM)
		agg = make_pg_aggref("sum", (Node *) var);
	else if (flag == MESH_AGG_MIN)
		agg = make_pg_aggref("min", (Node *) var);
	else
		agg = make_pg_aggref("max", (Node *) var);
	if (agg == NULL)
		elog(ERROR, "meshpg: cannot merge aggregate %s", format_procedure(orig->aggfnoid));
	if (agg->aggtype != orig->aggtype)
		return (Expr *) coerce_to_target_type(NULL, (Node *) agg, agg->aggtype, orig->aggtype,
											  -1, COERCION_EXPLICIT, COERCE_IMPLICIT_CAST, -1);
	return (Expr *) agg;
}

static Node *
outer_mutator(Node *node, FoldContext *ctx)
{
	ListCell   *lc;

	if (node == NULL)
		return NULL;
	foreach(lc, ctx->keys)
		if (equal(node, lfirst(lc)))
			return (Node *) folded_key(ctx, list_nth_int(ctx->key_columns,
														 foreach_current_index(lc)));
	if (IsA(node, Aggref) && ((Aggref *) node)->agglevelsup == 0)
	{
		foreach(lc, ctx->aggs)
			if (equal(node, lfirst(lc)))
				return (Node *) merged_agg(ctx, (Aggref *) node, foreach_current_index(lc));
		elog(ERROR, "meshpg: aggregate not found in the fold");
	}
	if (IsA(node, GroupingFunc) && ((GroupingFunc *) node)->agglevelsup == 0)
	{
		foreach(lc, ctx->aggs)
			if (equal(node, lfirst(lc)))
				return (Node *) inner_var(ctx, list_nth_int(ctx->agg_columns,
															foreach_current_index(lc)));
		elog(ERROR, "meshpg: grouping function not found in the fold");
	}
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
		elog(ERROR, "meshpg: ungrouped column in an aggregate-only query");
	return expression_tree_mutator(node, outer_mutator, ctx);
}

static bool
collect_aggs_walker(Node *node, FoldContext *ctx)
{
	if (node == NULL)
		return false;
	if ((IsA(node, Aggref) && ((Aggref *) node)->agglevelsup == 0) ||
		(IsA(node, GroupingFunc) && ((GroupingFunc *) node)->agglevelsup == 0))
	{
		if (!list_member(ctx->aggs, node))
			ctx->aggs = lappend(ctx->aggs, node);
		return false;
	}
	if (IsA(node, Query))
		return false;
	return expression_tree_walker(node, collect_aggs_walker, ctx);
}

static SortGroupClause *
make_sgc(Oid type, Index ref)
{
	SortGroupClause *sgc = makeNode(SortGroupClause);
	Oid			lt;
	Oid			eq;
	bool		hashable;

	get_sort_group_operators(type, false, true, false, &lt, &eq, NULL, &hashable);
	sgc->tleSortGroupRef = ref;
	sgc->eqop = eq;
	sgc->sortop = lt;
	sgc->nulls_first = false;
	sgc->hashable = hashable;
	return sgc;
}

void
mesh_aggregate_fold(Query *q, List *entries)
{
	FoldContext ctx = {0};
	List	   *counters = make_counters(q, entries);
	Query	   *inner;
	RangeTblEntry *rte;
	RangeTblRef *rtr;
	List	   *outer_tlist = NIL;
	List	   *group = NIL;
	Index		maxref = 0;
	ListCell   *lc;
	Expr	   *small = NULL;
	Expr	   *enough = NULL;
	Oid			int4 = INT4OID;
	Oid			entity_count = InvalidOid;
	int			gid_column = 0;
	List	   *keys_orig = NIL;

	if (counters == NIL)
		return;

	/* the pieces of the select list: grouping keys, then aggregates */
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		maxref = Max(maxref, tle->ressortgroupref);
		(void) collect_aggs_walker((Node *) tle->expr, &ctx);
	}
	ctx.remainder = true;
	foreach(lc, ctx.aggs)
	{
		Node	   *n = lfirst(lc);
		uint32		flag = IsA(n, Aggref) ? aggref_flag((Aggref *) n) : 0;

		if (flag == MESH_AGG_AVG)
		{
			/* merged as sum(sums) / sum(counts): numeric and float8 averages */
			Aggref	   *avg = (Aggref *) n;
			Node	   *arg = (Node *) ((TargetEntry *) linitial(avg->args))->expr;

			if ((avg->aggtype != NUMERICOID && avg->aggtype != FLOAT8OID) ||
				make_pg_aggref("sum", arg) == NULL)
				ctx.remainder = false;
		}
		else if (flag != MESH_AGG_COUNT && flag != MESH_AGG_SUM && flag != MESH_AGG_MIN &&
				 flag != MESH_AGG_MAX)
			ctx.remainder = false;
		else if (make_pg_aggref(flag == MESH_AGG_MIN ? "min" : flag == MESH_AGG_MAX ? "max" : "sum",
								(Node *) makeNullConst(((Aggref *) n)->aggtype, -1, InvalidOid)) == NULL)
			ctx.remainder = false;
	}

	foreach(lc, q->groupClause)
	{
		SortGroupClause *sgc = lfirst(lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, q->targetList);
		int			column = add_inner(&ctx, copyObject(tle->expr),
									   tle->resname ? tle->resname : "key", sgc->tleSortGroupRef);

		ctx.keys = lappend(ctx.keys, tle->expr);
		ctx.key_columns = lappend_int(ctx.key_columns, column);
		keys_orig = lappend(keys_orig, tle);
	}
	ctx.agg_columns = NIL;
	foreach(lc, ctx.aggs)
	{
		Node	   *n = lfirst(lc);
		int			sum_column = 0;
		int			count_column = 0;

		ctx.agg_columns = lappend_int(ctx.agg_columns,
									  add_inner(&ctx, (Expr *) copyObject(n), "agg", 0));
		if (ctx.remainder && IsA(n, Aggref) && aggref_flag((Aggref *) n) == MESH_AGG_AVG)
		{
			Node	   *arg = (Node *) ((TargetEntry *) linitial(((Aggref *) n)->args))->expr;

			sum_column = add_inner(&ctx, (Expr *) make_pg_aggref("sum", copyObject(arg)), "sum", 0);
			count_column = add_inner(&ctx, (Expr *) make_aggref(F_COUNT_ANY, list_make1(copyObject(arg)),
																exprCollation(arg)),
									 "count", 0);
		}
		ctx.avg_sums = lappend_int(ctx.avg_sums, sum_column);
		ctx.avg_counts = lappend_int(ctx.avg_counts, count_column);
	}
	if (q->groupingSets != NIL)
	{
		GroupingFunc *gf = makeNode(GroupingFunc);

		foreach(lc, keys_orig)
		{
			TargetEntry *tle = lfirst(lc);

			gf->args = lappend(gf->args, copyObject(tle->expr));
			gf->refs = lappend_int(gf->refs, tle->ressortgroupref);
		}
		gf->agglevelsup = 0;
		gf->location = -1;
		gid_column = add_inner(&ctx, (Expr *) gf, "gid", 0);
	}

	/* per counter: its inner column, and the test of a small group */
	foreach_ptr(Counter, c, counters)
	{
		Expr	   *test;
		Expr	   *merged;

		if (c->rows)
		{
			Aggref	   *count = make_aggref(F_COUNT_, NIL, InvalidOid);
			Var		   *v;

			c->column = add_inner(&ctx, (Expr *) count, "n", 0);
			v = inner_var(&ctx, c->column);
			test = make_bool_op(Int8LessOperator, (Expr *) v,
						   (Expr *) makeConst(INT8OID, -1, InvalidOid, 8, Int64GetDatum(c->min), false, true));
			merged = (Expr *) make_pg_aggref("sum", (Node *) v);
			merged = make_bool_op(pg_ge(NUMERICOID),
							 merged,
							 (Expr *) makeConst(NUMERICOID, -1, InvalidOid, -1,
												DirectFunctionCall1(int4_numeric, Int32GetDatum(c->min)),
												false, false));
		}
		else
		{
			Oid			argtypes[2] = {ANYELEMENTOID, INT4OID};
			Oid			bytea_args[2] = {BYTEAOID, INT4OID};
			Oid			count_arg = BYTEAOID;
			Node	   *cap = (Node *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(c->min), false, true);
			Aggref	   *set;
			Var		   *v;
			TypeCacheEntry *tce = lookup_type_cache(exprType(c->arg), TYPECACHE_HASH_EXTENDED_PROC);

			if (exprType(c->arg) != RECORDOID && !OidIsValid(tce->hash_extended_proc))
				refuse_rows(c->entry, psprintf("Its entity key has type %s, which cannot be hashed to count entities.",
											   format_type_be(exprType(c->arg))));
			set = make_aggref(meshpg_func("_entities", 2, argtypes),
							  list_make2(copyObject(c->arg), cap), exprCollation(c->arg));
			set->aggargtypes = list_make2_oid(exprType(c->arg), INT4OID);
			set->aggtype = BYTEAOID;
			c->column = add_inner(&ctx, (Expr *) set, "entities", 0);
			v = inner_var(&ctx, c->column);
			if (!OidIsValid(entity_count))
				entity_count = meshpg_func("_entity_count", 1, &count_arg);
			test = make_bool_op(Int4LessOperator,
						   (Expr *) makeFuncExpr(entity_count, INT4OID, list_make1(v), InvalidOid,
												 InvalidOid, COERCE_EXPLICIT_CALL),
						   (Expr *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(c->min), false, true));
			set = make_aggref(meshpg_func("_entities", 2, bytea_args),
							  list_make2(copyObject(v), copyObject(cap)), InvalidOid);
			merged = make_bool_op(pg_ge(INT4OID),
							 (Expr *) makeFuncExpr(entity_count, INT4OID, list_make1(set), InvalidOid,
												   InvalidOid, COERCE_EXPLICIT_CALL),
							 (Expr *) makeConst(INT4OID, -1, InvalidOid, 4, Int32GetDatum(c->min), false, true));
		}
		small = small ? make_orclause(list_make2(small, test)) : test;
		enough = enough ? make_andclause(list_make2(enough, merged)) : merged;
	}
	ctx.small = small;
	(void) int4;

	/* the outer select list: the original, over the inner query's columns */
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = copyObject((TargetEntry *) lfirst(lc));

		tle->expr = (Expr *) outer_mutator((Node *) tle->expr, &ctx);
		outer_tlist = lappend(outer_tlist, tle);
	}

	/* the inner query: q as it was, without what the outer one does */
	inner = copyObject(q);
	inner->targetList = ctx.inner_tlist;
	inner->sortClause = NIL;
	inner->distinctClause = NIL;
	inner->hasDistinctOn = false;
	inner->limitCount = NULL;
	inner->limitOffset = NULL;
	inner->limitOption = LIMIT_OPTION_DEFAULT;
	inner->canSetTag = true;
	inner->hasAggs = true;
	/* references to queries above q are one level further from it now */
	IncrementVarSublevelsUp((Node *) inner, 1, 1);

	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_SUBQUERY;
	rte->subquery = inner;
	rte->security_barrier = true;
	rte->alias = NULL;
	rte->eref = makeAlias("meshpg_groups", ctx.colnames);
	rte->inFromCl = true;
	rtr = makeNode(RangeTblRef);
	rtr->rtindex = 1;

	/* q becomes the outer query (its parent points to it) */
	q->rtable = list_make1(rte);
	q->cteList = NIL;
	q->hasRecursive = false;
	q->hasModifyingCTE = false;
	q->hasSubLinks = false;
	q->hasWindowFuncs = false;
	q->hasTargetSRFs = false;
	q->hasForUpdate = false;
	q->rowMarks = NIL;
	q->windowClause = NIL;
	q->groupingSets = NIL;
	q->groupDistinct = false;
	q->constraintDeps = NIL;
	q->targetList = outer_tlist;
	if (!ctx.remainder)
	{
		/* small groups suppressed: no outer grouping */
		q->jointree = makeFromExpr(list_make1(rtr),
								   (Node *) make_notclause(copyObject(small)));
		q->groupClause = NIL;
		q->havingQual = NULL;
		q->hasAggs = false;
		return;
	}

	/* small groups merged: grouped by their keys, small or not, gid */
	q->jointree = makeFromExpr(list_make1(rtr), NULL);
	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst(lc);

		if (tle->ressortgroupref == 0)
			continue;
		foreach_ptr(TargetEntry, k, keys_orig)
			if (k->ressortgroupref == tle->ressortgroupref)
			{
				group = lappend(group, make_sgc(exprType((Node *) tle->expr), tle->ressortgroupref));
				break;
			}
	}
	{
		TargetEntry *flag = makeTargetEntry(copyObject(small), list_length(q->targetList) + 1,
											pstrdup("meshpg_small"), true);

		flag->ressortgroupref = ++maxref;
		q->targetList = lappend(q->targetList, flag);
		group = lappend(group, make_sgc(BOOLOID, flag->ressortgroupref));
	}
	if (gid_column > 0)
	{
		TargetEntry *gid = makeTargetEntry((Expr *) inner_var(&ctx, gid_column),
										   list_length(q->targetList) + 1, pstrdup("meshpg_gid"), true);

		gid->ressortgroupref = ++maxref;
		q->targetList = lappend(q->targetList, gid);
		group = lappend(group, make_sgc(INT4OID, gid->ressortgroupref));
	}
	q->groupClause = group;
	q->havingQual = (Node *) make_orclause(list_make2(make_notclause(copyObject(small)), enough));
	q->hasAggs = true;
}

/*
 * Step 3 (planner.c): on the governed query.  The privacy rewrite first
 * (engineer dp: privacy.c), then the fold unless it took care of it.
 */
void
mesh_constraints_rewrite(Query *q, List *entries, MeshAggPlanNotes *notes)
{
	List	   *aggregated = NIL;

	foreach_ptr(MeshAggEntry, e, entries)
		if (e->rules != NIL)
		aggregated = lappend(aggregated, e);
	if (aggregated == NIL)
		return;
	if (mesh_agg_entries_have(aggregated, POLICY_PRIVACY) &&
		mesh_privacy_rewrite(q, aggregated, notes))
		return;
	if (mesh_agg_entries_have(aggregated, POLICY_AGGREGATION))
		mesh_aggregate_fold(q, aggregated);
}

/* ------------------------------------------------------------------------
 * Entity sets: meshpg._entities(value, cap) and meshpg._entity_count(set)
 *
 * How many distinct entities a group covers, up to cap (the minimum group
 * size): the 64-bit hashes of their keys (the type's extended hash, so
 * equal values hash alike), kept until cap of them are seen, after which
 * the set is only "saturated".  A collision makes two entities one: the
 * count can only err low, toward suppressing a group.  The set of a small
 * group is exact, so the sets of small groups merge into their union
 * (_entities(bytea, cap)) for the remainder group.  Combine and
 * serialisation let the aggregate run in parallel, as count(*) does.
 * ------------------------------------------------------------------------
 */

/* the largest min_group_size a policy may have (registry/policy.c) */
#define ENTITY_SET_MAX_CAP 1000000

typedef struct EntitySet
{
	int32		cap;
	int32		n;
	bool		saturated;
	int32		size;			/* slots, a power of two */
	uint64	   *slots;			/* 0: empty */
} EntitySet;

typedef struct EntityHash
{
	Oid			type;
	FmgrInfo	finfo;
} EntityHash;

static EntitySet *
set_new(MemoryContext cxt, int32 cap)
{
	EntitySet  *s;

	/*
	 * The cap comes from the call, and the aggregate is callable by anyone
	 * (the rewrite runs it as the reader).  Bound it like min_group_size
	 * (registry/policy.c): a cap whose doubling overflows left the table at
	 * 8 slots, and set_add then probed a full table forever, a loop that no
	 * statement_timeout or cancel could stop.
	 */
	if (cap < 1 || cap > ENTITY_SET_MAX_CAP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("entity set cap must be between 1 and %d, not %d",
						ENTITY_SET_MAX_CAP, cap),
				 errhint("meshpg._entities() is internal to the rewrite of aggregate-only queries; use count(DISTINCT ...) instead.")));
	s = MemoryContextAllocZero(cxt, sizeof(EntitySet));
	s->cap = cap;
	s->size = 8;
	while (s->size < cap * 2)
		s->size *= 2;
	s->slots = MemoryContextAllocZero(cxt, sizeof(uint64) * s->size);
	return s;
}

static void
set_add(EntitySet *s, uint64 h)
{
	uint32		i;

	if (s->saturated)
		return;
	/* size >= 2 * cap and n < cap here: a free slot always exists */
	Assert(s->n < s->size / 2);
	if (h == 0)
		h = 1;
	for (i = (uint32) h & (s->size - 1);; i = (i + 1) & (s->size - 1))
	{
		if (s->slots[i] == h)
			return;
		if (s->slots[i] == 0)
		{
			s->slots[i] = h;
			if (++s->n >= s->cap)
				s->saturated = true;
			return;
		}
	}
}

static MemoryContext
agg_context(FunctionCallInfo fcinfo)
{
	MemoryContext cxt;

	if (!AggCheckCallContext(fcinfo, &cxt))
		elog(ERROR, "meshpg: entity set function called outside an aggregate");
	return cxt;
}

/* serialised: cap, n, saturated, then the n hashes */
static bytea *
set_serialize(EntitySet *s)
{
	int			n = s ? (s->saturated ? 0 : s->n) : 0;
	bytea	   *out = palloc(VARHDRSZ + 12 + sizeof(uint64) * n);
	char	   *p = VARDATA(out);
	int32		head[3] = {s ? s->cap : 0, s ? s->n : 0, s ? s->saturated : 0};
	int			k = 0;

	SET_VARSIZE(out, VARHDRSZ + 12 + sizeof(uint64) * n);
	memcpy(p, head, 12);
	if (n > 0)
		for (int i = 0; i < s->size; i++)
			if (s->slots[i] != 0)
				memcpy(p + 12 + sizeof(uint64) * k++, &s->slots[i], sizeof(uint64));
	return out;
}

static void
set_merge_bytes(EntitySet *s, bytea *in)
{
	int32		head[3];
	char	   *p = VARDATA_ANY(in);
	int			len = VARSIZE_ANY_EXHDR(in);
	int			n;

	if (len < 12)
		elog(ERROR, "meshpg: invalid entity set");
	memcpy(head, p, 12);
	if (head[2])
	{
		s->saturated = true;
		s->n = Max(s->n, s->cap);
		return;
	}
	n = (len - 12) / (int) sizeof(uint64);
	for (int i = 0; i < n; i++)
	{
		uint64		h;

		memcpy(&h, p + 12 + sizeof(uint64) * i, sizeof(uint64));
		set_add(s, h);
	}
}

/* _entities(anyelement, integer): the transition */
Datum
meshpg_entities_step(PG_FUNCTION_ARGS)
{
	EntitySet  *s = PG_ARGISNULL(0) ? NULL : (EntitySet *) PG_GETARG_POINTER(0);
	EntityHash *hash;

	/* the hot path: most rows come after their group has enough */
	if (s != NULL && (s->saturated || PG_ARGISNULL(1)))
		PG_RETURN_POINTER(s);
	if (s == NULL)
		s = set_new(agg_context(fcinfo), PG_ARGISNULL(2) ? 1 : PG_GETARG_INT32(2));
	if (s->saturated || PG_ARGISNULL(1))
		PG_RETURN_POINTER(s);
	hash = fcinfo->flinfo->fn_extra;
	if (hash == NULL)
	{
		Oid			type = get_fn_expr_argtype(fcinfo->flinfo, 1);
		TypeCacheEntry *tce = lookup_type_cache(type, TYPECACHE_HASH_EXTENDED_PROC);
		Oid			proc = type == RECORDOID ? F_HASH_RECORD_EXTENDED : tce->hash_extended_proc;

		if (!OidIsValid(proc))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("entity keys of type %s cannot be counted", format_type_be(type))));
		hash = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(EntityHash));
		hash->type = type;
		fmgr_info_cxt(proc, &hash->finfo, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = hash;
	}
	set_add(s, DatumGetUInt64(FunctionCall2Coll(&hash->finfo, PG_GET_COLLATION(),
												PG_GETARG_DATUM(1), Int64GetDatum(0))));
	PG_RETURN_POINTER(s);
}

/* _entities(bytea, integer): the union of sets */
Datum
meshpg_entities_merge_step(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = agg_context(fcinfo);
	EntitySet  *s = PG_ARGISNULL(0) ? NULL : (EntitySet *) PG_GETARG_POINTER(0);

	if (s == NULL)
		s = set_new(cxt, PG_ARGISNULL(2) ? 1 : PG_GETARG_INT32(2));
	if (!PG_ARGISNULL(1))
		set_merge_bytes(s, PG_GETARG_BYTEA_PP(1));
	PG_RETURN_POINTER(s);
}

Datum
meshpg_entities_combine(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = agg_context(fcinfo);
	EntitySet  *a = PG_ARGISNULL(0) ? NULL : (EntitySet *) PG_GETARG_POINTER(0);
	EntitySet  *b = PG_ARGISNULL(1) ? NULL : (EntitySet *) PG_GETARG_POINTER(1);

	if (b == NULL)
		PG_RETURN_POINTER(a);
	if (a == NULL)
		a = set_new(cxt, b->cap);
	if (b->saturated)
	{
		a->saturated = true;
		a->n = Max(a->n, a->cap);
	}
	else
		for (int i = 0; i < b->size; i++)
			if (b->slots[i] != 0)
				set_add(a, b->slots[i]);
	PG_RETURN_POINTER(a);
}

Datum
meshpg_entities_final(PG_FUNCTION_ARGS)
{
	EntitySet  *s = PG_ARGISNULL(0) ? NULL : (EntitySet *) PG_GETARG_POINTER(0);

	PG_RETURN_BYTEA_P(set_serialize(s));
}

Datum
meshpg_entities_serialize(PG_FUNCTION_ARGS)
{
	PG_RETURN_BYTEA_P(set_serialize((EntitySet *) PG_GETARG_POINTER(0)));
}

Datum
meshpg_entities_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = agg_context(fcinfo);
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	int32		head[3];
	EntitySet  *s;

	if (VARSIZE_ANY_EXHDR(in) < 12)
		elog(ERROR, "meshpg: invalid entity set");
	memcpy(head, VARDATA_ANY(in), 12);
	s = set_new(cxt, head[0]);
	set_merge_bytes(s, in);
	PG_RETURN_POINTER(s);
}

/* _entity_count(bytea): the entities of a set, int4 max when saturated */
Datum
meshpg_entity_count(PG_FUNCTION_ARGS)
{
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	int32		head[3];

	if (VARSIZE_ANY_EXHDR(in) < 12)
		elog(ERROR, "meshpg: invalid entity set");
	memcpy(head, VARDATA_ANY(in), 12);
	PG_RETURN_INT32(head[2] ? PG_INT32_MAX : head[1]);
}
