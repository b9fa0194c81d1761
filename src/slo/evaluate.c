/*
 * evaluate.c
 *		meshpg.evaluate(product): every SLO of a product measured in one
 *		pass, recorded in the history, with breach and recovery alerts.
 *
 * Scan-based measures (freshness by column, completeness, validity,
 * uniqueness, exact volume) become aggregates of ONE query over the
 * relation, built from quoted identifiers and deparsed, re-analysed
 * expressions, never from stored text.  Metadata measures scan nothing:
 * freshness by last change reads the shared change table (changes.c),
 * approximate volume the planner's size estimate, and uniqueness that a
 * unique index guarantees is taken from the index.
 *
 * Measuring runs as the domain's owner role, in a restricted security
 * context with a fixed search path and no session purpose: it sees what the
 * domain sees, whoever asked, and a consumer's masks or a planted function
 * never weaken it.  Each measure that fails (a compile error after the
 * relation changed, a custom query that raises) is caught in a
 * subtransaction, recorded as an error and logged; the others go on.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "parser/parse_func.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "meshpg/events/events.h"
#include "meshpg/policy/policy.h"
#include "meshpg/slo/slo.h"
#include "meshpg/citus/citus.h"

PG_FUNCTION_INFO_V1(meshpg_evaluate);

typedef struct SloItem
{
	int64		id;
	char	   *name;
	SloKind		kind;
	char	   *severity;
	Jsonb	   *spec_json;
	SloSpec    *spec;
	bool		prev_known;
	bool		prev_met;
	Numeric		prev_value;		/* NULL if none */
	TimestampTz scheduled_for;	/* 0: manual */
	/* the measurement */
	bool		done;
	Numeric		value;
	Numeric		target;
	char	   *objective;
	bool		met_known;
	bool		met;
	char	   *error;
	StringInfoData detail;		/* members of a JSON object */
	TimestampTz started;
	int64		duration_us;
	int			col;			/* its first column in the pass, or 0 */
	int			elem;			/* its counter in that column's tally, or 0 */
	char	   *unique_index;	/* uniqueness guaranteed by this index */
} SloItem;

typedef struct EvalCtx
{
	MeshProductRow *product;
	Relation	rel;
	double		sample;			/* percent, 0 = all rows */
	List	   *items;
	List	   *pass;			/* items measured by the one-pass query */
	List	   *only;			/* of char *: these SLOs only (NIL: all) */
	bool		tally;			/* meshpg._slo_tally exists (1.2 and later) */
} EvalCtx;

/*
 * Counters per meshpg._slo_tally call: a function takes at most
 * FUNC_MAX_ARGS arguments, its state one of them.
 */
#define TALLY_MAX_ARGS 64

/* ---- helpers ---- */

/* SPI_execute, staying in the caller's memory context */
static int
execute_here(const char *sql, long tcount)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			rc = SPI_execute(sql, true, tcount);

	MemoryContextSwitchTo(cxt);
	return rc;
}

static Numeric
num_int(int64 i)
{
	return int64_to_numeric(i);
}

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a),
											 NumericGetDatum(b)));
}

static Numeric
num_div(Numeric a, Numeric b)
{
	Numeric		q = DatumGetNumeric(DirectFunctionCall2(numeric_div, NumericGetDatum(a),
														NumericGetDatum(b)));

	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(q)));
}

static Numeric
num_text(const char *s)
{
	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(s),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
}

static char *
num_out(Numeric n)
{
	return n == NULL ? "null" : DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
}

/* A JSON number, or a string for NaN and infinities (JSON has neither). */
static void
detail_num(SloItem *item, const char *key, Numeric n)
{
	appendStringInfo(&item->detail, "%s\"%s\": ", item->detail.len > 0 ? ", " : "", key);
	if (n != NULL && (numeric_is_nan(n) || numeric_is_inf(n)))
		escape_json(&item->detail, num_out(n));
	else
		appendStringInfoString(&item->detail, num_out(n));
}

static void
detail_raw(SloItem *item, const char *key, const char *json)
{
	appendStringInfo(&item->detail, "%s\"%s\": %s", item->detail.len > 0 ? ", " : "", key, json);
}

static void
detail_str(SloItem *item, const char *key, const char *s)
{
	appendStringInfo(&item->detail, "%s\"%s\": ", item->detail.len > 0 ? ", " : "", key);
	escape_json(&item->detail, s);
}

/*
 * Runs fn in a subtransaction; an error is caught and returned (a query
 * cancel is not: it stops the whole evaluation).
 */
static char *
guarded(void (*fn) (EvalCtx *, SloItem *), EvalCtx *ctx, SloItem *item)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(ctx, item);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		error = edata->message;
	}
	PG_END_TRY();
	return error;
}

/*
 * Runs fn as the domain's owner: restricted security context (no SET ROLE,
 * no session-level changes), names resolved in pg_catalog only, no session
 * purpose, and the read gate out of the way.
 */
/*
 * meshpg governs a query for its current user AND its outer user (the role
 * of SET ROLE): both become the domain owner here, as SET ROLE would, so
 * that neither the caller's role nor the session's purpose leaks into what
 * the domain measures.  An abort restores the current user but not the
 * outer one, hence the PG_FINALLY.
 */
