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
 *		6; then 5 commits and is never read).  So the events of a
 *		transaction are kept in memory and written just before its commit
 *		(XACT_EVENT_PRE_COMMIT), numbered under a lock held until the commit
 *		is visible: whoever sees event N committed sees every event below N
 *		that will ever commit.  The lock serialises only the commits of
 *		transactions that emitted events, not the changes themselves.
 *		Writing at the commit also makes an event cost one heap insert
 *		(bench/events.sh: an SPI statement per event cost more than half of
 *		a grant_access).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "catalog/indexing.h"
#include "commands/async.h"
#include "commands/sequence.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "replication/message.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
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
 * The events of this transaction, in the order they were emitted
 * (TopTransactionContext), written to the outbox just before the commit.
 * Each remembers the subtransaction it was emitted in: a rolled-back
 * subtransaction takes its events with it.
 */
typedef struct PendingEvent
{
	const MeshEventType *type;
	char	   *subject;
	Jsonb	   *data;
	int64		domain_id;		/* 0: none */
	int64		product_id;		/* 0: none */
	char	   *role;			/* NULL: none */
	int			level;			/* transaction nest level when emitted */
} PendingEvent;

static List *pending = NIL;
/* the commit lock is held: events emitted now are written at once */
static bool committing = false;
static bool callbacks_registered = false;

