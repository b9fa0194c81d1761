/*
 * governance.h
 *		What the hooks share: the read-path handling of utility statements,
 *		and the EXPLAIN ANALYZE guard.
 */
#ifndef MESHPG_GOVERNANCE_H
#define MESHPG_GOVERNANCE_H

#include "nodes/parsenodes.h"

/* > 0 while an EXPLAIN ANALYZE runs (planner.c refuses filtered reads) */
extern int	mesh_explain_analyze_depth;

/*
 * Plan items that record a read let through on a meshpg grant: the
 * relation, then the role whose grant it was.  Negative cache ids, so the
 * plan cache's syscache callbacks never match them.
 */
#define MESH_MARK_RELID		(-1000)
#define MESH_MARK_USER		(-1001)

/*
 * The time until which the plan's rules hold (an expiring grant named the
 * purpose that lifted a policy), as its high and low 32 bits.
 */
#define MESH_MARK_UNTIL_HI	(-1002)
#define MESH_MARK_UNTIL_LO	(-1003)

/*
 * The policies applied to a governed relation, for the access history: the
 * relation, then per policy its id's low 32 bits and (id's bits 32-47 << 16
 * | the masked column, 0 for a row policy).
 */
#define MESH_MARK_POLICY_REL (-1004)
#define MESH_MARK_POLICY_LO	(-1005)
#define MESH_MARK_POLICY_HI (-1006)

/*
 * The plan applies a policy expression that passes raw values to a
 * function that is not leakproof (a cast, a custom mask's function): the
 * executor withholds the text of the errors raised while it runs.
 */
#define MESH_MARK_CONTAIN	(-1007)

/* The plan calls a Citus function after which the catalog is sent (citus.c). */
#define MESH_MARK_CITUS_SYNC	(-1008)

/*
 * A product meshpg governed in this plan (its id's low and high 32 bits):
 * the executor refuses a plan that reads a product's rows without it, a
 * plan some code made without this planner hook (Citus's local fast path).
 */
#define MESH_MARK_GOVERNED_LO	(-1009)
#define MESH_MARK_GOVERNED_HI	(-1031)	/* not -1010: lineage's source mark */

/*
 * Rows are filtered for the reader the plan was built for.  Row counts of
 * such a plan would count the hidden rows: the executor refuses to run it
 * instrumented under EXPLAIN ANALYZE, however the plan reached it (a cached
 * plan is not planned again), and runs it uninstrumented when another
 * module asked for the counts (auto_explain, Citus's
 * worker_save_query_explain_analyze()).
 */
#define MESH_MARK_FILTERED	(-1040)

/* The messages that replace a withheld one (executor.c, planner.c). */
#define MESH_WITHHELD_QUERY_MSG \
	"error while reading a data product whose policies apply to you, message withheld"
#define MESH_WITHHELD_FUNCTION_MSG \
	"a function called by a meshpg policy raised a message, withheld"

/* planner.c: refuses EXPLAIN ANALYZE of a plan whose rows are filtered */
extern void mesh_refuse_explain_analyze(void) pg_attribute_noreturn();

/* executor.c: may userid read product now (else error, or false) */
struct MeshProduct;
extern bool mesh_may_read(const struct MeshProduct *product, Oid userid,
						  bool ereport_on_violation);

/* planner.c: the view a subquery entry was expanded from, or InvalidOid */
extern Oid	mesh_expanded_view(RangeTblEntry *rte);

/* guard.c: the fail-closed guard of table products */
extern Oid	mesh_guard_oid(void);
extern bool mesh_guard_value(Oid relid);
extern void mesh_refuse_unknown_product(Oid relid) pg_attribute_noreturn();

/* reads.c: COPY of a governed relation becomes COPY (SELECT ...) */
extern Node *mesh_govern_copy(Node *stmt);
extern bool mesh_is_explain_analyze(Node *stmt);

struct QueryDesc;

/* counters.c: a filtered product's activity counters */
extern bool mesh_hide_filtered_activity;
extern void mesh_hide_activity(struct QueryDesc *query);
extern void mesh_define_counter_settings(void);
extern void mesh_install_counter_hooks(void);

#endif							/* MESHPG_GOVERNANCE_H */
