/*
 * planner.c
 *		The planner hook: every query that reads a data product is rewritten,
 *		after the rewriter and before planning, so that the reader sees only
 *		what the policies allow.
 *
 * For each range-table entry that is a governed relation (a product table,
 * or a partition or child of one) or the expansion of a governed view, the
 * compiler yields masks and row filters for the roles the query runs as:
 *  - every reference to a masked column, anywhere in the query (select
 *    list, WHERE, JOIN, GROUP BY, ORDER BY, RETURNING, sublinks, whole-row
 *    references), is replaced by its mask, so no user expression ever sees
 *    the raw value: a WHERE on a masked column filters on masked values;
 *  - row filters become security quals of the entry, which the planner
 *    runs before any user-supplied function that is not leakproof.
 * The plan is marked role-dependent, even for exempt readers.
 *
 * The planner sees every query the executor will run, with two gaps that
 * are closed elsewhere: SQL set-returning functions inlined during planning
 * (functions.c keeps those from being inlined, so their bodies are planned
 * here too), and COPY of a relation (converted to a query in reads.c).
 * What the rules hide, the planner's statistics must not show either
 * (stats.c).
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/planner.h"
#include "parser/parse_func.h"
#include "parser/parsetree.h"
#include "rewrite/rewriteManip.h"
#include "rewrite/rowsecurity.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "catalog/catalog.h"
#include "governance/governance.h"
#include "governance/policy.h"
#include "registry/registry.h"
#include "meshpg.h"

static planner_hook_type prev_planner_hook = NULL;


int			mesh_explain_analyze_depth = 0;

typedef struct GovernContext
{
	bool		governed;		/* the query touches a governed relation */
	bool		filtered;		/* and rows are filtered for this reader */
	List	   *marks;			/* reads let through on a grant: relid, user */
	Oid			hash;			/* meshpg.mask_hash */
	bool		calls_hash;		/* and the query calls it outside a policy */
	TimestampTz valid_until;	/* the earliest of the rules' */
	List	   *applied;		/* MESH_MARK_POLICY_* items */
	bool		contain;		/* a policy may raise errors with raw values */
} GovernContext;

typedef struct MaskArgs
{
	MeshRules  *rules;
	TupleDesc	desc;
	List	   *colnames;
} MaskArgs;

static void govern_query(Query *q, GovernContext *ctx);

/* Replaces one reference to the governed entry: masked, or as it was. */
static Node *
mask_var(Var *var, replace_rte_variables_context *context)
{
	MaskArgs   *args = context->callback_arg;
	MeshRules  *rules = args->rules;

	if (var->varattno > 0 && var->varattno <= rules->natts &&
		rules->masks[var->varattno - 1] != NULL)
	{
		Node	   *masked = copyObject((Node *) rules->masks[var->varattno - 1]);

		if (var->varlevelsup > 0)
			IncrementVarSublevelsUp(masked, var->varlevelsup, 0);
		return masked;
	}
	if (var->varattno == 0)
	{
		/* t.*, row_to_json(t), t::text: a row built from masked columns */
		RowExpr    *row = makeNode(RowExpr);

		for (int i = 0; i < args->desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(args->desc, i);
			Node	   *col;

			if (att->attisdropped)
				col = (Node *) makeNullConst(INT4OID, -1, InvalidOid);
			else if (i < rules->natts && rules->masks[i] != NULL)
			{
				col = copyObject((Node *) rules->masks[i]);
				if (var->varlevelsup > 0)
					IncrementVarSublevelsUp(col, var->varlevelsup, 0);
			}
			else
				col = (Node *) makeVar(var->varno, i + 1, att->atttypid, att->atttypmod,
									   att->attcollation, var->varlevelsup);
			row->args = lappend(row->args, col);
		}
		row->row_typeid = var->vartype;
		row->row_format = COERCE_IMPLICIT_CAST;
		row->colnames = var->vartype == RECORDOID ? copyObject(args->colnames) : NIL;
		row->location = -1;
		return (Node *) row;
	}
	return (Node *) copyObject(var);
}

/*
 * How many of the security quals of entry rti are its owner's row-security
 * policies.  The rewriter puts them first (fireRIRrules prepends them), and
 * anything after them came from a query the reader wrote: the quals of a
 * security_barrier view that UPDATE or DELETE goes through
 * (rewriteTargetView).  Asking the rewriter's own function again gives the
 * same list it added, so the count is exact.
 */
