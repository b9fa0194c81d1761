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
#include "catalog/pg_inherits.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "access/transam.h"
#include "catalog/pg_statistic.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
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
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/governance/aggregate.h"
#include "meshpg/governance/governance.h"
#include "meshpg/governance/privacy.h"
#include "meshpg/policy/policy.h"
#include "meshpg/catalog/sqlcall.h"
#include "meshpg/meshpg.h"
#include "meshpg/citus/citus.h"

int			mesh_explain_analyze_depth = 0;

typedef struct GovernContext
{
	bool		governed;		/* the query touches a governed relation */
	bool		filtered;		/* and rows are filtered for this reader */
	List	   *marks;			/* reads let through on a grant: relid, user */
	Oid			hash;			/* meshpg.mask_hash */
	bool		calls_hash;		/* and the query calls it outside a policy */
	int			citus_topology; /* calls a Citus function that changes the
								 * cluster's tables or nodes:
								 * MESH_CITUS_TOPOLOGY(_SEND), citus.h */
	TimestampTz valid_until;	/* the earliest of the rules' */
	List	   *applied;		/* MESH_MARK_POLICY_* items */
	bool		contain;		/* a policy may raise errors with raw values */
	List	   *wrapped;		/* subqueries made of foreign-table entries */
	List	   *delegated;		/* Citus tables whose shards govern the read */
	List	   *governed_ids;	/* MESH_MARK_GOVERNED_* items */
} GovernContext;

typedef struct MaskArgs
{
	MeshRules  *rules;
	TupleDesc	desc;
	List	   *colnames;
} MaskArgs;

static void govern_query(Query *q, GovernContext *ctx);
static bool reads_citus_walker(Node *node, void *context);

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

/* Whether two compilations apply the same policies to the same columns. */
static bool
same_rules(const MeshRules *a, const MeshRules *b)
{
	if (a->any != b->any || a->npolicies != b->npolicies)
		return false;
	for (int i = 0; i < a->npolicies; i++)
		if (a->policies[i] != b->policies[i] ||
			a->policy_attnos[i] != b->policy_attnos[i])
			return false;
	return true;
}

/*
 * A read of a Citus table's rows is a read of its shards, which Citus
 * sends to the nodes that hold them as the current user, and there (or
 * here, for local placements) meshpg governs each shard as the product:
 * masks once, row filters as security quals of the shard scan.  This node
 * only routes, and must not mask again.  What the shard's node cannot know
 * is refused here instead: the session's purpose (Citus does not carry
 * meshpg.purpose to its connections, only SET LOCAL with
 * citus.propagate_set_commands = 'local'), the outer user of a SECURITY
 * DEFINER function, and the owner of a view the read goes through.  A
 * read is let through only if what the shard's node will apply, for the
 * current user alone and no purpose, is what this node would apply.
 */
static void
check_delegable(const MeshProduct *product, Oid relid, int rti, int natts, Oid via,
				const MeshRules *full)
{
	MeshRules	plain;
	char	   *purpose = mesh_session_purpose;
	const char *volatile what = NULL;

	if (GetOuterUserId() != GetUserId())
	{
		if (full->any)
			what = "a SECURITY DEFINER function's reader";
	}
	else
	{
		PG_TRY();
		{
			/* the purpose the shards' nodes have: SET LOCAL that Citus carried */
			if (purpose == NULL || !mesh_citus_workers_have_purpose(purpose))
				mesh_session_purpose = "";
			(void) mesh_compile_rules(product, relid, rti, natts, InvalidOid, &plain);
		}
		PG_FINALLY();
		{
			mesh_session_purpose = purpose;
		}
		PG_END_TRY();
		if (!same_rules(full, &plain))
			what = (purpose != NULL && purpose[0] != '\0') ?
				"the session's purpose" : "the owner of the view the read goes through";
	}
	if (what != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read distributed data product \"%s\" here: %s changes its policies",
						product->qualname, what),
				 errdetail("The nodes holding its shards govern the read for the current user alone, with only a purpose Citus carried to them, and would apply other policies than this query needs."),
				 errhint("Declare a purpose with SET LOCAL meshpg.purpose inside a transaction block while citus.propagate_set_commands is 'local'; read as the role itself, not through a SECURITY DEFINER function or another role's view.")));
}

