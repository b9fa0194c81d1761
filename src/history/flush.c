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

#define INSERT_HISTORY \
"INSERT INTO meshpg.cat_access_history (read_at, product_id, product, version, relation, " \
"  role, session_role, columns, masks, row_policies, purpose, rows, query_id, command, target, " \
"  complete, backend_pid, backend_start, statement) " \
"SELECT $1, $2, (SELECT d.name || '.' || p.name FROM meshpg.cat_product p " \
"                 JOIN meshpg.cat_domain d ON d.id = p.domain_id WHERE p.id = $2), " \
"       $3, $4, $5, $6, $7, " \
"       (SELECT COALESCE(pg_catalog.jsonb_object_agg(u.c, COALESCE(pol.name, '#' || u.i)), '{}') " \
"          FROM ROWS FROM (pg_catalog.unnest($8::text[]), pg_catalog.unnest($9::bigint[])) u(c, i) " \
"          LEFT JOIN meshpg.cat_policy pol ON pol.id = u.i), " \
"       ARRAY(SELECT COALESCE(pol.name, '#' || u.i) FROM pg_catalog.unnest($10::bigint[]) u(i) " \
"              LEFT JOIN meshpg.cat_policy pol ON pol.id = u.i ORDER BY 1), " \
"       $11, $12, $13, $14, $15, $16, $17, $18, $19"

static Datum
text_array(List *items)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(items) + 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, items)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

static Datum
int8_array(int64 *values, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * (n + 1));

	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(values[i]);
	return PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
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

static void
insert_entry(SPIPlanPtr plan, const HistoryEntry *e)
{
	Datum		values[19];
	char		nulls[19];
	List	   *columns = NIL;
	List	   *mask_columns = NIL;
	int64		mask_ids[MESH_HISTORY_MAX_POLICIES];
	int64		row_ids[MESH_HISTORY_MAX_POLICIES];
	int			nmasks = 0;
	int			nrows = 0;
	char	   *name;
	int			natts = 0;
	int			ret;

	memset(nulls, ' ', sizeof(nulls));
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
		if (!(a <= natts || (e->columns[(a - 1) / 8] & (1 << ((a - 1) % 8)))))
			continue;
		name = get_attname(e->relid, a, true);
		if (name != NULL)
			columns = lappend(columns, name);
		else if (a > natts)
			columns = lappend(columns, psprintf("#%d", a));
	}
	for (int i = 0; i < e->npolicies; i++)
	{
		if (e->policy_attnos[i] == 0)
			row_ids[nrows++] = e->policies[i];
		else
		{
			name = get_attname(e->relid, e->policy_attnos[i], true);
			mask_columns = lappend(mask_columns,
								   name ? name : psprintf("#%d", e->policy_attnos[i]));
			mask_ids[nmasks++] = e->policies[i];
		}
	}

	values[0] = TimestampTzGetDatum(e->read_at);
	values[1] = Int64GetDatum(e->product_id);
	values[2] = CStringGetTextDatum(e->version);
	name = relation_name(e->relid);
	values[3] = name ? CStringGetTextDatum(name) : (Datum) 0;
	nulls[3] = name ? ' ' : 'n';
	values[4] = CStringGetTextDatum(role_name(e->current_user));
	values[5] = CStringGetTextDatum(role_name(e->session_user));
	values[6] = text_array(columns);
	values[7] = text_array(mask_columns);
	values[8] = int8_array(mask_ids, nmasks);
	values[9] = int8_array(row_ids, nrows);
	values[10] = CStringGetTextDatum(e->purpose);
	nulls[10] = e->purpose[0] ? ' ' : 'n';
	values[11] = Int64GetDatum((int64) e->rows);
	values[12] = Int64GetDatum((int64) e->query_id);
	nulls[12] = e->query_id != 0 ? ' ' : 'n';
	values[13] = CStringGetTextDatum(command_name(e->command));
	name = OidIsValid(e->target) ? relation_name(e->target) : NULL;
	values[14] = name ? CStringGetTextDatum(name) : (Datum) 0;
	nulls[14] = name ? ' ' : 'n';
	values[15] = BoolGetDatum(!(e->flags & MESH_HISTORY_INCOMPLETE));
	values[16] = Int32GetDatum(e->pid);
	values[17] = TimestampTzGetDatum(e->backend_start);
	values[18] = Int64GetDatum((int64) e->statement);

	ret = SPI_execute_plan(plan, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "meshpg access history insert failed: %s", SPI_result_code_string(ret));
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
		Oid			argtypes[19] = {TIMESTAMPTZOID, INT8OID, TEXTOID, TEXTOID, TEXTOID,
			TEXTOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID,
			TEXTOID, INT8OID, INT8OID, TEXTOID, TEXTOID, BOOLOID, INT4OID,
		TIMESTAMPTZOID, INT8OID};
		SPIPlanPtr	plan = SPI_prepare(INSERT_HISTORY, 19, argtypes);

		if (plan == NULL)
			elog(ERROR, "meshpg access history insert failed to prepare: %s",
				 SPI_result_code_string(SPI_result));
		for (int i = 0; i < n; i++)
			insert_entry(plan, &entries[i]);
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