/* An index scan for one row of a catalog table; false if none. */
static bool
lookup_id(const char *table, const char *index, int nkeys, ScanKeyData *keys,
		  AttrNumber idcol, AttrNumber othercol, int64 *id, int64 *other)
{
	const MeshCatalog *cat = mesh_catalog();
	Oid			relid = get_relname_relid(table, cat->nsp);
	Oid			indexid = get_relname_relid(index, cat->nsp);
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	if (!OidIsValid(relid) || !OidIsValid(indexid))
		elog(ERROR, "meshpg catalog table \"%s\" or its index \"%s\" is missing", table, index);
	rel = table_open(relid, AccessShareLock);
	scan = systable_beginscan(rel, indexid, true, NULL, nkeys, keys);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		bool		isnull;

		*id = DatumGetInt64(heap_getattr(tup, idcol, RelationGetDescr(rel), &isnull));
		if (othercol)
			*other = DatumGetInt64(heap_getattr(tup, othercol, RelationGetDescr(rel), &isnull));
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The domain and product of the subject, found now (a dropped object's
 * event is emitted before its row goes), so that who may read the event
 * is decided by the catalog's own rules, also after a rename.
 */
static void
resolve_subject(PendingEvent *ev)
{
	ScanKeyData keys[2];
	const char *dot;
	int64		domain_id;

	if (ev->type->subject == MESH_EVENT_SUBJECT_OTHER)
		return;
	dot = ev->type->subject == MESH_EVENT_SUBJECT_PRODUCT ? strchr(ev->subject, '.') : NULL;
	if (ev->type->subject == MESH_EVENT_SUBJECT_PRODUCT && dot == NULL)
		return;
	ScanKeyInit(&keys[0], Anum_cat_domain_name, BTEqualStrategyNumber, F_TEXTEQ,
				dot ? PointerGetDatum(cstring_to_text_with_len(ev->subject, dot - ev->subject))
				: CStringGetTextDatum(ev->subject));
	/* the names' columns and their indexes have the database's collation */
	keys[0].sk_collation = DEFAULT_COLLATION_OID;
	if (!lookup_id("cat_domain", "cat_domain_name_key", 1, keys, Anum_cat_domain_id, 0,
				   &domain_id, NULL))
		return;
	ev->domain_id = domain_id;
	if (dot == NULL)
		return;
	ScanKeyInit(&keys[0], Anum_cat_product_domain_id, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(domain_id));
	ScanKeyInit(&keys[1], Anum_cat_product_name, BTEqualStrategyNumber, F_TEXTEQ,
				CStringGetTextDatum(dot + 1));
	keys[1].sk_collation = DEFAULT_COLLATION_OID;
	(void) lookup_id("cat_product", "cat_product_domain_id_name_key", 2, keys,
					 Anum_cat_product_id, 0, &ev->product_id, NULL);
}

static char *event_source(void);

/*
 * The CloudEvent of an event, as meshpg._cloudevent writes it for the
 * outbox's views; built here, not by calling that SQL function, since
 * this runs for every event.
 */
static char *
cloudevent_json(int64 id, PendingEvent *ev, TimestampTz time)
{
	StringInfoData buf;
	struct pg_tm tm;
	fsec_t		fsec;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"specversion\": \"1.0\", \"id\": \"" INT64_FORMAT "\", \"source\": ", id);
	escape_json(&buf, event_source());
	appendStringInfoString(&buf, ", \"type\": ");
	escape_json(&buf, ev->type->type);
	appendStringInfoString(&buf, ", \"subject\": ");
	escape_json(&buf, ev->subject);
	if (timestamp2tm(time, NULL, &tm, &fsec, NULL, NULL) != 0)
		elog(ERROR, "mesh event time out of range");
	appendStringInfo(&buf, ", \"time\": \"%04d-%02d-%02dT%02d:%02d:%02d.%06dZ\"",
					 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
					 (int) fsec);
	appendStringInfoString(&buf, ", \"datacontenttype\": \"application/json\", \"data\": ");
	(void) JsonbToCString(&buf, &ev->data->root, VARSIZE(ev->data));
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * Writes one event to the outbox with its final id, then its decoding
 * message and its NOTIFY.  The commit lock is held.  A heap insert and its
 * index entries, without the executor: this runs for every change of the
 * mesh, and an SPI statement costs more than the change's own work
 * (bench/events.sh).
 */
static void
write_event(Relation rel, Oid seqid, PendingEvent *ev)
{
	Datum		values[Natts_cat_event];
	bool		nulls[Natts_cat_event];
	HeapTuple	tup;
	int64		id = nextval_internal(seqid, false);
	TimestampTz time = GetCurrentTransactionStartTimestamp();
	char	   *cloudevent;
	char		idtext[32];

	memset(nulls, false, sizeof(nulls));
	values[Anum_cat_event_id - 1] = Int64GetDatum(id);
	values[Anum_cat_event_type - 1] = CStringGetTextDatum(ev->type->type);
	values[Anum_cat_event_subject - 1] = CStringGetTextDatum(ev->subject);
	values[Anum_cat_event_data - 1] = JsonbPGetDatum(ev->data);
	values[Anum_cat_event_time - 1] = TimestampTzGetDatum(time);
	values[Anum_cat_event_visibility - 1] =
		CStringGetTextDatum(mesh_event_visibility_name(ev->type->visibility));
	values[Anum_cat_event_domain_id - 1] = Int64GetDatum(ev->domain_id);
	nulls[Anum_cat_event_domain_id - 1] = ev->domain_id == 0;
	values[Anum_cat_event_product_id - 1] = Int64GetDatum(ev->product_id);
	nulls[Anum_cat_event_product_id - 1] = ev->product_id == 0;
	if (ev->role != NULL)
		values[Anum_cat_event_role - 1] = CStringGetTextDatum(ev->role);
	nulls[Anum_cat_event_role - 1] = ev->role == NULL;
	tup = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	CatalogTupleInsert(rel, tup);
	heap_freetuple(tup);

	/*
	 * Transactional: a decoder sees the message with the transaction's
	 * changes, at its commit, and never for a rollback.  Without
	 * wal_level = logical no decoder can read it: no WAL is spent.
	 */
	cloudevent = cloudevent_json(id, ev, time);
	if (XLogLogicalInfoActive())
		(void) LogLogicalMessage(MESH_EVENT_MESSAGE_PREFIX, cloudevent,
								 strlen(cloudevent), true);
	snprintf(idtext, sizeof(idtext), INT64_FORMAT, id);
	Async_Notify(MESH_EVENT_CHANNEL, idtext);
}

/*
 * The outbox, or NULL when there is none: the extension is older than 1.4
 * (ALTER EXTENSION meshpg UPDATE not run yet: the mesh changes as before,
 * without events), or was dropped in this transaction (its events go
 * with it).
 */
static Relation
open_outbox(Oid *seqid)
{
	const MeshCatalog *cat = mesh_catalog();
	Oid			relid;

	if (cat == NULL || !OidIsValid(relid = get_relname_relid("cat_event", cat->nsp)) ||
		!OidIsValid(*seqid = get_relname_relid("cat_event_id_seq", cat->nsp)))
		return NULL;
	return table_open(relid, RowExclusiveLock);
}

/*
 * Before the commit: take the lock, write each event of the transaction
 * with its id, in emission order.  The lock (an object lock on schema
 * meshpg, subobject 1: no DDL and no user's advisory lock takes it) is
 * released with the transaction's other locks, after the commit is
 * visible: whoever sees event N committed sees every event below N that
 * will ever commit.
 */
static void
finish_events(void)
{
	Relation	rel;
	Oid			seqid;
	ListCell   *lc;

	committing = true;
	rel = open_outbox(&seqid);
	if (rel != NULL)
	{
		LockDatabaseObject(NamespaceRelationId, mesh_catalog()->nsp, 1, ExclusiveLock);
		foreach(lc, pending)
			write_event(rel, seqid, lfirst(lc));
		table_close(rel, NoLock);
	}
	pending = NIL;
}

static void
events_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (pending != NIL)
				finish_events();
			/* a later pre-commit step's events are written at once */
			committing = true;
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (pending != NIL)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that changed the mesh"),
						 errdetail("Mesh events are numbered and sent when their transaction commits."),
						 errhint("Change the mesh in a transaction of its own, without two-phase commit.")));
			break;
		default:
			/* committed, aborted, prepared: the list went with the context */
			pending = NIL;
			committing = false;
			break;
	}
}

