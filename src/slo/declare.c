/*
 * declare.c
 *		declare_slo, alter_slo and drop_slo: a domain team's promises about
 *		its products.
 *
 * The caller's rights are checked first (governance team, or a member of
 * the product's domain), then the spec is compiled against the relation
 * (spec.c) and the catalog is written as its owner.
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "meshpg/slo/slo.h"

PG_FUNCTION_INFO_V1(meshpg_declare_slo);
PG_FUNCTION_INFO_V1(meshpg_alter_slo);
PG_FUNCTION_INFO_V1(meshpg_drop_slo);

static void
check_slo_name(const char *name)
{
	size_t		len = strlen(name);

	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			len = 0;
	if (len == 0 || len >= NAMEDATALEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid SLO name \"%s\"", name),
				 errhint("Use 1 to 63 letters, digits, '_', '-' or '.'.")));
}

static int
interval_cmp_s(Interval *a, const char *b)
{
	Datum		bi = DirectFunctionCall3(interval_in, CStringGetDatum(b),
										 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));

	return DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(a), bi));
}

/* The schedule: NULL, or an interval of at least one minute.  "0" unschedules. */
static Interval *
check_schedule(FunctionCallInfo fcinfo, int argno, bool *unschedule)
{
	Interval   *schedule;

	*unschedule = false;
	if (PG_ARGISNULL(argno))
		return NULL;
	schedule = PG_GETARG_INTERVAL_P(argno);
	if (unschedule != NULL && interval_cmp_s(schedule, "0") == 0)
	{
		*unschedule = true;
		return NULL;
	}
	if (interval_cmp_s(schedule, "1 minute") < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("SLO schedule must be at least 1 minute"),
				 errdetail("The schedule is the interval between evaluations.")));
	return schedule;
}

static Interval *
check_window(FunctionCallInfo fcinfo, int argno)
{
	Interval   *window;

	if (PG_ARGISNULL(argno))
		return NULL;
	window = PG_GETARG_INTERVAL_P(argno);
	if (interval_cmp_s(window, "1 minute") < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("SLO compliance window must be at least 1 minute")));
	return window;
}

static char *
check_severity(FunctionCallInfo fcinfo, int argno)
{
	char	   *severity = mesh_arg_text_opt(fcinfo, argno);

	if (severity != NULL && strcmp(severity, "info") != 0 &&
		strcmp(severity, "warning") != 0 && strcmp(severity, "critical") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid SLO severity \"%s\"", severity),
				 errhint("Use info, warning or critical.")));
	return severity;
}

static Jsonb *
compile_for(const MeshProductRow *product, SloKind kind, Jsonb *spec)
{
	Relation	rel = relation_open(product->relid, AccessShareLock);
	Jsonb	   *canonical;

	(void) mesh_slo_compile(kind, spec, rel, product->qualname, &canonical);
	relation_close(rel, NoLock);
	return canonical;
}

Datum
meshpg_declare_slo(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "product");
	char	   *name = mesh_arg_text(fcinfo, 1, "name");
	char	   *kind_name = mesh_arg_text(fcinfo, 2, "kind");
	Jsonb	   *spec;
	Interval   *window;
	char	   *severity;
	Interval   *schedule;
	bool		unschedule;
	SloKind		kind;
	MeshSpiState spi;
	MeshProductRow product;
	Jsonb	   *canonical;

	check_slo_name(name);
	kind = mesh_slo_parse_kind(kind_name);
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("spec must not be null")));
	spec = PG_GETARG_JSONB_P(3);
	window = check_window(fcinfo, 4);
	if (window == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("compliance_window must not be null")));
	severity = check_severity(fcinfo, 5);
	if (severity == NULL)
		severity = "warning";
	schedule = check_schedule(fcinfo, 6, &unschedule);
	if (unschedule)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("SLO schedule must be at least 1 minute"),
				 errhint("Leave it NULL for an SLO evaluated only on demand.")));

	mesh_spi_begin(&spi);
	/* Locks the product row: a concurrent unregister waits for us. */
	mesh_resolve_product(ref, true, &product);
	mesh_require_admin_or_member(spi.userid, &product.domain);

	canonical = compile_for(&product, kind, spec);

	mesh_spi_exec("SELECT 1 FROM meshpg.cat_slo WHERE product_id = $1 AND name = $2",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(product.id), CStringGetTextDatum(name)}, NULL);
	if (SPI_processed > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("SLO \"%s\" already exists on data product \"%s\"", name, product.qualname),
				 errhint("Use meshpg.alter_slo() to change it.")));

	mesh_spi_exec("INSERT INTO meshpg.cat_slo (product_id, name, kind, spec, compliance_window, "
				  "severity, schedule, next_due) "
				  "VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7 IS NOT NULL THEN now() END)",
				  7, (Oid[]) {INT8OID, TEXTOID, TEXTOID, JSONBOID, INTERVALOID, TEXTOID, INTERVALOID},
				  (Datum[]) {Int64GetDatum(product.id), CStringGetTextDatum(name),
					  CStringGetTextDatum(mesh_slo_kind_names[kind]), JsonbPGetDatum(canonical),
					  IntervalPGetDatum(window), CStringGetTextDatum(severity),
				  IntervalPGetDatum(schedule)},
				  schedule == NULL ? "      n" : NULL);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

