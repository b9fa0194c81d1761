/*
 * retention.c
 *		Retention policies bound to a tag or a product, legal holds, and
 *		their enforcement: meshpg.retention_dry_run, CALL
 *		meshpg.run_retention, and the background worker's task.
 *
 * A policy keeps a product's rows for an interval by a timestamp column,
 * then deletes them, anonymises the tagged (or named) columns in place with
 * one of meshpg's masks (policy/compile.c's table builds the expression),
 * or detaches and drops the partitions whose upper bound lies before the
 * cutoff.  One policy on one product is a unit of work; a unit runs in
 * batches, each in a transaction of its own when the caller can commit
 * (CALL outside a transaction block, the worker), and each short:
 *
 *   - rows are found by a TID range scan that resumes where the previous
 *     batch stopped (one pass over the table for the whole run, not a scan
 *     from the start per batch), meshpg.retention_batch_size at a time, and
 *     deleted or updated by ctid, rechecking the cutoff (a row updated
 *     since keeps its new version);
 *   - every batch runs under meshpg.retention_lock_timeout: a lock it cannot
 *     get soon is given up (the batch is retried, then the unit left for
 *     the next run), so a writer never queues behind it for long;
 *   - partitions are detached with a plain DETACH (CONCURRENTLY cannot run
 *     inside a function: PostgreSQL refuses it outside a top-level
 *     statement) under the same lock timeout, retried, then dropped.
 *
 * A legal hold suspends a product's retention.  Each batch first takes a
 * share lock on the product's catalog row and reads the hold; placing a
 * hold locks that row for update, so it waits for a batch in flight and
 * every later batch sees it.
 *
 * Statements on the product's relation run as the relation's owner in a
 * restricted security context (like VACUUM and ANALYZE), never as the
 * catalog owner: a trigger on the table cannot borrow a superuser's rights.
 * Each unit's run is recorded in meshpg.cat_retention_run, updated in the
 * same transaction as each batch, so the audit trail is exactly what was
 * committed.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "partitioning/partdesc.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "meshpg/events/events.h"
#include "meshpg/policy/policy.h"
#include "meshpg/registry/registry.h"
#include "meshpg/retention/retention.h"
#include "meshpg/text/text.h"

PG_FUNCTION_INFO_V1(meshpg_create_retention_policy);
PG_FUNCTION_INFO_V1(meshpg_drop_retention_policy);
PG_FUNCTION_INFO_V1(meshpg_place_legal_hold);
PG_FUNCTION_INFO_V1(meshpg_lift_legal_hold);
PG_FUNCTION_INFO_V1(meshpg_retention_dry_run);
PG_FUNCTION_INFO_V1(meshpg_run_retention);

static int	retention_batch_size = 10000;
static int	retention_lock_timeout = 100;
static int	retention_interval = 3600;
static int	retention_batch_time = 100;

/* a lock not had in time: retried this often, then left for the next run */
#define LOCK_RETRIES 3

void
mesh_define_retention_settings(void)
{
	DefineCustomIntVariable("meshpg.retention_batch_size",
							"Rows a retention batch deletes or anonymises in one transaction.",
							"Smaller batches hold row locks for less time.",
							&retention_batch_size, 10000, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("meshpg.retention_lock_timeout",
							"Longest a retention batch waits for a lock before it gives up and retries.",
							"Writers queued behind a waiting batch wait at most this long.",
							&retention_lock_timeout, 100, 1, 10000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("meshpg.retention_batch_time",
							"How long a retention batch should take.",
							"Batches grow or shrink (up to meshpg.retention_batch_size rows) to take about this long, "
							"so the row locks a batch holds are released soon.",
							&retention_batch_time, 100, 1, 10000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("meshpg.retention_interval",
							"How often the background worker enforces the retention policies.",
							NULL,
							&retention_interval, 3600, 1, 7 * 24 * 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
}

typedef enum RetentionAction
{
	RET_DELETE,
	RET_ANONYMISE,
	RET_DROP_PARTITIONS
} RetentionAction;

static const char *const action_names[] = {"delete", "anonymise", "drop_partitions"};

/* One policy on one product, and where its run has got to. */
typedef struct RetentionUnit
{
	int64		policy_id;
	char	   *policy;
	int64		product_id;
	char	   *product;
	Oid			relid;
	RetentionAction action;
	char	   *time_column;
	TimestampTz cutoff;
	char	   *note;			/* why it does nothing, or what went wrong */
	char	   *partial;		/* a row policy hides rows from the owner */
	/* delete and anonymise */
	char	   *set_clause;		/* anonymise: c = mask(c), ... */
	char	   *changed;		/* anonymise: a row not yet anonymised */
	List	   *leaves;			/* relations holding rows (ONLY each) */
	int			leaf;
	ItemPointerData resume;
	BlockNumber end;
	int			batch_rows;		/* adapts to meshpg.retention_batch_time */
	/* drop_partitions: names, and the next one */
	List	   *partitions;
	int			next_partition;
	/* progress */
	int			lock_failures;
	char	   *run_by;			/* the caller, or the worker */
	int64		run_id;
	int64		rows;
	int			batches;
	bool		done;
} RetentionUnit;

/* ---- running as the relation's owner ---------------------------------- */

typedef struct OwnerSwitch
{
	Oid			user;
	int			sec;
	int			nestlevel;
} OwnerSwitch;

static void
as_owner(Oid relid, OwnerSwitch *sw)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	GetUserIdAndSecContext(&sw->user, &sw->sec);
	SetUserIdAndSecContext(owner, sw->sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	sw->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("lock_timeout", psprintf("%d", retention_lock_timeout),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

static void
back_from_owner(OwnerSwitch *sw)
{
	AtEOXact_GUC(true, sw->nestlevel);
	SetUserIdAndSecContext(sw->user, sw->sec);
}

/* ---- the units of a product ------------------------------------------- */

static bool
is_time_type(Oid type)
{
	type = getBaseType(type);
	return type == DATEOID || type == TIMESTAMPOID || type == TIMESTAMPTZOID;
}

static TimestampTz
to_timestamptz(Datum value, Oid type)
{
	type = getBaseType(type);
	if (type == DATEOID)
		return DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz, value));
	if (type == TIMESTAMPOID)
		return DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, value));
	return DatumGetTimestampTz(value);
}

/*
 * The partitions of relid that hold only rows before cutoff: range
 * partitioning on time_column, upper bound at or before the cutoff.  NULL
 * with *why set when the product is not partitioned that way.
 */
static List *
partitions_before(Oid relid, const char *time_column, TimestampTz cutoff, char **why)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	PartitionKey key;
	PartitionDesc pd;
	AttrNumber	att = get_attnum(relid, time_column);
	List	   *result = NIL;

	*why = NULL;
	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
	{
		*why = "not a partitioned table";
		relation_close(rel, AccessShareLock);
		return NIL;
	}
	key = RelationGetPartitionKey(rel);
	if (key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
		key->partattrs[0] != att)
	{
		*why = psprintf("not partitioned by range on column \"%s\"", time_column);
		relation_close(rel, AccessShareLock);
		return NIL;
	}
	pd = RelationGetPartitionDesc(rel, false);
	for (int i = 0; i < pd->nparts; i++)
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(pd->oids[i]));
		bool		isnull;
		Datum		d;
		PartitionBoundSpec *spec;
		PartitionRangeDatum *upper;

		if (!HeapTupleIsValid(tup))
			continue;
		d = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relpartbound, &isnull);
		ReleaseSysCache(tup);
		if (isnull)
			continue;
		spec = (PartitionBoundSpec *) stringToNode(TextDatumGetCString(d));
		if (spec->is_default || spec->upperdatums == NIL)
			continue;
		upper = linitial_node(PartitionRangeDatum, spec->upperdatums);
		if (upper->kind == PARTITION_RANGE_DATUM_MINVALUE)
			result = lappend(result, mesh_relation_name(pd->oids[i]));
		else if (upper->kind == PARTITION_RANGE_DATUM_VALUE)
		{
			Const	   *c = castNode(Const, upper->value);

			if (!c->constisnull && to_timestamptz(c->constvalue, c->consttype) <= cutoff)
				result = lappend(result, mesh_relation_name(pd->oids[i]));
		}
	}
	relation_close(rel, AccessShareLock);
	return result;
}

