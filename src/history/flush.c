/*
 * flush.c
 *		Moves captured reads from the shared ring into
 *		meshpg.cat_access_history, resolving names on the way, and purges
 *		rows past the retention period.
 *
 * The heavy work of the access history happens here, off the query path:
 * role, column and policy names are resolved and the rows written in one
 * prepared statement.  The claimed entries leave the ring only when this
 * transaction commits, so an error or a killed backend loses nothing and a
 * committed flush is never replayed.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "executor/executor.h"
#include "catalog/namespace.h"
#include "utils/memutils.h"
#include "utils/jsonb.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"

#include "catalog/catalog.h"
#include "history/history.h"
#include "registry/registry.h"

PG_FUNCTION_INFO_V1(meshpg_flush_access_history);

static bool callback_registered = false;
static SubTransactionId claim_subid = InvalidSubTransactionId;

/*
 * A flush rolled back to a savepoint wrote nothing: its entries stay.  (At
 * the top level, the transaction's end decides.)
 */
static void
flush_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && claim_subid != InvalidSubTransactionId &&
		claim_subid >= mySubid)
	{
		mesh_history_release(false);
		claim_subid = InvalidSubTransactionId;
	}
}

static void
flush_xact_callback(XactEvent event, void *arg)
{
	claim_subid = InvalidSubTransactionId;
	if (event == XACT_EVENT_COMMIT)
		mesh_history_release(true);
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_PREPARE)
		mesh_history_release(false);
}

/* Per-batch name caches: a batch holds few roles, relations and policies. */
typedef struct NameCache
{
	Oid			key;
	char	   *name;
} NameCache;

#define CACHE_SIZE 32

static const char *
cached(NameCache *cache, Oid key, char *(*lookup) (Oid))
{
	int			slot = key % CACHE_SIZE;

	if (cache[slot].name == NULL || cache[slot].key != key)
	{
		char	   *name = lookup(key);

		cache[slot].key = key;
		cache[slot].name = name ? name : "";
	}
	return cache[slot].name[0] ? cache[slot].name : NULL;
}

static char *
role_name(Oid role)
{
	char	   *name = GetUserNameFromId(role, true);

	return name ? name : psprintf("%u", role);
}

static char *
relation_name(Oid relid)
{
	char	   *rel = get_rel_name(relid);
	char	   *nsp;

	if (rel == NULL)
		return NULL;
	nsp = get_namespace_name(get_rel_namespace(relid));
	return quote_qualified_identifier(nsp, rel);
}

static const char *
command_name(char c)
{
	switch (c)
	{
		case 'i':
			return "INSERT";
		case 'u':
			return "UPDATE";
		case 'd':
			return "DELETE";
		case 'm':
			return "MERGE";
		case 'c':
			return "CREATE TABLE AS";
		case 'r':
			return "REFRESH MATERIALIZED VIEW";
		default:
			return "SELECT";
	}
}

static char *
attribute_name(Oid relid, AttrNumber attno)
{
	char	   *name = get_attname(relid, attno, true);

	return name ? name : psprintf("#%d", attno);
}