static int
owner_security_quals(Query *q, RangeTblEntry *rte, int rti)
{
	List	   *quals = NIL;
	List	   *wcos = NIL;
	bool		has_rls = false;
	bool		has_sublinks = false;

	/* only the target of an UPDATE or DELETE gets a view's quals */
	if (rte->rtekind != RTE_RELATION || rte->securityQuals == NIL ||
		rti != q->resultRelation)
		return list_length(rte->securityQuals);
	get_row_security_policies(q, rte, rti, &quals, &wcos, &has_rls, &has_sublinks);
	return Min(list_length(quals), list_length(rte->securityQuals));
}

/*
 * Replaces the references to entry rti throughout q and the queries nested
 * in it.  Security quals of the domain team (the product's row security)
 * are trusted and keep reading raw values, so they are set aside
 * meanwhile; those of other entries never reference rti.  The quals a
 * reader's security_barrier view put on rti are masked like any other
 * expression of the reader's: otherwise "UPDATE sb_view" would run the
 * view's leaky WHERE on raw values.  The mutator copies range-table
 * entries: callers refetch.
 */
static void
mask_references(Query *q, int rti, MeshRules *rules, TupleDesc desc, List *colnames)
{
	replace_rte_variables_context context;
	MaskArgs	args;
	List	   *saved = NIL;
	ListCell   *lc;
	int			i = 0;

	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (foreach_current_index(lc) + 1 == rti)
		{
			int			trusted = owner_security_quals(q, rte, rti);

			saved = lappend(saved, list_copy_head(rte->securityQuals, trusted));
			rte->securityQuals = list_copy_tail(rte->securityQuals, trusted);
			continue;
		}
		saved = lappend(saved, rte->securityQuals);
		rte->securityQuals = NIL;
	}

	args.rules = rules;
	args.desc = desc;
	args.colnames = colnames;
	context.callback = mask_var;
	context.callback_arg = &args;
	context.target_varno = rti;
	context.sublevels_up = 0;
	context.inserted_sublink = q->hasSubLinks;
	query_tree_mutator(q, replace_rte_variables_mutator, &context, QTW_DONT_COPY_QUERY);
	q->hasSubLinks |= context.inserted_sublink;

	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);

		if (i + 1 == rti)
			rte->securityQuals = list_concat(list_nth(saved, i), rte->securityQuals);
		else
			rte->securityQuals = list_nth(saved, i);
		i++;
	}
}

static PlanInvalItem *
mark(int cacheId, uint32 value)
{
	PlanInvalItem *item = makeNode(PlanInvalItem);

	item->cacheId = cacheId;
	item->hashValue = value;
	return item;
}

/*
 * A write through a view product (INSERT, UPDATE or DELETE granted on it by
 * hand) is rewritten onto the view's base table before meshpg sees it: the
 * view's policies would not apply to its WHERE or RETURNING.  Refused for
 * any reader the view's policies apply to; the domain team writes as
 * before.
 */
static void
refuse_view_write(RangeTblEntry *rte, int rti)
{
	const MeshProduct *product = mesh_product_by_relid(rte->relid);
	Relation	rel = relation_open(rte->relid, NoLock);
	MeshRules	rules;
	bool		governed;

	governed = mesh_compile_rules(product, rte->relid, rti,
								  RelationGetNumberOfAttributes(rel),
								  rte->checkAsUser, &rules);
	relation_close(rel, NoLock);
	if (governed)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot write through data product \"%s\": its policies apply to you",
						product->qualname),
				 errdetail("A write through a view is applied to its base table, where the view's masks and row filters cannot be enforced."),
				 errhint("Write to the base table, or have the domain team do it.")));
}