static void
enter_role(Oid role, Oid user, int sec)
{
	SetUserIdAndSecContext(GetUserId(), 0);
	SetCurrentRoleId(role, OidIsValid(role) && superuser_arg(role));
	SetUserIdAndSecContext(user, sec);
}

static void
as_domain(EvalCtx *ctx, SloItem *item, void (*fn) (EvalCtx *, SloItem *))
{
	Oid			owner = ctx->product->domain.owner;
	Oid			save_user;
	int			save_sec;
	Oid			save_role = GetCurrentRoleId();
	int			nestlevel;
	char	   *save_purpose = mesh_session_purpose;

	GetUserIdAndSecContext(&save_user, &save_sec);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	mesh_session_purpose = NULL;
	mesh_slo_gate_suspended++;
	PG_TRY();
	{
		enter_role(owner, owner,
				   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		fn(ctx, item);
	}
	PG_FINALLY();
	{
		enter_role(save_role, save_user, save_sec);
		mesh_session_purpose = save_purpose;
		mesh_slo_gate_suspended--;
	}
	PG_END_TRY();
	AtEOXact_GUC(true, nestlevel);
}

/* ---- loading and compiling ---- */

static void
load_items(EvalCtx *ctx, List *runs)
{
	mesh_spi_exec("SELECT id, name, kind, spec, severity, last_met, last_value "
				  "  FROM meshpg.cat_slo WHERE product_id = $1 ORDER BY name",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(ctx->product->id)}, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		SloItem    *item = palloc0(sizeof(SloItem));
		bool		isnull;
		Datum		d;
		ListCell   *lc;

		item->id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		if (runs != NIL)
		{
			SloRun	   *run = NULL;

			foreach(lc, runs)
				if (((SloRun *) lfirst(lc))->slo_id == item->id)
					run = lfirst(lc);
			if (run == NULL)
				continue;
			item->scheduled_for = run->scheduled_for;
		}
		item->name = SPI_getvalue(tup, desc, 2);
		if (ctx->only != NIL)
		{
			bool		wanted = false;

			foreach(lc, ctx->only)
				wanted |= strcmp(lfirst(lc), item->name) == 0;
			if (!wanted)
				continue;
		}
		item->kind = mesh_slo_parse_kind(SPI_getvalue(tup, desc, 3));
		item->spec_json = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 4, &isnull));
		item->severity = SPI_getvalue(tup, desc, 5);
		d = SPI_getbinval(tup, desc, 6, &isnull);
		item->prev_known = !isnull;
		item->prev_met = !isnull && DatumGetBool(d);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		item->prev_value = isnull ? NULL : DatumGetNumericCopy(d);
		initStringInfo(&item->detail);
		ctx->items = lappend(ctx->items, item);
	}
}

static void
compile_item(EvalCtx *ctx, SloItem *item)
{
	item->spec = mesh_slo_compile(item->kind, item->spec_json, ctx->rel,
								  ctx->product->qualname, NULL);
}

/* The name of a valid, immediate, total unique index on a subset of columns. */
static char *
covering_unique_index(Relation rel, List *columns)
{
	List	   *indexes;
	ListCell   *lc;
	char	   *found = NULL;

	/* A plain parent's index says nothing about its inheritance children. */
	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE &&
		(rel->rd_rel->relhassubclass || rel->rd_rel->relkind == RELKIND_VIEW))
		return NULL;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_index index;
		bool		covers = true;

		if (!HeapTupleIsValid(tup))
			continue;
		index = (Form_pg_index) GETSTRUCT(tup);
		if (!index->indisunique || !index->indimmediate || !index->indisvalid ||
			!index->indislive || !heap_attisnull(tup, Anum_pg_index_indpred, NULL) ||
			!heap_attisnull(tup, Anum_pg_index_indexprs, NULL))
			covers = false;
		for (int k = 0; covers && k < index->indnkeyatts; k++)
		{
			char	   *att = get_attname(RelationGetRelid(rel), index->indkey.values[k], true);
			ListCell   *c;
			bool		in = false;

			foreach(c, columns)
				in |= att != NULL && strcmp(att, lfirst(c)) == 0;
			covers = in;
		}
		if (covers && found == NULL)
			found = get_rel_name(index->indexrelid);
		ReleaseSysCache(tup);
	}
	list_free(indexes);
	return found;
}

/* ---- the one pass ---- */

static char *
not_null_all(List *columns)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, columns)
		appendStringInfo(&buf, "%s%s IS NOT NULL", foreach_current_index(lc) > 0 ? " AND " : "",
						 quote_identifier(lfirst(lc)));
	return buf.data;
}

static char *
column_list(List *columns)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, columns)
		appendStringInfo(&buf, "%s%s", foreach_current_index(lc) > 0 ? ", " : "",
						 quote_identifier(lfirst(lc)));
	return buf.data;
}

/*
 * The condition that a measure counts rows by, or NULL if it is not a
 * count of the rows where something is true.
 */
