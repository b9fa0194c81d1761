/*
 * emit.c
 *		Emitting a mesh event (events.h): one row of the outbox
 *		meshpg.cat_event, written as the catalog owner in the caller's
 *		transaction; at its commit, the same CloudEvents JSON as a
 *		transactional logical decoding message (prefix "meshpg") and a NOTIFY
 *		meshpg_events with the outbox id only (a listener learns that
 *		something happened, never what: it reads what it may see through
 *		meshpg.events_since).  A rolled-back change leaves no row, no
 *		message and no NOTIFY.
 *
 *		Ids in commit order.  A consumer's cursor is the last id it handled,
 *		so an event must never become visible with an id below one already
 *		visible: ids taken when the change is made would break that (a long
 *		transaction takes id 5, a short one id 6 and commits; a reader passes
 *		6; then 5 commits and is never read).  So an event is written with a
 *		provisional negative id, and its id is given just before the commit
 *		(XACT_EVENT_PRE_COMMIT) under a lock held until the commit is
 *		visible: whoever sees event N committed sees every event below N
 *		that will ever commit.  The lock serialises only the commits of
 *		transactions that emitted events (mesh changes, a few per second at
 *		most), not the changes themselves.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/events/events.h"

PG_FUNCTION_INFO_V1(meshpg_emit_event);
PG_FUNCTION_INFO_V1(meshpg_event_source);

bool		mesh_events_enabled = true;
int			mesh_events_retention = 30 * 24 * 60;	/* minutes: 30 days */

void
mesh_define_event_settings(void)
{
	/*
	 * Off, the mesh changes without telling anyone: consumers that rely on
	 * events miss changes.  Only a superuser may do that (the benchmark
	 * bench/events.sh measures the cost of emission with it).
	 */
	DefineCustomBoolVariable("meshpg.events",
							 "Emits a mesh event for every change to the mesh.",
							 "Off: no outbox row, no logical decoding message, no NOTIFY.",
							 &mesh_events_enabled,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("meshpg.events_retention",
							"How long the outbox keeps mesh events.",
							"The background worker deletes older events; 0 keeps them all.",
							&mesh_events_retention,
							30 * 24 * 60,
							0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);
}

/*
 * The outbox insert, one per kind of subject, prepared once per backend.
 * The row's domain and product are found from the subject now, so that who
 * may read the event is decided by the catalog's own rules (the owning
 * domain's team, who may read the product), also after a rename.
 * $1 type, $2 subject, $3 data, $4 visibility, $5 the data key naming the
 * role concerned.
 */
#define EVENT_INSERT_HEAD \
	"INSERT INTO meshpg.cat_event (id, type, subject, data, visibility, domain_id, product_id, role) " \
	"SELECT CASE WHEN $6 THEN pg_catalog.nextval('meshpg.cat_event_id_seq') " \
	"            ELSE OPERATOR(pg_catalog.-) pg_catalog.nextval('meshpg.cat_event_id_seq') END, " \
	"       $1, $2, $3, $4, s.domain_id, s.product_id, $3 OPERATOR(pg_catalog.->>) $5 " \
	"  FROM (SELECT) AS one LEFT JOIN ("
#define EVENT_INSERT_TAIL \
	") AS s ON true RETURNING id, meshpg._cloudevent(cat_event)::text"

static const char *const event_insert_sql[] = {
	[MESH_EVENT_SUBJECT_PRODUCT] = EVENT_INSERT_HEAD
	"SELECT p.domain_id, p.id AS product_id FROM meshpg.cat_product p "
	"  JOIN meshpg.cat_domain d ON d.id OPERATOR(pg_catalog.=) p.domain_id "
	" WHERE d.name OPERATOR(pg_catalog.=) pg_catalog.split_part($2, '.', 1) "
	"   AND p.name OPERATOR(pg_catalog.=) pg_catalog.substr($2, "
	"       pg_catalog.length(pg_catalog.split_part($2, '.', 1)) OPERATOR(pg_catalog.+) 2)"
	EVENT_INSERT_TAIL,
	[MESH_EVENT_SUBJECT_DOMAIN] = EVENT_INSERT_HEAD
	"SELECT d.id AS domain_id, NULL::bigint AS product_id FROM meshpg.cat_domain d "
	" WHERE d.name OPERATOR(pg_catalog.=) $2"
	EVENT_INSERT_TAIL,
	[MESH_EVENT_SUBJECT_OTHER] = EVENT_INSERT_HEAD
	"SELECT NULL::bigint AS domain_id, NULL::bigint AS product_id WHERE false"
	EVENT_INSERT_TAIL,
};

static SPIPlanPtr event_insert_plan[lengthof(event_insert_sql)];

/* The final id, in commit order; $1 the provisional id. */
#define EVENT_FINAL_SQL \
	"UPDATE meshpg.cat_event SET id = pg_catalog.nextval('meshpg.cat_event_id_seq') " \
	" WHERE id OPERATOR(pg_catalog.=) $1 RETURNING id, meshpg._cloudevent(cat_event)::text"
static SPIPlanPtr event_final_plan = NULL;

/*
 * The provisional ids of this transaction's events, in the order they were
 * emitted (TopTransactionContext).  Those of a rolled-back subtransaction
 * stay listed: their rows are gone, and the commit finds nothing to number.
 */
static List *pending_ids = NIL;
/* the commit lock is held: events emitted now get their final id at once */
static bool committing = false;
static bool callback_registered = false;

static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "could not prepare a mesh event statement: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "could not keep a mesh event statement's plan");
	return plan;
}

