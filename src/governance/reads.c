/*
 * reads.c
 *		Utility statements that read data: COPY and EXPLAIN.
 *
 * COPY of a table reads it without the planner (unless row security turns
 * it into a query), so COPY of any governed relation is turned into
 * COPY (SELECT columns FROM ONLY relation) TO, which the planner hook
 * governs like any other query.  EXPLAIN ANALYZE would count the rows a
 * row policy hides; planner.c refuses it where rows are filtered.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "utils/lsyscache.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/governance/governance.h"

Node *
mesh_govern_copy(Node *stmt)
{
	CopyStmt   *copy;
	SelectStmt *select;
	ListCell   *lc;
	Oid			relid;
	RangeVar   *from;

	if (!IsA(stmt, CopyStmt))
		return stmt;
	copy = (CopyStmt *) stmt;
	if (copy->is_from || copy->relation == NULL || mesh_catalog() == NULL)
		return stmt;
	relid = RangeVarGetRelid(copy->relation, NoLock, true);
	if (!OidIsValid(relid) || mesh_product_by_relid(relid) == NULL)
		return stmt;

	copy = copyObject(copy);
	select = makeNode(SelectStmt);
	if (copy->attlist == NIL)
	{
		ColumnRef  *star = makeNode(ColumnRef);
		ResTarget  *target = makeNode(ResTarget);

		star->fields = list_make1(makeNode(A_Star));
		star->location = -1;
		target->val = (Node *) star;
		target->location = -1;
		select->targetList = list_make1(target);
	}
	foreach(lc, copy->attlist)
	{
		ColumnRef  *col = makeNode(ColumnRef);
		ResTarget  *target = makeNode(ResTarget);

		col->fields = list_make1(makeString(pstrdup(strVal(lfirst(lc)))));
		col->location = -1;
		target->val = (Node *) col;
		target->location = -1;
		select->targetList = lappend(select->targetList, target);
	}
	from = copyObject(copy->relation);
	/* COPY reads the table itself; a partitioned table, its partitions */
	from->inh = get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE;
	select->fromClause = list_make1(from);
	copy->query = (Node *) select;
	copy->relation = NULL;
	copy->attlist = NIL;
	return (Node *) copy;
}

bool
mesh_is_explain_analyze(Node *stmt)
{
	ListCell   *lc;

	if (!IsA(stmt, ExplainStmt))
		return false;
	foreach(lc, ((ExplainStmt *) stmt)->options)
	{
		DefElem    *opt = lfirst(lc);

		if (strcmp(opt->defname, "analyze") == 0 && defGetBoolean(opt))
			return true;
	}
	return false;
}