static char *
counted_condition(EvalCtx *ctx, SloItem *item)
{
	SloSpec    *spec = item->spec;

	switch (item->kind)
	{
		case SLO_COMPLETENESS:

			/*
			 * One column: count(col) counts the rows where the value is not
			 * NULL, but "col IS NOT NULL" of a row type asks every field:
			 * such a column stays with count(col).
			 */
			if (list_length(spec->columns) == 1)
			{
				AttrNumber	att = get_attnum(RelationGetRelid(ctx->rel),
											 linitial(spec->columns));

				if (att == InvalidAttrNumber ||
					type_is_rowtype(get_atttype(RelationGetRelid(ctx->rel), att)))
					return NULL;
			}
			return not_null_all(spec->columns);
		case SLO_VALIDITY:
			return spec->expr_text;
		default:
			return NULL;
	}
}

/*
 * The pass: one query, one row.  With meshpg._slo_tally the rows and every
 * count of rows where a condition holds come from one aggregate (tally.c);
 * without it (the extension not yet updated to 1.2), from count(*) and one
 * count(*) FILTER (WHERE ...) each, which give the same numbers.
 */
static char *
build_pass(EvalCtx *ctx, List *items)
{
	StringInfoData q;
	ListCell   *lc;
	int			col = 1;
	int			elem = 0;
	bool		counted = false;

	foreach(lc, items)
		((SloItem *) lfirst(lc))->elem = 0;
	initStringInfo(&q);
	appendStringInfoString(&q, "SELECT ");
	if (ctx->tally)
	{
		foreach(lc, items)
		{
			SloItem    *item = lfirst(lc);
			char	   *cond = counted_condition(ctx, item);

			if (cond == NULL)
				continue;
			if (elem == 0 || elem == TALLY_MAX_ARGS)
			{
				appendStringInfo(&q, "%smeshpg._slo_tally(", elem > 0 ? "), " : "");
				if (elem > 0)
					col++;
				elem = 0;
			}
			/* parenthesised, as each was inside FILTER (WHERE ...) */
			appendStringInfo(&q, "%s(%s)", elem > 0 ? ", " : "", cond);
			item->col = col;
			item->elem = ++elem;
			counted = true;
		}
	}
	if (counted)
		appendStringInfoChar(&q, ')');
	else
		appendStringInfoString(&q, "pg_catalog.count(*)");
	col++;

	foreach(lc, items)
	{
		SloItem    *item = lfirst(lc);
		SloSpec    *spec = item->spec;

		if (item->elem > 0)
			continue;
		switch (item->kind)
		{
			case SLO_FRESHNESS:
				appendStringInfo(&q, ", pg_catalog.max(%s)::pg_catalog.timestamptz",
								 quote_identifier(spec->column));
				item->col = col++;
				break;
			case SLO_COMPLETENESS:
				/* count(col) skips NULLs without evaluating a filter */
				if (list_length(spec->columns) == 1)
					appendStringInfo(&q, ", pg_catalog.count(%s)", column_list(spec->columns));
				else
					appendStringInfo(&q, ", pg_catalog.count(*) FILTER (WHERE %s)",
									 not_null_all(spec->columns));
				item->col = col++;
				break;
			case SLO_VALIDITY:
				/* NULL is not valid: FILTER keeps only rows where it is true. */
				appendStringInfo(&q, ", pg_catalog.count(*) FILTER (WHERE %s)", spec->expr_text);
				item->col = col++;
				break;
			case SLO_UNIQUENESS:
				if (list_length(spec->columns) == 1)
					appendStringInfo(&q, ", pg_catalog.count(%s) OPERATOR(pg_catalog.-) "
									 "pg_catalog.count(DISTINCT %s)",
									 column_list(spec->columns), column_list(spec->columns));
				else
					appendStringInfo(&q, ", pg_catalog.count(*) FILTER (WHERE %s) OPERATOR(pg_catalog.-) "
									 "pg_catalog.count(DISTINCT ROW(%s)) FILTER (WHERE %s)",
									 not_null_all(spec->columns), column_list(spec->columns),
									 not_null_all(spec->columns));
				item->col = col++;
				break;
			case SLO_VOLUME:
				item->col = 1;
				break;
			default:
				elog(ERROR, "SLO kind %d is not measured by a scan", item->kind);
		}
	}
	appendStringInfo(&q, " FROM %s AS %s", mesh_relation_name(RelationGetRelid(ctx->rel)),
					 MESH_SLO_ALIAS);
	if (ctx->sample > 0)
		appendStringInfo(&q, " TABLESAMPLE SYSTEM (%g)", ctx->sample);
	return q.data;
}

