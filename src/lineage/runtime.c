/*
 * runtime.c
 *		Runtime lineage: statements that read data products and write a
 *		relation (INSERT ... SELECT, UPDATE ... FROM, MERGE, CREATE TABLE AS,
 *		SELECT INTO, REFRESH MATERIALIZED VIEW) record an edge from each
 *		source to the relation written, with the column derivations.
 *
 * The planner hook derives the columns of a write (it alone sees the query
 * tree) and leaves them in the plan as marks; the utility hook notes the
 * relation that CREATE TABLE AS and REFRESH write (CREATE TABLE AS EXECUTE
 * runs a plan made before, without marks: its columns are derived from the
 * prepared statement's query when it ends).  At ExecutorEnd the
 * access history's capture hands over the products the statement read, and
 * the edges are written to the catalog in the writer's own transaction: a
 * write that rolls back leaves no lineage.  An edge already recorded is
 * remembered per backend, so a repeated ETL statement costs a hash probe.
 * A write to a temporary relation records no lineage (its reads are still
 * in the access history).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/prepare.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/planner.h"
#include "parser/parsetree.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/meshpg.h"
#include "meshpg/hooks.h"
#include "meshpg/lineage/lineage.h"
#include "meshpg/citus/citus.h"


/* The utility statement whose query writes a relation, if any. */
static char utility_command = 0;
static IntoClause *utility_into = NULL;
static Oid	utility_relid = InvalidOid;
static bool utility_plan_pending = false;
static const char *utility_execute = NULL;	/* CREATE TABLE AS EXECUTE's statement */

static bool writing = false;

/* Edges known to be in the catalog (key: a hash of the statement's edges). */
static HTAB *recorded = NULL;
static uint64 recorded_generation = 0;
static List *recorded_pending = NIL;	/* of uint32, added at commit */
static List *recorded_pending_subids = NIL;	/* the subtransaction of each */
static bool callback_registered = false;

bool
mesh_lineage_writing(void)
{
	return writing;
}

void
mesh_lineage_reset(void)
{
	writing = false;
	utility_command = 0;
	utility_into = NULL;
	utility_plan_pending = false;
	utility_execute = NULL;
	recorded_pending = NIL;
	recorded_pending_subids = NIL;
}

/*
 * A subtransaction rolled back: the edges it wrote are gone, and a write it
 * was in the middle of ended there.
 */
static void
lineage_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	List	   *keys = NIL;
	List	   *subids = NIL;
	ListCell   *kc;
	ListCell   *sc;
	MemoryContext old;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	writing = false;
	old = MemoryContextSwitchTo(TopTransactionContext);
	forboth(kc, recorded_pending, sc, recorded_pending_subids)
	{
		if ((SubTransactionId) lfirst_int(sc) >= mySubid)
			continue;
		keys = lappend_int(keys, lfirst_int(kc));
		subids = lappend_int(subids, lfirst_int(sc));
	}
	MemoryContextSwitchTo(old);
	recorded_pending = keys;
	recorded_pending_subids = subids;
}

static void
lineage_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event == XACT_EVENT_COMMIT && recorded != NULL)
		foreach(lc, recorded_pending)
		{
			uint32		key = (uint32) lfirst_int(lc);

			(void) hash_search(recorded, &key, HASH_ENTER, NULL);
		}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_ABORT)
	{
		recorded_pending = NIL;
		recorded_pending_subids = NIL;
	}
}

Oid
mesh_lineage_utility_target(char command)
{
	if (command == 'c' && utility_command == 'c' && utility_into != NULL)
		return RangeVarGetRelid(utility_into->rel, NoLock, true);
	if (command == 'r' && utility_command == 'r')
		return utility_relid;
	return InvalidOid;
}

