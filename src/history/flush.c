/*
 * flush.c
 *		Moves captured reads from the shared ring into
 *		meshpg.cat_access_batch, resolving names on the way, and purges
 *		reads past the retention period.
 *
 * The heavy work of the access history happens here, off the query path.
 * A workload repeats itself: the same roles read the same columns under the
 * same policies, statement after statement.  So the reads of a flush are
 * grouped by shape (who, what, under which policies, for what), each shape's
 * names are resolved once, and each shape gets one row whose arrays hold its
 * reads' times, row counts and statement numbers; meshpg.access_history
 * unnests them.  A read then costs the flush a few array elements instead of
 * a row and its index entries.  The claimed reads leave the ring only when
 * this transaction commits, so an error or a killed backend loses nothing
 * and a committed flush is never replayed.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "postmaster/interrupt.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "storage/latch.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/history/history.h"
#include "meshpg/registry/registry.h"

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
	/*
	 * A prepared transaction lets go of its claim, and COMMIT PREPARED would
	 * write its rows later: the reads, left in the ring for the next flush,
	 * would be recorded twice.
	 */
	if (event == XACT_EVENT_PRE_PREPARE && mesh_history_claimed())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot PREPARE a transaction that flushed the access history"),
				 errhint("Flush the access history in a transaction of its own.")));
	claim_subid = InvalidSubTransactionId;
	if (event == XACT_EVENT_COMMIT)
		mesh_history_release(true);
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_PREPARE)
		mesh_history_release(false);
}

/*
 * Per-flush name caches: a flush holds few roles, relations and policies.
 * Names live in the flush's memory context, not a row's.
 */
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

/*
 * A purpose or version as a shape holds it, cut before its first byte that
 * is not valid in the database's encoding.  Reads captured before capture
 * cut long purposes between characters, or reloaded from a damaged
 * shutdown file, may hold such bytes: stored as they are, they would make
 * the row unreadable to whatever checks its text (convert_to, the restore
 * of a dump).
 */
