/*
 * lineage.h
 *		Lineage: which relations are built from which products, at column
 *		level where it can be derived, and the tags that flow along it.
 */
#ifndef MESHPG_LINEAGE_H
#define MESHPG_LINEAGE_H

#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"

#include "meshpg/hooks.h"

/*
 * Plan items that carry a write's column lineage from the planner to the
 * executor: a source relation, then (source column << 16 | target column).
 * Negative cache ids, apart from governance.h's, so no syscache callback
 * ever matches them.
 */
#define MESH_MARK_LINEAGE_SRC	(-1010)
#define MESH_MARK_LINEAGE_COL	(-1011)

/*
 * A data-modifying CTE's write: its target relation, then its command
 * ('i'nsert or 'u'pdate); the SRC/COL marks that follow, up to the next
 * TGT, are its columns.  The statement's own write's marks come first.
 */
#define MESH_MARK_LINEAGE_TGT	(-1012)
#define MESH_MARK_LINEAGE_CMD	(-1013)

/* A column a value is derived from. */
typedef struct ColumnSource
{
	Oid			relid;
	AttrNumber	attno;
} ColumnSource;

/*
 * derive.c: the columns expr (evaluated in q, whose parent is outer or
 * none) is computed from; of ColumnSource *
 */
extern List *mesh_expr_sources(Query *outer, Query *q, Node *expr);

/* runtime.c: hook steps (src/hooks.c) */
extern PlannedStmt *lineage_planner(Query *parse, const char *query_string,
									int cursorOptions, ParamListInfo boundParams,
									MeshHookStep next);
extern void lineage_utility(PlannedStmt *pstmt, const char *queryString,
							bool readOnlyTree, ProcessUtilityContext context,
							ParamListInfo params, QueryEnvironment *queryEnv,
							DestReceiver *dest, QueryCompletion *qc, MeshHookStep next);
extern bool mesh_lineage_writing(void);
extern void mesh_lineage_reset(void);
extern Oid	mesh_lineage_utility_target(char command);
extern void mesh_lineage_record(PlannedStmt *stmt, Oid target, char command,
								const Oid *sources, int n);
extern void mesh_lineage_record_indirect(PlannedStmt *stmt, Oid target, char command);

/* propagate.c: applies tag propagation; returns the products that changed */
extern int	mesh_propagate_tags(void);

#endif							/* MESHPG_LINEAGE_H */