/* Applies the rules of a governed entry: masks, then row filters. */
static void
govern_entry(Query *q, int rti, Oid relid, Oid via, GovernContext *ctx)
{
	const MeshProduct *product = mesh_product_by_relid(relid);
	Relation	rel;
	MeshRules	rules;
	RangeTblEntry *rte;
	bool		any;

	if (product == NULL)
		return;
	ctx->governed = true;

	rel = relation_open(relid, NoLock);
	any = mesh_compile_rules(product, relid, rti, RelationGetNumberOfAttributes(rel),
							 via, &rules);
	ctx->valid_until = Min(ctx->valid_until, rules.valid_until);
	if (any)
	{
		bool		masked = false;

		ctx->applied = lappend(ctx->applied, mark(MESH_MARK_POLICY_REL, (uint32) relid));
		for (int i = 0; i < rules.npolicies; i++)
		{
			uint64		id = (uint64) rules.policies[i];

			ctx->applied = lappend(ctx->applied, mark(MESH_MARK_POLICY_LO, (uint32) id));
			ctx->applied = lappend(ctx->applied,
								   mark(MESH_MARK_POLICY_HI,
										(uint32) (((id >> 32) & 0xffff) << 16) |
										(uint16) rules.policy_attnos[i]));
		}

		for (int i = 0; i < rules.natts; i++)
			masked |= rules.masks[i] != NULL;

		/*
		 * A custom mask or a row policy written by a team may pass raw
		 * values to functions that are not leakproof: "value::int" fails
		 * with "invalid input syntax for type integer: <raw value>", and
		 * the reader would get the value in the error (or in SQLERRM).
		 * meshpg's own masks never report their input.  The executor
		 * withholds the text of errors raised in such a plan.  (Row
		 * filters: below, once it is known they apply.)
		 */
		for (int i = 0; i < rules.natts && !ctx->contain; i++)
			ctx->contain = rules.mask_kinds[i] == MASK_CUSTOM &&
				contain_leaked_vars((Node *) rules.masks[i]);

		/* what the reader may not see, the estimates must not see either */
		mesh_hide_stats(rt_fetch(rti, q->rtable), relid, &rules);

		if (masked)
			mask_references(q, rti, &rules, RelationGetDescr(rel),
							rt_fetch(rti, q->rtable)->eref->colnames);

		/*
		 * An INSERT's target is not read, so its rows are not filtered; but
		 * ON CONFLICT DO UPDATE would reach hidden rows.
		 */
		if (rules.quals != NIL && q->commandType == CMD_INSERT && rti == q->resultRelation)
		{
			if (q->onConflict && q->onConflict->action == ONCONFLICT_UPDATE)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("INSERT ... ON CONFLICT DO UPDATE is not allowed on data product \"%s\" whose rows are filtered for you",
								product->qualname),
						 errdetail("The conflicting row could be one the policies hide.")));
			rules.quals = NIL;
		}
		if (rules.quals != NIL)
		{
			Expr	   *filter = make_ands_explicit(rules.quals);

			ctx->contain |= contain_leaked_vars((Node *) filter);

			rte = rt_fetch(rti, q->rtable);
			rte->securityQuals = lcons(filter, rte->securityQuals);
			/* a governed view's expansion must not be flattened past its filter */
			if (rte->rtekind == RTE_SUBQUERY)
				rte->security_barrier = true;
			q->hasSubLinks |= checkExprHasSubLink((Node *) filter);
			ctx->filtered = true;
		}
	}
	relation_close(rel, NoLock);
}

/* The view a subquery entry was expanded from, if any (PG 15 layout). */
Oid
mesh_expanded_view(RangeTblEntry *rte)
{
	RangeTblEntry *old;

	if (rte->rtekind != RTE_SUBQUERY || rte->subquery == NULL ||
		rte->subquery->rtable == NIL)
		return InvalidOid;
	old = linitial(rte->subquery->rtable);
	if (old->rtekind == RTE_RELATION && old->relkind == RELKIND_VIEW)
		return old->relid;
	return InvalidOid;
}

/*
 * A view or materialized-view product carries no SQL privilege for its
 * consumers (access.c), so that without meshpg PostgreSQL refuses the read.
 * Here, with meshpg, the read goes through on the consumer's catalog grant:
 * the entry is checked as the relation's owner, and the plan records whose
 * grant it was, for the executor to check again at every execution.
 */