/* anonymise: SET c = mask(c), ... and the test of a row not yet masked */
static void
anonymise_clauses(RetentionUnit *u, List *columns, const char *mask, Jsonb *args)
{
	Relation	rel = relation_open(u->relid, AccessShareLock);
	MeshPolicy	policy;
	StringInfoData set;
	StringInfoData changed;
	ListCell   *lc;
	const MeshMaskInfo *info = mesh_mask_require(mask);

	memset(&policy, 0, sizeof(policy));
	policy.name = u->policy;
	policy.mask = info->kind;
	policy.fill = "*";
	policy.keep_last = 4;
	if (args != NULL)
	{
		JsonbValue *v;
		const char *keys[] = {"value", "fill", "unit", "step", "width", "keep_first", "keep_last"};

		for (int i = 0; i < (int) lengthof(keys); i++)
		{
			char	   *text;

			v = getKeyJsonValueFromContainer(&args->root, keys[i], strlen(keys[i]), NULL);
			if (v == NULL || v->type == jbvNull)
				continue;
			if (v->type == jbvString)
				text = pnstrdup(v->val.string.val, v->val.string.len);
			else if (v->type == jbvNumeric)
				text = DatumGetCString(DirectFunctionCall1(numeric_out,
														   NumericGetDatum(v->val.numeric)));
			else
				continue;
			switch (i)
			{
				case 0:
					policy.arg_value = text;
					break;
				case 1:
					policy.fill = text;
					break;
				case 2:
					policy.unit = text;
					break;
				case 3:
				case 4:
					policy.step = text;
					break;
				case 5:
					policy.keep_first = pg_strtoint32(text);
					break;
				case 6:
					policy.keep_last = pg_strtoint32(text);
					break;
			}
		}
	}
	initStringInfo(&set);
	initStringInfo(&changed);
	foreach(lc, columns)
	{
		char	   *col = lfirst(lc);
		AttrNumber	attno = get_attnum(u->relid, col);
		Form_pg_attribute att;
		char	   *expr;

		if (attno <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of data product \"%s\" does not exist", col, u->product)));
		att = TupleDescAttr(RelationGetDescr(rel), attno - 1);
		policy.subject = attno;
		expr = mesh_deparse_expr((Node *) mesh_mask_expr(&policy, rel,
														 makeVar(1, attno, att->atttypid,
																 att->atttypmod,
																 att->attcollation, 0)),
								 rel);
		appendStringInfo(&set, "%s%s = %s", set.len ? ", " : "", quote_identifier(col), expr);
		appendStringInfo(&changed, "%s%s IS DISTINCT FROM %s", changed.len ? " OR " : "",
						 quote_identifier(col), expr);
	}
	relation_close(rel, AccessShareLock);
	u->set_clause = set.data;
	u->changed = changed.data;
}

/*
 * anonymise_clauses in a subtransaction: a column the mask does not fit
 * makes the unit one that cannot run (its note says why), not an error.
 */
