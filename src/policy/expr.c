/*
 * expr.c
 *		Policy expressions: parsed as one SQL expression (never a query),
 *		analysed against the relation they govern, checked, and deparsed to
 *		the canonical text the catalog stores.
 *
 * The text is stored rather than a node tree, so that pg_dump and
 * pg_restore carry it (OIDs change; names do not), and it is analysed
 * again, per relation, when a backend loads the policy.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "meshpg/policy/policy.h"

typedef struct ValueRef
{
	AttrNumber	attno;
	Relation	rel;
	ParseState *top;			/* the expression's own level */
} ValueRef;

/*
 * Parses text ("SELECT <source>") and accepts only a single bare target: no
 * FROM, WHERE, set operation or second statement can be smuggled in.  what
 * names the expression in the error ("policy expression").
 */
Node *
mesh_parse_one_expression(const char *text, const char *what, const char *source)
{
	List	   *parsed;
	RawStmt    *raw;
	SelectStmt *sel;
	ResTarget  *target;

	parsed = raw_parser(text, RAW_PARSE_DEFAULT);
	if (list_length(parsed) != 1)
		goto bad;
	raw = linitial(parsed);
	if (!IsA(raw->stmt, SelectStmt))
		goto bad;
	sel = (SelectStmt *) raw->stmt;
	if (sel->op != SETOP_NONE || sel->fromClause || sel->whereClause ||
		sel->groupClause || sel->havingClause || sel->windowClause ||
		sel->valuesLists || sel->sortClause || sel->limitOffset ||
		sel->limitCount || sel->lockingClause || sel->withClause ||
		sel->distinctClause || sel->intoClause || list_length(sel->targetList) != 1)
		goto bad;
	target = linitial(sel->targetList);
	if (target->name != NULL || target->indirection != NIL ||
		(IsA(target->val, ColumnRef) && IsA(llast(((ColumnRef *) target->val)->fields), A_Star)))
		goto bad;
	return target->val;

bad:
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("%s must be a single SQL expression", what),
			 errdetail("Expression: %s", source)));
	pg_unreachable();
}

/* "value" names the policy's subject column. */
static Node *
value_columnref_hook(ParseState *pstate, ColumnRef *cref)
{
	ValueRef   *ref = pstate->p_ref_hook_state;
	Form_pg_attribute att;
	Index		levels = 0;

	if (list_length(cref->fields) != 1 || !IsA(linitial(cref->fields), String) ||
		strcmp(strVal(linitial(cref->fields)), "value") != 0)
		return NULL;
	/*
	 * Inside a subquery (a mapping table's EXISTS), value is an outer
	 * reference: a Var of the subquery's own level would name one of its
	 * tables' columns.
	 */
	for (ParseState *ps = pstate; ps != NULL && ps != ref->top; ps = ps->parentParseState)
		levels++;
	att = TupleDescAttr(RelationGetDescr(ref->rel), ref->attno - 1);
	return (Node *) makeVar(1, ref->attno, att->atttypid, att->atttypmod,
							att->attcollation, levels);
}

/*
 * Stored expressions name their relation by this alias, never by its name:
 * the same text then reads back on the product's relation after a rename,
 * and on each of its partitions and children.
 */
#define MESH_EXPR_ALIAS "meshpg_product"

Node *
mesh_analyze_expr(const char *source, Relation rel, AttrNumber value_attno,
				  bool is_row, Oid target_type, int32 target_typmod, bool stored)
{
	Node	   *raw = mesh_parse_one_expression(psprintf("SELECT %s", source),
												"policy expression", source);
	ParseState *pstate = make_parsestate(NULL);
	ParseNamespaceItem *nsitem;
	ValueRef	ref;
	Node	   *expr;
	int			save_nestlevel;

	/*
	 * Names in a policy resolve the same for everyone, whatever the search
	 * path of the session that happens to load it: otherwise a reader could
	 * plant an operator that a policy would pick up.
	 */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
										   stored ? makeAlias(MESH_EXPR_ALIAS, NIL) : NULL,
										   false, false);
	addNSItemToQuery(pstate, nsitem, false, true, true);
	if (value_attno > 0)
	{
		ref.attno = value_attno;
		ref.rel = rel;
		ref.top = pstate;
		pstate->p_pre_columnref_hook = value_columnref_hook;
		pstate->p_ref_hook_state = &ref;
	}

	/* POLICY expressions refuse aggregates, window functions and SRFs. */
	expr = transformExpr(pstate, raw, EXPR_KIND_POLICY);
	if (is_row)
		expr = coerce_to_boolean(pstate, expr, "POLICY");
	else
	{
		Node	   *coerced = coerce_to_target_type(pstate, expr, exprType(expr),
													target_type, target_typmod,
													COERCION_ASSIGNMENT,
													COERCE_IMPLICIT_CAST, -1);

		if (coerced == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("mask expression returns %s, but the column is %s",
							format_type_be(exprType(expr)),
							format_type_with_typemod(target_type, target_typmod))));
		expr = coerced;
	}
	assign_expr_collations(pstate, expr);
	free_parsestate(pstate);
	AtEOXact_GUC(true, save_nestlevel);
	return expr;
}

static bool
check_sources_walker(Node *node, void *context)
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

			if (rte->rtekind != RTE_RELATION)
				continue;
			if (rte->relkind == RELKIND_VIEW)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("policy expressions may read tables, not views"),
						 errdetail("\"%s\" is a view.", get_rel_name(rte->relid))));
			if (mesh_product_by_relid(rte->relid) != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("policy expressions may not read data product \"%s\"",
								get_rel_name(rte->relid)),
						 errdetail("A policy reading a governed product would itself be governed, recursively.")));
		}
		return query_tree_walker(q, check_sources_walker, context, 0);
	}
	return expression_tree_walker(node, check_sources_walker, context);
}

/* Subqueries in a policy may read mapping tables, never governed products. */
void
mesh_check_expr_sources(Node *expr)
{
	check_sources_walker(expr, NULL);
}

/* Deparsed under the same fixed search path, so it reads back the same. */
char *
mesh_deparse_expr(Node *expr, Relation rel)
{
	int			save_nestlevel = NewGUCNestLevel();
	char	   *result;

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	result = deparse_expression(expr,
								deparse_context_for(MESH_EXPR_ALIAS, RelationGetRelid(rel)),
								false, false);
	AtEOXact_GUC(true, save_nestlevel);
	return result;
}
