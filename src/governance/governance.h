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

/* reads.c: COPY of a governed relation becomes COPY (SELECT ...) */
extern Node *mesh_govern_copy(Node *stmt);
extern bool mesh_is_explain_analyze(Node *stmt);

#endif							/* MESHPG_GOVERNANCE_H */
