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

#include "access/xact.h"
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

static void
flush_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT)
		mesh_history_release(true);
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
			 event == XACT_EVENT_PREPARE)
		mesh_history_release(false);
}

/*
 * One statement per batch: the entries arrive as parallel arrays, names
 * already resolved, and only the product's name is joined here.  Columns
 * and row policies come as text[] literals, masks as JSON text.
 */
#define INSERT_HISTORY \
"INSERT INTO meshpg.cat_access_history (read_at, product_id, product, version, relation, " \
"  role, session_role, columns, masks, row_policies, purpose, rows, query_id, command, target, " \
"  complete, backend_pid, backend_start, statement) " \
"SELECT u.read_at, u.product_id, d.name || '.' || p.name, u.version, u.relation, " \
"       u.role, u.session_role, u.columns::text[], u.masks::jsonb, u.row_policies::text[], " \
"       u.purpose, u.rows, u.query_id, u.command, u.target, u.complete, u.pid, " \
"       u.backend_start, u.statement " \
"  FROM ROWS FROM (pg_catalog.unnest($1::timestamptz[]), pg_catalog.unnest($2::bigint[]), " \
"                  pg_catalog.unnest($3::text[]), pg_catalog.unnest($4::text[]), " \
"                  pg_catalog.unnest($5::text[]), pg_catalog.unnest($6::text[]), " \
"                  pg_catalog.unnest($7::text[]), pg_catalog.unnest($8::text[]), " \
"                  pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[]), " \
"                  pg_catalog.unnest($11::bigint[]), pg_catalog.unnest($12::bigint[]), " \
"                  pg_catalog.unnest($13::text[]), pg_catalog.unnest($14::text[]), " \
"                  pg_catalog.unnest($15::boolean[]), pg_catalog.unnest($16::integer[]), " \
"                  pg_catalog.unnest($17::timestamptz[]), pg_catalog.unnest($18::bigint[])) " \
"       AS u(read_at, product_id, version, relation, role, session_role, columns, masks, " \
"            row_policies, purpose, rows, query_id, command, target, complete, pid, " \
"            backend_start, statement) " \
"  LEFT JOIN meshpg.cat_product p ON p.id = u.product_id " \
"  LEFT JOIN meshpg.cat_domain d ON d.id = p.domain_id"

#define NCOLS 18

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

/* An element of a text[] literal, quoted. */
static void
append_array_elem(StringInfo buf, const char *s)
{
	if (buf->len > 1)
		appendStringInfoChar(buf, ',');
	appendStringInfoChar(buf, '"');
	for (; *s; s++)
	{
		if (*s == '"' || *s == '\\')
			appendStringInfoChar(buf, '\\');
		appendStringInfoChar(buf, *s);
	}
	appendStringInfoChar(buf, '"');
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

static Datum
make_array(Datum *elems, bool *nulls, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, type,
											  typlen, typbyval, typalign));
}

