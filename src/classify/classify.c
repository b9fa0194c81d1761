/*
 * classify.c
 *		meshpg.classify and classify_domain: sample a product as its domain's
 *		owner, run the validators (validators.c) over the sampled values and
 *		store, per column, the suggested tag with its evidence (the validator
 *		and the share of sampled values it matched, never a value); the
 *		domain team's review (accept_suggestion, dismiss_suggestion); and the
 *		check publish makes when meshpg.publish_requires_classification_review
 *		is on.
 *
 * The sample is bounded: TABLESAMPLE SYSTEM at the percentage that yields
 * about sample_size rows from the planner's row estimate, and a LIMIT; so
 * its cost follows the sample size, not the table's.  It runs with the
 * identity of the product's owner (the owner of its relation) in a
 * restricted security context, through the governance hooks like any query
 * of that role: it can never read more than the owner can (an
 * applies_to_domain row policy hides rows from it as from the team).
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "meshpg/classify/classify.h"
#include "meshpg/events/events.h"
#include "meshpg/registry/registry.h"
#include "meshpg/text/text.h"

PG_FUNCTION_INFO_V1(meshpg_classify);
PG_FUNCTION_INFO_V1(meshpg_classify_domain);
PG_FUNCTION_INFO_V1(meshpg_accept_suggestion);
PG_FUNCTION_INFO_V1(meshpg_dismiss_suggestion);
PG_FUNCTION_INFO_V1(meshpg_validators);

bool		mesh_publish_requires_review = false;

void
mesh_define_classify_settings(void)
{
	/*
	 * A governance rule: a domain team must not turn it off for its own
	 * session, so only a superuser sets it (postgresql.conf, ALTER DATABASE).
	 */
	DefineCustomBoolVariable("meshpg.publish_requires_classification_review",
							 "Refuses to publish a data product with unreviewed PII suggestions.",
							 "Suggestions come from meshpg.classify(); the domain team accepts or dismisses each.",
							 &mesh_publish_requires_review,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

/* One sampled column: what it is and what matched. */
typedef struct SampledColumn
{
	char	   *name;
	MeshValueForm form;
	int			nvalidators;
	const MeshValidator **validators;	/* those that apply to it */
	int64	   *matched;
	int64		nonnull;
} SampledColumn;

static MeshValueForm
value_form(Oid type, bool *ok)
{
	char		category;
	bool		preferred;

	*ok = true;
	type = getBaseType(type);
	if (type == DATEOID || type == TIMESTAMPOID || type == TIMESTAMPTZOID)
		return MESH_FORM_DATE;
	if (type == INETOID || type == CIDROID)
		return MESH_FORM_INET;
	get_type_category_preferred(type, &category, &preferred);
	if (category == TYPCATEGORY_STRING)
		return MESH_FORM_TEXT;
	if (type == INT4OID || type == INT8OID || type == NUMERICOID)
		return MESH_FORM_NUMBER;
	*ok = false;
	return MESH_FORM_TEXT;
}

/* The planner's row estimate of relid, summed over partitions; -1 unknown. */
static double
estimated_rows(Oid relid)
{
	List	   *rels = find_all_inheritors(relid, AccessShareLock, NULL);
	ListCell   *lc;
	double		total = 0;
	bool		known = false;

	foreach(lc, rels)
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(lfirst_oid(lc)));

		if (!HeapTupleIsValid(tup))
			continue;
		if (((Form_pg_class) GETSTRUCT(tup))->reltuples > 0)
		{
			total += ((Form_pg_class) GETSTRUCT(tup))->reltuples;
			known = true;
		}
		ReleaseSysCache(tup);
	}
	return known ? total : -1;
}

/*
 * Samples product and counts, per column, the values each applicable
 * validator matches.  Returns the columns sampled; *rows the rows read.
 */