static void
judge_count(EvalCtx *ctx, SloItem *item, int64 rows, Datum d, bool isnull)
{
	switch (item->kind)
	{
		case SLO_FRESHNESS:
			{
				TimestampTz newest = DatumGetTimestampTz(d);

				if (isnull || TIMESTAMP_IS_NOBEGIN(newest))
					item->value = num_text("Infinity");
				else if (TIMESTAMP_IS_NOEND(newest))
					item->value = num_text("-Infinity");
				else
				{
					item->value = num_div(num_int(GetCurrentTimestamp() - newest),
										  num_int(USECS_PER_SEC));
					detail_str(item, "newest", timestamptz_to_str(newest));
				}
				if (isnull)
					detail_raw(item, "newest", "null");
				break;
			}
		case SLO_COMPLETENESS:
		case SLO_VALIDITY:
			{
				int64		good = DatumGetInt64(d);

				/* No rows: nothing is incomplete or invalid (volume SLOs catch emptiness). */
				item->value = rows == 0 ? num_int(1) : num_div(num_int(good), num_int(rows));
				detail_raw(item, "rows", psprintf(INT64_FORMAT, rows));
				detail_raw(item, item->kind == SLO_VALIDITY ? "valid_rows" : "complete_rows",
						   psprintf(INT64_FORMAT, good));
				if (ctx->sample > 0)
				{
					double		p = rows > 0 ? (double) good / rows : 0;

					/* Normal approximation; rows of a block are not independent. */
					detail_raw(item, "margin_95", rows == 0 ? "null" :
							   psprintf("%.6f", 1.96 * sqrt(p * (1 - p) / rows)));
				}
				break;
			}
		case SLO_UNIQUENESS:
			item->value = num_int(DatumGetInt64(d));
			detail_raw(item, "rows", psprintf(INT64_FORMAT, rows));
			break;
		case SLO_VOLUME:
			if (ctx->sample > 0)
			{
				double		f = ctx->sample / 100.0;

				item->value = num_int((int64) rint(rows / f));
				detail_raw(item, "sampled_rows", psprintf(INT64_FORMAT, rows));
				detail_raw(item, "margin_95",
						   psprintf("%.0f", 1.96 * sqrt(rows * (1 - f)) / f));
			}
			else
				item->value = num_int(rows);
			break;
		default:
			break;
	}
	item->done = true;
}

/* Counter elem (0: the rows) of the tally in column col of the pass's row. */
static int64
tally_counter(HeapTuple tup, TupleDesc desc, int col, int elem)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (isnull)
		elog(ERROR, "meshpg SLO pass: no tally in column %d", col);
	deconstruct_array(DatumGetArrayTypeP(d), INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	/* No row: the aggregate returns its initial state, {}. */
	if (n == 0)
		return 0;
	if (elem >= n || nulls[elem])
		elog(ERROR, "meshpg SLO pass: malformed tally in column %d", col);
	return DatumGetInt64(elems[elem]);
}

static void
run_pass(EvalCtx *ctx, SloItem *unused)
{
	char	   *query = build_pass(ctx, ctx->pass);
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int64		rows;
	ListCell   *lc;

	if (execute_here(query, 0) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "meshpg SLO pass failed: %s", query);
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	/* The rows: a tally's first counter, or count(*) when nothing is tallied. */
	if (SPI_gettypeid(desc, 1) == INT8ARRAYOID)
		rows = tally_counter(tup, desc, 1, 0);
	else
		rows = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
	foreach(lc, ctx->pass)
	{
		SloItem    *item = lfirst(lc);

		if (item->elem > 0)
			judge_count(ctx, item, rows,
						Int64GetDatum(tally_counter(tup, desc, item->col, item->elem)), false);
		else
		{
			Datum		d = SPI_getbinval(tup, desc, item->col, &isnull);

			judge_count(ctx, item, rows, d, isnull);
		}
	}
}

static void
pass_as_domain(EvalCtx *ctx, SloItem *item)
{
	as_domain(ctx, item, run_pass);
}

/* ---- the other measures ---- */

static void
run_custom(EvalCtx *ctx, SloItem *item)
{
	char	   *text;

	if (execute_here(item->spec->query, 2) != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("custom SLO query must be a plain SELECT")));
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("custom SLO query returned %s rows, not one",
						SPI_processed == 0 ? "no" : "several")));
	text = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (text == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("custom SLO query returned NULL")));
	item->value = num_text(text);
	item->done = true;
}

static void
custom_as_domain(EvalCtx *ctx, SloItem *item)
{
	/* Re-checked: the stored text is run only if it still is one SELECT. */
	compile_item(ctx, item);
	as_domain(ctx, item, run_custom);
}

static void
run_metadata(EvalCtx *ctx, SloItem *item)
{
	if (item->kind == SLO_FRESHNESS)
	{
		TimestampTz at;

		if (!mesh_last_change(ctx->product->id, &at))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("no committed change to data product \"%s\" seen yet",
							ctx->product->qualname),
					 errdetail("meshpg tracks changes from the moment it is loaded.")));
		item->value = num_div(num_int(GetCurrentTimestamp() - at), num_int(USECS_PER_SEC));
		detail_str(item, "last_change", timestamptz_to_str(at));
	}
	else if (item->kind == SLO_VOLUME)
	{
		List	   *rels = find_all_inheritors(RelationGetRelid(ctx->rel), AccessShareLock, NULL);
		ListCell   *lc;
		double		total = 0;

		foreach(lc, rels)
		{
			Relation	r = relation_open(lfirst_oid(lc), NoLock);

			if (r->rd_rel->relkind == RELKIND_RELATION || r->rd_rel->relkind == RELKIND_MATVIEW)
			{
				int32	   *widths = palloc0((RelationGetNumberOfAttributes(r) + 1) * sizeof(int32));
				BlockNumber pages;
				double		tuples;
				double		allvisfrac;

				/* The planner would guess from ten pages; an SLO must not. */
				if (r->rd_rel->reltuples < 0)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("relation \"%s\" has no statistics yet", RelationGetRelationName(r)),
							 errhint("Run ANALYZE (autovacuum does it in time), or count the rows: \"approximate\": false.")));

				estimate_rel_size(r, widths, &pages, &tuples, &allvisfrac);
				total += tuples;
			}
			relation_close(r, NoLock);
		}
		item->value = num_int((int64) rint(total));
		detail_raw(item, "approximate", "true");
	}
	else if (item->kind == SLO_UNIQUENESS)
	{
		item->value = num_int(0);
		detail_str(item, "unique_index", item->unique_index);
	}
	item->done = true;
}