static void
try_anonymise_clauses(RetentionUnit *u, List *columns, const char *mask, Jsonb *args)
{
	MemoryContext mcxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(mcxt);
	PG_TRY();
	{
		anonymise_clauses(u, columns, mask, args);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(mcxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
		if (e->sqlerrcode != ERRCODE_DATATYPE_MISMATCH &&
			e->sqlerrcode != ERRCODE_UNDEFINED_COLUMN &&
			e->sqlerrcode != ERRCODE_INVALID_TEXT_REPRESENTATION &&
			e->sqlerrcode != ERRCODE_INVALID_PARAMETER_VALUE)
			ReThrowError(e);
		u->note = e->message;
		u->done = true;
	}
	PG_END_TRY();
}

/*
 * The row policy that hides rows of relid from its owner, or NULL when the
 * owner sees them all.  The statements run as the owner and through the
 * governance hooks, so such rows are not reached: the run says so
 * (status incomplete) rather than claim the policy applied.
 */
static char *
row_policy_hiding_rows(Oid relid)
{
	const MeshProduct *product = mesh_product_by_relid(relid);
	HeapTuple	tup;
	Oid			owner;
	List	   *policies;
	ListCell   *lc;

	if (product == NULL)
		return NULL;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return NULL;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	policies = mesh_load_policies(product, relid);
	foreach(lc, policies)
	{
		MeshPolicy *policy = lfirst(lc);
		const char *why;

		if (policy->is_row && !mesh_policy_exempt(product, policy, owner, &why))
			return pstrdup(policy->name);
	}
	return NULL;
}

/*
 * The units of one product (inside mesh_spi_begin): every policy bound to
 * it, and every policy bound to a tag one of its columns carries.  A unit
 * that cannot run says why in its note.
 */
static List *
product_units(int64 product_id)
{
	List	   *units = NIL;
	SPITupleTable *tt;
	uint64		n;

	mesh_spi_exec("SELECT r.id, r.name, d.name || '.' || p.name, p.relid::oid, r.action, r.time_column, "
				  "       now() - r.keep, r.columns, r.mask, r.mask_args, "
				  "       ARRAY(SELECT ct.column_name FROM meshpg.cat_column_tag ct "
				  "              WHERE ct.product_id = p.id AND ct.tag_id = r.tag_id ORDER BY 1) "
				  "  FROM meshpg.cat_retention_policy r, meshpg.cat_product p "
				  "  JOIN meshpg.cat_domain d ON d.id = p.domain_id "
				  " WHERE p.id = $1 AND (r.product_id = p.id OR r.tag_id IN "
				  "       (SELECT ct.tag_id FROM meshpg.cat_column_tag ct WHERE ct.product_id = p.id)) "
				  " ORDER BY r.name",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product_id)}, NULL);
	tt = SPI_tuptable;
	n = SPI_processed;
	for (uint64 i = 0; i < n; i++)
	{
		HeapTuple	tup = tt->vals[i];
		TupleDesc	desc = tt->tupdesc;
		RetentionUnit *u = palloc0(sizeof(RetentionUnit));
		bool		isnull;
		char	   *action;
		AttrNumber	att;
		char		relkind;

		u->policy_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		u->policy = SPI_getvalue(tup, desc, 2);
		u->product_id = product_id;
		u->product = SPI_getvalue(tup, desc, 3);
		u->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		action = SPI_getvalue(tup, desc, 5);
		u->action = strcmp(action, "delete") == 0 ? RET_DELETE :
			strcmp(action, "anonymise") == 0 ? RET_ANONYMISE : RET_DROP_PARTITIONS;
		u->time_column = SPI_getvalue(tup, desc, 6);
		u->cutoff = DatumGetTimestampTz(SPI_getbinval(tup, desc, 7, &isnull));
		units = lappend(units, u);

		relkind = get_rel_relkind(u->relid);
		att = get_attnum(u->relid, u->time_column);
		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		{
			u->note = "not a table: retention applies to tables and partitioned tables";
			u->done = true;
			continue;
		}
		if (att <= 0 || !is_time_type(get_atttype(u->relid, att)))
		{
			u->note = psprintf("no date or timestamp column \"%s\"", u->time_column);
			u->done = true;
			continue;
		}
		if (u->action == RET_DROP_PARTITIONS)
		{
			char	   *why;

			u->partitions = partitions_before(u->relid, u->time_column, u->cutoff, &why);
			if (why)
			{
				u->note = why;
				u->done = true;
			}
			continue;
		}
		if (u->action == RET_ANONYMISE)
		{
			Datum		cols = SPI_getbinval(tup, desc, 8, &isnull);
			List	   *columns = isnull ? mesh_text_array_list(SPI_getbinval(tup, desc, 11, &isnull))
				: mesh_text_array_list(cols);
			Datum		args = SPI_getbinval(tup, desc, 10, &isnull);
			char	   *mask = SPI_getvalue(tup, desc, 9);

			if (columns == NIL)
			{
				u->note = "no column to anonymise";
				u->done = true;
				continue;
			}
			try_anonymise_clauses(u, columns, mask, DatumGetJsonbP(args));
			if (u->done)
				continue;
		}
		{
			List	   *rels = find_all_inheritors(u->relid, AccessShareLock, NULL);
			ListCell   *lc;

			foreach(lc, rels)
				if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_RELATION)
					u->leaves = lappend_oid(u->leaves, lfirst_oid(lc));
		}
		{
			char	   *hiding = row_policy_hiding_rows(u->relid);

			if (hiding)
				u->partial = psprintf("row policy \"%s\" hides rows from the table's owner, which runs retention: rows hidden from it are not reached",
									  hiding);
		}
		ItemPointerSet(&u->resume, 0, 0);
		u->batch_rows = Min(retention_batch_size, 1000);
		if (u->leaves)
		{
			Relation	r = relation_open(linitial_oid(u->leaves), AccessShareLock);

			u->end = RelationGetNumberOfBlocks(r);
			relation_close(r, AccessShareLock);
		}
	}
	return units;
}

/* ---- one batch -------------------------------------------------------- */

/*
 * Locks the product's catalog row (a hold being placed waits for this
 * batch) and reads its hold.  False when the product is gone or held.
 */
