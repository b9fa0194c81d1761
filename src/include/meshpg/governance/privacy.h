/*
 * privacy.h
 *		Differential privacy in enforcement (src/governance/privacy.c): the
 *		query rewrite for a reader a privacy policy applies to, contribution
 *		bounding per privacy unit, the noisy aggregates, and the privacy
 *		budget spent when a plan starts.
 */
#ifndef MESHPG_GOVERNANCE_PRIVACY_H
#define MESHPG_GOVERNANCE_PRIVACY_H

#include "executor/execdesc.h"
#include "nodes/parsenodes.h"
#include "utils/jsonb.h"

#include "meshpg/hooks.h"

/* A privacy policy as it applies to one reader of one relation. */
typedef struct MeshPrivacyRule
{
	int64		policy_id;
	const char *policy_name;
	int64		product_id;
	const char *product_name;
	AttrNumber	unit;			/* the privacy unit (entity key) column */
	int			max_contributions;	/* rows per unit per query */
	double		epsilon;		/* spent by each query */
	double		delta;			/* spent by each query that groups; 0: no GROUP BY */
	double		budget_epsilon; /* per reader per window */
	double		budget_delta;	/* 0: delta is not budgeted */
	int64		window_usecs;	/* the budget's window */
	int			nbounds;		/* clamping bounds per column */
	AttrNumber *bound_attnos;
	double	   *bound_lo;
	double	   *bound_hi;
} MeshPrivacyRule;

/*
 * Plan items a rewritten query carries (negative cache ids, like the other
 * MESH_MARK_*): MESH_MARK_DP followed by the words of one spend, in order
 * (see privacy.c: product, policy, epsilon, delta, budget, window).
 */
#define MESH_MARK_DP		(-1050)
#define MESH_MARK_DP_WORD	(-1051)

/*
 * Rewrites q (an aggregating query over the entry rti only) so that it
 * releases only noisy aggregates of contribution-bounded rows; refuses any
 * other read.  top: q is the statement itself (a DP query is run exactly
 * once per execution only then).  Returns the plan items to add.
 */
extern List *mesh_privacy_rewrite_entry(Query *q, int rti, Oid relid,
										const MeshPrivacyRule *rule, bool top);

/*
 * Reads a privacy policy's options (cat_policy.mask_args) into rule (all but
 * the policy's and product's names and ids, and the unit); errors on a bad
 * option (create_privacy_policy validates with it, the planner fails closed).
 */
extern void mesh_privacy_parse_options(Jsonb *options, Oid relid, MeshPrivacyRule *rule);

/*
 * The query the planner hook was called with (planner.c sets it): a
 * privacy rewrite applies only to it, as it runs once per execution.
 */
extern Query *mesh_privacy_top_query;

/* The refusal of a read of a privacy-governed product that can't be bounded. */
extern void mesh_privacy_refuse(const MeshPrivacyRule *rule, const char *why,
								const char *hint) pg_attribute_noreturn();

/* ExecutorStart step (src/hooks.c): spends the budget, or refuses. */
extern void mesh_privacy_executor_start(QueryDesc *queryDesc, int eflags,
										MeshHookStep next);

/* shared memory of the spends not yet written to the ledger */
extern void mesh_privacy_shmem_request(void);
extern void mesh_privacy_shmem_startup(void);

/* worker task: writes the spends to meshpg.cat_privacy_ledger */
extern bool mesh_privacy_flush_task(void);

#endif							/* MESHPG_GOVERNANCE_PRIVACY_H */