/*
 * The guard's text names no relation (meshpg.guard()), so that Citus can
 * copy it onto shards before their table exists there: its value for this
 * entry is decided here, from the relation the policy sits on.
 */
static Node *
replace_guard_mutator(Node *node, Oid *relid)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid == mesh_guard_oid())
		return (Node *) makeBoolConst(mesh_guard_value(*relid), false);
	return expression_tree_mutator(node, replace_guard_mutator, relid);
}

static void
replace_guards(Query *q, int rti, RangeTblEntry *rte)
{
	Oid			relid = rte->relid;

	if (!OidIsValid(mesh_guard_oid()))
		return;
	if (rte->securityQuals != NIL)
		rte->securityQuals = (List *) replace_guard_mutator((Node *) rte->securityQuals, &relid);
	if (rti == q->resultRelation && q->withCheckOptions != NIL)
		q->withCheckOptions = (List *) replace_guard_mutator((Node *) q->withCheckOptions,
															  &relid);
}

/*
 * A relation that carries meshpg's guard but is no product this node
 * knows: a Citus shard whose policies never reached this node, or a
 * product's table copied without its catalog.  Refused: it would be read
 * raw.
 */
static void
refuse_unknown_guarded(Oid relid)
{
	Relation	rel = relation_open(relid, NoLock);
	bool		guarded = false;
	ListCell   *lc;

	if (rel->rd_rel->relrowsecurity && rel->rd_rsdesc != NULL)
		foreach(lc, rel->rd_rsdesc->policies)
			guarded |= strcmp(((RowSecurityPolicy *) lfirst(lc))->policy_name,
							  MESH_GUARD_POLICY) == 0;
	relation_close(rel, NoLock);
	if (guarded)
		mesh_refuse_unknown_product(relid);
}

/* Applies the rules of a governed entry: masks, then row filters. */
/*
 * Marks the plan with the policies applied to relid, for the access history
 * and explain: the relation, then each policy's id with the column it binds.
 */
static void
mark_applied(GovernContext *ctx, Oid relid, const MeshRules *rules)
{
	ctx->applied = lappend(ctx->applied, mark(MESH_MARK_POLICY_REL, (uint32) relid));
	for (int i = 0; i < rules->npolicies; i++)
	{
		uint64		id = (uint64) rules->policies[i];

		ctx->applied = lappend(ctx->applied, mark(MESH_MARK_POLICY_LO, (uint32) id));
		ctx->applied = lappend(ctx->applied,
							   mark(MESH_MARK_POLICY_HI,
									(uint32) (((id >> 32) & 0xffff) << 16) |
									(uint16) rules->policy_attnos[i]));
	}
}