/* ---- judging, recording, alerting ---- */

static void
judge(SloItem *item)
{
	SloSpec    *spec = item->spec;

	item->met_known = true;
	switch (item->kind)
	{
		case SLO_FRESHNESS:
			item->target = spec->max_age_seconds;
			item->met = num_cmp(item->value, item->target) <= 0;
			break;
		case SLO_COMPLETENESS:
		case SLO_VALIDITY:
			item->target = spec->min_ratio;
			item->met = num_cmp(item->value, item->target) >= 0;
			break;
		case SLO_UNIQUENESS:
			item->target = spec->max_duplicates;
			item->met = num_cmp(item->value, item->target) <= 0;
			break;
		case SLO_VOLUME:
			item->met = true;
			if (spec->min_rows && num_cmp(item->value, spec->min_rows) < 0)
				item->met = false;
			if (spec->max_rows && num_cmp(item->value, spec->max_rows) > 0)
				item->met = false;
			if (spec->max_change_pct)
			{
				if (item->prev_value == NULL)
					detail_raw(item, "previous", "null");
				else
				{
					Numeric		diff = DatumGetNumeric(DirectFunctionCall2(numeric_sub,
																		   NumericGetDatum(item->value),
																		   NumericGetDatum(item->prev_value)));
					Numeric		change;

					diff = DatumGetNumeric(DirectFunctionCall1(numeric_abs, NumericGetDatum(diff)));
					if (num_cmp(item->prev_value, num_int(0)) == 0)
						change = num_cmp(diff, num_int(0)) == 0 ? num_int(0) : num_text("Infinity");
					else
						change = num_div(DatumGetNumeric(DirectFunctionCall2(numeric_mul,
																			 NumericGetDatum(diff),
																			 NumericGetDatum(num_int(100)))),
										 item->prev_value);
					detail_num(item, "previous", item->prev_value);
					detail_num(item, "change_pct", change);
					if (num_cmp(change, spec->max_change_pct) > 0)
						item->met = false;
				}
			}
			item->target = spec->min_rows ? spec->min_rows :
				spec->max_rows ? spec->max_rows : spec->max_change_pct;
			break;
		case SLO_CUSTOM:
			{
				int			c = num_cmp(item->value, spec->threshold);
				const char *op = spec->op;

				item->target = spec->threshold;
				/* NaN compares above everything in SQL; it never meets a target. */
				if (numeric_is_nan(item->value))
					item->met = false;
				else if (strcmp(op, "<") == 0)
					item->met = c < 0;
				else if (strcmp(op, "<=") == 0)
					item->met = c <= 0;
				else if (strcmp(op, "=") == 0)
					item->met = c == 0;
				else if (strcmp(op, ">=") == 0)
					item->met = c >= 0;
				else if (strcmp(op, ">") == 0)
					item->met = c > 0;
				else
					item->met = c != 0;
				break;
			}
	}
}