/* Policy names by id, read once per flush that needs them. */
static HTAB *
load_policy_names(void)
{
	HASHCTL		ctl;
	HTAB	   *names;

	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(int64) + sizeof(char *);
	ctl.hcxt = CurrentMemoryContext;
	names = hash_create("meshpg policy names", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	mesh_spi_exec("SELECT id, name FROM meshpg.cat_policy", 0, NULL, NULL, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		char	  **entry = (char **) ((char *) hash_search(names, &id, HASH_ENTER, NULL) + sizeof(int64));

		*entry = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	return names;
}

static const char *
policy_name(HTAB *names, int64 id)
{
	char	  **entry = hash_search(names, &id, HASH_FIND, NULL);

	return entry ? *(char **) ((char *) entry + sizeof(int64)) : psprintf("#" INT64_FORMAT, id);
}

/* Column numbers of meshpg.cat_access_history (sql/1.1/30-history.sql). */
enum
{
	A_READ_AT = 0, A_PRODUCT_ID, A_PRODUCT, A_VERSION, A_RELATION, A_ROLE, A_SESSION_ROLE,
	A_COLUMNS, A_MASKS, A_ROW_POLICIES, A_PURPOSE, A_ROWS, A_QUERY_ID, A_COMMAND, A_TARGET,
	A_COMPLETE, A_PID, A_BACKEND_START, A_STATEMENT, A_FLUSHED_AT, A_NATTS
};

static char *
product_name_by_id(int64 id)
{
	bool		isnull;

	mesh_spi_exec("SELECT d.name || '.' || p.name FROM meshpg.cat_product p "
				  "JOIN meshpg.cat_domain d ON d.id = p.domain_id WHERE p.id = $1",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL);
	if (SPI_processed == 0)
		return NULL;
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? NULL : SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/* The columns entry e read, as a text[] datum. */
static Datum
columns_datum(const HistoryEntry *e)
{
	List	   *names = NIL;
	int			natts = 0;
	Datum	   *elems;
	ListCell   *lc;
	int			n = 0;

	if (e->flags & MESH_HISTORY_WHOLE_ROW)
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(e->relid));

		if (HeapTupleIsValid(tup))
		{
			natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
			ReleaseSysCache(tup);
		}
	}
	for (int a = 1; a <= MESH_HISTORY_MAX_ATTNO; a++)
	{
		bool		read = e->columns[(a - 1) / 8] & (1 << ((a - 1) % 8));

		if (read)
			names = lappend(names, attribute_name(e->relid, a));
		else if (a <= natts)
		{
			char	   *whole = get_attname(e->relid, a, true);

			if (whole != NULL)
				names = lappend(names, whole);
		}
	}
	elems = palloc(sizeof(Datum) * (list_length(names) + 1));
	foreach(lc, names)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static Datum
masks_datum(const HistoryEntry *e, HTAB *policies)
{
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (int p = 0; p < e->npolicies; p++)
	{
		if (e->policy_attnos[p] == 0)
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		escape_json(&buf, attribute_name(e->relid, e->policy_attnos[p]));
		appendStringInfoString(&buf, ": ");
		escape_json(&buf, policy_name(policies, e->policies[p]));
	}
	appendStringInfoChar(&buf, '}');
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data));
}