static List *
sample_product(const MeshProductRow *product, int sample_size, int64 *rows)
{
	Relation	rel = relation_open(product->relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	char		relkind = rel->rd_rel->relkind;
	Oid			owner = rel->rd_rel->relowner;
	List	   *columns = NIL;
	StringInfoData sql;
	Oid			save_user;
	int			save_sec;
	int			nestlevel;
	double		est;
	ListCell   *lc;
	int			ret;

	/*
	 * A relation a superuser owns would be sampled past every policy: the
	 * domain's owner role reads it instead (and must be able to).
	 */
	if (superuser_arg(owner))
		owner = product->domain.owner;
	if (pg_class_aclcheck(product->relid, owner, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" cannot read data product \"%s\" to classify it",
						GetUserNameFromId(owner, false), product->qualname),
				 errhint("classify samples as the owner of the product's relation, or as the domain's owner role when a superuser owns it: grant that role SELECT on %s.",
						 mesh_relation_name(product->relid))));

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		bool		ok;
		MeshValueForm form;
		char	   *folded;
		SampledColumn *col;
		const char *q;

		if (att->attisdropped)
			continue;
		form = value_form(att->atttypid, &ok);
		if (!ok)
			continue;
		folded = mesh_fold_text(NameStr(att->attname), strlen(NameStr(att->attname)));
		col = palloc0(sizeof(SampledColumn));
		col->name = pstrdup(NameStr(att->attname));
		col->form = form;
		col->validators = palloc(sizeof(MeshValidator *) * mesh_nvalidators);
		col->matched = palloc0(sizeof(int64) * mesh_nvalidators);
		for (int v = 0; v < mesh_nvalidators; v++)
		{
			const MeshValidator *val = &mesh_validators[v];

			if ((val->forms & (1 << form)) == 0)
				continue;
			if (val->needs_hint && !mesh_validator_hinted(val, folded))
				continue;
			col->validators[col->nvalidators++] = val;
		}
		if (col->nvalidators == 0)
			continue;
		q = quote_identifier(col->name);
		if (columns != NIL)
			appendStringInfoString(&sql, ", ");
		if (form == MESH_FORM_DATE)
			appendStringInfo(&sql, "pg_catalog.to_char(%s, 'YYYY-MM-DD')", q);
		else
			appendStringInfo(&sql, "%s::pg_catalog.text", q);
		columns = lappend(columns, col);
	}
	relation_close(rel, AccessShareLock);
	*rows = 0;
	if (columns == NIL)
		return NIL;

	appendStringInfo(&sql, " FROM %s", mesh_relation_name(product->relid));
	est = estimated_rows(product->relid);
	if ((relkind == RELKIND_RELATION || relkind == RELKIND_PARTITIONED_TABLE ||
		 relkind == RELKIND_MATVIEW) && est > sample_size)
	{
		/* SYSTEM picks whole blocks: ask for a fifth more, the LIMIT trims */
		double		pct = Min(100.0, 120.0 * sample_size / est);

		appendStringInfo(&sql, " TABLESAMPLE SYSTEM (%.6f)", pct);
	}
	appendStringInfo(&sql, " LIMIT %d", sample_size);

	/*
	 * As the product's owner (the role that owns its relation, as ANALYZE
	 * runs), restricted (no SET ROLE, no temporary objects), on a pinned
	 * search path: what a view or policy function runs cannot borrow the
	 * caller's rights, and the sample sees what the owner sees, through the
	 * governance hooks (a row policy that applies to the domain hides rows
	 * from it too).
	 */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner,
						   save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	ret = SPI_execute(sql.data, true, sample_size);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "classification sample failed: %s", SPI_result_code_string(ret));

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		int			c = 0;

		foreach(lc, columns)
		{
			SampledColumn *col = lfirst(lc);
			bool		isnull;
			Datum		d = SPI_getbinval(tup, SPI_tuptable->tupdesc, ++c, &isnull);
			char	   *value;
			int			len;

			if (isnull)
				continue;
			col->nonnull++;
			value = mesh_classify_prepare(TextDatumGetCString(d), &len);
			if (value == NULL)
				continue;
			for (int v = 0; v < col->nvalidators; v++)
				if (col->validators[v]->check(value, len))
					col->matched[v]++;
		}
	}
	*rows = SPI_processed;
	AtEOXact_GUC(true, nestlevel);
	SetUserIdAndSecContext(save_user, save_sec);
	SPI_finish();
	return columns;
}