static bool
product_free_to_run(RetentionUnit *u)
{
	mesh_spi_exec("SELECT h.reason FROM meshpg.cat_product p "
				  "  LEFT JOIN meshpg.cat_legal_hold h ON h.product_id = p.id "
				  " WHERE p.id = $1 FOR SHARE OF p",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(u->product_id)}, NULL);
	if (SPI_processed == 0)
	{
		u->note = "the data product is no longer registered";
		return false;
	}
	if (SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1) != NULL)
	{
		u->note = "suspended by a legal hold";
		return false;
	}
	return true;
}

/* The audit row of the unit's run, in the batch's transaction. */
static void
record_batch(RetentionUnit *u, int64 rows, const char *partition, const char *status)
{
	Datum		args[12];
	char		nulls[12] = "            ";
	Oid			types[12] = {INT8OID, INT8OID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID,
	INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};

	args[0] = Int64GetDatum(u->run_id);
	args[1] = Int64GetDatum(u->policy_id);
	args[2] = CStringGetTextDatum(u->policy);
	args[3] = Int64GetDatum(u->product_id);
	args[4] = CStringGetTextDatum(u->product);
	args[5] = CStringGetTextDatum(action_names[u->action]);
	args[6] = TimestampTzGetDatum(u->cutoff);
	args[7] = Int64GetDatum(rows);
	if (partition)
		args[8] = CStringGetTextDatum(partition);
	else
		nulls[8] = 'n';
	args[9] = CStringGetTextDatum(status);
	if (u->note)
		args[10] = CStringGetTextDatum(u->note);
	else
		nulls[10] = 'n';
	args[11] = CStringGetTextDatum(u->run_by ? u->run_by : "meshpg worker");
	if (u->run_id == 0)
	{
		bool		isnull;

		mesh_spi_exec("INSERT INTO meshpg.cat_retention_run "
					  "  (policy_id, policy, product_id, product, action, cutoff, rows, batches, "
					  "   partitions, status, note, run_by) "
					  "VALUES ($2, $3, $4, $5, $6, $7, $8, CASE WHEN $8 > 0 OR $9 IS NOT NULL THEN 1 ELSE 0 END, "
					  "        CASE WHEN $9 IS NULL THEN '{}' ELSE ARRAY[$9] END, $10, $11, $12) "
					  "RETURNING id",
					  12, types, args, nulls);
		u->run_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
												&isnull));
	}
	else
		mesh_spi_exec("UPDATE meshpg.cat_retention_run "
					  "   SET rows = rows + $8, batches = batches + CASE WHEN $8 > 0 OR $9 IS NOT NULL THEN 1 ELSE 0 END, "
					  "       partitions = CASE WHEN $9 IS NULL THEN partitions ELSE partitions || $9 END, "
					  "       status = $10, note = $11, finished_at = clock_timestamp() "
					  " WHERE id = $1",
					  12, types, args, nulls);
}

/*
 * The event of a unit's run once it has ended (meshpg.retention.run): the
 * policy, the action, the figures, never a value of the rows.
 */
static void
emit_run_event(const RetentionUnit *u, const char *status)
{
	StringInfoData data;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&data);
	appendStringInfoString(&data, "{\"policy\": ");
	escape_json(&data, u->policy);
	appendStringInfo(&data, ", \"action\": \"%s\", \"rows\": " INT64_FORMAT ", \"batches\": %d, \"status\": \"%s\", \"cutoff\": ",
					 action_names[u->action], u->rows, u->batches, status);
	escape_json(&data, timestamptz_to_str(u->cutoff));
	appendStringInfoString(&data, ", \"partitions\": [");
	foreach(lc, u->partitions)
	{
		if (i >= u->next_partition)
			break;
		if (i++ > 0)
			appendStringInfoString(&data, ", ");
		escape_json(&data, lfirst(lc));
	}
	appendStringInfoString(&data, "]}");
	mesh_event_emit("meshpg.retention.run", u->product, data.data);
}

/* delete or anonymise: the next batch of rows of the current leaf */
static int64
rows_batch(RetentionUnit *u, bool *more)
{
	Oid			leaf = list_nth_oid(u->leaves, u->leaf);
	char	   *rel = mesh_relation_name(leaf);
	char	   *tc = (char *) quote_identifier(u->time_column);
	ItemPointerData end;
	OwnerSwitch sw;
	Datum	   *tids;
	int			ntids;
	int64		done = 0;
	StringInfoData sql;

	ItemPointerSet(&end, u->end, 0);
	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT ctid FROM ONLY %s WHERE ctid > $1 AND ctid < $2 AND %s < $3", rel, tc);
	if (u->action == RET_ANONYMISE)
		appendStringInfo(&sql, " AND (%s)", u->changed);
	appendStringInfo(&sql, " LIMIT %d", u->batch_rows);

	as_owner(u->relid, &sw);
	mesh_spi_exec(sql.data, 3, (Oid[]) {TIDOID, TIDOID, TIMESTAMPTZOID},
				  (Datum[]) {PointerGetDatum(&u->resume), PointerGetDatum(&end),
				  TimestampTzGetDatum(u->cutoff)}, NULL);
	ntids = SPI_processed;
	tids = palloc(sizeof(Datum) * Max(ntids, 1));
	for (int i = 0; i < ntids; i++)
	{
		bool		isnull;
		ItemPointer tid = palloc(sizeof(ItemPointerData));

		ItemPointerCopy((ItemPointer) DatumGetPointer(SPI_getbinval(SPI_tuptable->vals[i],
														  SPI_tuptable->tupdesc, 1, &isnull)),
						tid);
		tids[i] = PointerGetDatum(tid);
	}
	if (ntids > 0)
	{
		ArrayType  *arr = construct_array(tids, ntids, TIDOID, sizeof(ItemPointerData), false,
										  TYPALIGN_SHORT);

		resetStringInfo(&sql);
		if (u->action == RET_DELETE)
			appendStringInfo(&sql, "DELETE FROM ONLY %s WHERE ctid = ANY ($1) AND %s < $2", rel, tc);
		else
			appendStringInfo(&sql, "UPDATE ONLY %s SET %s WHERE ctid = ANY ($1) AND %s < $2",
							 rel, u->set_clause, tc);
		mesh_spi_exec(sql.data, 2, (Oid[]) {TIDARRAYOID, TIMESTAMPTZOID},
					  (Datum[]) {PointerGetDatum(arr), TimestampTzGetDatum(u->cutoff)}, NULL);
		done = SPI_processed;
		/* resume after the last row seen: the scan returns them in ctid order */
		ItemPointerCopy((ItemPointer) DatumGetPointer(tids[ntids - 1]), &u->resume);
	}
	back_from_owner(&sw);

	if (ntids < u->batch_rows)
	{
		/* this leaf is done: the next one, from its start */
		u->leaf++;
		if (u->leaf >= list_length(u->leaves))
			*more = false;
		else
		{
			Relation	r = relation_open(list_nth_oid(u->leaves, u->leaf), AccessShareLock);

			u->end = RelationGetNumberOfBlocks(r);
			relation_close(r, AccessShareLock);
			ItemPointerSet(&u->resume, 0, 0);
		}
	}
	return done;
}