Datum
meshpg_alter_slo(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "product");
	char	   *name = mesh_arg_text(fcinfo, 1, "name");
	Interval   *window = check_window(fcinfo, 3);
	char	   *severity = check_severity(fcinfo, 4);
	bool		unschedule;
	Interval   *schedule = check_schedule(fcinfo, 5, &unschedule);
	MeshSpiState spi;
	MeshProductRow product;
	Jsonb	   *canonical = NULL;
	int64		slo_id;
	bool		isnull;
	SloKind		kind;
	Datum		values[6];
	char		nulls[6] = "      ";

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, true, &product);
	mesh_require_admin_or_member(spi.userid, &product.domain);

	mesh_spi_exec("SELECT id, kind FROM meshpg.cat_slo WHERE product_id = $1 AND name = $2 FOR UPDATE",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(product.id), CStringGetTextDatum(name)}, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("SLO \"%s\" does not exist on data product \"%s\"", name, product.qualname)));
	slo_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	kind = mesh_slo_parse_kind(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2));

	if (!PG_ARGISNULL(2))
		canonical = compile_for(&product, kind, PG_GETARG_JSONB_P(2));

	/*
	 * A new spec is a new promise: the state of the old one neither breaches
	 * nor recovers it.  History keeps what each result was measured against.
	 */
	values[0] = Int64GetDatum(slo_id);
	values[1] = canonical ? JsonbPGetDatum(canonical) : (Datum) 0;
	nulls[1] = canonical ? ' ' : 'n';
	values[2] = window ? IntervalPGetDatum(window) : (Datum) 0;
	nulls[2] = window ? ' ' : 'n';
	values[3] = severity ? CStringGetTextDatum(severity) : (Datum) 0;
	nulls[3] = severity ? ' ' : 'n';
	values[4] = schedule ? IntervalPGetDatum(schedule) : (Datum) 0;
	nulls[4] = schedule ? ' ' : 'n';
	values[5] = BoolGetDatum(unschedule);
	mesh_spi_exec("UPDATE meshpg.cat_slo SET "
				  " spec = COALESCE($2, spec),"
				  " compliance_window = COALESCE($3, compliance_window),"
				  " severity = COALESCE($4, severity),"
				  " schedule = CASE WHEN $6 THEN NULL ELSE COALESCE($5, schedule) END,"
				  " next_due = CASE WHEN $6 THEN NULL"
				  "                 WHEN $5 IS NOT NULL AND $5 IS DISTINCT FROM schedule THEN now()"
				  "                 ELSE next_due END,"
				  " last_value = CASE WHEN $2 IS NOT NULL AND $2 <> spec THEN NULL ELSE last_value END,"
				  " last_met = CASE WHEN $2 IS NOT NULL AND $2 <> spec THEN NULL ELSE last_met END,"
				  " updated_at = now()"
				  " WHERE id = $1",
				  6, (Oid[]) {INT8OID, JSONBOID, INTERVALOID, TEXTOID, INTERVALOID, BOOLOID},
				  values, nulls);
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

Datum
meshpg_drop_slo(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "product");
	char	   *name = mesh_arg_text(fcinfo, 1, "name");
	MeshSpiState spi;
	MeshProductRow product;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, true, &product);
	mesh_require_admin_or_member(spi.userid, &product.domain);
	mesh_spi_exec("DELETE FROM meshpg.cat_slo WHERE product_id = $1 AND name = $2",
				  2, (Oid[]) {INT8OID, TEXTOID},
				  (Datum[]) {Int64GetDatum(product.id), CStringGetTextDatum(name)}, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("SLO \"%s\" does not exist on data product \"%s\"", name, product.qualname)));
	mesh_spi_end(&spi);
	PG_RETURN_VOID();
}

/*
 * meshpg._slo_canonical(product, kind, spec): the spec as declare_slo would
 * store it.  Descriptors compare a document's SLOs with the catalog's
 * through it, so that a spec written differently but meaning the same is
 * no change.
 */
PG_FUNCTION_INFO_V1(meshpg_slo_canonical);

Datum
meshpg_slo_canonical(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "product");
	SloKind		kind = mesh_slo_parse_kind(mesh_arg_text(fcinfo, 1, "kind"));
	MeshSpiState spi;
	MeshProductRow product;
	Jsonb	   *canonical;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("spec must not be null")));
	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &product);
	canonical = compile_for(&product, kind, PG_GETARG_JSONB_P(2));
	mesh_spi_end(&spi);
	PG_RETURN_JSONB_P(canonical);
}