static char *
objective_text(SloItem *item)
{
	SloSpec    *spec = item->spec;
	StringInfoData buf;

	if (spec == NULL)
		return "unknown";
	initStringInfo(&buf);
	switch (item->kind)
	{
		case SLO_FRESHNESS:
			{
				int			nestlevel = NewGUCNestLevel();

				(void) set_config_option("intervalstyle", "postgres", PGC_USERSET,
										 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
				appendStringInfo(&buf, "age <= %s",
								 DatumGetCString(DirectFunctionCall1(interval_out,
																	 IntervalPGetDatum(spec->max_age))));
				AtEOXact_GUC(true, nestlevel);
				break;
			}
		case SLO_COMPLETENESS:
			appendStringInfo(&buf, "complete ratio >= %s", num_out(spec->min_ratio));
			break;
		case SLO_VALIDITY:
			appendStringInfo(&buf, "valid ratio >= %s", num_out(spec->min_ratio));
			break;
		case SLO_UNIQUENESS:
			appendStringInfo(&buf, "duplicates <= %s", num_out(spec->max_duplicates));
			break;
		case SLO_VOLUME:
			if (spec->min_rows)
				appendStringInfo(&buf, "rows >= %s", num_out(spec->min_rows));
			if (spec->max_rows)
				appendStringInfo(&buf, "%srows <= %s", buf.len ? ", " : "", num_out(spec->max_rows));
			if (spec->max_change_pct)
				appendStringInfo(&buf, "%schange <= %s%%", buf.len ? ", " : "",
								 num_out(spec->max_change_pct));
			break;
		case SLO_CUSTOM:
			appendStringInfo(&buf, "value %s %s", spec->op, num_out(spec->threshold));
			break;
	}
	return buf.data;
}

/*
 * A mesh event about an SLO, read by who may read the product (as
 * meshpg.slo_status).  The measured figure goes with the built-in kinds
 * (an age, a ratio, a count); a custom SLO's value is whatever its query
 * returns, possibly a value of a row, and stays in meshpg.slo_status.
 */
static void
emit_slo_event(EvalCtx *ctx, SloItem *item, const char *type, const char *extra_key_json)
{
	StringInfoData d;

	mesh_event_data_start(&d);
	mesh_event_data_text(&d, "product", ctx->product->qualname);
	mesh_event_data_text(&d, "slo", item->name);
	mesh_event_data_text(&d, "kind", mesh_slo_kind_names[item->kind]);
	mesh_event_data_text(&d, "severity", item->severity);
	mesh_event_data_text(&d, "objective", item->objective);
	if (item->kind != SLO_CUSTOM && item->value != NULL)
	{
		/* JSON has no NaN nor infinity: those go as strings */
		if (numeric_is_nan(item->value) || numeric_is_inf(item->value))
			mesh_event_data_text(&d, "value", num_out(item->value));
		else
			mesh_event_data_json(&d, "value", num_out(item->value));
	}
	mesh_event_data_bool(&d, "met", item->met);
	if (extra_key_json != NULL)
	{
		appendStringInfoString(&d, ", ");
		appendStringInfoString(&d, extra_key_json);
	}
	mesh_event_emit(type, ctx->product->qualname, mesh_event_data_end(&d));
}

/*
 * After a failed run: the error budget (as meshpg.slo_status computes it,
 * over the compliance window) used up by this run, and not before it.
 */
static void
check_budget(EvalCtx *ctx, SloItem *item, int64 result_id)
{
	bool		isnull;
	Datum		crossed;

	mesh_spi_exec("WITH w AS ("
				  "  SELECT (s.spec->>'objective')::numeric AS objective,"
				  "         count(*) FILTER (WHERE r.met) AS met,"
				  "         count(*) FILTER (WHERE r.met IS NOT NULL) AS runs,"
				  "         count(*) FILTER (WHERE r.met AND r.id <> $2) AS met_before,"
				  "         count(*) FILTER (WHERE r.met IS NOT NULL AND r.id <> $2) AS runs_before"
				  "    FROM meshpg.cat_slo s JOIN meshpg.cat_slo_result r ON r.slo_id = s.id"
				  "   WHERE s.id = $1 AND r.started_at >= now() - s.compliance_window"
				  "   GROUP BY s.spec)"
				  " SELECT objective < 1 AND runs > 0"
				  "        AND 1 - (1 - met::numeric / runs) / (1 - objective) <= 0"
				  "        AND (runs_before = 0"
				  "             OR 1 - (1 - met_before::numeric / runs_before) / (1 - objective) > 0),"
				  "        runs, runs - met"
				  "   FROM w",
				  2, (Oid[]) {INT8OID, INT8OID},
				  (Datum[]) {Int64GetDatum(item->id), Int64GetDatum(result_id)}, NULL);
	if (SPI_processed != 1)
		return;
	crossed = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull && DatumGetBool(crossed))
		emit_slo_event(ctx, item, "meshpg.slo.budget_exhausted",
					   psprintf("\"runs\": %s, \"failed\": %s",
								SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2),
								SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3)));
}

static void
alert(EvalCtx *ctx, SloItem *item, bool breach)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfo(&payload, "{\"event\": \"%s\", \"product\": ", breach ? "breach" : "recovery");
	escape_json(&payload, ctx->product->qualname);
	appendStringInfoString(&payload, ", \"slo\": ");
	escape_json(&payload, item->name);
	/*
	 * Anyone may LISTEN: the payload says what breached, never the value
	 * (readers of the product find it in meshpg.slo_status).
	 */
	appendStringInfo(&payload, ", \"kind\": \"%s\", \"severity\": \"%s\"",
					 mesh_slo_kind_names[item->kind], item->severity);
	appendStringInfoString(&payload, ", \"objective\": ");
	escape_json(&payload, item->objective);
	appendStringInfoChar(&payload, '}');

	Async_Notify("meshpg_slo", payload.data);
	emit_slo_event(ctx, item, breach ? "meshpg.slo.breached" : "meshpg.slo.recovered", NULL);
	ereport(LOG,
			(errmsg("meshpg: data product \"%s\" %s SLO \"%s\"", ctx->product->qualname,
					breach ? "breaches" : "meets again", item->name),
			 errdetail("Measured %s (%s), severity %s.", num_out(item->value), item->objective,
					   item->severity)));
}

static void
record(EvalCtx *ctx, SloItem *item)
{
	Interval	duration = {0};
	Jsonb	   *detail;
	Datum		values[11];
	char		nulls[11];
	int64		result_id;