static void
govern_entry(Query *q, int rti, Oid relid, Oid via, GovernContext *ctx)
{
	const MeshProduct *product = mesh_product_by_relid(relid);
	Relation	rel;
	MeshRules	rules;
	RangeTblEntry *rte;
	bool		any;

	if (product == NULL)
	{
		if (rt_fetch(rti, q->rtable)->rtekind == RTE_RELATION)
			refuse_unknown_guarded(relid);
		return;
	}

	/*
	 * A child that inherits from two products is governed as the first one
	 * found: read directly, the other's masks and row filters would not
	 * apply to the columns and rows it shares with it.  Refused, but for an
	 * insert that reads nothing back.
	 */
	rte = rt_fetch(rti, q->rtable);
	if (product->inherited && rte->rtekind == RTE_RELATION && !superuser() &&
		!(q->commandType == CMD_INSERT && rti == q->resultRelation &&
		  (rte->requiredPerms & ACL_SELECT) == 0))
	{
		int64		id = product->id;
		char	   *first = pstrdup(product->qualname);
		char	   *other = mesh_product_other_ancestor(relid, id);

		if (other != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot read relation \"%s\": it inherits from data products \"%s\" and \"%s\"",
							get_rel_name(relid), first, other),
					 errdetail("Read directly, it would be governed as one of them, without the other's policies."),
					 errhint("Read it through one of the data products, or make it inherit from one only.")));
		/* looking may have reloaded the cache */
		product = mesh_product_by_relid(relid);
		if (product == NULL)
			return;
	}
	ctx->governed = true;
	if (!product->citus_table)
	{
		ctx->governed_ids = lappend(ctx->governed_ids,
									mark(MESH_MARK_GOVERNED_LO, (uint32) product->id));
		ctx->governed_ids = lappend(ctx->governed_ids,
									mark(MESH_MARK_GOVERNED_HI, (uint32) ((uint64) product->id >> 32)));
	}

	rel = relation_open(relid, NoLock);
	any = mesh_compile_rules(product, relid, rti, RelationGetNumberOfAttributes(rel),
							 via, &rules);
	ctx->valid_until = Min(ctx->valid_until, rules.valid_until);
	if (product->citus_table && rt_fetch(rti, q->rtable)->rtekind == RTE_RELATION)
	{
		check_delegable(product, relid, rti, RelationGetNumberOfAttributes(rel), via, &rules);
		ctx->delegated = list_append_unique_oid(ctx->delegated, relid);
		if (any)
		{
			/* reported as applied: the shards' nodes apply exactly these */
			mark_applied(ctx, relid, &rules);
			mesh_hide_stats(rt_fetch(rti, q->rtable), relid, &rules);
			if (rules.quals != NIL && !(q->commandType == CMD_INSERT && rti == q->resultRelation))
				ctx->filtered = true;
		}
		relation_close(rel, NoLock);
		return;
	}
	if (any && rt_fetch(rti, q->rtable)->rtekind == RTE_SUBQUERY &&
		reads_citus_walker((Node *) rt_fetch(rti, q->rtable)->subquery, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read view data product \"%s\": it reads a Citus table and its own policies apply to you",
						product->qualname),
				 errdetail("Citus sends the view's query to the shards without the view's row filters and keyed masks."),
				 errhint("Register the distributed table itself as the product, or read the view as an exempt role.")));
	if (any)
	{
		bool		masked = false;

		mark_applied(ctx, relid, &rules);

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
		(product->relkind != RELKIND_VIEW && product->relkind != RELKIND_MATVIEW &&
		 product->relkind != RELKIND_FOREIGN_TABLE))
		return;
	/* only a plain read: anything else is for SQL privileges to decide */
	if (permrte->requiredPerms != ACL_SELECT)
		return;
	user = OidIsValid(permrte->checkAsUser) ? permrte->checkAsUser : GetUserId();
	if (pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK)
		return;
	(void) mesh_may_read(product, user, true);

	if (product->relkind == RELKIND_FOREIGN_TABLE)
	{
		/*
		 * A foreign scan connects with the user mapping of the entry's
		 * checkAsUser (or the current user): the reader's own, as for any
		 * foreign table, so that the source governs it as its mapped role.
		 * Putting the owner there would read with the domain team's
		 * mapping.  The entry keeps its user and needs no SQL privilege
		 * instead; the grant is checked again at every execution (the
		 * marks below, executor.c).
		 */
		permrte->requiredPerms = 0;
	}
	else
	{
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for relation %u", relid);
		permrte->checkAsUser = ((Form_pg_class) GETSTRUCT(tup))->relowner;
		ReleaseSysCache(tup);
	}
	ctx->marks = lappend_oid(lappend_oid(ctx->marks, relid), user);
}

/* Whether q or a query nested in it reads a system column of entry rti. */
typedef struct SystemColumnContext
{
	int			rti;
	int			sublevels_up;
} SystemColumnContext;

