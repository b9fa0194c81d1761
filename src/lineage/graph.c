/*
 * graph.c
 *		SQL entry points over the lineage graph that need the caller's
 *		rights checked: product resolution for meshpg.lineage and the
 *		impact analysis, which names the consumers who read a column.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "meshpg/registry/registry.h"

PG_FUNCTION_INFO_V1(meshpg_product_relid);
PG_FUNCTION_INFO_V1(meshpg_impact);

/* meshpg._product_relid(product): the relation of domain.product */
Datum
meshpg_product_relid(PG_FUNCTION_ARGS)
{
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	MeshSpiState spi;
	MeshProductRow product;

	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &product);
	mesh_spi_end(&spi);
	PG_RETURN_OID(product.relid);
}

/*
 * meshpg.impact(product, column_name, days): who and what a change to the
 * column (or the product, column_name null) would hit.  Consumers come from
 * the access history, so only the governance team and the owning domain may
 * ask.
 */
Datum
meshpg_impact(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *ref = mesh_arg_text(fcinfo, 0, "data product");
	char	   *column = mesh_arg_text_opt(fcinfo, 1);
	int			days;
	MeshSpiState spi;
	MeshProductRow product;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("days must not be null")));
	days = PG_GETARG_INT32(2);
	if (days < 1 || days > 36500)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("days must be between 1 and 36500, not %d", days)));

	InitMaterializedSRF(fcinfo, 0);
	mesh_spi_begin(&spi);
	mesh_resolve_product(ref, false, &product);
	mesh_require_admin_or_member(spi.userid, &product.domain);
	if (column != NULL && get_attnum(product.relid, column) <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of data product \"%s\" does not exist",
						column, product.qualname)));

	mesh_spi_exec("SELECT * FROM meshpg._impact($1, $2, $3, $4)", 4,
				  (Oid[]) {OIDOID, INT8OID, TEXTOID, INT4OID},
				  (Datum[]) {ObjectIdGetDatum(product.relid), Int64GetDatum(product.id),
				  column ? CStringGetTextDatum(column) : (Datum) 0, Int32GetDatum(days)},
				  column ? NULL : "  n ");
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[5];
		bool		nulls[5];

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	mesh_spi_end(&spi);
	return (Datum) 0;
}