/* drop_partitions: detach and drop the next partition */
static int64
partition_batch(RetentionUnit *u, char **dropped, bool *more)
{
	char	   *part = list_nth(u->partitions, u->next_partition);
	OwnerSwitch sw;
	int64		rows;
	bool		isnull;

	as_owner(u->relid, &sw);
	/* counted before any strong lock is asked for */
	mesh_spi_exec(psprintf("SELECT count(*) FROM %s", part), 0, NULL, NULL, NULL);
	rows = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	mesh_spi_exec(psprintf("ALTER TABLE %s DETACH PARTITION %s",
						   mesh_relation_name(u->relid), part), 0, NULL, NULL, NULL);
	mesh_spi_exec(psprintf("DROP TABLE %s", part), 0, NULL, NULL, NULL);
	back_from_owner(&sw);
	*dropped = part;
	u->next_partition++;
	*more = u->next_partition < list_length(u->partitions);
	return rows;
}

/*
 * One batch of unit u in the current transaction, in a subtransaction so
 * that a lock not had in time is given up cleanly.  Marks u done when
 * there is nothing left.
 */
static void
unit_step(RetentionUnit *u)
{
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext batch;
	ResourceOwner owner = CurrentResourceOwner;
	MeshSpiState spi;
	RetentionUnit before = *u;
	TimestampTz started = GetCurrentTimestamp();

	if (u->done)
		return;
	/* what a batch allocates (ten thousand TIDs) goes with it */
	batch = AllocSetContextCreate(cxt, "meshpg retention batch", ALLOCSET_DEFAULT_SIZES);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(batch);
	PG_TRY();
	{
		bool		more = true;
		int64		rows = 0;
		char	   *dropped = NULL;

		mesh_spi_begin(&spi);
		(void) set_config_option("lock_timeout", psprintf("%d", retention_lock_timeout),
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		if (!product_free_to_run(u))
		{
			u->done = true;
			record_batch(u, 0, NULL, strcmp(u->note, "suspended by a legal hold") == 0 ? "held" : "done");
			emit_run_event(u, strcmp(u->note, "suspended by a legal hold") == 0 ? "held" : "done");
		}
		else
		{
			if (u->action == RET_DROP_PARTITIONS)
			{
				if (u->partitions != NIL)
					rows = partition_batch(u, &dropped, &more);
				else
					more = false;
			}
			else if (u->leaves != NIL)
				rows = rows_batch(u, &more);
			else
				more = false;
			u->rows += rows;
			if (rows > 0 || dropped)
				u->batches++;
			u->lock_failures = 0;
			u->done = !more;
			if (u->done && u->partial)
				u->note = u->partial;
			record_batch(u, rows, dropped, !u->done ? "running" : u->partial ? "incomplete" : "done");
			if (u->done)
				emit_run_event(u, u->partial ? "incomplete" : "done");
		}
		mesh_spi_end(&spi);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		if (u->note && u->note != before.note)
			u->note = pstrdup(u->note);
		MemoryContextDelete(batch);

		/*
		 * The next batch takes about meshpg.retention_batch_time: a writer
		 * waiting for a row this batch locked waits about that long.
		 */
		{
			long		ms = (GetCurrentTimestamp() - started) / 1000;

			if (ms > retention_batch_time)
				u->batch_rows = Max(10, u->batch_rows / 2);
			else if (ms < retention_batch_time / 2)
				u->batch_rows = Min(retention_batch_size, u->batch_rows * 2);
		}
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		MemoryContextDelete(batch);
		/* nothing of the batch happened: where it started from */
		*u = before;
		if (e->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(e);
		/* a writer holds what the batch needs: try again, then leave it */
		if (u->lock_failures + 1 >= LOCK_RETRIES)
		{
			u->done = true;
			u->note = psprintf("gave up after %d lock timeouts (meshpg.retention_lock_timeout); the next run goes on",
							   LOCK_RETRIES);
			mesh_spi_begin(&spi);
			record_batch(u, 0, NULL, "incomplete");
			emit_run_event(u, "incomplete");
			mesh_spi_end(&spi);
		}
		else
			pg_usleep(20000L * u->lock_failures);
		u->lock_failures = before.lock_failures + 1;
	}
	PG_END_TRY();
}

/* ---- SQL functions ---------------------------------------------------- */

static RetentionAction
parse_action(const char *action)
{
	if (strcmp(action, "delete") == 0)
		return RET_DELETE;
	if (strcmp(action, "anonymise") == 0 || strcmp(action, "anonymize") == 0)
		return RET_ANONYMISE;
	if (strcmp(action, "drop_partitions") == 0)
		return RET_DROP_PARTITIONS;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown retention action \"%s\"", action),
			 errhint("Actions are delete, anonymise and drop_partitions.")));
	return RET_DELETE;
}