static bool
system_column_walker(Node *node, SystemColumnContext *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
	{
		Var		   *var = (Var *) node;

		return (int) var->varno == context->rti && var->varattno < 0 &&
			(int) var->varlevelsup == context->sublevels_up;
	}
	if (IsA(node, Query))
	{
		bool		found;

		context->sublevels_up++;
		found = query_tree_walker((Query *) node, system_column_walker, context, 0);
		context->sublevels_up--;
		return found;
	}
	return expression_tree_walker(node, system_column_walker, context);
}

/*
 * Whether the foreign data wrapper would ask the remote server for row
 * estimates (postgres_fdw's use_remote_estimate; the table's option wins
 * over its server's).
 */
static bool
uses_remote_estimate(Oid relid)
{
	ForeignTable *table = GetForeignTable(relid);
	ForeignServer *server = GetForeignServer(table->serverid);
	List	   *lists[2] = {table->options, server->options};

	for (int i = 0; i < 2; i++)
	{
		ListCell   *lc;

		foreach(lc, lists[i])
		{
			DefElem    *opt = lfirst(lc);

			if (strcmp(opt->defname, "use_remote_estimate") == 0)
				return defGetBoolean(opt);
		}
	}
	return false;
}

/*
 * The foreign tables an entry scans: the relation itself, or its partitions
 * and inheritance children when the entry expands to them.
 */
static List *
foreign_tables_scanned(RangeTblEntry *rte)
{
	List	   *result = NIL;
	List	   *children;
	ListCell   *lc;

	if (rte->relkind == RELKIND_FOREIGN_TABLE && !rte->inh)
		return list_make1_oid(rte->relid);
	if (!rte->inh || !has_subclass(rte->relid))
		return rte->relkind == RELKIND_FOREIGN_TABLE ? list_make1_oid(rte->relid) : NIL;
	children = find_all_inheritors(rte->relid, NoLock, NULL);
	foreach(lc, children)
		if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_FOREIGN_TABLE)
			result = lappend_oid(result, lfirst_oid(lc));
	list_free(children);
	return result;
}

/*
 * A product read through foreign tables (a foreign-table product, or a
 * partitioned table with foreign partitions) whose rows are filtered for
 * the reader.  Its row filter, as a security qual of the foreign scan,
 * would reach the remote server in one WHERE clause with the reader's own
 * quals: a foreign data wrapper ships every qual it can deparse and the
 * remote planner orders them as it likes, so a reader's "note::int = 1"
 * could run on hidden rows there, and the remote error would carry the
 * hidden value.  The entry is turned into a security_barrier subquery over
 * the relation, as PostgreSQL would expand a security_barrier view: the
 * filter (added when the subquery is governed) and the reader's leakproof
 * quals may still be sent to the remote server; any other qual, join or
 * aggregate of the reader's runs here, above the filtered rows.
 */
