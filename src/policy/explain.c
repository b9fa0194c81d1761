/*
 * explain.c
 *		Explaining governance: why a role sees what it sees of a product
 *		(explain_access), and which statistics a reader may see.
 *
 * Both run the very compiler the planner hook runs, so what they say is
 * what the planner does.
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "meshpg/policy/policy.h"
#include "meshpg/catalog/sqlcall.h"

PG_FUNCTION_INFO_V1(meshpg_explain_access);
PG_FUNCTION_INFO_V1(meshpg_statistics_visible);

static MeshStatsDescriber stats_describer = NULL;

void
mesh_register_stats_describer(MeshStatsDescriber describer)
{
	stats_describer = describer;
}

static void
emit(Tuplestorestate *store, TupleDesc desc, const char *subject, const char *policy,
	 const char *kind, const char *effect, const char *reason)
{
	Datum		values[5];
	bool		nulls[5] = {false, policy == NULL, kind == NULL, false, reason == NULL};

	values[0] = CStringGetTextDatum(subject);
	values[1] = policy ? CStringGetTextDatum(policy) : (Datum) 0;
	values[2] = kind ? CStringGetTextDatum(kind) : (Datum) 0;
	values[3] = CStringGetTextDatum(effect);
	values[4] = reason ? CStringGetTextDatum(reason) : (Datum) 0;
	tuplestore_putvalues(store, desc, values, nulls);
}

static const char *
access_reason(const MeshProduct *product, Oid role, bool *allowed)
{
	TimestampTz now = mesh_policy_now();

	*allowed = true;
	if (superuser_arg(role))
		return "superuser";
	if (has_privs_of_role(role, product->domain_owner))
		return "member of the owning domain";
	*allowed = false;
	if (product->state == MESH_RETIRED)
		return "the data product is retired";
	for (int i = 0; i < product->ngrants; i++)
	{
		const MeshGrant *g = &product->grants[i];

		if (has_privs_of_role(role, g->grantee) && (!g->has_expiry || g->expires_at > now))
		{
			*allowed = true;
			return psprintf("access grant to role \"%s\"", GetUserNameFromId(g->grantee, false));
		}
	}
	return "no unexpired access grant";
}

static void explain_product(ReturnSetInfo *rsinfo, const MeshProduct *product, Oid relid,
							Oid role);

/*
 * The earliest moment the governance history answers for: what the retention
 * pruned, or what came before the history was kept (the upgrade to 1.4), is
 * not known.  NULL (no horizon) when the history starts with the catalog.
 */
static void
check_moment(TimestampTz at)
{
	char	   *horizon;

	if (TIMESTAMP_NOT_FINITE(at) || at > GetCurrentTimestamp())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot explain access at a moment that is not finite and past"),
				 errhint("Pass a finite moment in the past, or NULL for now.")));
	horizon = mesh_spi_first_value("SELECT since FROM meshpg.cat_governance_horizon", 0, NULL, NULL);
	if (horizon != NULL &&
		at < DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(horizon),
													 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1))))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the governance history does not reach back to the moment asked about"),
				 errdetail("It starts at %s.", horizon),
				 errhint("Ask about a later moment; meshpg.governance_history_retention sets how long the history is kept.")));
}

/*
 * meshpg.explain_access(product, role, at): one row for access, one per row
 * policy, one per column (with every masking policy on it, and which one
 * wins).  The governance team, the domain team, and the role itself may ask.
 * With at, the same answer for that moment: the compiler reads the rows of
 * the governance history in force then (asof.c).
 */
