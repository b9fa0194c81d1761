/*
 * emit.c
 *		Emitting a mesh event (events.h): one row of the outbox
 *		meshpg.cat_event, written as the catalog owner in the caller's
 *		transaction; the same CloudEvents JSON as a transactional logical
 *		decoding message (prefix "meshpg"); a NOTIFY meshpg_events with the
 *		outbox id only (a listener learns that something happened, never
 *		what: it reads what it may see through meshpg.events_since).
 *		A rolled-back change leaves no row, no message a decoder delivers
 *		(transactional messages are decoded only at commit) and no NOTIFY.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"

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
	"INSERT INTO meshpg.cat_event (type, subject, data, visibility, domain_id, product_id, role) " \
	"SELECT $1, $2, $3, $4, s.domain_id, s.product_id, $3 OPERATOR(pg_catalog.->>) $5 " \
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

/* Writes the event; data is a jsonb object. */
static void
emit_event(const MeshEventType *t, const char *subject, Datum data)
{
	MeshSpiState spi;
	Oid			argtypes[5] = {TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	char	   *id;
	char	   *cloudevent;
	int			rc;

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

	mesh_spi_begin(&spi);
	if (event_insert_plan[t->subject] == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(event_insert_sql[t->subject], 5, argtypes);

		if (plan == NULL)
			elog(ERROR, "could not prepare the mesh event insert: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "could not keep the mesh event insert plan");
		event_insert_plan[t->subject] = plan;
	}
	rc = SPI_execute_plan(event_insert_plan[t->subject], values, nulls, false, 1);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not write mesh event \"%s\": %s", t->type,
			 SPI_result_code_string(rc));
	id = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	cloudevent = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	/*
	 * Transactional: a decoder sees the message with the transaction's
	 * changes, at its commit, and never for a rollback.  Without
	 * wal_level = logical no decoder can read it: no WAL is spent.
	 */
	if (XLogLogicalInfoActive())
		(void) LogLogicalMessage(MESH_EVENT_MESSAGE_PREFIX, cloudevent,
								 strlen(cloudevent), true);
	Async_Notify(MESH_EVENT_CHANNEL, id);
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
