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
#include "rewrite/rowsecurity.h"
#include "utils/rel.h"

#include "meshpg/meshpg.h"

PG_FUNCTION_INFO_V1(meshpg_guard);
PG_FUNCTION_INFO_V1(meshpg_guard_support);

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