static bool
wrap_filtered_foreign_entry(Query *q, RangeTblEntry *rte, int rti, Oid via)
{
	const MeshProduct *product = mesh_product_by_relid(rte->relid);
	Relation	rel;
	TupleDesc	desc;
	MeshRules	rules;
	Query	   *sub;
	RangeTblEntry *inner;
	RangeTblRef *ref;
	SystemColumnContext syscols = {rti, 0};
	List	   *foreign;
	ListCell   *lc;

	if (product == NULL)
		return false;
	foreign = foreign_tables_scanned(rte);
	if (foreign == NIL)
		return false;
	rel = relation_open(rte->relid, NoLock);
	desc = RelationGetDescr(rel);
	(void) mesh_compile_rules(product, rte->relid, rti, desc->natts, via, &rules);
	if (rules.quals == NIL ||
		(q->commandType == CMD_INSERT && rti == q->resultRelation))
	{
		relation_close(rel, NoLock);
		return false;
	}

	if (rti == q->resultRelation)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot update or delete rows of data product \"%s\" through a foreign table: its rows are filtered for you",
						product->qualname),
				 errdetail("The statement's conditions would be sent to the remote server together with the row filter, and could run on hidden rows there."),
				 errhint("Have the owning domain team make the change.")));
	if (get_parse_rowmark(q, rti) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("SELECT FOR UPDATE/SHARE is not allowed on data product \"%s\" read through a foreign table, whose rows are filtered for you",
						product->qualname),
				 errhint("Read it without a locking clause.")));
	if (query_tree_walker(q, system_column_walker, &syscols, 0))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("system columns of data product \"%s\" cannot be read through a foreign table when its rows are filtered for you",
						product->qualname),
				 errhint("Read its columns only.")));
	foreach(lc, foreign)
	{
		if (uses_remote_estimate(lfirst_oid(lc)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("data product \"%s\" asks a remote server for estimates, and its rows are filtered for you",
							product->qualname),
					 errdetail("The remote server estimates from statistics of every row, and EXPLAIN would show what the row filter hides."),
					 errhint("The owning domain team can turn the option off: ALTER FOREIGN TABLE %s OPTIONS (ADD use_remote_estimate 'false').",
							 mesh_relation_name(lfirst_oid(lc)))));
	}
	list_free(foreign);

	/* the foreign table, alone in a query that selects every column */
	inner = copyObject(rte);
	sub = makeNode(Query);
	sub->commandType = CMD_SELECT;
	sub->querySource = QSRC_ORIGINAL;
	sub->canSetTag = true;
	sub->rtable = list_make1(inner);
	ref = makeNode(RangeTblRef);
	ref->rtindex = 1;
	sub->jointree = makeFromExpr(list_make1(ref), NULL);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Expr	   *col;

		/* keep the attribute numbers: a dropped column reads as null */
		if (att->attisdropped)
			col = (Expr *) makeNullConst(INT4OID, -1, InvalidOid);
		else
			col = (Expr *) makeVar(1, i + 1, att->atttypid, att->atttypmod,
								   att->attcollation, 0);
		sub->targetList = lappend(sub->targetList,
								  makeTargetEntry(col, i + 1,
												  pstrdup(NameStr(att->attname)), false));
	}
	if (inner->securityQuals != NIL)
		ChangeVarNodes((Node *) inner->securityQuals, rti, 1, 0);
	sub->hasSubLinks = checkExprHasSubLink((Node *) inner->securityQuals);
	relation_close(rel, NoLock);

	/* the entry becomes the subquery, as a view's does in the rewriter */
	rte->rtekind = RTE_SUBQUERY;
	rte->subquery = sub;
	rte->security_barrier = true;
	rte->relid = InvalidOid;
	rte->relkind = 0;
	rte->rellockmode = 0;
	rte->tablesample = NULL;
	rte->inh = false;
	rte->requiredPerms = 0;
	rte->checkAsUser = InvalidOid;
	rte->selectedCols = NULL;
	rte->insertedCols = NULL;
	rte->updatedCols = NULL;
	rte->extraUpdatedCols = NULL;
	rte->securityQuals = NIL;
	return true;
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

/*
 * Citus functions that touch a product's table as a whole.  Converting a
 * table (alter_distributed_table, undistribute_table, ...) creates a new
 * one, moves the rows and drops the old: the product would lose its
 * relation, so the conversion is refused for any product, draft or not,
 * with what to do instead.  Distributing a table or adding a node is
 * followed by sending the catalog (ExecutorEnd, citus.c).
 */