typedef struct ClassifyOut
{
	Tuplestorestate *store;
	TupleDesc	desc;
	bool		with_product;
} ClassifyOut;

/*
 * Classifies one product (rights checked) and stores its suggestions; a
 * column already carrying the suggested tag gets none.  Call outside SPI.
 */
static void
classify_product(const MeshProductRow *product, int sample_size, double min_share,
				 Oid caller, ClassifyOut *out)
{
	int64		rows;
	List	   *columns = sample_product(product, sample_size, &rows);
	ListCell   *lc;
	MeshSpiState spi;

	if (columns == NIL)
		return;
	mesh_spi_begin(&spi);
	foreach(lc, columns)
	{
		SampledColumn *col = lfirst(lc);
		const MeshValidator *best = NULL;
		double		best_share = 0;
		Datum		args[7];
		Datum		values[8];
		bool		nulls[8] = {0};
		bool		isnull;
		int			k = 0;

		if (col->nonnull == 0)
			continue;
		for (int v = 0; v < col->nvalidators; v++)
		{
			double		share = (double) col->matched[v] / col->nonnull;

			if (share >= min_share && share > best_share)
			{
				best = col->validators[v];
				best_share = share;
			}
		}
		if (best == NULL)
			continue;

		args[0] = Int64GetDatum(product->id);
		args[1] = CStringGetTextDatum(col->name);
		args[2] = CStringGetTextDatum(best->tag);
		mesh_spi_exec("SELECT 1 FROM meshpg.cat_column_tag ct JOIN meshpg.cat_tag t ON t.id = ct.tag_id "
					  " WHERE ct.product_id = $1 AND ct.column_name = $2 AND t.name = $3",
					  3, (Oid[]) {INT8OID, TEXTOID, TEXTOID}, args, NULL);
		if (SPI_processed > 0)
			continue;

		args[3] = CStringGetTextDatum(best->name);
		args[4] = Float4GetDatum((float4) best_share);
		args[5] = Int64GetDatum(col->nonnull);
		args[6] = CStringGetTextDatum(GetUserNameFromId(caller, false));
		/* a reviewed suggestion stays reviewed: only a pending one is refreshed */
		mesh_spi_exec("INSERT INTO meshpg.cat_classification_suggestion AS s "
					  "  (product_id, column_name, tag, validator, matched_share, sampled, suggested_by) "
					  "VALUES ($1, $2, $3, $4, $5, $6, $7) "
					  "ON CONFLICT (product_id, column_name, validator) DO UPDATE "
					  "   SET matched_share = EXCLUDED.matched_share, sampled = EXCLUDED.sampled, "
					  "       tag = EXCLUDED.tag, suggested_by = EXCLUDED.suggested_by, suggested_at = now() "
					  " WHERE s.status = 'pending'",
					  7, (Oid[]) {INT8OID, TEXTOID, TEXTOID, TEXTOID, FLOAT4OID, INT8OID, TEXTOID},
					  args, NULL);
		mesh_spi_exec("SELECT id, status, matched_share, sampled FROM meshpg.cat_classification_suggestion "
					  " WHERE product_id = $1 AND column_name = $2 AND validator = $3",
					  3, (Oid[]) {INT8OID, TEXTOID, TEXTOID},
					  (Datum[]) {args[0], args[1], args[3]}, NULL);

		if (out->with_product)
			values[k++] = CStringGetTextDatum(product->qualname);
		values[k++] = CStringGetTextDatum(col->name);
		values[k++] = CStringGetTextDatum(best->tag);
		values[k++] = CStringGetTextDatum(best->name);
		values[k++] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		values[k++] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4, &isnull);
		values[k++] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		values[k++] = CStringGetTextDatum(SPI_getvalue(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 2));
		tuplestore_putvalues(out->store, out->desc, values, nulls);

		/* a pending suggestion is news for the domain team: names and figures only */
		if (strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2), "pending") == 0)
		{
			StringInfoData data;

			initStringInfo(&data);
			appendStringInfoString(&data, "{\"column\": ");
			escape_json(&data, col->name);
			appendStringInfo(&data, ", \"tag\": \"%s\", \"validator\": \"%s\", \"matched_share\": %.4f, "
							 "\"sampled\": " INT64_FORMAT ", \"suggestion\": %s}",
							 best->tag, best->name, best_share, col->nonnull,
							 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
			mesh_event_emit("meshpg.classification.suggested", product->qualname, data.data);
		}
	}
	mesh_spi_end(&spi);
}