Datum
meshpg_explain_access(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	Oid			role = PG_ARGISNULL(1) ? GetUserId() : mesh_arg_role(fcinfo, 1, "role");
	Oid			caller = GetUserId();
	MeshSpiState spi;
	MeshProductRow row;
	const MeshProduct *product;

	InitMaterializedSRF(fcinfo, 0);

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &row);
	mesh_spi_end(&spi);

	if (!has_privs_of_role(caller, role) && !has_privs_of_role(caller, row.domain.owner) &&
		!mesh_is_admin(caller))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to explain the access of role \"%s\"",
						GetUserNameFromId(role, false)),
				 errdetail("The governance team, the owning domain and the role itself may ask.")));

	product = mesh_product_by_relid(row.relid);
	if (product == NULL)
		elog(ERROR, "data product \"%s\" vanished", row.qualname);
	if (PG_NARGS() < 3 || PG_ARGISNULL(2))
	{
		explain_product(rsinfo, product, row.relid, role);
		return (Datum) 0;
	}
	check_moment(PG_GETARG_TIMESTAMPTZ(2));
	mesh_asof_begin(PG_GETARG_TIMESTAMPTZ(2));
	PG_TRY();
	{
		explain_product(rsinfo, mesh_asof_product(product), row.relid, role);
	}
	PG_FINALLY();
	{
		mesh_asof_end();
	}
	PG_END_TRY();
	return (Datum) 0;
}