/* Writes n entries in one statement. */
static void
insert_entries(const HistoryEntry *entries, int n)
{
	static const Oid types[NCOLS] = {TIMESTAMPTZOID, INT8OID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID, TEXTOID,
	BOOLOID, INT4OID, TIMESTAMPTZOID, INT8OID};
	Oid			argtypes[NCOLS];
	Datum	   *cols[NCOLS];
	bool	   *nulls[NCOLS];
	Datum		args[NCOLS];
	NameCache	roles[CACHE_SIZE];
	NameCache	rels[CACHE_SIZE];
	HTAB	   *policies = NULL;
	StringInfoData buf;

	memset(roles, 0, sizeof(roles));
	memset(rels, 0, sizeof(rels));
	for (int c = 0; c < NCOLS; c++)
	{
		cols[c] = palloc(sizeof(Datum) * n);
		nulls[c] = palloc0(sizeof(bool) * n);
		argtypes[c] = get_array_type(types[c]);
	}
	for (int i = 0; i < n && policies == NULL; i++)
		if (entries[i].npolicies > 0)
			policies = load_policy_names();

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
	{
		const HistoryEntry *e = &entries[i];
		const char *name;
		int			natts = 0;
		bool		first;

		cols[0][i] = TimestampTzGetDatum(e->read_at);
		cols[1][i] = Int64GetDatum(e->product_id);
		cols[2][i] = CStringGetTextDatum(e->version);
		name = cached(rels, e->relid, relation_name);
		cols[3][i] = name ? CStringGetTextDatum(name) : (Datum) 0;
		nulls[3][i] = name == NULL;
		cols[4][i] = CStringGetTextDatum(cached(roles, e->current_user, role_name));
		cols[5][i] = CStringGetTextDatum(cached(roles, e->session_user, role_name));

		/* columns: those read, or all of them for a whole-row reference */
		if (e->flags & MESH_HISTORY_WHOLE_ROW)
		{
			HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(e->relid));

			if (HeapTupleIsValid(tup))
			{
				natts = ((Form_pg_class) GETSTRUCT(tup))->relnatts;
				ReleaseSysCache(tup);
			}
		}
		resetStringInfo(&buf);
		appendStringInfoChar(&buf, '{');
		for (int a = 1; a <= MESH_HISTORY_MAX_ATTNO; a++)
		{
			bool		read = e->columns[(a - 1) / 8] & (1 << ((a - 1) % 8));

			if (a <= natts && !read)
			{
				char	   *whole = get_attname(e->relid, a, true);

				if (whole != NULL)
					append_array_elem(&buf, whole);
			}
			else if (read)
				append_array_elem(&buf, attribute_name(e->relid, a));
		}
		appendStringInfoChar(&buf, '}');
		cols[6][i] = CStringGetTextDatum(buf.data);

		/* masks as {"column": "policy"}, row policies as names */
		resetStringInfo(&buf);
		appendStringInfoChar(&buf, '{');
		first = true;
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
		cols[7][i] = CStringGetTextDatum(buf.data);
		resetStringInfo(&buf);
		appendStringInfoChar(&buf, '{');
		for (int p = 0; p < e->npolicies; p++)
			if (e->policy_attnos[p] == 0)
				append_array_elem(&buf, policy_name(policies, e->policies[p]));
		appendStringInfoChar(&buf, '}');
		cols[8][i] = CStringGetTextDatum(buf.data);

		cols[9][i] = e->purpose[0] ? CStringGetTextDatum(e->purpose) : (Datum) 0;
		nulls[9][i] = e->purpose[0] == '\0';
		cols[10][i] = Int64GetDatum((int64) e->rows);
		cols[11][i] = Int64GetDatum((int64) e->query_id);
		nulls[11][i] = e->query_id == 0;
		cols[12][i] = CStringGetTextDatum(command_name(e->command));
		name = OidIsValid(e->target) ? cached(rels, e->target, relation_name) : NULL;
		cols[13][i] = name ? CStringGetTextDatum(name) : (Datum) 0;
		nulls[13][i] = name == NULL;
		cols[14][i] = BoolGetDatum(!(e->flags & MESH_HISTORY_INCOMPLETE));
		cols[15][i] = Int32GetDatum(e->pid);
		cols[16][i] = TimestampTzGetDatum(e->backend_start);
		cols[17][i] = Int64GetDatum((int64) e->statement);
	}
	for (int c = 0; c < NCOLS; c++)
		args[c] = make_array(cols[c], nulls[c], n, types[c]);
	mesh_spi_exec(INSERT_HISTORY, NCOLS, argtypes, args, NULL);
	if (SPI_processed != (uint64) n)
		elog(ERROR, "meshpg access history: wrote %llu of %d entries",
			 (unsigned long long) SPI_processed, n);
}

static int64
flush_history(void)
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
		callback_registered = true;
	}

	mesh_spi_begin(&spi);
	entries = mesh_history_claim(MyDatabaseId, &n);
	if (n > 0)
	{
		insert_entries(entries, n);
	}
	if (mesh_history_retention > 0)
		mesh_spi_exec("DELETE FROM meshpg.cat_access_history "
					  "WHERE read_at < now() - pg_catalog.make_interval(mins => $1)",
					  1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(mesh_history_retention)},
					  NULL);
	mesh_spi_end(&spi);
	if (pushed)
		PopActiveSnapshot();
	return n;
}

void
mesh_history_flush(void)
{
	(void) flush_history();
}

int64
mesh_history_flush_count(void)
{
	return flush_history();
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
	PG_RETURN_INT64(flush_history());
}