static void
check_citus_call(FuncExpr *call, GovernContext *ctx)
{
	char	   *name;

	if (get_func_namespace(call->funcid) != PG_CATALOG_NAMESPACE)
		return;
	name = get_func_name(call->funcid);
	if (name == NULL)
		return;
	if (strcmp(name, "alter_distributed_table") == 0 ||
		strcmp(name, "undistribute_table") == 0 ||
		strcmp(name, "alter_table_set_access_method") == 0 ||
		strcmp(name, "alter_old_partitions_set_access_method") == 0)
	{
		Node	   *arg = call->args != NIL ? linitial(call->args) : NULL;
		const MeshProduct *product = NULL;

		if (arg != NULL && IsA(arg, Const) && !((Const *) arg)->constisnull &&
			((Const *) arg)->consttype == REGCLASSOID)
			product = mesh_product_by_relid(DatumGetObjectId(((Const *) arg)->constvalue));
		else if (arg != NULL && !IsA(arg, Const))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s() must name its table with a constant while meshpg is loaded", name),
					 errdetail("meshpg refuses to convert the table of a data product and must know which table it is."),
					 errhint("Pass the table as a literal, for example '%s'::regclass.", "schema.table")));
		if (product != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot run %s() on the table of data product \"%s\"", name,
							product->qualname),
					 errdetail("Citus converts a table by creating a new one and dropping the old, which would leave the product without its relation."),
					 errhint("To change the shard count, split shards with citus_split_shard_by_split_points(); to change colocation, use update_distributed_table_colocation(): both keep the table.  For other conversions, unregister a draft (meshpg.unregister_product), convert and register it again; publish a new major version of a published product on a new table (meshpg.publish_version()).")));
	}
	else if (strcmp(name, "create_distributed_table") == 0 ||
			 strcmp(name, "create_distributed_table_concurrently") == 0 ||
			 strcmp(name, "create_reference_table") == 0 ||
			 strcmp(name, "citus_add_local_table_to_metadata") == 0)
	{
		Node	   *arg = call->args != NIL ? linitial(call->args) : NULL;

		/*
		 * Distributing a table that is not a product (a consumer's own)
		 * needs no send now: if the transaction registers it later, that
		 * change is sent, and again after commit (citus.c).  Any other
		 * argument (a product, or a table not given as a constant) sends.
		 */
		if (arg != NULL && IsA(arg, Const) && !((Const *) arg)->constisnull &&
			((Const *) arg)->consttype == REGCLASSOID &&
			mesh_product_by_relid(DatumGetObjectId(((Const *) arg)->constvalue)) == NULL)
			ctx->citus_topology = Max(ctx->citus_topology, MESH_CITUS_TOPOLOGY);
		else
			ctx->citus_topology = MESH_CITUS_TOPOLOGY_SEND;
	}
	else if (strcmp(name, "citus_add_node") == 0 ||
			 strcmp(name, "master_add_node") == 0 ||
			 strcmp(name, "citus_activate_node") == 0 ||
			 strcmp(name, "start_metadata_sync_to_node") == 0 ||
			 strcmp(name, "citus_set_coordinator_host") == 0)
		ctx->citus_topology = MESH_CITUS_TOPOLOGY_SEND;
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
	if (IsA(node, FuncExpr) && ((FuncExpr *) node)->funcid >= FirstNormalObjectId &&
		mesh_citus_active())
		check_citus_call((FuncExpr *) node, ctx);
	return expression_tree_walker(node, govern_walker, ctx);
}

/*
 * The entries of q that projection, aggregation or privacy policies apply
 * to for this reader (MeshAggEntry), compiled as govern_entry will (the
 * compiled rules are cached): only products that have such policies.
 */
static List *
constrained_entries(Query *q, List *entries, List *relids, List *vias)
{
	List	   *result = NIL;
	ListCell   *lc;
	ListCell   *rc = list_head(relids);
	ListCell   *vc = list_head(vias);

	foreach(lc, entries)
	{
		int			rti = lfirst_int(lc);
		Oid			relid;
		Oid			via;
		const MeshProduct *product;
		bool		has = false;
		MeshRules	rules;
		Relation	rel;
		MeshAggEntry *e;

		if (rti < 0)
			continue;
		relid = lfirst_oid(rc);
		via = lfirst_oid(vc);
		rc = lnext(relids, rc);
		vc = lnext(vias, vc);
		product = mesh_product_by_relid(relid);
		if (product == NULL)
			continue;
		mesh_ensure_policies(product, relid);
		foreach_ptr(MeshPolicy, policy, product->policies)
			has |= policy->kind == POLICY_PROJECTION || policy->kind == POLICY_AGGREGATION ||
			policy->kind == POLICY_PRIVACY;
		if (!has)
			continue;
		rel = relation_open(relid, NoLock);
		(void) mesh_compile_rules(product, relid, rti, RelationGetNumberOfAttributes(rel),
								  via, &rules);
		relation_close(rel, NoLock);
		if (rules.projected == NULL && rules.agg_rules == NIL)
			continue;
		/* an INSERT's target is written, not read */
		if (q->commandType == CMD_INSERT && rti == q->resultRelation && rules.projected == NULL)
			continue;
		/* looking may have reloaded the cache */
		product = mesh_product_by_relid(relid);
		if (product == NULL)
			continue;
		if (product->citus_table && rules.agg_rules != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot read distributed data product \"%s\": its aggregation policies apply to you",
							product->qualname),
					 errdetail("Citus aggregates each shard apart, and the groups of a shard are not the groups of the product."),
					 errhint("Read the product as a role the policy does not apply to, or register an aggregated product.")));
		e = palloc0(sizeof(MeshAggEntry));
		e->rti = rti;
		e->relid = relid;
		e->product = pstrdup(product->qualname);
		e->projected = rules.projected;
		e->natts = rules.natts;
		e->rules = rules.agg_rules;
		result = lappend(result, e);
	}
	return result;
}

