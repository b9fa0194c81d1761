/*
 * history.c
 *		The governance history's row trigger (meshpg._governance_history):
 *		every version of a row of the governance catalog, with the interval
 *		it was in force, who made it and who ended it
 *		(sql/1.4/45-point-in-time.sql has the table and the triggers).
 *
 * In C, with one prepared statement per table and operation: the trigger
 * runs on every recorded catalog call (grant_access, tag_column, policies,
 * attributes, descriptors), and bench/pit.sh holds it to 5% of them.
 *
 * Trigger arguments: the catalog's name in the history, then the columns of
 * the table's primary key.  A restore's COPY into the table records nothing
 * (meshpg._governance_actor says NULL): the dump carries the history rows
 * themselves.  A version made and ended in one transaction was never in
 * force for anyone else: it is removed rather than kept as an empty
 * interval.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "meshpg/catalog/catalog.h"

PG_FUNCTION_INFO_V1(meshpg_governance_history);

typedef struct HistoryPlanKey
{
	Oid			relid;
	char		op;				/* 'i', 'u', 'd' */
} HistoryPlanKey;

typedef struct HistoryPlan
{
	HistoryPlanKey key;
	SPIPlanPtr	plan;
} HistoryPlan;

static HTAB *history_plans = NULL;

/* jsonb_build_object('col', r->'col', ...) over the key columns */
static char *
key_expr(const Trigger *trigger, const char *row)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "pg_catalog.jsonb_build_object(");
	for (int i = 1; i < trigger->tgnargs; i++)
		appendStringInfo(&buf, "%s%s, %s OPERATOR(pg_catalog.->) %s", i > 1 ? ", " : "",
						 quote_literal_cstr(trigger->tgargs[i]), row,
						 quote_literal_cstr(trigger->tgargs[i]));
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * The statement of one operation on one table.  $1 the old row (or the new
 * one of an insert), $2 the catalog's name, $3 the author, $4 the new row of
 * an update.
 */
static SPIPlanPtr
history_plan(Relation rel, const Trigger *trigger, char op)
{
	HistoryPlanKey key;
	HistoryPlan *entry;
	bool		found;
	Oid			rowtype = RelationGetDescr(rel)->tdtypeid;
	StringInfoData sql;
	const char *close =
		"d AS (DELETE FROM meshpg.cat_governance_history h USING o "
		"       WHERE h.catalog OPERATOR(pg_catalog.=) $2 AND h.key OPERATOR(pg_catalog.=) o.k "
		"         AND pg_catalog.upper_inf(h.valid) "
		"         AND pg_catalog.lower(h.valid) OPERATOR(pg_catalog.>=) pg_catalog.now()), "
		"u AS (UPDATE meshpg.cat_governance_history h "
		"         SET valid = pg_catalog.tstzrange(pg_catalog.lower(h.valid), pg_catalog.now()), "
		"             ended_by = $3 FROM o "
		"       WHERE h.catalog OPERATOR(pg_catalog.=) $2 AND h.key OPERATOR(pg_catalog.=) o.k "
		"         AND pg_catalog.upper_inf(h.valid) "
		"         AND pg_catalog.lower(h.valid) OPERATOR(pg_catalog.<) pg_catalog.now()) ";
	const char *insert =
		"INSERT INTO meshpg.cat_governance_history (catalog, key, \"row\", valid, changed_by) "
		"SELECT $2, %s, n.r, pg_catalog.tstzrange(pg_catalog.now(), NULL), $3 "
		"  FROM (SELECT pg_catalog.to_jsonb(%s) AS r) n";

	if (history_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(HistoryPlanKey);
		ctl.entrysize = sizeof(HistoryPlan);
		ctl.hcxt = TopMemoryContext;
		history_plans = hash_create("meshpg governance history plans", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.relid = RelationGetRelid(rel);
	key.op = op;
	entry = hash_search(history_plans, &key, HASH_ENTER, &found);
	if (found && entry->plan != NULL)
		return entry->plan;
	entry->plan = NULL;

	initStringInfo(&sql);
	if (op == 'i')
		appendStringInfo(&sql, insert, key_expr(trigger, "n.r"), "$1");
	else
	{
		appendStringInfo(&sql, "WITH o AS (SELECT %s AS k FROM (SELECT pg_catalog.to_jsonb($1) AS r) x), %s",
						 key_expr(trigger, "x.r"), close);
		if (op == 'd')
			appendStringInfoString(&sql, "SELECT 1");
		else
			appendStringInfo(&sql, insert, key_expr(trigger, "n.r"), "$4");
	}
	{
		Oid			types[4] = {rowtype, TEXTOID, TEXTOID, rowtype};
		SPIPlanPtr	plan = SPI_prepare(sql.data, op == 'u' ? 4 : 3, types);

		if (plan == NULL)
			elog(ERROR, "meshpg: could not prepare the governance history statement: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "meshpg: could not keep the governance history statement");
		entry->plan = plan;
	}
	return entry->plan;
}

Datum
meshpg_governance_history(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	const Trigger *trigger;
	char		op;
	char	   *actor;
	Datum		args[4];
	int			rc;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("meshpg._governance_history() must be called as an AFTER ROW trigger")));
	rel = trigdata->tg_relation;
	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs < 2)
		elog(ERROR, "meshpg._governance_history(): catalog name and key columns expected");

	actor = mesh_governance_actor(RelationGetRelid(rel));
	if (actor == NULL)
		return PointerGetDatum(NULL);

	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		op = 'i';
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		op = 'u';
	else
		op = 'd';

	args[0] = heap_copy_tuple_as_datum(trigdata->tg_trigtuple,
									   RelationGetDescr(rel));
	args[1] = CStringGetTextDatum(trigger->tgargs[0]);
	args[2] = CStringGetTextDatum(actor);
	if (op == 'u')
		args[3] = heap_copy_tuple_as_datum(trigdata->tg_newtuple, RelationGetDescr(rel));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_plan(history_plan(rel, trigger, op), args, NULL, false, 0);
	if (rc < 0)
		elog(ERROR, "meshpg: recording the governance history failed: %s",
			 SPI_result_code_string(rc));
	SPI_finish();
	return PointerGetDatum(NULL);
}