/* The message and the NOTIFY of an event that has its final id. */
static void
publish_event(const char *id, const char *cloudevent)
{
	/*
	 * Transactional: a decoder sees the message with the transaction's
	 * changes, at its commit, and never for a rollback.  Without
	 * wal_level = logical no decoder can read it: no WAL is spent.
	 */
	if (XLogLogicalInfoActive())
		(void) LogLogicalMessage(MESH_EVENT_MESSAGE_PREFIX, cloudevent,
								 strlen(cloudevent), true);
	Async_Notify(MESH_EVENT_CHANNEL, id);
}

/*
 * Before the commit: take the lock, give each event of the transaction its
 * id in emission order, publish it.  The lock (an object lock on the
 * extension, subobject 1: no DDL and no user's advisory lock takes it) is
 * released with the transaction's other locks, after the commit is visible.
 */
static void
finish_events(void)
{
	MeshSpiState spi;
	ListCell   *lc;
	Oid			argtypes[1] = {INT8OID};

	LockDatabaseObject(ExtensionRelationId, get_extension_oid("meshpg", false), 1,
					   ExclusiveLock);
	committing = true;
	/* the statement's snapshot is gone by now: SPI needs one */
	PushActiveSnapshot(GetTransactionSnapshot());
	mesh_spi_begin(&spi);
	if (event_final_plan == NULL)
		event_final_plan = keep_plan(EVENT_FINAL_SQL, 1, argtypes);
	foreach(lc, pending_ids)
	{
		Datum		values[1] = {Int64GetDatum(*(int64 *) lfirst(lc))};
		int			rc;

		rc = SPI_execute_plan(event_final_plan, values, NULL, false, 1);
		if (rc != SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "could not number a mesh event: %s", SPI_result_code_string(rc));
		if (SPI_processed == 1)
			publish_event(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
						  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	}
	mesh_spi_end(&spi);
	PopActiveSnapshot();
	pending_ids = NIL;
}

static void
events_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (pending_ids != NIL)
				finish_events();
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (pending_ids != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that changed the mesh"),
						 errdetail("Mesh events are numbered and sent when their transaction commits."),
						 errhint("Change the mesh in a transaction of its own, without two-phase commit.")));
			break;
		default:
			/* committed, aborted, prepared: the list went with the context */
			pending_ids = NIL;
			committing = false;
			break;
	}
}