static Datum
row_policies_datum(const HistoryEntry *e, HTAB *policies)
{
	Datum		elems[MESH_HISTORY_MAX_POLICIES];
	int			n = 0;

	for (int p = 0; p < e->npolicies; p++)
		if (e->policy_attnos[p] == 0)
			elems[n++] = CStringGetTextDatum(policy_name(policies, e->policies[p]));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Whether a and b read the same columns under the same policies. */
static bool
same_shape(const HistoryEntry *a, const HistoryEntry *b)
{
	return a->relid == b->relid && a->flags == b->flags && a->npolicies == b->npolicies &&
		memcmp(a->policies, b->policies, sizeof(int64) * a->npolicies) == 0 &&
		memcmp(a->policy_attnos, b->policy_attnos, sizeof(AttrNumber) * a->npolicies) == 0 &&
		memcmp(a->columns, b->columns, sizeof(a->columns)) == 0;
}

#define MULTI_INSERT 1000

/* Writes the buffered rows, then their index entries (COPY's order). */
static void
write_chunk(Relation rel, ResultRelInfo *rri, EState *estate, TupleTableSlot **slots,
			int nslots, CommandId cid, BulkInsertState bistate)
{
	table_multi_insert(rel, slots, nslots, cid, 0, bistate);
	for (int j = 0; j < nslots; j++)
	{
		(void) ExecInsertIndexTuples(rri, slots[j], estate, false, false, NULL, NIL);
		ResetPerTupleExprContext(estate);
	}
}

/*
 * Writes n entries straight into the table and its indexes, as COPY does:
 * no statement to plan, rows written a thousand at a time.  Consecutive
 * entries of the same shape (a workload repeats itself) share their column
 * and policy values.
 */
static void
insert_entries(const HistoryEntry *entries, int n)
{
	const MeshCatalog *cat = mesh_catalog();
	Oid			relid = get_relname_relid("cat_access_history", cat->nsp);
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slots[MULTI_INSERT];
	int			nslots = 0;
	BulkInsertState bistate;
	CommandId	cid = GetCurrentCommandId(true);
	MemoryContext chunkcxt;
	MemoryContext old;
	NameCache	roles[CACHE_SIZE];
	NameCache	rels[CACHE_SIZE];
	HTAB	   *policies = NULL;
	const HistoryEntry *shape = NULL;
	Datum		shape_values[3] = {0, 0, 0};
	int64		product_id = 0;
	char	   *product_name = NULL;
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (!OidIsValid(relid))
		elog(ERROR, "meshpg.cat_access_history is missing");
	memset(roles, 0, sizeof(roles));
	memset(rels, 0, sizeof(rels));
	for (int i = 0; i < n && policies == NULL; i++)
		if (entries[i].npolicies > 0)
			policies = load_policy_names();

	rel = table_open(relid, RowExclusiveLock);
	estate = CreateExecutorState();
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	for (int i = 0; i < Min(n, MULTI_INSERT); i++)
		slots[i] = table_slot_create(rel, NULL);
	bistate = GetBulkInsertState();
	/* the rows' values live until their chunk is written */
	chunkcxt = AllocSetContextCreate(CurrentMemoryContext, "meshpg history chunk",
									 ALLOCSET_DEFAULT_SIZES);

	for (int i = 0; i < n; i++)
	{
		const HistoryEntry *e = &entries[i];
		TupleTableSlot *slot = slots[nslots];
		Datum	   *values = slot->tts_values;
		bool	   *nulls = slot->tts_isnull;
		const char *relname;
		const char *role;
		const char *session_role;
		const char *target;

		if (product_name == NULL || product_id != e->product_id)
		{
			const MeshProduct *product = mesh_product_by_relid(e->relid);

			product_id = e->product_id;
			product_name = (product != NULL && product->id == e->product_id) ?
				pstrdup(product->qualname) : product_name_by_id(e->product_id);
			if (product_name == NULL)
				product_name = "";
		}
		/* names live for the batch */
		relname = cached(rels, e->relid, relation_name);
		role = cached(roles, e->current_user, role_name);
		session_role = cached(roles, e->session_user, role_name);
		target = OidIsValid(e->target) ? cached(rels, e->target, relation_name) : NULL;

		old = MemoryContextSwitchTo(chunkcxt);
		if (shape == NULL || !same_shape(shape, e))
		{
			shape_values[0] = columns_datum(e);
			shape_values[1] = masks_datum(e, policies);
			shape_values[2] = row_policies_datum(e, policies);
			shape = e;
		}
		ExecClearTuple(slot);
		memset(nulls, false, sizeof(bool) * A_NATTS);
		values[A_READ_AT] = TimestampTzGetDatum(e->read_at);
		values[A_PRODUCT_ID] = Int64GetDatum(e->product_id);
		values[A_PRODUCT] = CStringGetTextDatum(product_name);
		nulls[A_PRODUCT] = product_name[0] == '\0';
		values[A_VERSION] = CStringGetTextDatum(e->version);
		values[A_RELATION] = relname ? CStringGetTextDatum(relname) : (Datum) 0;
		nulls[A_RELATION] = relname == NULL;
		values[A_ROLE] = CStringGetTextDatum(role);
		values[A_SESSION_ROLE] = CStringGetTextDatum(session_role);
		values[A_COLUMNS] = shape_values[0];
		values[A_MASKS] = shape_values[1];
		values[A_ROW_POLICIES] = shape_values[2];
		values[A_PURPOSE] = e->purpose[0] ? CStringGetTextDatum(e->purpose) : (Datum) 0;
		nulls[A_PURPOSE] = e->purpose[0] == '\0';
		values[A_ROWS] = Int64GetDatum((int64) e->rows);
		values[A_QUERY_ID] = Int64GetDatum((int64) e->query_id);
		nulls[A_QUERY_ID] = e->query_id == 0;
		values[A_COMMAND] = CStringGetTextDatum(command_name(e->command));
		values[A_TARGET] = target ? CStringGetTextDatum(target) : (Datum) 0;
		nulls[A_TARGET] = target == NULL;
		values[A_COMPLETE] = BoolGetDatum(!(e->flags & MESH_HISTORY_INCOMPLETE));
		values[A_PID] = Int32GetDatum(e->pid);
		values[A_BACKEND_START] = TimestampTzGetDatum(e->backend_start);
		values[A_STATEMENT] = Int64GetDatum((int64) e->statement);
		values[A_FLUSHED_AT] = TimestampTzGetDatum(now);
		ExecStoreVirtualTuple(slot);
		MemoryContextSwitchTo(old);

		if (++nslots == MULTI_INSERT || i == n - 1)
		{
			write_chunk(rel, rri, estate, slots, nslots, cid, bistate);
			nslots = 0;
			MemoryContextReset(chunkcxt);
			shape = NULL;
		}
	}

	FreeBulkInsertState(bistate);
	for (int i = 0; i < Min(n, MULTI_INSERT); i++)
		ExecDropSingleTupleTableSlot(slots[i]);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	MemoryContextDelete(chunkcxt);
	/* the rows are visible to what follows in this transaction */
	CommandCounterIncrement();
}

/* When this backend last purged rows past the retention. */
static TimestampTz last_purge = 0;

static int64
flush_history(bool always_purge)
{
	MeshSpiState spi;
	HistoryEntry *entries;
	int			n;
	bool		pushed = false;

	if (RecoveryInProgress() || mesh_catalog() == NULL || !mesh_history_ready())
		return 0;
	/* a worker's task may come without a snapshot */
	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed = true;
	}
	if (!callback_registered)
	{
		RegisterXactCallback(flush_xact_callback, NULL);
		RegisterSubXactCallback(flush_subxact_callback, NULL);
		callback_registered = true;
	}

	mesh_spi_begin(&spi);
	entries = mesh_history_claim(MyDatabaseId, &n);
	if (entries != NULL)
		claim_subid = GetCurrentSubTransactionId();
	if (n > 0)
	{
		insert_entries(entries, n);
	}
	/*
	 * Retention is in minutes at the finest: the worker purges once a
	 * minute, which spares a scan to flushes that come in quick succession
	 * (the ring wakes it whenever it is half full).  A flush on demand
	 * always purges.
	 */
	if (mesh_history_retention > 0 &&
		(always_purge ||
		 TimestampDifferenceExceeds(last_purge, GetCurrentTimestamp(), 60 * 1000)))
	{
		last_purge = GetCurrentTimestamp();
		mesh_spi_exec("DELETE FROM meshpg.cat_access_history "
					  "WHERE read_at < now() - pg_catalog.make_interval(mins => $1)",
					  1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(mesh_history_retention)},
					  NULL);
	}
	mesh_spi_end(&spi);
	if (pushed)
		PopActiveSnapshot();
	return n;
}

bool
mesh_history_flush_task(void)
{
	mesh_history_set_flusher(MyDatabaseId, MyLatch);
	return flush_history(false) >= MESH_HISTORY_FLUSH_BATCH;
}

/* meshpg.flush_access_history(): what the worker does, on demand */
Datum
meshpg_flush_access_history(PG_FUNCTION_ARGS)
{
	mesh_require_admin(GetUserId(), "flush the access history");
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot flush the access history during recovery"),
				 errdetail("A standby keeps its captured reads in memory, and in a file across a clean restart."),
				 errhint("Flush on the primary, or after promotion.")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot flush the access history in a read-only transaction")));
	PG_RETURN_INT64(flush_history(true));
}
