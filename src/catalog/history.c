/*
 * history.c
 *		The governance history's row trigger (meshpg._governance_history):
 *		every version of a row of the governance catalog, with the interval
 *		it was in force, who made it and who ended it
 *		(sql/1.4/45-point-in-time.sql has the table and the triggers).
 *
 * In C, with two simple prepared statements per table (close a version,
 * insert one) and the row turned into jsonb here: the trigger runs on every
 * recorded catalog call (grant_access, tag_column, policies, attributes,
 * descriptors), and bench/pit.sh holds it to 5% of them.
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
#include "nodes/makefuncs.h"
#include "utils/fmgroids.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "meshpg/catalog/catalog.h"

PG_FUNCTION_INFO_V1(meshpg_governance_history);

typedef struct HistoryPlanKey
{
	Oid			relid;
	char		op;				/* 'i': insert a version, 'c': close one */
} HistoryPlanKey;

typedef struct HistoryPlan
{
	HistoryPlanKey key;
	SPIPlanPtr	plan;
} HistoryPlan;

static HTAB *history_plans = NULL;

/* jsonb_build_object('col', $3->'col', ...) over the key columns */
static char *
key_expr(const Trigger *trigger)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "pg_catalog.jsonb_build_object(");
	for (int i = 1; i < trigger->tgnargs; i++)
		appendStringInfo(&buf, "%s%s, $3 OPERATOR(pg_catalog.->) %s", i > 1 ? ", " : "",
						 quote_literal_cstr(trigger->tgargs[i]),
						 quote_literal_cstr(trigger->tgargs[i]));
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * The statements of one table, kept.  Both are simple (no join, no CTE):
 * granting access changes a schema's privileges, which resets every cached
 * plan of the backend (PostgreSQL's plan cache), so they are planned again
 * on most calls, and their planning is most of what the history costs.
 * $1 the catalog's name, $2 the author, $3 the row as jsonb.
 */
static SPIPlanPtr
history_plan(Relation rel, const Trigger *trigger, char op)
{
	HistoryPlanKey key;
	HistoryPlan *entry;
	bool		found;
	char	   *sql;

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

	if (op == 'i')
		sql = psprintf("INSERT INTO meshpg.cat_governance_history (catalog, key, \"row\", valid, changed_by) "
					   "VALUES ($1, %s, $3, pg_catalog.tstzrange(pg_catalog.now(), NULL), $2)",
					   key_expr(trigger));
	else
		sql = psprintf("UPDATE meshpg.cat_governance_history "
					   "   SET valid = pg_catalog.tstzrange(pg_catalog.lower(valid), pg_catalog.now()), "
					   "       ended_by = $2 "
					   " WHERE catalog OPERATOR(pg_catalog.=) $1 AND key OPERATOR(pg_catalog.=) %s "
					   "   AND pg_catalog.upper_inf(valid) "
					   "RETURNING id, pg_catalog.isempty(valid)",
					   key_expr(trigger));
	{
		Oid			types[3] = {TEXTOID, TEXTOID, JSONBOID};
		SPIPlanPtr	plan = SPI_prepare(sql, 3, types);

		if (plan == NULL)
			elog(ERROR, "meshpg: could not prepare the governance history statement: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "meshpg: could not keep the governance history statement");
		entry->plan = plan;
	}
	return entry->plan;
}

/* to_jsonb(row), called as the SQL function is, with the row's type known */
static Datum
row_to_jsonb(HeapTuple tuple, TupleDesc desc)
{
	static FmgrInfo flinfo;
	static bool ready = false;
	static Oid	ready_type = InvalidOid;
	Datum		row = heap_copy_tuple_as_datum(tuple, desc);

	if (!ready || ready_type != desc->tdtypeid)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		FuncExpr   *expr;

		fmgr_info(F_TO_JSONB, &flinfo);
		expr = makeFuncExpr(F_TO_JSONB, JSONBOID,
							list_make1(makeNullConst(desc->tdtypeid, -1, InvalidOid)),
							InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
		fmgr_info_set_expr((Node *) expr, &flinfo);
		MemoryContextSwitchTo(old);
		ready = true;
		ready_type = desc->tdtypeid;
	}
	return FunctionCall1(&flinfo, row);
}

static void
run(SPIPlanPtr plan, const char *catalog, const char *actor, Datum row)
{
	Datum		args[3] = {CStringGetTextDatum(catalog), CStringGetTextDatum(actor), row};
	int			rc = SPI_execute_plan(plan, args, NULL, false, 0);

	if (rc < 0)
		elog(ERROR, "meshpg: recording the governance history failed: %s",
			 SPI_result_code_string(rc));
}

Datum
meshpg_governance_history(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	const Trigger *trigger;
	char	   *actor;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("meshpg._governance_history() must be called as an AFTER ROW trigger")));
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	trigger = trigdata->tg_trigger;
	if (trigger->tgnargs < 2)
		elog(ERROR, "meshpg._governance_history(): catalog name and key columns expected");

	actor = mesh_governance_actor(RelationGetRelid(rel));
	if (actor == NULL)
		return PointerGetDatum(NULL);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* the old version ends; one made in this transaction was never in force */
	if (!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		run(history_plan(rel, trigger, 'c'), trigger->tgargs[0], actor,
			row_to_jsonb(trigdata->tg_trigtuple, desc));
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;

			if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)))
			{
				Datum		id = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

				if (SPI_execute_with_args("DELETE FROM meshpg.cat_governance_history "
										  "WHERE id OPERATOR(pg_catalog.=) $1",
										  1, (Oid[]) {INT8OID}, &id, NULL, false, 0) < 0)
					elog(ERROR, "meshpg: recording the governance history failed");
			}
		}
	}
	/* the new version begins */
	if (!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		run(history_plan(rel, trigger, 'i'), trigger->tgargs[0], actor,
			row_to_jsonb(TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ?
						 trigdata->tg_newtuple : trigdata->tg_trigtuple, desc));
	SPI_finish();
	return PointerGetDatum(NULL);
}