/* Marks (source, source column -> target column) for each derivation. */
static void
derive_targets(Query *outer, Query *q, List *tlist, bool positional, List **marks)
{
	ListCell   *lc;
	AttrNumber	position = 0;

	foreach(lc, tlist)
	{
		TargetEntry *tle = lfirst(lc);
		AttrNumber	target;
		List	   *sources;
		ListCell   *sc;

		if (tle->resjunk)
			continue;
		target = positional ? ++position : tle->resno;
		if (target <= 0)
			continue;
		sources = mesh_expr_sources(outer, q, (Node *) tle->expr);
		foreach(sc, sources)
		{
			ColumnSource *s = lfirst(sc);
			PlanInvalItem *src = makeNode(PlanInvalItem);
			PlanInvalItem *col = makeNode(PlanInvalItem);

			src->cacheId = MESH_MARK_LINEAGE_SRC;
			src->hashValue = (uint32) s->relid;
			col->cacheId = MESH_MARK_LINEAGE_COL;
			col->hashValue = ((uint32) (uint16) s->attno << 16) | (uint16) target;
			*marks = lappend(lappend(*marks, src), col);
		}
	}
}

PlannedStmt *
lineage_planner(Query *parse, const char *query_string, int cursorOptions,
				ParamListInfo boundParams, MeshHookStep next)
{
	List	   *marks = NIL;
	PlannedStmt *result;

	/*
	 * Only writes that read something, and the query of CREATE TABLE AS or
	 * REFRESH: a plain SELECT costs one test.  Derived before the governance
	 * planner masks the query, so masks do not hide the derivation.
	 */
	if (!writing && mesh_history_enabled)
	{
		if (utility_plan_pending && parse->commandType == CMD_SELECT)
		{
			utility_plan_pending = false;
			if (mesh_catalog() != NULL)
				derive_targets(NULL, parse, parse->targetList, true, &marks);
		}
		/*
		 * A write reads another relation through its range table, or
		 * through a scalar sublink alone: UPDATE t SET c = (SELECT ...) and
		 * INSERT ... VALUES ((SELECT ...)) have only their target there.
		 */
		else if ((parse->commandType == CMD_INSERT || parse->commandType == CMD_UPDATE ||
				  parse->commandType == CMD_MERGE) &&
				 parse->resultRelation > 0 &&
				 (list_length(parse->rtable) > 1 || parse->hasSubLinks) &&
				 mesh_catalog() != NULL)
		{
			if (parse->commandType == CMD_MERGE)
			{
				ListCell   *lc;

				foreach(lc, parse->mergeActionList)
					derive_targets(NULL, parse, ((MergeAction *) lfirst(lc))->targetList,
								   false, &marks);
			}
			else
				derive_targets(NULL, parse, parse->targetList, false, &marks);
		}
	}

	/*
	 * WITH w AS (INSERT INTO t SELECT ... RETURNING ...) writes t from
	 * inside a statement of any kind, a SELECT included: each such write
	 * gets its own target mark and columns (such CTEs are at the top level).
	 */
	if (!writing && mesh_history_enabled && parse->hasModifyingCTE && mesh_catalog() != NULL)
	{
		ListCell   *lc;

		foreach(lc, parse->cteList)
		{
			CommonTableExpr *cte = lfirst(lc);
			Query	   *cq = (Query *) cte->ctequery;
			PlanInvalItem *tgt;
			PlanInvalItem *cmd;

			if (!IsA(cq, Query) || cq->resultRelation <= 0 ||
				(cq->commandType != CMD_INSERT && cq->commandType != CMD_UPDATE))
				continue;
			tgt = makeNode(PlanInvalItem);
			tgt->cacheId = MESH_MARK_LINEAGE_TGT;
			tgt->hashValue = (uint32) rt_fetch(cq->resultRelation, cq->rtable)->relid;
			cmd = makeNode(PlanInvalItem);
			cmd->cacheId = MESH_MARK_LINEAGE_CMD;
			cmd->hashValue = cq->commandType == CMD_INSERT ? 'i' : 'u';
			marks = lappend(lappend(marks, tgt), cmd);
			derive_targets(parse, cq, cq->targetList, false, &marks);
		}
	}

	result = mesh_next_planner(parse, query_string, cursorOptions, boundParams, next);
	if (marks != NIL)
		result->invalItems = list_concat(result->invalItems, marks);
	return result;
}