static void
check_sample_args(FunctionCallInfo fcinfo, int *sample_size, double *min_share)
{
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("sample_size and min_share must not be null")));
	*sample_size = PG_GETARG_INT32(1);
	*min_share = PG_GETARG_FLOAT4(2);
	if (*sample_size < 1 || *sample_size > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sample_size %d is out of range", *sample_size),
				 errhint("Sample between 1 and 1000000 rows; 10000 is the default.")));
	if (!(*min_share > 0 && *min_share <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_share %g is out of range", *min_share),
				 errhint("min_share is the share of sampled values a validator must match, above 0 and at most 1.")));
}

/* meshpg.classify(product, sample_size, min_share) */
Datum
meshpg_classify(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			sample_size;
	double		min_share;
	MeshSpiState spi;
	MeshProductRow product;
	ClassifyOut out;

	check_sample_args(fcinfo, &sample_size, &min_share);
	InitMaterializedSRF(fcinfo, 0);
	out.store = rsinfo->setResult;
	out.desc = rsinfo->setDesc;
	out.with_product = false;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &product);
	mesh_require_admin_or_member(spi.userid, &product.domain);
	mesh_spi_end(&spi);

	classify_product(&product, sample_size, min_share, spi.userid, &out);
	return (Datum) 0;
}

/* meshpg.classify_domain(domain, sample_size, min_share): its draft products */
Datum
meshpg_classify_domain(PG_FUNCTION_ARGS)
{
	char	   *domain_in = mesh_arg_text(fcinfo, 0, "domain");
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			sample_size;
	double		min_share;
	MeshSpiState spi;
	MeshDomain	domain;
	List	   *refs = NIL;
	ListCell   *lc;
	ClassifyOut out;

	check_sample_args(fcinfo, &sample_size, &min_share);
	InitMaterializedSRF(fcinfo, 0);
	out.store = rsinfo->setResult;
	out.desc = rsinfo->setDesc;
	out.with_product = true;

	mesh_spi_begin(&spi);
	mesh_resolve_domain(domain_in, false, &domain);
	mesh_require_admin_or_member(spi.userid, &domain);
	mesh_spi_exec("SELECT $2 || '.' || name FROM meshpg.cat_product "
				  " WHERE domain_id = $1 AND state = 'draft' ORDER BY name",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(domain.id), CStringGetTextDatum(domain.name)}, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
		refs = lappend(refs, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	mesh_spi_end(&spi);

	foreach(lc, refs)
	{
		MeshSpiState s2;
		MeshProductRow product;

		mesh_spi_begin(&s2);
		mesh_resolve_product(lfirst(lc), false, &product);
		mesh_spi_end(&s2);
		classify_product(&product, sample_size, min_share, spi.userid, &out);
	}
	return (Datum) 0;
}

/*
 * The suggestion id for review: locked, with its product resolved and the
 * caller's right to review it checked (the domain team, or the governance
 * team).  Inside mesh_spi_begin.
 */
static void
suggestion_for_review(int64 id, Oid caller, MeshProductRow *product, char **column,
					  char **tag)
{
	char	   *ref;
	char	   *status;

	mesh_spi_exec("SELECT d.name || '.' || p.name, s.column_name, s.tag, s.status "
				  "  FROM meshpg.cat_classification_suggestion s "
				  "  JOIN meshpg.cat_product p ON p.id = s.product_id "
				  "  JOIN meshpg.cat_domain d ON d.id = p.domain_id "
				  " WHERE s.id = $1 FOR UPDATE OF s",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(id)}, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("classification suggestion %lld does not exist", (long long) id),
				 errhint("List the suggestions with SELECT * FROM meshpg.classification_suggestions.")));
	ref = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	*column = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	*tag = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	mesh_resolve_product(ref, true, product);
	mesh_require_admin_or_member(caller, &product->domain);
	if (strcmp(status, "pending") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("classification suggestion %lld was already %s", (long long) id, status)));
}

