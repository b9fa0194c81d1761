/*
 * executor.c
 *		Executor hooks.  ExecutorCheckPerms is the last word on every read:
 *		it sees the final range table of every plan and of COPY, and refuses
 *		a data product to anyone the catalog does not let read it.
 *
 * SQL privileges alone are not enough: a grant may have expired, a product
 * may be retired, or someone may have granted SELECT by hand.  A reader of
 * a product is let through if it is a superuser, has the privileges of the
 * domain's owner role, or holds (directly or through a role) a meshpg grant
 * that has not expired.  The check runs as whoever the engine checks
 * privileges as: the view owner for relations behind a view.
 */
#include "postgres.h"

#include "access/parallel.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "nodes/plannodes.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "catalog/catalog.h"
#include "contract/contract.h"
#include "governance/governance.h"
#include "governance/policy.h"
#include "meshpg.h"

static ExecutorCheckPerms_hook_type prev_check_perms_hook = NULL;
static ExecutorStart_hook_type prev_executor_start_hook = NULL;

/*
 * Every execution: a changed outer user (SET ROLE, set_config, the end of
 * SET LOCAL ROLE) resets the plan cache before cached plans are looked up
 * by the statements this one runs.
 */
static void
mesh_executor_start(QueryDesc *queryDesc, int eflags)
{
	ListCell   *lc;
	Oid			relid = InvalidOid;
	uint64		until = 0;

	mesh_track_outer_user();

	/*
	 * Reads of view and materialized-view products that the planner let
	 * through on a meshpg grant (planner.c) are checked again at every
	 * execution: a cached plan must not outlive the grant's expiry.
	 */
	if (!IsParallelWorker())
	{
		foreach(lc, queryDesc->plannedstmt->invalItems)
		{
			PlanInvalItem *item = lfirst(lc);

			if (item->cacheId == MESH_MARK_RELID)
				relid = (Oid) item->hashValue;
			else if (item->cacheId == MESH_MARK_USER && OidIsValid(relid))
			{
				const MeshProduct *product = mesh_product_by_relid(relid);

				if (product != NULL)
					(void) mesh_may_read(product, (Oid) item->hashValue, true);
				relid = InvalidOid;
			}
			else if (item->cacheId == MESH_MARK_UNTIL_HI)
				until = (uint64) item->hashValue << 32;
			else if (item->cacheId == MESH_MARK_UNTIL_LO)
			{
				until |= item->hashValue;

				/*
				 * A cached plan was built on a purpose that an expiring grant
				 * named, and the grant has expired.  Nothing can replan it
				 * from here: refuse, and make every cached plan replan.
				 */
				if (GetCurrentTransactionStartTimestamp() >= (TimestampTz) until)
				{
					ResetPlanCache();
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("this cached plan relied on an access grant that has expired"),
							 errdetail("The grant named the session's purpose, which lifted a policy."),
							 errhint("Run the statement again: it will be planned afresh.")));
				}
			}
		}
	}
	if (prev_executor_start_hook)
		prev_executor_start_hook(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

typedef enum
{
	READ_ALLOWED,
	READ_NO_GRANT,
	READ_EXPIRED,
	READ_RETIRED
} ReadVerdict;

static ReadVerdict
may_read(const MeshProduct *product, Oid userid, const MeshGrant **expired)
{
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	ReadVerdict verdict = READ_NO_GRANT;

	if (superuser_arg(userid) || has_privs_of_role(userid, product->domain_owner))
		return READ_ALLOWED;
	if (product->state == MESH_RETIRED)
		return READ_RETIRED;
	for (int i = 0; i < product->ngrants; i++)
	{
		const MeshGrant *g = &product->grants[i];

		if (!has_privs_of_role(userid, g->grantee))
			continue;
		if (!g->has_expiry || g->expires_at > now)
			return READ_ALLOWED;
		verdict = READ_EXPIRED;
		*expired = g;
	}
	return verdict;
}

static void
report_denied(const MeshProduct *product, Oid userid, ReadVerdict verdict,
			  const MeshGrant *expired)
{
	const char *user = GetUserNameFromId(userid, false);

	switch (verdict)
	{
		case READ_EXPIRED:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for data product \"%s\"", product->qualname),
					 errdetail("The access grant of role \"%s\" expired at %s.",
							   GetUserNameFromId(expired->grantee, false),
							   timestamptz_to_str(expired->expires_at)),
					 errhint("Ask the owning domain team to renew it with meshpg.grant_access().")));
			break;
		case READ_RETIRED:
			{
				char	   *successor = mesh_contract_successor(product);

				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied for data product \"%s\"", product->qualname),
						 errdetail("The data product is retired."),
						 successor ? errhint("Read its successor \"%s\" instead.", successor) : 0));
			}
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for data product \"%s\"", product->qualname),
					 errdetail("Role \"%s\" holds no meshpg access grant on it.", user),
					 errhint("Ask the owning domain team for access through meshpg.grant_access().")));
	}
}

/*
 * Whether userid may read product now; with ereport, refuses with the
 * reason instead of returning false.
 */
bool
mesh_may_read(const MeshProduct *product, Oid userid, bool ereport_on_violation)
{
	const MeshGrant *expired = NULL;
	ReadVerdict verdict = may_read(product, userid, &expired);

	if (verdict == READ_ALLOWED)
		return true;
	if (ereport_on_violation)
		report_denied(product, userid, verdict, expired);
	return false;
}

static bool
mesh_check_perms(List *rangeTable, bool ereport_on_violation)
{
	ListCell   *lc;

	if (prev_check_perms_hook &&
		!prev_check_perms_hook(rangeTable, ereport_on_violation))
		return false;

	/* The leader checked; workers run its plan. */
	if (IsParallelWorker() || mesh_catalog() == NULL)
		return true;

	foreach(lc, rangeTable)
	{
		RangeTblEntry *rte = lfirst(lc);
		const MeshProduct *product;
		const MeshGrant *expired = NULL;
		ReadVerdict verdict;
		Oid			userid;

		if (rte->rtekind != RTE_RELATION || (rte->requiredPerms & ACL_SELECT) == 0)
			continue;
		product = mesh_product_by_relid(rte->relid);
		if (product == NULL)
			continue;

		userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
		verdict = may_read(product, userid, &expired);
		if (verdict == READ_ALLOWED)
		{
			if (product->state == MESH_DEPRECATED)
				mesh_contract_deprecated_read(product, userid);
			mesh_slo_gate(product);
			continue;
		}
		if (!ereport_on_violation)
			return false;
		report_denied(product, userid, verdict, expired);
	}
	return true;
}

void
mesh_install_executor_hooks(void)
{
	prev_check_perms_hook = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = mesh_check_perms;
	prev_executor_start_hook = ExecutorStart_hook;
	ExecutorStart_hook = mesh_executor_start;
}