static void
govern_query(Query *q, GovernContext *ctx)
{
	List	   *constrained;
	MeshAggPlanNotes notes = {false, false, NIL};
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
			else if ((rte->relkind == RELKIND_FOREIGN_TABLE || rte->inh) &&
					 !list_member_ptr(ctx->wrapped, q) &&
					 wrap_filtered_foreign_entry(q, rte, rti, via))
			{
				/* governed when the walk below reaches the subquery */
				ctx->wrapped = lappend(ctx->wrapped, rte->subquery);
				ctx->governed = true;
			}
			/* a view's placeholder entry is never scanned */
			else if (rte->relkind != RELKIND_VIEW)
			{
				replace_guards(q, rti, rte);
				relid = rte->relid;
				if (rte->relkind == RELKIND_MATVIEW || rte->relkind == RELKIND_FOREIGN_TABLE)
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

	/*
	 * Projection and aggregation policies are checked on the query as the
	 * reader wrote it, before masks replace the columns they name.
	 */
	constrained = constrained_entries(q, entries, relids, vias);
	if (constrained != NIL)
		mesh_constraints_check(q, constrained, &notes);

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

	/*
	 * Last, with rows filtered and values masked at every level below, the
	 * aggregation constraints (and noise): the rewrite moves this level,
	 * already governed, into a subquery the walk must not govern again.
	 */
	if (constrained != NIL)
	{
		mesh_constraints_rewrite(q, constrained, &notes);
		ctx->contain |= notes.contain;
		ctx->filtered |= notes.filtered;
		ctx->applied = list_concat(ctx->applied, notes.items);
	}
}

/* Whether plan, or a plan below it, scans one of relids itself. */
static bool
scans_relation(Plan *plan, PlannedStmt *stmt, List *relids)
{
	ListCell   *lc;
	List	   *children = NIL;

	if (plan == NULL)
		return false;
	check_stack_depth();
	switch (nodeTag(plan))
	{
		case T_SeqScan:
		case T_SampleScan:
		case T_IndexScan:
		case T_IndexOnlyScan:
		case T_BitmapHeapScan:
		case T_TidScan:
		case T_TidRangeScan:
			{
				Index		scanrelid = ((Scan *) plan)->scanrelid;

				if (scanrelid > 0 &&
					list_member_oid(relids, rt_fetch(scanrelid, stmt->rtable)->relid))
					return true;
				break;
			}
		case T_Append:
			children = ((Append *) plan)->appendplans;
			break;
		case T_MergeAppend:
			children = ((MergeAppend *) plan)->mergeplans;
			break;
		case T_BitmapAnd:
			children = ((BitmapAnd *) plan)->bitmapplans;
			break;
		case T_BitmapOr:
			children = ((BitmapOr *) plan)->bitmapplans;
			break;
		case T_SubqueryScan:
			children = list_make1(((SubqueryScan *) plan)->subplan);
			break;
		case T_CustomScan:
			children = ((CustomScan *) plan)->custom_plans;
			break;
		default:
			break;
	}
	foreach(lc, children)
		if (scans_relation(lfirst(lc), stmt, relids))
			return true;
	return scans_relation(plan->lefttree, stmt, relids) ||
		scans_relation(plan->righttree, stmt, relids);
}

/*
 * The reads left to the shards' nodes must really go there: a plan that
 * scans a Citus table here (Citus declined the query, or its table still
 * holds rows here) would read it ungoverned.
 */
static void
check_routed(PlannedStmt *stmt, List *relids)
{
	ListCell   *lc;
	bool		scans = scans_relation(stmt->planTree, stmt, relids);

	foreach(lc, stmt->subplans)
		scans |= scans_relation(lfirst(lc), stmt, relids);
	if (scans)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read a distributed data product through a plan Citus does not route to its shards"),
				 errdetail("meshpg governs a Citus table's rows where its shards are read; this plan reads the table on this node."),
				 errhint("Write the query so that Citus can distribute it, or read the product on a single server.")));
}