static void
access_by_grant(RangeTblEntry *permrte, Oid relid, GovernContext *ctx)
{
	const MeshProduct *product = mesh_product_by_relid(relid);
	Oid			user;
	HeapTuple	tup;

	if (product == NULL || product->inherited ||
		(product->relkind != RELKIND_VIEW && product->relkind != RELKIND_MATVIEW))
		return;
	/* only a plain read: anything else is for SQL privileges to decide */
	if (permrte->requiredPerms != ACL_SELECT)
		return;
	user = OidIsValid(permrte->checkAsUser) ? permrte->checkAsUser : GetUserId();
	if (pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK)
		return;
	(void) mesh_may_read(product, user, true);

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	permrte->checkAsUser = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	ctx->marks = lappend_oid(lappend_oid(ctx->marks, relid), user);
}

/* pg_stats reads pg_statistic: hide what a reader may not see. */
static void
govern_statistics(Query *q, int rti)
{
	RangeTblEntry *rte = rt_fetch(rti, q->rtable);
	Oid			argtypes[2] = {OIDOID, INT2OID};
	Oid			fn = LookupFuncName(list_make2(makeString("meshpg"),
											   makeString("_statistics_visible")),
									2, argtypes, false);
	FuncExpr   *visible = makeFuncExpr(fn, BOOLOID,
									   list_make2(makeVar(rti, Anum_pg_statistic_starelid,
														  OIDOID, -1, InvalidOid, 0),
												  makeVar(rti, Anum_pg_statistic_staattnum,
														  INT2OID, -1, InvalidOid, 0)),
									   InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);

	rte->securityQuals = lcons(visible, rte->securityQuals);
}

static bool
govern_walker(Node *node, GovernContext *ctx)
{
	if (node == NULL)
		return false;
	/* nested queries recurse without nodeFuncs.c checking */
	check_stack_depth();
	if (IsA(node, Query))
	{
		govern_query((Query *) node, ctx);
		return false;
	}

	/*
	 * The keyed hash is a pseudonym only as long as no one can hash values
	 * of their choosing: a call written in the query (directly, in a view,
	 * in an inlined SQL function) is refused here, before it can run.
	 * masks.c refuses the calls that reach it another way.
	 */
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid == ctx->hash &&
		((FuncExpr *) node)->funcformat != MESH_POLICY_CALL)
		ctx->calls_hash = true;
	return expression_tree_walker(node, govern_walker, ctx);
}

static void
govern_query(Query *q, GovernContext *ctx)
{
	List	   *entries = NIL;
	List	   *relids = NIL;
	List	   *vias = NIL;
	ListCell   *lc;
	ListCell   *rc;
	ListCell   *vc;
	int			rti = 0;

	/* First find the entries: governing one copies the range table. */
	foreach(lc, q->rtable)
	{
		RangeTblEntry *rte = lfirst(lc);
		Oid			relid = InvalidOid;
		Oid			via = InvalidOid;

		rti++;
		if (rte->rtekind == RTE_RELATION)
		{
			/*
			 * The role the read goes through, before access_by_grant puts the
			 * product's owner there: a view's or a rule's owner.
			 */
			via = rte->checkAsUser;
			if (rte->relid == StatisticRelationId)
			{
				/* what shows depends on who reads: role-dependent too */
				entries = lappend_int(entries, -rti);
				ctx->governed = true;
			}
			/* a view's placeholder entry is never scanned */
			else if (rte->relkind != RELKIND_VIEW)
			{
				relid = rte->relid;
				if (rte->relkind == RELKIND_MATVIEW)
					access_by_grant(rte, relid, ctx);
			}
			else if (mesh_product_by_relid(rte->relid) != NULL)
			{
				ctx->governed = true;
				if (rte->requiredPerms & (ACL_INSERT | ACL_UPDATE | ACL_DELETE))
					refuse_view_write(rte, rti);
			}
		}
		else
		{
			relid = mesh_expanded_view(rte);
			if (OidIsValid(relid))
			{
				RangeTblEntry *permrte = linitial(rte->subquery->rtable);

				/*
				 * meshpg's own views filter the catalog by what the reader
				 * may see (slo_results, slo_status, ...): a reader's qual
				 * must not run below that filter, whether or not the view
				 * was declared security_barrier.
				 */
				if (!rte->security_barrier &&
					get_rel_namespace(relid) == mesh_catalog()->nsp)
					rte->security_barrier = true;
				via = permrte->checkAsUser;
				access_by_grant(permrte, relid, ctx);
			}
		}
		if (OidIsValid(relid))
		{
			entries = lappend_int(entries, rti);
			relids = lappend_oid(relids, relid);
			vias = lappend_oid(vias, via);
		}
	}

	rc = list_head(relids);
	vc = list_head(vias);
	foreach(lc, entries)
	{
		int			entry = lfirst_int(lc);

		if (entry < 0)
			govern_statistics(q, -entry);
		else
		{
			govern_entry(q, entry, lfirst_oid(rc), lfirst_oid(vc), ctx);
			rc = lnext(relids, rc);
			vc = lnext(vias, vc);
		}
	}

	/* Then the queries nested in this one: subqueries, CTEs, sublinks. */
	query_tree_walker(q, govern_walker, ctx, 0);
}