static void
explain_product(ReturnSetInfo *rsinfo, const MeshProduct *product, Oid relid, Oid role)
{
	List	   *policies;
	Relation	rel;
	TupleDesc	desc;
	bool		allowed;
	const char *why;

	why = access_reason(product, role, &allowed);
	emit(rsinfo->setResult, rsinfo->setDesc, "access", NULL, NULL,
		 allowed ? "allowed" : "denied", why);

	policies = mesh_load_policies(product, relid);
	rel = relation_open(relid, AccessShareLock);
	desc = RelationGetDescr(rel);

	/* rows */
	{
		ListCell   *lc;
		bool		any = false;
		bool		exempt;

		foreach(lc, policies)
		{
			MeshPolicy *policy = lfirst(lc);

			if (policy->kind != POLICY_ROW)
				continue;
			any = true;
			exempt = mesh_policy_exempt(product, policy, role, &why);
			emit(rsinfo->setResult, rsinfo->setDesc, "rows", policy->name, "row",
				 exempt ? "exempt" : "filtered",
				 exempt ? why : psprintf("only rows where %s",
										 mesh_deparse_expr(mesh_instantiate_filter(product, policy, role),
														   rel)));
		}
		if (!any)
			emit(rsinfo->setResult, rsinfo->setDesc, "rows", NULL, NULL, "all",
				 "no row policy governs this product");

		/*
		 * aggregation and privacy policies: the subject "aggregates", after
		 * the rows (rows are filtered first, then aggregates constrained);
		 * a tag-bound one is loaded once per tagged column: said once.
		 */
		{
			List	   *seen = NIL;

			foreach(lc, policies)
			{
				MeshPolicy *policy = lfirst(lc);
				const char *kind = mesh_policy_kind_info_of(policy->kind)->name;

				/* privacy policies: their own subject, below */
				if (policy->kind != POLICY_AGGREGATION ||
					list_member_ptr(seen, (void *) (intptr_t) policy->id))
					continue;
				seen = lappend(seen, (void *) (intptr_t) policy->id);
				exempt = mesh_policy_exempt(product, policy, role, &why);
				emit(rsinfo->setResult, rsinfo->setDesc, "aggregates", policy->name, kind,
					 exempt ? "exempt" : "aggregates only",
					 exempt ? why :
					 psprintf("groups of at least %d %s%s%s; aggregates allowed: %s",
							  policy->min_group_size,
							  policy->entity_key > 0 ? "distinct " : "rows",
							  policy->entity_key > 0 ? NameStr(TupleDescAttr(desc, policy->entity_key - 1)->attname) : "",
							  policy->entity_key > 0 ? " values" : "",
							  mesh_agg_flag_names(policy->aggregates)));
			}
		}
	}

	/* columns, in order */
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		const MeshPolicy *winner = NULL;
		ListCell   *lc;
		bool		any = false;

		if (att->attisdropped)
			continue;
		foreach(lc, policies)
		{
			MeshPolicy *policy = lfirst(lc);

			if (policy->kind != POLICY_MASK || policy->subject != att->attnum)
				continue;
			if (!mesh_policy_exempt(product, policy, role, &why) &&
				(winner == NULL || policy->mask > winner->mask))
				winner = policy;
		}
		foreach(lc, policies)
		{
			MeshPolicy *policy = lfirst(lc);
			bool		exempt;

			if (policy->kind == POLICY_PROJECTION && policy->subject == att->attnum)
			{
				any = true;
				exempt = mesh_policy_exempt(product, policy, role, &why);
				emit(rsinfo->setResult, rsinfo->setDesc, NameStr(att->attname), policy->name,
					 "projection", exempt ? "exempt" : "not returned",
					 exempt ? why : "usable in WHERE, JOIN ON and HAVING conditions only");
				continue;
			}
			if (policy->kind != POLICY_MASK || policy->subject != att->attnum)
				continue;
			any = true;
			exempt = mesh_policy_exempt(product, policy, role, &why);
			emit(rsinfo->setResult, rsinfo->setDesc, NameStr(att->attname), policy->name,
				 mesh_mask_name(policy->mask),
				 exempt ? "exempt" : policy == winner ? "masked" : "overridden",
				 exempt ? why : policy == winner ?
				 "the most restrictive mask that applies to the role" :
				 psprintf("policy \"%s\" masks more restrictively", winner->name));
		}
		if (!any)
			emit(rsinfo->setResult, rsinfo->setDesc, NameStr(att->attname), NULL, NULL,
				 "visible", "no masking policy governs this column");
	}

	/* differential privacy: what a query gets, and what it costs */
	{
		ListCell   *lc;

		foreach(lc, policies)
		{
			MeshPolicy *policy = lfirst(lc);
			bool		exempt;

			if (policy->kind != POLICY_PRIVACY)
				continue;
			exempt = mesh_policy_exempt(product, policy, role, &why);
			emit(rsinfo->setResult, rsinfo->setDesc, "queries", policy->name, "privacy",
				 exempt ? "exempt" : "noisy aggregates",
				 exempt ? why :
				 psprintf("only count, sum and avg of the rows, with noise, each privacy unit (%s) bounded; each query spends from a budget per reader; %s",
						  policy->entity_key > 0 ?
						  NameStr(TupleDescAttr(desc, policy->entity_key - 1)->attname) : "?",
						  policy->options ? JsonbToCString(NULL, &policy->options->root, 0) : "{}"));
		}
	}
	relation_close(rel, AccessShareLock);

	/*
	 * The statistics the role's plans use now: governed, withheld,
	 * PostgreSQL's.  Not for a past moment: statistics sets are not kept in
	 * the governance history.
	 */
	if (allowed && stats_describer != NULL && !mesh_asof_active())
	{
		const char *effect;
		char	   *reason;

		/* looked up again: opening the relation may have reset the cache */
		product = mesh_product_by_relid(relid);
		if (product == NULL)
			elog(ERROR, "data product vanished");
		stats_describer(product, relid, role, &effect, &reason);
		emit(rsinfo->setResult, rsinfo->setDesc, "statistics", NULL, NULL, effect, reason);
	}
}

/*
 * meshpg._statistics_visible(relation, attnum): the planner hook adds it to
 * pg_statistic for non-superusers, so pg_stats shows nothing of a row-
 * filtered product and nothing of a masked column.
 */
Datum
meshpg_statistics_visible(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int16		attnum = PG_GETARG_INT16(1);
	const MeshProduct *product = mesh_product_by_relid(relid);
	MeshRules	rules;
	int			natts;
	Relation	rel;

	if (product == NULL)
		PG_RETURN_BOOL(true);
	rel = relation_open(relid, AccessShareLock);
	natts = RelationGetNumberOfAttributes(rel);
	relation_close(rel, AccessShareLock);
	if (!mesh_compile_rules(product, relid, 1, natts, InvalidOid, &rules))
		PG_RETURN_BOOL(true);
	if (rules.quals != NIL || rules.agg_rules != NIL)
		PG_RETURN_BOOL(false);
	PG_RETURN_BOOL(!(attnum > 0 && attnum <= natts &&
					 (rules.masks[attnum - 1] != NULL ||
					  (rules.projected != NULL && rules.projected[attnum - 1] != NULL))));
}
