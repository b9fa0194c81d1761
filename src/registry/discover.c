/*
 * discover.c
 *		Discovery: the product card (describe) and the search query builder.
 *		Metadata is readable by everyone; data is not.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "tsearch/ts_type.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "meshpg/registry/registry.h"
#include "meshpg/text/text.h"

PG_FUNCTION_INFO_V1(meshpg_describe);
PG_FUNCTION_INFO_V1(meshpg_search_query);
PG_FUNCTION_INFO_V1(meshpg_check_limit);

/*
 * meshpg.describe(product): the whole product card as jsonb.  The card is
 * built as the caller, from the public views, so it lists only the grants
 * the caller may see.
 */
Datum
meshpg_describe(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	MeshSpiState spi;
	MeshProductRow product;
	char	   *qualname;
	Datum		card;
	bool		isnull;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &product);
	qualname = pstrdup(product.qualname);
	mesh_spi_end(&spi);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SPI_execute_with_args("SELECT meshpg._describe($1)", 1, (Oid[]) {TEXTOID},
						  (Datum[]) {CStringGetTextDatum(qualname)}, NULL, true, 1);
	if (SPI_processed != 1)
		elog(ERROR, "could not describe data product \"%s\"", qualname);
	card = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		elog(ERROR, "could not describe data product \"%s\"", qualname);
	card = SPI_datumTransfer(card, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(card);
}

/*
 * meshpg._search_query(query): the folded words of the query, each as a
 * prefix, OR-ed: recall first, ts_rank orders by how much matched and where.
 */
Datum
meshpg_search_query(PG_FUNCTION_ARGS)
{
	text	   *query;
	char	   *folded;
	char	   *tok;
	char	   *save;
	StringInfoData buf;
	List	   *cfgname;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("search query must not be null")));
	query = PG_GETARG_TEXT_PP(0);
	folded = mesh_fold_text(VARDATA_ANY(query), VARSIZE_ANY_EXHDR(query));

	/* Folded text holds only letters, digits, marks and single spaces. */
	initStringInfo(&buf);
	for (tok = strtok_r(folded, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save))
		appendStringInfo(&buf, "%s'%s':*", buf.len > 0 ? " | " : "", tok);
	if (buf.len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("search query must contain a letter or a digit")));

	cfgname = list_make2(makeString("pg_catalog"), makeString("simple"));
	PG_RETURN_DATUM(DirectFunctionCall2(to_tsquery_byid,
										ObjectIdGetDatum(get_ts_config_oid(cfgname, false)),
										CStringGetTextDatum(buf.data)));
}

/* meshpg._check_limit(max_results): validates search's result limit. */
Datum
meshpg_check_limit(PG_FUNCTION_ARGS)
{
	int32		limit;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_results must not be null")));
	limit = PG_GETARG_INT32(0);
	if (limit < 1 || limit > 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_results must be between 1 and 1000, not %d", limit)));
	PG_RETURN_INT32(limit);
}