/* Whether q or a query below it reads a Citus table. */
static bool
reads_citus_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Query))
	{
		/* query_tree_walker hands nested queries straight back: no check */
		check_stack_depth();
		return query_tree_walker((Query *) node, reads_citus_walker, context,
								 QTW_EXAMINE_RTES_BEFORE);
	}
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		return rte->rtekind == RTE_RELATION && mesh_citus_is_table(rte->relid);
	}
	return expression_tree_walker(node, reads_citus_walker, context);
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
				ParamListInfo boundParams, GovernContext *ctx, MeshHookStep next)
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

	/*
	 * Citus plans a router query whose shard is on this node by swapping
	 * the shard into the query and calling standard_planner itself
	 * (citus.enable_local_fast_path_query_optimization): that plan of the
	 * shard would never pass through this hook, and the routed read would
	 * be ungoverned.  Off while Citus plans a read left to the shards, so
	 * that it plans the shard query through planner() like any other.
	 */
	if (ctx->delegated != NIL &&
		GetConfigOption("citus.enable_local_fast_path_query_optimization", true, false) != NULL)
	{
		PlannedStmt *result;
		int			nest = NewGUCNestLevel();

		(void) set_config_option("citus.enable_local_fast_path_query_optimization", "off",
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		result = mesh_next_planner(parse, query_string, cursorOptions, boundParams, next);
		AtEOXact_GUC(true, nest);
		return result;
	}
	return mesh_next_planner(parse, query_string, cursorOptions, boundParams, next);
}

PlannedStmt *
mesh_planner(Query *parse, const char *query_string, int cursorOptions,
			 ParamListInfo boundParams, MeshHookStep next)
{
	GovernContext ctx = {false, false, NIL, InvalidOid, false, false, DT_NOEND, NIL, false, NIL, NIL, NIL};
	PlannedStmt *volatile result = NULL;
	ListCell   *lc;
	List	   *outer_hidden_stats = mesh_hidden_stats_enter();
	Query	   *outer_top = mesh_privacy_top_query;

	/*
	 * nested planning (a function run while planning) keeps ours intact;
	 * the statement's own query is the one a privacy rewrite may apply to
	 * (privacy.c: it runs once per execution)
	 */
	mesh_privacy_top_query = parse;
	PG_TRY();
	{
		result = govern_and_plan(parse, query_string, cursorOptions, boundParams, &ctx,
								 next);
	}
	PG_FINALLY();
	{
		mesh_hidden_stats_leave(outer_hidden_stats);
		mesh_privacy_top_query = outer_top;
	}
	PG_END_TRY();

	if (ctx.delegated != NIL)
		check_routed(result, ctx.delegated);
	if (ctx.citus_topology)
	{
		PlanInvalItem *item = makeNode(PlanInvalItem);

		item->cacheId = MESH_MARK_CITUS_SYNC;
		item->hashValue = (uint32) ctx.citus_topology;
		result->invalItems = lappend(result->invalItems, item);
	}

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
	result->invalItems = list_concat(result->invalItems, ctx.governed_ids);
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