	duration.time = item->duration_us;
	detail = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												CStringGetDatum(psprintf("{%s}", item->detail.data))));
	memset(nulls, ' ', sizeof(nulls));
	values[0] = Int64GetDatum(item->id);
	values[1] = TimestampTzGetDatum(item->started);
	values[2] = IntervalPGetDatum(&duration);
	values[3] = item->value ? NumericGetDatum(item->value) : (Datum) 0;
	nulls[3] = item->value ? ' ' : 'n';
	values[4] = item->target ? NumericGetDatum(item->target) : (Datum) 0;
	nulls[4] = item->target ? ' ' : 'n';
	values[5] = CStringGetTextDatum(item->objective);
	values[6] = BoolGetDatum(item->met);
	nulls[6] = item->met_known ? ' ' : 'n';
	values[7] = item->error ? CStringGetTextDatum(item->error) : (Datum) 0;
	nulls[7] = item->error ? ' ' : 'n';
	values[8] = JsonbPGetDatum(detail);
	values[9] = CStringGetTextDatum(item->scheduled_for ? "scheduled" : "manual");
	values[10] = TimestampTzGetDatum(item->scheduled_for);
	nulls[10] = item->scheduled_for ? ' ' : 'n';
	mesh_spi_exec("INSERT INTO meshpg.cat_slo_result (slo_id, started_at, duration, value, target, "
				  "objective, met, error, detail, trigger, scheduled_for) "
				  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
				  11, (Oid[]) {INT8OID, TIMESTAMPTZOID, INTERVALOID, NUMERICOID, NUMERICOID,
					  TEXTOID, BOOLOID, TEXTOID, JSONBOID, TEXTOID, TIMESTAMPTZOID},
				  values, nulls);
	result_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											&(bool) {false}));

	if (!item->met_known)
	{
		ereport(LOG,
				(errmsg("meshpg: SLO \"%s\" of data product \"%s\" could not be measured",
						item->name, ctx->product->qualname),
				 errdetail("%s", item->error)));
		return;
	}

	/*
	 * The state moves under a row lock, so that of two racing evaluations
	 * only one sees the transition and alerts.
	 */
	mesh_spi_exec("UPDATE meshpg.cat_slo s SET last_value = $2, last_met = $3, last_at = $4, "
				  "       last_breach = CASE WHEN NOT $3 AND o.last_met IS DISTINCT FROM false "
				  "                          THEN $4 ELSE s.last_breach END "
				  "  FROM (SELECT id, last_met FROM meshpg.cat_slo WHERE id = $1 FOR UPDATE) o "
				  " WHERE s.id = o.id RETURNING o.last_met",
				  4, (Oid[]) {INT8OID, NUMERICOID, BOOLOID, TIMESTAMPTZOID},
				  (Datum[]) {Int64GetDatum(item->id), NumericGetDatum(item->value),
				  BoolGetDatum(item->met), TimestampTzGetDatum(item->started)}, NULL);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		prev = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!item->met && (isnull || DatumGetBool(prev)))
			alert(ctx, item, true);
		else if (item->met && !isnull && !DatumGetBool(prev))
			alert(ctx, item, false);
	}
	if (!item->met)
		check_budget(ctx, item, result_id);
}

static void
finish_item(SloItem *item, TimestampTz started, char *error)
{
	item->started = started;
	item->duration_us = GetCurrentTimestamp() - started;
	if (error != NULL)
	{
		item->error = error;
		item->done = false;
		item->value = NULL;
		resetStringInfo(&item->detail);
	}
}

/* ---- entry point ---- */