static int64
suggestion_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("suggestion must not be null")));
	return PG_GETARG_INT64(0);
}

/* meshpg.accept_suggestion(suggestion, tag): tags the column like tag_column */
Datum
meshpg_accept_suggestion(PG_FUNCTION_ARGS)
{
	int64		id = suggestion_arg(fcinfo);
	char	   *tag_override = mesh_arg_text_opt(fcinfo, 1);
	MeshSpiState spi;
	MeshProductRow product;
	char	   *column;
	char	   *tag;
	char	   *tag_name;

	mesh_spi_begin(&spi);
	suggestion_for_review(id, spi.userid, &product, &column, &tag);
	if (tag_override != NULL)
		tag = tag_override;
	(void) mesh_resolve_tag(tag, &tag_name);
	mesh_tag_column_as(&product, column, tag_name, NULL, spi.userid);
	mesh_spi_exec("UPDATE meshpg.cat_classification_suggestion "
				  "   SET status = 'accepted', accepted_tag = $2, reviewed_by = $3, reviewed_at = now() "
				  " WHERE id = $1",
				  3, (Oid[]) {INT8OID, TEXTOID, TEXTOID},
				  (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(tag_name),
				  CStringGetTextDatum(GetUserNameFromId(spi.userid, false))}, NULL);
	mesh_spi_end(&spi);
	PG_RETURN_TEXT_P(cstring_to_text(tag_name));
}

/* meshpg.dismiss_suggestion(suggestion, reason) */
Datum
meshpg_dismiss_suggestion(PG_FUNCTION_ARGS)
{
	int64		id = suggestion_arg(fcinfo);
	char	   *reason = mesh_arg_text_opt(fcinfo, 1);
	MeshSpiState spi;
	MeshProductRow product;
	char	   *column;
	char	   *tag;

	if (reason == NULL || reason[strspn(reason, " \t\r\n")] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a dismissed suggestion needs a reason"),
				 errhint("Say why the column holds no personal data, for example 'synthetic test numbers'.")));
	mesh_spi_begin(&spi);
	suggestion_for_review(id, spi.userid, &product, &column, &tag);
	mesh_spi_exec("UPDATE meshpg.cat_classification_suggestion "
				  "   SET status = 'dismissed', reason = $2, reviewed_by = $3, reviewed_at = now() "
				  " WHERE id = $1",
				  3, (Oid[]) {INT8OID, TEXTOID, TEXTOID},
				  (Datum[]) {Int64GetDatum(id), CStringGetTextDatum(reason),
				  CStringGetTextDatum(GetUserNameFromId(spi.userid, false))}, NULL);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/* meshpg.validators(): the kinds table, for documentation and reviewers */
Datum
meshpg_validators(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < mesh_nvalidators; i++)
	{
		const MeshValidator *v = &mesh_validators[i];
		Datum		values[3];
		bool		nulls[3] = {0};

		values[0] = CStringGetTextDatum(v->name);
		values[1] = CStringGetTextDatum(v->tag);
		values[2] = BoolGetDatum(v->needs_hint);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * publish's check (registry/product.c, inside its SPI connection): with
 * meshpg.publish_requires_classification_review on, a product with pending
 * suggestions is refused, naming them.
 */
void
mesh_classify_check_publish(const MeshProductRow *product)
{
	bool		isnull;
	Datum		d;

	if (!mesh_publish_requires_review)
		return;
	mesh_spi_exec("SELECT string_agg(format('%s (%s, suggestion %s)', column_name, tag, id), ', ' ORDER BY id), "
				  "       string_agg(id::text, ', ' ORDER BY id) "
				  "  FROM meshpg.cat_classification_suggestion WHERE product_id = $1 AND status = 'pending'",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product->id)}, NULL);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("data product \"%s\" has unreviewed PII suggestions", product->qualname),
				 errdetail("Pending: %s.", TextDatumGetCString(d)),
				 errhint("Accept each with meshpg.accept_suggestion(id) or dismiss it with meshpg.dismiss_suggestion(id, reason), then publish (suggestions %s).",
						 SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2))));
}