void
mesh_refuse_explain_analyze(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("EXPLAIN ANALYZE is not allowed on data products whose rows are filtered for you"),
			 errdetail("Its row counts would reveal the rows the policies hide."),
			 errhint("Use EXPLAIN without ANALYZE.")));
}

/* Governs the query, then plans it with the hidden statistics in place. */
static PlannedStmt *
govern_and_plan(Query *parse, const char *query_string, int cursorOptions,
				ParamListInfo boundParams, GovernContext *ctx)
{
	mesh_track_outer_user();
	if (mesh_catalog() != NULL)
	{
		ctx->hash = mesh_mask_hash_oid();
		govern_query(parse, ctx);
		if (ctx->calls_hash && !mesh_is_admin(GetUserId()))
			mesh_refuse_hash_call();
		if (ctx->filtered && mesh_explain_analyze_depth > 0)
			mesh_refuse_explain_analyze();
	}

	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

static PlannedStmt *
mesh_planner(Query *parse, const char *query_string, int cursorOptions,
			 ParamListInfo boundParams)
{
	GovernContext ctx = {false, false, NIL, InvalidOid, false, DT_NOEND, NIL, false};
	PlannedStmt *volatile result = NULL;
	ListCell   *lc;
	List	   *outer_hidden_stats = mesh_hidden_stats_enter();

	/* nested planning (a function run while planning) keeps ours intact */
	PG_TRY();
	{
		result = govern_and_plan(parse, query_string, cursorOptions, boundParams, &ctx);
	}
	PG_FINALLY();
	{
		mesh_hidden_stats_leave(outer_hidden_stats);
	}
	PG_END_TRY();

	/* Also when the reader was exempt: the next reader may not be. */
	if (ctx.governed)
		result->dependsOnRole = true;
	foreach(lc, ctx.marks)
	{
		PlanInvalItem *item = makeNode(PlanInvalItem);

		item->cacheId = foreach_current_index(lc) % 2 == 0 ? MESH_MARK_RELID : MESH_MARK_USER;
		item->hashValue = (uint32) lfirst_oid(lc);
		result->invalItems = lappend(result->invalItems, item);
	}
	if (ctx.valid_until != DT_NOEND)
	{
		PlanInvalItem *hi = makeNode(PlanInvalItem);
		PlanInvalItem *lo = makeNode(PlanInvalItem);

		hi->cacheId = MESH_MARK_UNTIL_HI;
		hi->hashValue = (uint32) ((uint64) ctx.valid_until >> 32);
		lo->cacheId = MESH_MARK_UNTIL_LO;
		lo->hashValue = (uint32) ctx.valid_until;
		result->invalItems = lappend(lappend(result->invalItems, hi), lo);
	}
	result->invalItems = list_concat(result->invalItems, ctx.applied);
	if (ctx.filtered)
	{
		PlanInvalItem *item = makeNode(PlanInvalItem);

		/* the executor refuses to count this plan's rows (executor.c) */
		item->cacheId = MESH_MARK_FILTERED;
		item->hashValue = 0;
		result->invalItems = lappend(result->invalItems, item);
	}
	if (ctx.contain)
	{
		PlanInvalItem *item = makeNode(PlanInvalItem);

		item->cacheId = MESH_MARK_CONTAIN;
		item->hashValue = 0;
		result->invalItems = lappend(result->invalItems, item);
	}
	return result;
}

void
mesh_install_planner_hook(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = mesh_planner;
	mesh_install_stats_hooks();
	mesh_install_function_hooks();
}