void
lineage_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				ProcessUtilityContext context, ParamListInfo params,
				QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc,
				MeshHookStep next)
{
	Node	   *stmt = pstmt->utilityStmt;
	char		saved_command = utility_command;
	IntoClause *saved_into = utility_into;
	Oid			saved_relid = utility_relid;
	bool		saved_pending = utility_plan_pending;
	const char *saved_execute = utility_execute;
	bool		mine = false;

	if (IsA(stmt, CreateTableAsStmt) && !((CreateTableAsStmt *) stmt)->into->skipData &&
		((CreateTableAsStmt *) stmt)->objtype != OBJECT_INDEX)
	{
		Query	   *query = (Query *) ((CreateTableAsStmt *) stmt)->query;

		utility_command = 'c';
		utility_into = ((CreateTableAsStmt *) stmt)->into;
		utility_plan_pending = IsA(query, Query) && query->commandType == CMD_SELECT;
		/* its plan was made before: lineage is derived from its query */
		utility_execute = NULL;
		if (IsA(query, Query) && query->commandType == CMD_UTILITY &&
			IsA(query->utilityStmt, ExecuteStmt))
			utility_execute = ((ExecuteStmt *) query->utilityStmt)->name;
		mine = true;
	}
	else if (IsA(stmt, RefreshMatViewStmt) && !((RefreshMatViewStmt *) stmt)->skipData)
	{
		utility_command = 'r';
		utility_relid = RangeVarGetRelid(((RefreshMatViewStmt *) stmt)->relation, NoLock, true);
		utility_plan_pending = true;
		mine = true;
	}

	mesh_next_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc,
					  next);

	/*
	 * A table attached as a partition (or made an inheritance child) brings
	 * its rows, and their lineage, into its parent: a product built by
	 * loading a table from a tagged column and attaching it must inherit
	 * the tag as one loaded by INSERT INTO the partition does.
	 */
	if (IsA(stmt, AlterTableStmt))
	{
		ListCell   *lc;

		foreach(lc, ((AlterTableStmt *) stmt)->cmds)
		{
			AlterTableCmd *cmd = lfirst(lc);

			if (cmd->subtype == AT_AttachPartition || cmd->subtype == AT_AddInherit)
			{
				(void) mesh_propagate_tags();
				break;
			}
		}
	}

	/* an error leaves these set; mesh_lineage_reset clears them at abort */
	if (mine)
	{
		utility_command = saved_command;
		utility_into = saved_into;
		utility_relid = saved_relid;
		utility_plan_pending = saved_pending;
		utility_execute = saved_execute;
	}
}

typedef struct Edge
{
	Oid			source;
	AttrNumber	source_attno;	/* 0: the relation-level edge */
	AttrNumber	target_attno;
} Edge;

static void
add_edge(Edge *edges, int *n, Oid source, AttrNumber sa, AttrNumber ta)
{
	for (int i = 0; i < *n; i++)
		if (edges[i].source == source && edges[i].source_attno == sa &&
			edges[i].target_attno == ta)
			return;
	edges[*n].source = source;
	edges[*n].source_attno = sa;
	edges[*n].target_attno = ta;
	(*n)++;
}

static const char *
kind_name(char command)
{
	switch (command)
	{
		case 'i':
			return "insert";
		case 'u':
			return "update";
		case 'm':
			return "merge";
		case 'c':
			return "create table as";
		case 'r':
			return "refresh";
		default:
			return "write";
	}
}

/*
 * The marks lineage_planner would have left for CREATE TABLE AS over the
 * query of prepared statement name: its plan source was just revalidated by
 * the EXECUTE, so the query is the one that ran.
 */
static List *
execute_marks(const char *name)
{
	PreparedStatement *ps = FetchPreparedStatement(name, false);
	List	   *marks = NIL;
	Query	   *query;

	if (ps == NULL || list_length(ps->plansource->query_list) != 1)
		return NIL;
	query = linitial_node(Query, ps->plansource->query_list);
	if (query->commandType == CMD_SELECT)
		derive_targets(NULL, query, query->targetList, true, &marks);
	return marks;
}

/*
 * Records the edges into target: from each product read, and the column
 * derivations of items from index start up to the next write's target mark.
 */