/*
 * meshpg.create_retention_policy(name, keep, time_column, action, tag,
 * product, columns, mask, args, description)
 */
Datum
meshpg_create_retention_policy(PG_FUNCTION_ARGS)
{
	char	   *name = mesh_normalize_name(mesh_arg_text(fcinfo, 0, "retention policy name"),
										   "retention policy", false);
	char	   *time_column = mesh_arg_text(fcinfo, 2, "time_column");
	RetentionAction action = parse_action(mesh_arg_text(fcinfo, 3, "action"));
	char	   *tag_in = mesh_arg_text_opt(fcinfo, 4);
	char	   *product_ref = mesh_arg_text_opt(fcinfo, 5);
	bool		columns_null;
	Datum		columns = mesh_arg_text_array(fcinfo, 6, "columns", &columns_null);
	char	   *mask = mesh_arg_text_opt(fcinfo, 7);
	Jsonb	   *args = PG_ARGISNULL(8) ? NULL : PG_GETARG_JSONB_P(8);
	char	   *description = mesh_arg_text_opt(fcinfo, 9);
	Interval   *keep;
	MeshSpiState spi;
	MeshProductRow product;
	int64		tag_id = 0;
	Datum		v[11];
	char		nulls[11] = "           ";

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("keep must not be null"),
				 errhint("Say how long rows are kept, for example interval '13 months'.")));
	keep = PG_GETARG_INTERVAL_P(1);
	if (false ||
		DatumGetBool(DirectFunctionCall2(interval_le, IntervalPGetDatum(keep),
										 DirectFunctionCall3(interval_in, CStringGetDatum("0"),
															 ObjectIdGetDatum(InvalidOid),
															 Int32GetDatum(-1)))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("keep must be a positive interval"),
				 errhint("Say how long rows are kept, for example interval '13 months'.")));
	if ((tag_in == NULL) == (product_ref == NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a retention policy is bound to a tag or to a data product, not %s",
						tag_in ? "both" : "neither"),
				 errhint("Pass tag => 'pii.payment' or product => 'domain.product'.")));
	if (action == RET_ANONYMISE)
	{
		const MeshMaskInfo *info = mesh_mask_require(mask ? mask : "null");

		if (info->kind == MASK_HASH || info->kind == MASK_CUSTOM)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("mask \"%s\" cannot anonymise rows in place", info->name),
					 errdetail("A pseudonym (hash) keeps rows linkable, and an expression may keep the value."),
					 errhint("Use null, redact, email, partial, date, bucket or round.")));
		if (args != NULL)
			mesh_check_mask_args(info, args);
		mask = (char *) info->name;
		if (tag_in != NULL && !columns_null)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a tag-bound retention policy anonymises the tagged columns"),
					 errhint("Leave columns out, or bind the policy to a data product.")));
		if (product_ref != NULL && columns_null)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a product-bound anonymise policy needs its columns"),
					 errhint("Pass columns => ARRAY['email', 'phone'].")));
	}
	else if (mask != NULL || !columns_null)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("columns and mask apply to the anonymise action only")));

	mesh_spi_begin(&spi);
	if (tag_in != NULL)
	{
		mesh_require_admin(spi.userid, "create a tag-bound retention policy");
		tag_id = mesh_resolve_tag(tag_in, NULL);
	}
	else
	{
		AttrNumber	att;
		char		relkind;

		mesh_resolve_product(product_ref, true, &product);
		mesh_require_admin_or_member(spi.userid, &product.domain);
		relkind = get_rel_relkind(product.relid);
		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("data product \"%s\" is not a table", product.qualname),
					 errhint("Retention deletes or changes rows: bind it to the table a view reads.")));
		att = get_attnum(product.relid, time_column);
		if (att <= 0 || !is_time_type(get_atttype(product.relid, att)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("data product \"%s\" has no date or timestamp column \"%s\"",
							product.qualname, time_column),
					 errhint("time_column names the column whose age decides, such as created_at.")));
	}

	mesh_spi_exec("SELECT 1 FROM meshpg.cat_retention_policy WHERE name = $1", 1,
				  (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("retention policy \"%s\" already exists", name),
				 errhint("Drop it with meshpg.drop_retention_policy() first.")));

	v[0] = CStringGetTextDatum(name);
	v[1] = IntervalPGetDatum(keep);
	v[2] = CStringGetTextDatum(time_column);
	v[3] = CStringGetTextDatum(action_names[action]);
	if (tag_id)
		v[4] = Int64GetDatum(tag_id);
	else
		nulls[4] = 'n';
	if (product_ref)
		v[5] = Int64GetDatum(product.id);
	else
		nulls[5] = 'n';
	if (columns_null)
		nulls[6] = 'n';
	else
		v[6] = columns;
	if (action == RET_ANONYMISE)
		v[7] = CStringGetTextDatum(mask);
	else
		nulls[7] = 'n';
	v[8] = args ? JsonbPGetDatum(args) : DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
	if (description)
		v[9] = CStringGetTextDatum(description);
	else
		nulls[9] = 'n';
	v[10] = CStringGetTextDatum(GetUserNameFromId(spi.userid, false));
	mesh_spi_exec("INSERT INTO meshpg.cat_retention_policy "
				  "  (name, keep, time_column, action, tag_id, product_id, columns, mask, mask_args, "
				  "   description, created_by) "
				  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
				  11, (Oid[]) {TEXTOID, INTERVALOID, TEXTOID, TEXTOID, INT8OID, INT8OID,
					  TEXTARRAYOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID}, v, nulls);

	/* a product-bound policy must be able to run: its units say why not */
	if (product_ref)
	{
		List	   *units = product_units(product.id);
		ListCell   *lc;

		foreach(lc, units)
		{
			RetentionUnit *u = lfirst(lc);

			if (strcmp(u->policy, name) == 0 && u->note != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("retention policy \"%s\" cannot run on data product \"%s\": %s",
								name, product.qualname, u->note)));
		}
	}
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.drop_retention_policy(name) */
Datum
meshpg_drop_retention_policy(PG_FUNCTION_ARGS)
{
	char	   *input = mesh_arg_text(fcinfo, 0, "retention policy name");
	char	   *name = mesh_normalize_name(input, "retention policy", true);
	MeshSpiState spi;
	char	   *ref;

	mesh_spi_begin(&spi);
	mesh_spi_exec("SELECT d.name || '.' || p.name FROM meshpg.cat_retention_policy r "
				  "  LEFT JOIN meshpg.cat_product p ON p.id = r.product_id "
				  "  LEFT JOIN meshpg.cat_domain d ON d.id = p.domain_id "
				  " WHERE r.name = $1 FOR UPDATE OF r",
				  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name ? name : input)}, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("retention policy \"%s\" does not exist", input),
				 errhint("List them with SELECT name FROM meshpg.retention_policies.")));
	ref = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (ref == NULL)
		mesh_require_admin(spi.userid, "drop a tag-bound retention policy");
	else
	{
		MeshProductRow product;

		mesh_resolve_product(ref, false, &product);
		mesh_require_admin_or_member(spi.userid, &product.domain);
	}
	mesh_spi_exec("DELETE FROM meshpg.cat_retention_policy WHERE name = $1",
				  1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(name)}, NULL);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.place_legal_hold(product, reason) */