void
mesh_slo_evaluate(const char *ref, List *runs, List *only, double sample_percent, bool check_rights,
				  void (*emit) (void *arg, Datum *values, bool *nulls), void *emit_arg)
{
	MeshSpiState spi;
	MeshProductRow product;
	EvalCtx		ctx = {0};
	ListCell   *lc;
	TimestampTz started;
	MemoryContext cxt = CurrentMemoryContext;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &product);
	MemoryContextSwitchTo(cxt);
	if (check_rights)
		mesh_require_admin_or_member(spi.userid, &product.domain);
	ctx.product = &product;
	ctx.sample = sample_percent;
	ctx.only = only;
	load_items(&ctx, runs);
	foreach(lc, only)
	{
		ListCell   *c;
		bool		found = false;

		foreach(c, ctx.items)
			found |= strcmp(((SloItem *) lfirst(c))->name, lfirst(lc)) == 0;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("SLO \"%s\" does not exist on data product \"%s\"",
							(char *) lfirst(lc), product.qualname)));
	}
	if (ctx.items == NIL)
	{
		mesh_spi_end(&spi);
		return;
	}
	ctx.rel = relation_open(product.relid, AccessShareLock);
	if (ctx.sample > 0 && ctx.sample < 100 && ctx.rel->rd_rel->relkind == RELKIND_VIEW)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot sample view \"%s\"", product.qualname),
				 errhint("Sampling reads a share of a table's blocks; evaluate a view in full.")));
	if (ctx.sample >= 100)
		ctx.sample = 0;

	/* Compile each (the relation may have changed since declaration). */
	started = GetCurrentTimestamp();
	foreach(lc, ctx.items)
	{
		SloItem    *item = lfirst(lc);
		char	   *error = item->kind == SLO_CUSTOM ? NULL : guarded(compile_item, &ctx, item);

		if (error != NULL)
			finish_item(item, started, error);
	}

	/* Sort them: metadata measures now, scan measures into the pass, custom last. */
	foreach(lc, ctx.items)
	{
		SloItem    *item = lfirst(lc);
		SloSpec    *spec = item->spec;

		if (item->error != NULL || item->kind == SLO_CUSTOM)
			continue;
		if (item->kind == SLO_UNIQUENESS && ctx.sample == 0)
			item->unique_index = covering_unique_index(ctx.rel, spec->columns);
		if ((item->kind == SLO_FRESHNESS && spec->column == NULL) ||
			(item->kind == SLO_VOLUME && spec->approximate) ||
			item->unique_index != NULL)
		{
			started = GetCurrentTimestamp();
			finish_item(item, started, guarded(run_metadata, &ctx, item));
		}
		else if (ctx.sample > 0 && (item->kind == SLO_FRESHNESS || item->kind == SLO_UNIQUENESS))
		{
			/* A sample can hide the newest row or a duplicate: measure these in full only. */
			item->error = "not measured in a sampled evaluation";
		}
		else
			ctx.pass = lappend(ctx.pass, item);
	}

	if (ctx.pass != NIL)
	{
		char	   *error;

		/*
		 * Only the extension's own: nobody else may create in its schema.
		 * Citus cannot split that aggregate across shards: a Citus table
		 * is measured with plain counts, which it can.
		 */
		ctx.tally = !mesh_citus_is_table(RelationGetRelid(ctx.rel)) &&
			OidIsValid(LookupFuncName(list_make2(makeString("meshpg"),
												 makeString("_slo_tally")),
									  1, (Oid[]) {ANYOID}, true));

		started = GetCurrentTimestamp();
		error = guarded(pass_as_domain, &ctx, NULL);
		foreach(lc, ctx.pass)
			finish_item(lfirst(lc), started, error);

		/*
		 * One failing expression (a division by zero on some row) must not
		 * sink the others: measure each alone to find it.
		 */
		if (error != NULL && list_length(ctx.pass) > 1)
		{
			List	   *all = ctx.pass;

			foreach(lc, all)
			{
				SloItem    *item = lfirst(lc);

				item->error = NULL;
				ctx.pass = list_make1(item);
				started = GetCurrentTimestamp();
				error = guarded(pass_as_domain, &ctx, NULL);
				finish_item(item, started, error);
			}
		}
	}

	foreach(lc, ctx.items)
	{
		SloItem    *item = lfirst(lc);

		if (item->kind == SLO_CUSTOM)
		{
			started = GetCurrentTimestamp();
			finish_item(item, started, guarded(custom_as_domain, &ctx, item));
		}
	}
	relation_close(ctx.rel, NoLock);

	foreach(lc, ctx.items)
	{
		SloItem    *item = lfirst(lc);

		if (ctx.sample > 0)
		{
			detail_raw(item, "sampled", "true");
			detail_raw(item, "sample_percent", psprintf("%g", ctx.sample));
		}
		item->objective = objective_text(item);
		if (item->done && item->error == NULL)
			judge(item);
		else if (item->started == 0)
			item->started = GetCurrentTimestamp();
		if (item->error != NULL && strcmp(item->error, "not measured in a sampled evaluation") == 0)
			continue;
		record(&ctx, item);
	}
	mesh_spi_end(&spi);

	if (emit == NULL)
		return;
	foreach(lc, ctx.items)
	{
		SloItem    *item = lfirst(lc);
		Datum		values[10];
		bool		nulls[10] = {0};
		Interval   *duration = palloc0(sizeof(Interval));

		duration->time = item->duration_us;
		values[0] = CStringGetTextDatum(item->name);
		values[1] = CStringGetTextDatum(mesh_slo_kind_names[item->kind]);
		values[2] = item->value ? NumericGetDatum(item->value) : (Datum) 0;
		nulls[2] = item->value == NULL;
		values[3] = item->target ? NumericGetDatum(item->target) : (Datum) 0;
		nulls[3] = item->target == NULL;
		values[4] = CStringGetTextDatum(item->objective);
		values[5] = BoolGetDatum(item->met);
		nulls[5] = !item->met_known;
		values[6] = item->error ? CStringGetTextDatum(item->error) : (Datum) 0;
		nulls[6] = item->error == NULL;
		values[7] = DirectFunctionCall1(jsonb_in, CStringGetDatum(psprintf("{%s}", item->detail.data)));
		values[8] = TimestampTzGetDatum(item->started);
		values[9] = IntervalPGetDatum(duration);
		emit(emit_arg, values, nulls);
	}
}

static void
emit_row(void *arg, Datum *values, bool *nulls)
{
	ReturnSetInfo *rsinfo = arg;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

Datum
meshpg_evaluate(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "product");
	double		sample = 0;
	List	   *only = NIL;
	bool		isnull;

	if (!PG_ARGISNULL(1))
	{
		sample = PG_GETARG_FLOAT8(1);
		if (!(sample > 0 && sample <= 100))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("sample_percent must be greater than 0 and at most 100")));
	}
	if (PG_NARGS() > 2 && !PG_ARGISNULL(2))
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(DatumGetArrayTypeP(mesh_arg_text_array(fcinfo, 2, "slos", &isnull)),
						  TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			only = lappend(only, TextDatumGetCString(elems[i]));
		if (only == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("slos must name at least one SLO"),
					 errhint("Leave it NULL to evaluate every SLO of the product.")));
	}
	InitMaterializedSRF(fcinfo, 0);
	mesh_slo_evaluate(ref, NIL, only, sample, true, emit_row, fcinfo->resultinfo);
	return (Datum) 0;
}