static void
record_write(Oid target, char command, const Oid *sources, int n, List *items, int start)
{
	const MeshCatalog *cat;
	Edge	   *edges;
	int			nedges = 0;
	int			maxedges;
	Oid			source = InvalidOid;
	uint32		key;
	MeshSpiState spi;
	const char *user;

	if ((cat = mesh_catalog()) == NULL ||
		get_rel_persistence(target) == RELPERSISTENCE_TEMP ||
		get_rel_namespace(target) == cat->nsp)
		return;

	maxedges = n + list_length(items) + 1;
	edges = palloc(sizeof(Edge) * maxedges);
	for (int i = 0; i < n; i++)
		if (sources[i] != target)
			add_edge(edges, &nedges, sources[i], 0, 0);
	for (int i = start; i < list_length(items); i++)
	{
		PlanInvalItem *item = list_nth(items, i);

		if (item->cacheId == MESH_MARK_LINEAGE_TGT)
			break;
		if (item->cacheId == MESH_MARK_LINEAGE_SRC)
			source = (Oid) item->hashValue;
		else if (item->cacheId == MESH_MARK_LINEAGE_COL && source != target &&
				 OidIsValid(source))
		{
			add_edge(edges, &nedges, source, 0, 0);
			add_edge(edges, &nedges, source, (AttrNumber) (item->hashValue >> 16),
					 (AttrNumber) (item->hashValue & 0xffff));
		}
	}
	if (nedges == 0)
		return;

	key = hash_bytes((const unsigned char *) edges, sizeof(Edge) * nedges);
	key = hash_combine(key, hash_bytes((const unsigned char *) &target, sizeof(Oid)));
	key = hash_combine(key, (uint32) command);
	if (recorded == NULL || recorded_generation != mesh_catalog_generation())
	{
		HASHCTL		ctl;

		if (recorded != NULL)
			hash_destroy(recorded);
		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(uint32);
		ctl.hcxt = TopMemoryContext;
		recorded = hash_create("meshpg lineage recorded", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		recorded_generation = mesh_catalog_generation();
	}
	if (hash_search(recorded, &key, HASH_FIND, NULL) != NULL ||
		list_member_int(recorded_pending, (int) key))
		return;
	if (!callback_registered)
	{
		RegisterXactCallback(lineage_xact_callback, NULL);
		RegisterSubXactCallback(lineage_subxact_callback, NULL);
		callback_registered = true;
	}

	user = GetUserNameFromId(GetUserId(), false);
	writing = true;
	mesh_spi_begin(&spi);
	for (int i = 0; i < nedges; i++)
	{
		Edge	   *e = &edges[i];

		if (e->source_attno == 0)
			mesh_spi_exec("INSERT INTO meshpg.cat_lineage (source, target, kind, recorded_by) "
						  "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
						  4, (Oid[]) {REGCLASSOID, REGCLASSOID, TEXTOID, TEXTOID},
						  (Datum[]) {ObjectIdGetDatum(e->source), ObjectIdGetDatum(target),
						  CStringGetTextDatum(kind_name(command)), CStringGetTextDatum(user)},
						  NULL);
	}
	for (int i = 0; i < nedges; i++)
	{
		Edge	   *e = &edges[i];
		char	   *sc;
		char	   *tc;

		if (e->source_attno == 0)
			continue;
		sc = get_attname(e->source, e->source_attno, true);
		tc = get_attname(target, e->target_attno, true);
		if (sc == NULL || tc == NULL)
			continue;
		mesh_spi_exec("INSERT INTO meshpg.cat_lineage_column (source, source_column, target, target_column, kind) "
					  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
					  5, (Oid[]) {REGCLASSOID, TEXTOID, REGCLASSOID, TEXTOID, TEXTOID},
					  (Datum[]) {ObjectIdGetDatum(e->source), CStringGetTextDatum(sc),
					  ObjectIdGetDatum(target), CStringGetTextDatum(tc),
					  CStringGetTextDatum(kind_name(command))},
					  NULL);
	}
	mesh_spi_end(&spi);
	writing = false;
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		recorded_pending = lappend_int(recorded_pending, (int) key);
		recorded_pending_subids = lappend_int(recorded_pending_subids,
											  (int) GetCurrentSubTransactionId());
		MemoryContextSwitchTo(old);
	}
	pfree(edges);
}