/* Writes the event; data is a jsonb object. */
static void
emit_event(const MeshEventType *t, const char *subject, Datum data)
{
	MeshSpiState spi;
	Oid			argtypes[6] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, BOOLOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int64		id;
	bool		isnull;
	int			rc;

	if (!callback_registered)
	{
		RegisterXactCallback(events_xact_callback, NULL);
		callback_registered = true;
	}

	values[0] = CStringGetTextDatum(t->type);
	values[1] = CStringGetTextDatum(subject);
	values[2] = data;
	values[3] = CStringGetTextDatum(mesh_event_visibility_name(t->visibility));
	if (t->role_key != NULL)
		values[4] = CStringGetTextDatum(t->role_key);
	else
	{
		values[4] = (Datum) 0;
		nulls[4] = 'n';
	}
	values[5] = BoolGetDatum(committing);

	mesh_spi_begin(&spi);
	if (event_insert_plan[t->subject] == NULL)
		event_insert_plan[t->subject] = keep_plan(event_insert_sql[t->subject], 6, argtypes);
	rc = SPI_execute_plan(event_insert_plan[t->subject], values, nulls, false, 1);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not write mesh event \"%s\": %s", t->type,
			 SPI_result_code_string(rc));
	if (committing)
	{
		/* emitted by another pre-commit step, after ours: final already */
		publish_event(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1),
					  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));
	}
	else
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
		int64	   *cell = palloc(sizeof(int64));

		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		*cell = id;
		pending_ids = lappend(pending_ids, cell);
		MemoryContextSwitchTo(old);
	}
	mesh_spi_end(&spi);
}

void
mesh_event_emit(const char *type, const char *subject, const char *data_json)
{
	const MeshEventType *t = mesh_event_type(type);
	Datum		data;

	if (t == NULL)
		elog(ERROR, "unknown mesh event type \"%s\"", type);
	if (subject == NULL)
		elog(ERROR, "mesh event \"%s\" without a subject", type);
	if (!mesh_events_enabled)
		return;
	data = DirectFunctionCall1(jsonb_in, CStringGetDatum(data_json ? data_json : "{}"));
	if (!JB_ROOT_IS_OBJECT(DatumGetJsonbP(data)) || JB_ROOT_IS_SCALAR(DatumGetJsonbP(data)))
		elog(ERROR, "mesh event \"%s\": data is not a JSON object", type);
	emit_event(t, subject, data);
}

/*
 * meshpg._emit_event(type, subject, data): mesh_event_emit for SQL and
 * PL/pgSQL code of meshpg.  EXECUTE is revoked from PUBLIC; these errors
 * are for meshpg's own code, so they say what to fix.
 */
Datum
meshpg_emit_event(PG_FUNCTION_ARGS)
{
	const char *type;
	const MeshEventType *t;
	Jsonb	   *data;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("a mesh event needs a type and a subject"),
				 errhint("Pass the event type (meshpg.event_types) and the name of the object it is about.")));
	type = text_to_cstring(PG_GETARG_TEXT_PP(0));
	t = mesh_event_type(type);
	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown mesh event type \"%s\"", type),
				 errhint("The types are listed in meshpg.event_types; a new one needs a row in src/events/types.c.")));
	if (!PG_ARGISNULL(2))
	{
		data = PG_GETARG_JSONB_P(2);
		if (!JB_ROOT_IS_OBJECT(data) || JB_ROOT_IS_SCALAR(data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the data of mesh event \"%s\" must be a JSON object", type),
					 errhint("Pass names, versions, figures and reasons as keys of an object, e.g. '{\"version\": \"1.2.0\"}'.")));
	}
	else
		data = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	if (mesh_events_enabled)
		emit_event(t, text_to_cstring(PG_GETARG_TEXT_PP(1)), JsonbPGetDatum(data));
	PG_RETURN_VOID();
}