Datum
meshpg_place_legal_hold(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	char	   *reason = mesh_arg_text_opt(fcinfo, 1);
	MeshSpiState spi;
	MeshProductRow product;
	bool		as_domain;

	if (reason == NULL || reason[strspn(reason, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a legal hold needs a reason"),
				 errhint("Name the matter, for example 'litigation 2026-114'.")));
	mesh_spi_begin(&spi);
	/* FOR UPDATE: waits for a retention batch in flight (see unit_step) */
	mesh_resolve_product(ref, true, &product);
	mesh_require_admin_or_member(spi.userid, &product.domain);
	/* placed by the domain's team, or by the governance team over it */
	as_domain = has_privs_of_role(spi.userid, product.domain.owner) && !mesh_is_admin(spi.userid);
	mesh_spi_exec("INSERT INTO meshpg.cat_legal_hold (product_id, reason, placed_by, placed_by_domain) "
				  "VALUES ($1, $2, $3, $4) ON CONFLICT (product_id) DO NOTHING",
				  4, (Oid[]) {INT8OID, TEXTOID, TEXTOID, BOOLOID},
				  (Datum[]) {Int64GetDatum(product.id), CStringGetTextDatum(reason),
					  CStringGetTextDatum(GetUserNameFromId(spi.userid, false)),
				  BoolGetDatum(as_domain)}, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("data product \"%s\" is already under a legal hold", product.qualname),
				 errhint("See SELECT * FROM meshpg.legal_holds.")));
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * meshpg.lift_legal_hold(product): the governance team, or the domain team
 * when its team placed the hold (a hold the governance team placed is
 * theirs to lift).
 */
Datum
meshpg_lift_legal_hold(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	MeshSpiState spi;
	MeshProductRow product;
	bool		isnull;
	bool		by_domain;
	char	   *placed_by;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, true, &product);
	mesh_require_admin_or_member(spi.userid, &product.domain);
	mesh_spi_exec("SELECT placed_by_domain, placed_by FROM meshpg.cat_legal_hold WHERE product_id = $1",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product.id)}, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("data product \"%s\" is under no legal hold", product.qualname)));
	by_domain = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	placed_by = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (!by_domain && !mesh_is_admin(spi.userid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to lift the legal hold on data product \"%s\"",
						product.qualname),
				 errdetail("The governance team (%s) placed it.", placed_by),
				 errhint("Only the team that placed a hold, or the governance team (meshpg_admin), lifts it.")));
	mesh_spi_exec("DELETE FROM meshpg.cat_legal_hold WHERE product_id = $1",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product.id)}, NULL);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* The product named by argument 0, for the domain team or the governance team. */
static void
product_for_retention(FunctionCallInfo fcinfo, MeshProductRow *product)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	MeshSpiState spi;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, product);
	mesh_require_admin_or_member(spi.userid, &product->domain);
	mesh_spi_end(&spi);
}

/*
 * meshpg.retention_dry_run(product): per unit, what the next run would do:
 * the rows it would delete or anonymise now, the partitions it would drop.
 */
Datum
meshpg_retention_dry_run(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MeshProductRow product;
	MeshSpiState spi;
	List	   *units;
	ListCell   *lc;
	bool		held;

	product_for_retention(fcinfo, &product);
	InitMaterializedSRF(fcinfo, 0);
	mesh_spi_begin(&spi);
	units = product_units(product.id);
	mesh_spi_exec("SELECT 1 FROM meshpg.cat_legal_hold WHERE product_id = $1", 1,
				  (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product.id)}, NULL);
	held = SPI_processed > 0;
	foreach(lc, units)
	{
		RetentionUnit *u = lfirst(lc);
		Datum		values[8];
		bool		nulls[8] = {0};
		int64		rows = 0;
		bool		isnull;
		ListCell   *l2;

		if (!u->done)
		{
			OwnerSwitch sw;

			as_owner(u->relid, &sw);
			if (u->action == RET_DROP_PARTITIONS)
				foreach(l2, u->partitions)
			{
				mesh_spi_exec(psprintf("SELECT count(*) FROM %s", (char *) lfirst(l2)),
							  0, NULL, NULL, NULL);
				rows += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
			}
			else
				foreach(l2, u->leaves)
			{
				StringInfoData sql;

				initStringInfo(&sql);
				appendStringInfo(&sql, "SELECT count(*) FROM ONLY %s WHERE %s < $1",
								 mesh_relation_name(lfirst_oid(l2)),
								 quote_identifier(u->time_column));
				if (u->action == RET_ANONYMISE)
					appendStringInfo(&sql, " AND (%s)", u->changed);
				mesh_spi_exec(sql.data, 1, (Oid[]) {TIMESTAMPTZOID},
							  (Datum[]) {TimestampTzGetDatum(u->cutoff)}, NULL);
				rows += DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
			}
			back_from_owner(&sw);
		}
		values[0] = CStringGetTextDatum(u->policy);
		values[1] = CStringGetTextDatum(action_names[u->action]);
		values[2] = CStringGetTextDatum(u->time_column);
		values[3] = TimestampTzGetDatum(u->cutoff);
		values[4] = Int64GetDatum(rows);
		{
			Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(u->partitions), 1));
			int			n = 0;

			foreach(l2, u->partitions)
				elems[n++] = CStringGetTextDatum(lfirst(l2));
			values[5] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
		}
		values[6] = BoolGetDatum(held);
		if (held)
			values[7] = CStringGetTextDatum("suspended by a legal hold: the run would do nothing");
		else if (u->note)
			values[7] = CStringGetTextDatum(u->note);
		else if (u->partial)
			values[7] = CStringGetTextDatum(u->partial);
		else
			nulls[7] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	mesh_spi_end(&spi);
	return (Datum) 0;
}