/*
 * Records the edges of a statement: into target (if valid) from the
 * derivations in own_items, and into each of its data-modifying CTEs'
 * targets from those in cte_items.
 */
static void
record_statement(PlannedStmt *stmt, List *own_items, List *cte_items, Oid target,
				 char command, const Oid *sources, int n)
{
	/* a DELETE ... USING builds nothing from what it reads */
	if (OidIsValid(target) && command != 'd')
		record_write(target, command, sources, n, own_items, 0);
	if (stmt->hasModifyingCTE)
	{
		for (int i = 0; i + 1 < list_length(cte_items); i++)
		{
			PlanInvalItem *tgt = list_nth(cte_items, i);
			PlanInvalItem *cmd = list_nth(cte_items, i + 1);

			if (tgt->cacheId == MESH_MARK_LINEAGE_TGT && cmd->cacheId == MESH_MARK_LINEAGE_CMD)
				record_write((Oid) tgt->hashValue, (char) cmd->hashValue, sources, n,
							 cte_items, i + 2);
		}
	}
}

/* The derivations of the statement's own write. */
static List *
main_items(PlannedStmt *stmt, char command)
{
	/* CREATE TABLE AS EXECUTE: the prepared plan carries no write's marks */
	if (command == 'c' && utility_execute != NULL)
		return execute_marks(utility_execute);
	return stmt->invalItems;
}

/*
 * The lineage of a statement that read the products sources and wrote
 * target (if valid) and the targets of its data-modifying CTEs, if any.
 */
void
mesh_lineage_record(PlannedStmt *stmt, Oid target, char command,
					const Oid *sources, int n)
{
	if (writing || RecoveryInProgress() || mesh_catalog() == NULL || !IsTransactionState())
		return;
	/* a Citus worker's catalog is the coordinator's copy: lineage is recorded there */
	if (mesh_citus_is_worker())
		return;
	record_statement(stmt, main_items(stmt, command), stmt->invalItems, target, command,
					 sources, n);
}

/*
 * Whether a recorded write put product values into relid
 * (meshpg.cat_lineage_column names it as a target).  An index probe, with a
 * fresh snapshot: edges recorded by this transaction's earlier statements,
 * or committed by others, count.
 */
