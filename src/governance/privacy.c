/*
 * privacy.c
 *		Differential-privacy policies in the planner: the noise rewrite of an
 *		aggregating query over a product a privacy policy applies to.
 *
 * Owned by engineer dp (issue 20, item 3).  Until it lands, a read that a
 * privacy policy applies to is refused: a policy is never reported as
 * applied when it was not (fail closed).
 */
#include "postgres.h"

#include "meshpg/governance/aggregate.h"

bool
mesh_privacy_rewrite(Query *q, List *entries, MeshAggPlanNotes *notes)
{
	foreach_ptr(MeshAggEntry, e, entries)
		foreach_ptr(MeshAggRule, r, e->rules)
		if (r->kind == POLICY_PRIVACY)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("differential-privacy policy \"%s\" on data product \"%s\" is not enforced by this build",
						r->policy_name, e->product),
				 errhint("Read the product as a role the policy does not apply to.")));
	return false;
}