/* units outlive the transactions of a run: a context of their own */
static MemoryContext proc_cxt = NULL;

/*
 * CALL meshpg.run_retention(product): enforces the product's policies now.
 * Outside a transaction block each batch commits on its own; inside one
 * (or from a function) the whole run is one transaction.
 */
Datum
meshpg_run_retention(PG_FUNCTION_ARGS)
{
	MeshProductRow product;
	MeshSpiState spi;
	List	   *units;
	ListCell   *lc;
	bool		nonatomic = fcinfo->context && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;
	MemoryContext old;

	product_for_retention(fcinfo, &product);
	if (proc_cxt != NULL)
		MemoryContextDelete(proc_cxt);
	proc_cxt = AllocSetContextCreate(TopMemoryContext, "meshpg retention run",
									 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(proc_cxt);
	mesh_spi_begin(&spi);
	units = product_units(product.id);
	mesh_spi_end(&spi);
	foreach(lc, units)
		((RetentionUnit *) lfirst(lc))->run_by = GetUserNameFromId(GetUserId(), false);

	if (nonatomic && SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	MemoryContextSwitchTo(proc_cxt);
	foreach(lc, units)
	{
		RetentionUnit *u = lfirst(lc);

		if (u->done)
		{
			/* nothing it can do: the audit trail says why */
			mesh_spi_begin(&spi);
			record_batch(u, 0, NULL, "skipped");
			mesh_spi_end(&spi);
			continue;
		}
		while (!u->done)
		{
			CHECK_FOR_INTERRUPTS();
			unit_step(u);
			if (nonatomic)
			{
				SPI_commit();
				MemoryContextSwitchTo(proc_cxt);
			}
		}
	}
	if (nonatomic)
		SPI_finish();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(proc_cxt);
	proc_cxt = NULL;
	PG_RETURN_VOID();
}

/* ---- the worker's task ------------------------------------------------ */

static MemoryContext task_cxt = NULL;
static List *task_units = NIL;
static TimestampTz last_sweep = 0;
static bool task_step_failed = false;	/* set while a step runs */

bool
mesh_retention_task(void)
{
	MemoryContext old;
	RetentionUnit *u;

	if (mesh_catalog() == NULL)
		return false;

	/*
	 * The previous step raised an error (the worker logged it and rolled
	 * its transaction back): leave that unit to the next sweep rather than
	 * fail on it every tick.
	 */
	if (task_step_failed && task_units != NIL)
		task_units = list_delete_first(task_units);
	task_step_failed = false;
	if (task_units == NIL)
	{
		MeshSpiState spi;
		int64	   *ids;
		uint64		nids;

		if (!TimestampDifferenceExceeds(last_sweep, GetCurrentTimestamp(),
										retention_interval * 1000))
			return false;
		last_sweep = GetCurrentTimestamp();
		if (task_cxt != NULL)
			MemoryContextDelete(task_cxt);
		task_cxt = AllocSetContextCreate(TopMemoryContext, "meshpg retention task",
										 ALLOCSET_DEFAULT_SIZES);
		old = MemoryContextSwitchTo(task_cxt);
		mesh_spi_begin(&spi);
		mesh_spi_exec("SELECT p.id FROM meshpg.cat_product p "
					  " WHERE EXISTS (SELECT 1 FROM meshpg.cat_retention_policy r "
					  "                WHERE r.product_id = p.id OR r.tag_id IN "
					  "                      (SELECT ct.tag_id FROM meshpg.cat_column_tag ct "
					  "                        WHERE ct.product_id = p.id)) ORDER BY p.id",
					  0, NULL, NULL, NULL);
		nids = SPI_processed;
		ids = palloc(sizeof(int64) * Max(nids, 1));
		for (uint64 i = 0; i < nids; i++)
		{
			bool		isnull;

			ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
												 &isnull));
		}
		for (uint64 i = 0; i < nids; i++)
			task_units = list_concat(task_units, product_units(ids[i]));
		mesh_spi_end(&spi);
		MemoryContextSwitchTo(old);
	}
	while (task_units != NIL && ((RetentionUnit *) linitial(task_units))->done)
	{
		u = linitial(task_units);
		if (u->note != NULL && u->run_id == 0)
		{
			MeshSpiState spi;

			mesh_spi_begin(&spi);
			record_batch(u, 0, NULL, "skipped");
			mesh_spi_end(&spi);
		}
		task_units = list_delete_first(task_units);
	}
	if (task_units == NIL)
		return false;
	u = linitial(task_units);
	old = MemoryContextSwitchTo(task_cxt);
	task_step_failed = true;
	unit_step(u);
	task_step_failed = false;
	MemoryContextSwitchTo(old);
	return true;
}