static bool
has_column_lineage(Oid relid)
{
	static Oid	table = InvalidOid;
	static Oid	index = InvalidOid;
	static uint64 generation = 0;
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	Snapshot	snapshot;
	bool		found;

	/* looked up once per catalog generation, not per relation probed */
	if (!OidIsValid(index) || generation != mesh_catalog_generation())
	{
		const MeshCatalog *cat = mesh_catalog();

		table = get_relname_relid("cat_lineage_column", cat->nsp);
		index = get_relname_relid("cat_lineage_column_target_idx", cat->nsp);
		generation = mesh_catalog_generation();
	}
	if (!OidIsValid(table) || !OidIsValid(index))
		return false;
	rel = table_open(table, AccessShareLock);
	/* the target column (a regclass, compared as an oid) */
	ScanKeyInit(&key, 3, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, index, true, snapshot, 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * relid, or its nearest ancestor by pg_inherits, that has column lineage.
 * Breadth first over a graph anyone can build of their own tables (deep
 * chains, or diamonds with 2^depth paths): each relation is visited once,
 * so the walk costs one probe per ancestor, and it can be cancelled.
 */
static Oid
lineage_above(Oid relid)
{
	List	   *queue;
	List	   *seen;
	HTAB	   *visited;
	HASHCTL		ctl;
	ListCell   *lc;
	Oid			holder = InvalidOid;

	if (has_column_lineage(relid))
		return relid;
	queue = mesh_relation_parents(relid);
	if (queue == NIL)
		return InvalidOid;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid);
	ctl.hcxt = CurrentMemoryContext;
	visited = hash_create("meshpg lineage ancestors", 64, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	(void) hash_search(visited, &relid, HASH_ENTER, NULL);
	seen = queue;
	foreach(lc, seen)
		(void) hash_search(visited, &lfirst_oid(lc), HASH_ENTER, NULL);

	/* the queue grows as it is walked */
	foreach(lc, queue)
	{
		Oid			rel = lfirst_oid(lc);
		ListCell   *pc;

		CHECK_FOR_INTERRUPTS();
		if (has_column_lineage(rel))
		{
			holder = rel;
			break;
		}
		foreach(pc, mesh_relation_parents(rel))
		{
			Oid			parent = lfirst_oid(pc);
			bool		found;

			(void) hash_search(visited, &parent, HASH_ENTER, &found);
			if (!found)
				queue = lappend_oid(queue, parent);
		}
	}
	hash_destroy(visited);
	return holder;
}

/*
 * The relation whose recorded lineage a read of relid carries on, or
 * InvalidOid if relid holds no values derived from a product.  Rows come
 * and go between a partitioned (or inheritance) parent and its children:
 * a read of a child whose rows were loaded through the parent goes on from
 * the parent; a read of a parent whose rows were loaded through a child
 * goes on from the parent itself, which propagation reaches from the child.
 */
static Oid
lineage_holder(Oid relid)
{
	Oid			holder = lineage_above(relid);
	ListCell   *lc;

	if (OidIsValid(holder) || !has_subclass(relid))
		return holder;
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		CHECK_FOR_INTERRUPTS();
		if (lfirst_oid(lc) != relid && has_column_lineage(lfirst_oid(lc)))
			return relid;
	}
	return InvalidOid;
}

/*
 * items with each source replaced by its lineage holder (and its column
 * numbers by the holder's column of the same name); *derived says whether
 * any source holds product values.
 */
static List *
holders_of(List *items, Oid target, bool *derived)
{
	List	   *out = NIL;
	ListCell   *lc;
	Oid			from = InvalidOid;
	Oid			to = InvalidOid;

	foreach(lc, items)
	{
		PlanInvalItem *item = lfirst(lc);

		if (item->cacheId == MESH_MARK_LINEAGE_SRC)
		{
			PlanInvalItem *src = makeNode(PlanInvalItem);

			if ((Oid) item->hashValue != from)
			{
				from = (Oid) item->hashValue;
				to = from == target ? InvalidOid : lineage_holder(from);
				*derived |= OidIsValid(to);
			}
			src->cacheId = item->cacheId;
			src->hashValue = OidIsValid(to) ? (uint32) to : item->hashValue;
			out = lappend(out, src);
		}
		else if (item->cacheId == MESH_MARK_LINEAGE_COL && OidIsValid(to) && to != from)
		{
			char	   *name = get_attname(from, (AttrNumber) (item->hashValue >> 16), true);
			AttrNumber	attno = name ? get_attnum(to, name) : InvalidAttrNumber;
			PlanInvalItem *col;

			/* a column only the child has derives nothing through the parent */
			if (attno == InvalidAttrNumber)
				continue;
			col = makeNode(PlanInvalItem);
			col->cacheId = item->cacheId;
			col->hashValue = ((uint32) (uint16) attno << 16) | (item->hashValue & 0xffff);
			out = lappend(out, col);
		}
		else
			out = lappend(out, item);
	}
	return out;
}

/*
 * A write that read no product: its lineage is recorded if a relation it
 * derives columns from holds product values itself (a staging table loaded
 * from a product, then copied on), so that tags reach a product built
 * through any number of such relations.  Other writes record nothing.
 */
void
mesh_lineage_record_indirect(PlannedStmt *stmt, Oid target, char command)
{
	bool		derived = false;
	List	   *own;
	List	   *ctes = NIL;

	if (writing || RecoveryInProgress() || mesh_catalog() == NULL || !IsTransactionState())
		return;
	own = holders_of(main_items(stmt, command), target, &derived);
	if (stmt->hasModifyingCTE)
		ctes = holders_of(stmt->invalItems, InvalidOid, &derived);
	if (derived)
		record_statement(stmt, own, ctes, target, command, NULL, 0);
}
