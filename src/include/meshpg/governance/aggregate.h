/*
 * aggregate.h
 *		Projection, aggregation and differential-privacy policies in the
 *		planner: which queries over a constrained product are allowed, and
 *		how an aggregating query over an aggregate-only product is rewritten.
 *
 * The planner (planner.c, govern_query) calls, for each query level:
 *   1. mesh_constraints_check() on the query as the reader wrote it, before
 *      masks replace any column: projection checks (a projected column in
 *      no output), then aggregate-only checks (only allowed aggregates over
 *      plain columns, no rows, no window functions, ...).  Refusals raise
 *      42501 with a hint; nothing reads data.
 *   2. governs every entry as before: masks, row filters (rows are filtered
 *      first);
 *   3. mesh_constraints_rewrite() on the governed query: the privacy
 *      rewrite (mesh_privacy_rewrite, src/governance/privacy.c) for entries
 *      a privacy policy applies to, then the fold of small groups
 *      (mesh_aggregate_fold) for aggregation policies.
 */
#ifndef MESHPG_GOVERNANCE_AGGREGATE_H
#define MESHPG_GOVERNANCE_AGGREGATE_H

#include "nodes/parsenodes.h"

#include "meshpg/policy/policy.h"

/* One constrained entry of a query level. */
typedef struct MeshAggEntry
{
	int			rti;			/* its range-table index in the query */
	Oid			relid;			/* the product's relation (or view) */
	const char *product;		/* qualified name, for messages */
	char	  **projected;		/* [attno - 1]: the projection policy, or NULL */
	int			natts;
	List	   *rules;			/* MeshAggRule: aggregation and privacy */
} MeshAggEntry;

/* What the rewrite asks of the plan. */
typedef struct MeshAggPlanNotes
{
	bool		contain;		/* withhold error texts (predicates on hidden values) */
	bool		filtered;		/* refuse EXPLAIN ANALYZE, hide activity counters */
	List	   *items;			/* PlanInvalItems to add to the plan (marks) */
} MeshAggPlanNotes;

/* aggregate.c: step 1, on the query as written (entries: MeshAggEntry) */
extern void mesh_constraints_check(Query *q, List *entries, MeshAggPlanNotes *notes);

/* aggregate.c: step 3, on the governed query */
extern void mesh_constraints_rewrite(Query *q, List *entries, MeshAggPlanNotes *notes);

/*
 * aggregate.c: folds the groups of q (an aggregating query that reads the
 * entries) that cover fewer than the aggregation rules' minimum into one
 * remainder group with NULL keys, suppressed when it is too small too.  q
 * becomes an outer query over one subquery (q's former self); entries
 * whose rules are all privacy rules are skipped.
 */
extern void mesh_aggregate_fold(Query *q, List *entries);

/* Whether any rule of the entries is of kind. */
extern bool mesh_agg_entries_have(List *entries, MeshPolicyKind kind);

/*
 * privacy.c (engineer dp): the noise rewrite of q, an aggregating query
 * already checked by mesh_constraints_check (only allowed aggregates over
 * plain columns, no row returned), for the entries at least one privacy
 * rule applies to (their MeshAggRule of kind POLICY_PRIVACY carries the
 * policy's options).  Called before the fold.  It may rewrite q in place
 * as it needs (it stays q, the node its parent points to), and add marks
 * to notes->items (the budget to spend at execution).  Returns true when
 * it took care of the entries' aggregation rules as well (then the fold is
 * not run); false lets mesh_aggregate_fold run on q afterwards, which
 * requires q still to read the entries at their rti.
 */
extern bool mesh_privacy_rewrite(Query *q, List *entries, MeshAggPlanNotes *notes);

#endif							/* MESHPG_GOVERNANCE_AGGREGATE_H */
