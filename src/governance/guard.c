/*
 * guard.c
 *		The fail-closed guard on governed tables.
 *
 * register_product enables row security on every table product and gives it
 * one permissive policy, meshpg_guard, USING (meshpg.guard(<the table>)).
 * The planner simplifies every qual it plans, and for this call that means
 * asking the planner support function below, which lives in this library:
 *  - without meshpg preloaded, asking loads the library, whose _PG_init
 *    refuses to run outside shared_preload_libraries: the read fails with a
 *    clear error instead of leaking (and calling the guard itself at run
 *    time fails the same way);
 *  - with meshpg preloaded, the call folds to a constant, so it costs
 *    nothing per row: true when the table has no other permissive policy,
 *    and false when it has, so that the guard never widens what the owner's
 *    own permissive policies allow.
 * From 1.3 the policy is USING (meshpg.guard()), naming no relation: Citus
 * copies a table's policies onto its shards, on nodes where the table may
 * not exist yet, and a shard must be guarded as what it is.  The planner
 * hook replaces each call with the value for the relation the policy sits
 * on (planner.c); a call that reaches the executor fails.
 *
 * Either form fails closed on a node whose meshpg does not know the
 * relation as a product (a Citus worker the catalog never reached): the
 * read is refused instead of being left to the guard's "true".
 *
 * Row security brings the engine's own protections with it: it applies to
 * COPY TO, hides pg_stats rows and key values in error messages from the
 * readers it filters, and marks plans as role-dependent.  Views and
 * materialized views have no row security; the hooks govern them.
 */
#include "postgres.h"

#include "access/relation.h"
#include "fmgr.h"
#include "nodes/makefuncs.h"
#include "nodes/supportnodes.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "utils/lsyscache.h"
#include "rewrite/rowsecurity.h"
#include "utils/rel.h"

#include "meshpg/meshpg.h"
#include "meshpg/catalog/catalog.h"
#include "meshpg/governance/governance.h"

PG_FUNCTION_INFO_V1(meshpg_guard);
PG_FUNCTION_INFO_V1(meshpg_guard_support);
PG_FUNCTION_INFO_V1(meshpg_guard_here);

static Oid	guard_oid = InvalidOid;
static uint64 guard_oid_generation = (uint64) -1;

/* meshpg.guard(), the form without a relation; InvalidOid before 1.3. */
Oid
mesh_guard_oid(void)
{
	const MeshCatalog *cat = mesh_catalog();

	if (cat == NULL)
		return InvalidOid;
	if (guard_oid_generation != mesh_catalog_generation())
	{
		guard_oid = LookupFuncName(list_make2(makeString("meshpg"), makeString("guard")),
								   0, NULL, true);
		guard_oid_generation = mesh_catalog_generation();
	}
	return guard_oid;
}

void
mesh_refuse_unknown_product(Oid relid)
{
	char	   *name = get_rel_name(relid);

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the policies of relation \"%s\" are not known on this node",
					name != NULL ? name : "?"),
			 errdetail("The relation carries meshpg's guard, but no data product in this node's meshpg catalog governs it, so its rows cannot be governed here."),
			 errhint("On a Citus cluster, run SELECT meshpg.citus_sync() on the coordinator; otherwise register the relation as a data product.")));
}

/*
 * Whether the guard lets rows through: only if nothing else permits.  Any
 * other permissive policy, whatever its command or roles, means the owner
 * manages row security, and then the guard adds nothing, exactly as if it
 * were not there.
 */
static bool
guard_value(Oid relid, LOCKMODE lockmode)
{
	Relation	rel = try_relation_open(relid, lockmode);
	bool		result = true;
	ListCell   *lc;

	if (rel == NULL)
		return false;
	if (mesh_product_by_relid(relid) == NULL)
	{
		relation_close(rel, lockmode);
		mesh_refuse_unknown_product(relid);
	}

	if (rel->rd_rsdesc != NULL)
	{
		foreach(lc, rel->rd_rsdesc->policies)
		{
			RowSecurityPolicy *policy = lfirst(lc);

			if (policy->permissive && strcmp(policy->policy_name, MESH_GUARD_POLICY) != 0)
			{
				result = false;
				break;
			}
		}
	}
	relation_close(rel, lockmode);
	return result;
}

Datum
meshpg_guard(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(guard_value(PG_GETARG_OID(0), AccessShareLock));
}

Datum
meshpg_guard_support(PG_FUNCTION_ARGS)
{
	Node	   *req = (Node *) PG_GETARG_POINTER(0);
	FuncExpr   *call;
	Const	   *arg;

	if (!IsA(req, SupportRequestSimplify))
		PG_RETURN_POINTER(NULL);
	call = ((SupportRequestSimplify *) req)->fcall;
	if (list_length(call->args) != 1 || !IsA(linitial(call->args), Const))
		PG_RETURN_POINTER(NULL);
	arg = linitial(call->args);
	if (arg->constisnull)
		PG_RETURN_POINTER(NULL);
	/* planning a query on the table, which the rewriter has locked */
	PG_RETURN_POINTER(makeBoolConst(guard_value(DatumGetObjectId(arg->constvalue), NoLock),
									false));
}

/* The value of meshpg.guard() on relid, for the planner hook. */
bool
mesh_guard_value(Oid relid)
{
	return guard_value(relid, NoLock);
}

/*
 * meshpg.guard() at run time: the planner hook replaces every call it
 * plans, so this runs only for a call it did not plan as a guard.
 */
Datum
meshpg_guard_here(PG_FUNCTION_ARGS)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("meshpg.guard() can only be used in the row-security policy of a data product"),
			 errhint("Read the data product itself.")));
	PG_RETURN_BOOL(false);
}