static const char *
valid_text(const char *s)
{
	return pnstrdup(s, pg_encoding_verifymbstr(GetDatabaseEncoding(), s, strlen(s)));
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
	/*
	 * Masks and row policies by name; the kinds recorded beside them (a
	 * projection policy on its column, an aggregation or privacy policy
	 * with the row policies) carry their kind: "aggregation:orders_min50".
	 */
	mesh_spi_exec("SELECT id, CASE WHEN kind IN ('mask', 'row') THEN name "
				  "ELSE kind || ':' || name END FROM meshpg.cat_policy", 0, NULL, NULL, NULL);
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

/* Column numbers of meshpg.cat_access_batch (sql/1.2/30-history.sql). */
enum
{
	A_PRODUCT_ID = 0, A_PRODUCT, A_VERSION, A_RELATION, A_ROLE, A_SESSION_ROLE,
	A_COLUMNS, A_MASKS, A_ROW_POLICIES, A_PURPOSE, A_QUERY_ID, A_COMMAND, A_TARGET,
	A_COMPLETE, A_PID, A_BACKEND_START, A_FIRST_READ, A_LAST_READ, A_READS,
	A_READ_AT, A_ROWS, A_STATEMENT, A_FLUSHED_AT, A_NATTS
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

/* The columns shape e read, as a text[] datum. */
static Datum
columns_datum(const HistoryShape *e)
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
masks_datum(const HistoryShape *e, HTAB *policies)
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
row_policies_datum(const HistoryShape *e, HTAB *policies)
{
	Datum		elems[MESH_HISTORY_MAX_POLICIES];
	int			n = 0;

	for (int p = 0; p < e->npolicies; p++)
		if (e->policy_attnos[p] == 0)
			elems[n++] = CStringGetTextDatum(policy_name(policies, e->policies[p]));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * A flush's reads grouped by shape: the reads of group g are
 * order[start[g] .. start[g + 1]), in ring order.
 */
typedef struct ShapeGroups
{
	int			ngroups;
	int		   *start;
	int		   *order;
	int		   *first;			/* a read of each group */
} ShapeGroups;

typedef struct ShapeKey
{
	const HistoryRead *read;
} ShapeKey;

typedef struct ShapeGroupEntry
{
	ShapeKey	key;
	int			group;
} ShapeGroupEntry;

static uint32
shape_key_hash(const void *key, Size keysize)
{
	return ((const ShapeKey *) key)->read->shape_hash;
}

static int
shape_key_match(const void *key1, const void *key2, Size keysize)
{
	const HistoryRead *a = ((const ShapeKey *) key1)->read;
	const HistoryRead *b = ((const ShapeKey *) key2)->read;

	return !(a->shape_hash == b->shape_hash && a->shape_len == b->shape_len &&
			 memcmp(a->shape, b->shape, a->shape_len) == 0);
}

static void
group_by_shape(const HistoryRead *reads, int n, ShapeGroups *groups)
{
	HASHCTL		ctl;
	HTAB	   *htab;
	int		   *group_of = palloc(sizeof(int) * n);
	int		   *count;
	int		   *fill;
	int			recent[64];

	ctl.keysize = sizeof(ShapeKey);
	ctl.entrysize = sizeof(ShapeGroupEntry);
	ctl.hash = shape_key_hash;
	ctl.match = shape_key_match;
	ctl.hcxt = CurrentMemoryContext;
	htab = hash_create("meshpg history shapes", 64, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	groups->ngroups = 0;
	groups->first = palloc(sizeof(int) * n);
	memset(recent, -1, sizeof(recent));
	for (int i = 0; i < n; i++)
	{
		ShapeKey	key = {&reads[i]};
		bool		found;
		ShapeGroupEntry *entry;
		int		   *hint = &recent[reads[i].shape_hash % lengthof(recent)];

		/* reads of one shape in a row share it (mesh_history_claim) */
		if (i > 0 && reads[i].shape == reads[i - 1].shape)
		{
			group_of[i] = group_of[i - 1];
			continue;
		}
		/* a workload's few shapes take turns: most reads match a hint */
		if (*hint >= 0)
		{
			ShapeKey	seen = {&reads[groups->first[*hint]]};

			if (shape_key_match(&key, &seen, sizeof(ShapeKey)) == 0)
			{
				group_of[i] = *hint;
				continue;
			}
		}
		entry = hash_search(htab, &key, HASH_ENTER, &found);
		if (!found)
		{
			entry->group = groups->ngroups;
			groups->first[groups->ngroups++] = i;
		}
		group_of[i] = *hint = entry->group;
	}
	/* a counting sort keeps each group's reads in ring order */
	count = palloc0(sizeof(int) * (groups->ngroups + 1));
	for (int i = 0; i < n; i++)
		count[group_of[i] + 1]++;
	for (int g = 0; g < groups->ngroups; g++)
		count[g + 1] += count[g];
	groups->start = count;
	fill = palloc(sizeof(int) * groups->ngroups);
	memcpy(fill, count, sizeof(int) * groups->ngroups);
	groups->order = palloc(sizeof(int) * n);
	for (int i = 0; i < n; i++)
		groups->order[fill[group_of[i]]++] = i;
	hash_destroy(htab);
}

/* Reads per row at most: retention trims and readers detoast by the row. */
#define READS_PER_ROW 8192

/*
 * Until ALTER EXTENSION meshpg UPDATE, a database keeps 1.1's table of one
 * row per read: the batch's reads go there, so that its entries neither
 * wait in the ring nor crowd out other databases'.
 */
static void
insert_reads_v11(Datum *values, bool *nulls)
{
	static const int params[] = {
		A_PRODUCT_ID, A_PRODUCT, A_VERSION, A_RELATION, A_ROLE, A_SESSION_ROLE,
		A_COLUMNS, A_MASKS, A_ROW_POLICIES, A_PURPOSE, A_QUERY_ID, A_COMMAND,
		A_TARGET, A_COMPLETE, A_PID, A_BACKEND_START, A_READ_AT, A_ROWS, A_STATEMENT
	};
	static const Oid types[] = {
		INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTARRAYOID, JSONBOID, TEXTARRAYOID, TEXTOID, INT8OID, TEXTOID,
		TEXTOID, BOOLOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID, INT8ARRAYOID
	};
	Datum		args[lengthof(params)];
	char		argnulls[lengthof(params)];

	StaticAssertStmt(lengthof(params) == lengthof(types), "one type per parameter");
	for (int i = 0; i < (int) lengthof(params); i++)
	{
		args[i] = values[params[i]];
		argnulls[i] = nulls[params[i]] ? 'n' : ' ';
	}
	mesh_spi_exec("INSERT INTO meshpg.cat_access_history (product_id, product, version, relation, "
				  "  role, session_role, columns, masks, row_policies, purpose, query_id, command, "
				  "  target, complete, backend_pid, backend_start, read_at, rows, statement) "
				  "SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, "
				  "       u.read_at, u.rows, u.statement "
				  "  FROM unnest($17, $18, $19) AS u(read_at, rows, statement)",
				  lengthof(params), (Oid *) types, args, argnulls);
}

/*
 * Writes n reads into meshpg.cat_access_batch, one row per shape (and per
 * READS_PER_ROW reads of it), straight into the table and its indexes:
 * there is no statement to plan for a handful of rows.
 */
static void
insert_reads(const HistoryRead *reads, int n)
{
	const MeshCatalog *cat = mesh_catalog();
	Oid			relid = get_relname_relid("cat_access_batch", cat->nsp);
	Relation	rel = NULL;
	EState	   *estate = NULL;
	ResultRelInfo *rri = NULL;
	TupleTableSlot *slot = NULL;
	Datum		values[A_NATTS];
	bool		nulls[A_NATTS];
	CommandId	cid = GetCurrentCommandId(true);
	MemoryContext rowcxt;
	MemoryContext old;
	NameCache	roles[CACHE_SIZE];
	NameCache	rels[CACHE_SIZE];
	HTAB	   *policies = NULL;
	ShapeGroups groups;
	int64	   *read_at = palloc(sizeof(int64) * Min(n, READS_PER_ROW));
	int64	   *rows = palloc(sizeof(int64) * Min(n, READS_PER_ROW));
	int64	   *statement = palloc(sizeof(int64) * Min(n, READS_PER_ROW));
	TimestampTz now = GetCurrentTransactionStartTimestamp();

	if (!OidIsValid(relid) &&
		!OidIsValid(get_relname_relid("cat_access_history", cat->nsp)))
		elog(ERROR, "meshpg.cat_access_batch is missing");
	memset(roles, 0, sizeof(roles));
	memset(rels, 0, sizeof(rels));
	group_by_shape(reads, n, &groups);

	if (OidIsValid(relid))
	{
		rel = table_open(relid, RowExclusiveLock);
		estate = CreateExecutorState();
		rri = makeNode(ResultRelInfo);
		InitResultRelInfo(rri, rel, 1, NULL, 0);
		ExecOpenIndices(rri, false);
		slot = table_slot_create(rel, NULL);
	}
	/* a row's values live until it is written */
	rowcxt = AllocSetContextCreate(CurrentMemoryContext, "meshpg history row",
								   ALLOCSET_DEFAULT_SIZES);

	for (int g = 0; g < groups.ngroups; g++)
	{
		HistoryShape shape;
		const char *product_name;
		const MeshProduct *product;
		const char *relname;
		const char *target;
		const char *role;
		const char *session_role;
		const char *purpose;
		const char *version;

		mesh_history_decode_shape(&reads[groups.first[g]], &shape);
		purpose = valid_text(shape.purpose);
		version = valid_text(shape.version);
		if (shape.npolicies > 0 && policies == NULL)
			policies = load_policy_names();
		product = mesh_product_by_relid(shape.relid);
		product_name = (product != NULL && product->id == shape.product_id) ?
			pstrdup(product->qualname) : product_name_by_id(shape.product_id);
		relname = cached(rels, shape.relid, relation_name);
		target = OidIsValid(shape.target) ? cached(rels, shape.target, relation_name) : NULL;
		role = cached(roles, shape.current_user, role_name);
		session_role = cached(roles, shape.session_user, role_name);

		for (int from = groups.start[g]; from < groups.start[g + 1]; from += READS_PER_ROW)
		{
			int			k = Min(READS_PER_ROW, groups.start[g + 1] - from);
			TimestampTz first = PG_INT64_MAX;
			TimestampTz last = PG_INT64_MIN;

			for (int i = 0; i < k; i++)
			{
				const HistoryRead *r = &reads[groups.order[from + i]];

				read_at[i] = r->read_at;
				rows[i] = (int64) r->rows;
				statement[i] = (int64) r->statement;
				first = Min(first, r->read_at);
				last = Max(last, r->read_at);
			}

			old = MemoryContextSwitchTo(rowcxt);
			memset(nulls, false, sizeof(nulls));
			values[A_PRODUCT_ID] = Int64GetDatum(shape.product_id);
			values[A_PRODUCT] = product_name ? CStringGetTextDatum(product_name) : (Datum) 0;
			nulls[A_PRODUCT] = product_name == NULL;
			values[A_VERSION] = CStringGetTextDatum(version);
			values[A_RELATION] = relname ? CStringGetTextDatum(relname) : (Datum) 0;
			nulls[A_RELATION] = relname == NULL;
			values[A_ROLE] = CStringGetTextDatum(role);
			values[A_SESSION_ROLE] = CStringGetTextDatum(session_role);
			values[A_COLUMNS] = columns_datum(&shape);
			values[A_MASKS] = masks_datum(&shape, policies);
			values[A_ROW_POLICIES] = row_policies_datum(&shape, policies);
			values[A_PURPOSE] = purpose[0] ? CStringGetTextDatum(purpose) : (Datum) 0;
			nulls[A_PURPOSE] = purpose[0] == '\0';
			values[A_QUERY_ID] = Int64GetDatum((int64) shape.query_id);
			nulls[A_QUERY_ID] = shape.query_id == 0;
			values[A_COMMAND] = CStringGetTextDatum(command_name(shape.command));
			values[A_TARGET] = target ? CStringGetTextDatum(target) : (Datum) 0;
			nulls[A_TARGET] = target == NULL;
			values[A_COMPLETE] = BoolGetDatum(!(shape.flags & MESH_HISTORY_INCOMPLETE));
			values[A_PID] = Int32GetDatum(shape.pid);
			values[A_BACKEND_START] = TimestampTzGetDatum(shape.backend_start);
			values[A_FIRST_READ] = TimestampTzGetDatum(first);
			values[A_LAST_READ] = TimestampTzGetDatum(last);
			values[A_READS] = Int32GetDatum(k);
			values[A_READ_AT] = PointerGetDatum(mesh_int64_array(read_at, k, TIMESTAMPTZOID));
			values[A_ROWS] = PointerGetDatum(mesh_int64_array(rows, k, INT8OID));
			values[A_STATEMENT] = PointerGetDatum(mesh_int64_array(statement, k, INT8OID));
			values[A_FLUSHED_AT] = TimestampTzGetDatum(now);
			MemoryContextSwitchTo(old);

			if (rel == NULL)
				insert_reads_v11(values, nulls);
			else
			{
				ExecClearTuple(slot);
				memcpy(slot->tts_values, values, sizeof(values));
				memcpy(slot->tts_isnull, nulls, sizeof(nulls));
				ExecStoreVirtualTuple(slot);
				table_tuple_insert(rel, slot, cid, 0, NULL);
				(void) ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
				ResetPerTupleExprContext(estate);
			}
			MemoryContextReset(rowcxt);
		}
	}

	if (rel != NULL)
	{
		ExecDropSingleTupleTableSlot(slot);
		ExecCloseIndices(rri);
		FreeExecutorState(estate);
		table_close(rel, NoLock);
	}
	MemoryContextDelete(rowcxt);
	/* the rows are visible to what follows in this transaction */
	CommandCounterIncrement();
}

/*
 * Forgets the reads older than the retention: rows wholly older go, and the
 * rows that straddle the cutoff keep only their younger reads.
 */
static void
purge(int retention)
{
	Datum		cutoff = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp() -
											 (int64) retention * USECS_PER_MINUTE);

	if (!OidIsValid(get_relname_relid("cat_access_batch", mesh_catalog()->nsp)))
	{
		mesh_spi_exec("DELETE FROM meshpg.cat_access_history WHERE read_at < $1",
					  1, (Oid[]) {TIMESTAMPTZOID}, &cutoff, NULL);
		return;
	}

	mesh_spi_exec("DELETE FROM meshpg.cat_access_batch WHERE last_read < $1",
				  1, (Oid[]) {TIMESTAMPTZOID}, &cutoff, NULL);
	mesh_spi_exec("UPDATE meshpg.cat_access_batch b "
				  "SET (first_read, reads, read_at, rows, statement) = "
				  "(SELECT min(u.r), count(*), array_agg(u.r ORDER BY u.o), "
				  "        array_agg(u.n ORDER BY u.o), array_agg(u.s ORDER BY u.o) "
				  "   FROM unnest(b.read_at, b.rows, b.statement) WITH ORDINALITY AS u(r, n, s, o) "
				  "  WHERE u.r >= $1) "
				  "WHERE b.first_read < $1",
				  1, (Oid[]) {TIMESTAMPTZOID}, &cutoff, NULL);
}

/* When this backend last purged reads past the retention. */
static TimestampTz last_purge = 0;

static int64
flush_history(bool always_purge)
{
	MeshSpiState spi;
	HistoryRead *reads;
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
	reads = mesh_history_claim(MyDatabaseId, &n);
	if (reads != NULL)
		claim_subid = GetCurrentSubTransactionId();
	if (n > 0)
		insert_reads(reads, n);
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
		purge(mesh_history_retention);
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

/*
 * The background worker a reader starts when it has to wait for room in
 * the ring and no flush is coming (the scheduler is off, or its worker has
 * not freed room for a second): flushes its database as the ring fills,
 * woken by the ring like the scheduler's worker, and exits after five
 * seconds without reads to flush.  Runs as the bootstrap superuser, in
 * transactions of its own, holding none of the reader's locks.
 */
void
mesh_history_helper_main(Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);
	TimestampTz last_work;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);
	pgstat_report_appname("meshpg history flush");
	last_work = GetCurrentTimestamp();
	while (!TimestampDifferenceExceeds(last_work, GetCurrentTimestamp(), 5000))
	{
		int64		n;

		CHECK_FOR_INTERRUPTS();
		mesh_history_set_flusher(dbid, MyLatch);
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "meshpg history flush");
		n = flush_history(false);
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		if (n > 0)
			last_work = GetCurrentTimestamp();
		if (n < MESH_HISTORY_FLUSH_BATCH)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1000L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	proc_exit(0);
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