/* A rolled-back subtransaction takes its events; a committed one hands them up. */
static void
events_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, pending)
		{
			if (((PendingEvent *) lfirst(lc))->level >= level)
				pending = foreach_delete_current(pending, lc);
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending)
		{
			PendingEvent *ev = lfirst(lc);

			if (ev->level >= level)
				ev->level = level - 1;
		}
	}
}

/* Queues the event (written at commit); data is a jsonb object. */
static void
emit_event(const MeshEventType *t, const char *subject, Jsonb *data)
{
	MemoryContext old;
	PendingEvent *ev;

	if (!callbacks_registered)
	{
		RegisterXactCallback(events_xact_callback, NULL);
		RegisterSubXactCallback(events_subxact_callback, NULL);
		callbacks_registered = true;
	}
	/* before 1.4 (ALTER EXTENSION UPDATE not run yet) there is no outbox */
	if (mesh_catalog() == NULL ||
		!OidIsValid(get_relname_relid("cat_event", mesh_catalog()->nsp)))
		return;

	old = MemoryContextSwitchTo(TopTransactionContext);
	ev = palloc0(sizeof(PendingEvent));
	ev->type = t;
	ev->subject = pstrdup(subject);
	ev->data = (Jsonb *) PG_DETOAST_DATUM_COPY(JsonbPGetDatum(data));
	ev->level = GetCurrentTransactionNestLevel();
	if (t->role_key != NULL)
	{
		JsonbValue *v = getKeyJsonValueFromContainer(&ev->data->root, t->role_key,
													 strlen(t->role_key), NULL);

		if (v != NULL && v->type == jbvString)
			ev->role = pnstrdup(v->val.string.val, v->val.string.len);
	}
	resolve_subject(ev);
	if (committing)
	{
		/* emitted by another pre-commit step, after ours: written at once */
		Relation	rel;
		Oid			seqid;

		rel = open_outbox(&seqid);
		if (rel != NULL)
		{
			LockDatabaseObject(NamespaceRelationId, mesh_catalog()->nsp, 1, ExclusiveLock);
			write_event(rel, seqid, ev);
			table_close(rel, NoLock);
		}
	}
	else
		pending = lappend(pending, ev);
	MemoryContextSwitchTo(old);
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
	emit_event(t, subject, DatumGetJsonbP(data));
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
		emit_event(t, text_to_cstring(PG_GETARG_TEXT_PP(1)), data);
	PG_RETURN_VOID();
}

/*
 * meshpg._event_source(): the CloudEvents source of this database,
 * "/meshpg/<system identifier>/<database>", the database name
 * percent-encoded outside RFC 3986's unreserved characters.  With the
 * outbox id it makes each event's (source, id) unique, as CloudEvents asks.
 */
static char *
event_source(void)
{
	static char *source = NULL;
	StringInfoData buf;
	const char *db;

	/* a backend stays in its database */
	if (source != NULL)
		return source;
	db = get_database_name(MyDatabaseId);

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
	source = MemoryContextStrdup(TopMemoryContext, buf.data);
	return source;
}

Datum
meshpg_event_source(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(event_source()));
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

/* The latest matching event of this transaction not yet written. */
char *
mesh_event_retract(const char *type, const char *subject)
{
	ListCell   *found = NULL;
	ListCell   *lc;
	char	   *data;

	if (mesh_event_type(type) == NULL)
		elog(ERROR, "unknown mesh event type \"%s\"", type);
	foreach(lc, pending)
	{
		PendingEvent *ev = lfirst(lc);

		if (strcmp(ev->type->type, type) == 0 && strcmp(ev->subject, subject) == 0)
			found = lc;
	}
	if (found == NULL)
		return NULL;
	data = JsonbToCString(NULL, &((PendingEvent *) lfirst(found))->data->root, 0);
	pending = list_delete_cell(pending, found);
	return data;
}
