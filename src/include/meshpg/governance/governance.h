/*
 * governance.h
 *		What the hooks share: the read-path handling of utility statements,
 *		and the EXPLAIN ANALYZE guard.
 */
#ifndef MESHPG_GOVERNANCE_H
#define MESHPG_GOVERNANCE_H

#include "access/htup.h"
#include "datatype/timestamp.h"
#include "nodes/parsenodes.h"

#include "meshpg/hooks.h"

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

/* (-1008) is MESH_MARK_CITUS_SYNC, in meshpg/citus/citus.h (below this layer) */

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

/*
 * executor.c: checks that concerns above enforcement register (from
 * src/hooks.c) instead of being called from here.  A read check runs on
 * every read of a product that the reader's grant allows, in the order
 * registered; it may warn, or refuse the read with an error.  The successor
 * lookup names what replaces a retired product, for the refusal's hint.
 */
typedef void (*MeshReadCheck) (const struct MeshProduct *product, Oid userid);
typedef char *(*MeshSuccessorLookup) (const struct MeshProduct *product);
extern void mesh_register_read_check(MeshReadCheck check);
extern void mesh_register_successor_lookup(MeshSuccessorLookup lookup);

/* functions.c: pins a policy expression's functions (a policy observer) */
extern void mesh_pin_policy_functions(Node *expr);
extern void mesh_install_function_callbacks(void);

/* planner.c: the view a subquery entry was expanded from, or InvalidOid */
extern Oid	mesh_expanded_view(RangeTblEntry *rte);

/* guard.c: the fail-closed guard of table products */
extern Oid	mesh_guard_oid(void);
extern bool mesh_guard_value(Oid relid);
extern void mesh_refuse_unknown_product(Oid relid) pg_attribute_noreturn();

/* reads.c: COPY of a governed relation becomes COPY (SELECT ...) */
extern Node *mesh_govern_copy(Node *stmt);
extern bool mesh_is_explain_analyze(Node *stmt);

/*
 * Hook steps (src/hooks.c runs them, in its order): planner.c, executor.c,
 * functions.c, stats.c.
 */
extern PlannedStmt *mesh_planner(Query *parse, const char *query_string,
								 int cursorOptions, ParamListInfo boundParams,
								 MeshHookStep next);
extern void mesh_executor_start(QueryDesc *queryDesc, int eflags, MeshHookStep next);
extern void mesh_executor_run(QueryDesc *queryDesc, ScanDirection direction,
							  uint64 count, bool execute_once, MeshHookStep next);
extern bool mesh_check_perms(List *rangeTable, bool ereport_on_violation,
							 MeshHookStep next);
extern void mesh_emit_log(ErrorData *edata, MeshHookStep next);
extern bool mesh_needs_fmgr(Oid funcid, MeshHookStep next);
extern void mesh_fmgr(FmgrHookEventType event, FmgrInfo *flinfo, Datum *private,
					  MeshHookStep next);
extern bool mesh_relation_stats(PlannerInfo *root, RangeTblEntry *rte, AttrNumber attnum,
								VariableStatData *vardata, MeshHookStep next);
extern bool mesh_index_stats(PlannerInfo *root, Oid indexOid, AttrNumber indexattnum,
							 VariableStatData *vardata, MeshHookStep next);
extern void mesh_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent,
							   RelOptInfo *rel, MeshHookStep next);
extern int32 mesh_attavgwidth(Oid relid, AttrNumber attnum, MeshHookStep next);

/* counters.c: a filtered product's activity counters */
extern bool mesh_hide_filtered_activity;
extern void mesh_hide_activity(QueryDesc *query);
extern void mesh_define_counter_settings(void);
extern void counters_executor_end(QueryDesc *query, MeshHookStep next);
/* executor.c: a filtered plan's buffer, WAL and function-call usage taken back out */
extern void mesh_executor_finish(QueryDesc *queryDesc, MeshHookStep next);
extern void mesh_executor_end(QueryDesc *queryDesc, MeshHookStep next);

/*
 * statsets.c: governed statistics, one set per product and row-policy
 * specialisation (see there).  A set as the planner is served it: per
 * column, a pg_statistic tuple of the relation (NULL: none kept).
 */
typedef struct MeshStatSet
{
	int64		id;				/* 0: no set */
	int			readers;
	int			sample_rows;
	int			visible_rows;
	double		tuples;			/* rows the specialisation may see */
	TimestampTz computed_at;
	int			natts;
	HeapTuple  *columns;		/* [attnum] */
	int32	   *widths;			/* [attnum] */
} MeshStatSet;

struct MeshRules;
extern int	mesh_max_stat_specialisations;
extern int	mesh_stat_sets_pinned;
extern void mesh_define_stat_settings(void);
extern const MeshStatSet *mesh_stat_set_lookup(Oid relid, const struct MeshRules *rules);
extern int	mesh_refresh_stat_sets(Oid relid);
extern bool mesh_stats_refresh_task(void);
extern void mesh_describe_stats(const struct MeshProduct *product, Oid relid, Oid role,
								const char **effect, char **reason);

#endif							/* MESHPG_GOVERNANCE_H */