/*
 * meshpg._event_source(): the CloudEvents source of this database,
 * "/meshpg/<system identifier>/<database>", the database name
 * percent-encoded outside RFC 3986's unreserved characters.  With the
 * outbox id it makes each event's (source, id) unique, as CloudEvents asks.
 */
Datum
meshpg_event_source(PG_FUNCTION_ARGS)
{
	StringInfoData buf;
	const char *db = get_database_name(MyDatabaseId);

	initStringInfo(&buf);
	appendStringInfo(&buf, "/meshpg/" UINT64_FORMAT "/", GetSystemIdentifier());
	for (const unsigned char *c = (const unsigned char *) db; *c; c++)
	{
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			(*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_' || *c == '~')
			appendStringInfoChar(&buf, *c);
		else
			appendStringInfo(&buf, "%%%02X", *c);
	}
	PG_RETURN_TEXT_P(cstring_to_text(buf.data));
}

/* The data object (events.h). */
static void
data_key(StringInfo buf, const char *key)
{
	if (buf->len > 1)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
}

void
mesh_event_data_start(StringInfo buf)
{
	initStringInfo(buf);
	appendStringInfoChar(buf, '{');
}

void
mesh_event_data_text(StringInfo buf, const char *key, const char *value)
{
	data_key(buf, key);
	if (value == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, value);
}

void
mesh_event_data_int(StringInfo buf, const char *key, int64 value)
{
	data_key(buf, key);
	appendStringInfo(buf, INT64_FORMAT, value);
}

void
mesh_event_data_bool(StringInfo buf, const char *key, bool value)
{
	data_key(buf, key);
	appendStringInfoString(buf, value ? "true" : "false");
}

void
mesh_event_data_time(StringInfo buf, const char *key, TimestampTz value)
{
	struct pg_tm tm;
	fsec_t		fsec;
	char		out[MAXDATELEN + 1];

	data_key(buf, key);
	if (TIMESTAMP_NOT_FINITE(value) || timestamp2tm(value, NULL, &tm, &fsec, NULL, NULL) != 0)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	/* no time zone given: UTC; USE_XSD_DATES: 2026-12-08T01:02:03.5+00:00 */
	EncodeDateTime(&tm, fsec, true, 0, NULL, USE_XSD_DATES, out);
	escape_json(buf, out);
}

void
mesh_event_data_json(StringInfo buf, const char *key, const char *json)
{
	data_key(buf, key);
	appendStringInfoString(buf, json ? json : "null");
}

const char *
mesh_event_data_end(StringInfo buf)
{
	appendStringInfoChar(buf, '}');
	return buf->data;
}

/*
 * Only this transaction's events have provisional (negative) ids: another
 * transaction's are invisible until they commit, and then final.
 */
char *
mesh_event_retract(const char *type, const char *subject)
{
	MeshSpiState spi;
	char	   *data = NULL;

	if (mesh_event_type(type) == NULL)
		elog(ERROR, "unknown mesh event type \"%s\"", type);
	if (pending_ids == NIL)
		return NULL;
	mesh_spi_begin(&spi);
	mesh_spi_exec("DELETE FROM meshpg.cat_event WHERE id = ("
				  "SELECT min(id) FROM meshpg.cat_event WHERE id OPERATOR(pg_catalog.<) 0 "
				  "   AND type OPERATOR(pg_catalog.=) $1 AND subject OPERATOR(pg_catalog.=) $2) "
				  "RETURNING data::text",
				  2, (Oid[]) {TEXTOID, TEXTOID},
				  (Datum[]) {CStringGetTextDatum(type), CStringGetTextDatum(subject)}, NULL);
	if (SPI_processed == 1)
		data = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	mesh_spi_end(&spi);
	return data;
}
