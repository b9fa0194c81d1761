/*
 * pit.c
 *		Point-in-time governance: pruning the governance history kept by the
 *		catalog triggers (sql/1.4/45-point-in-time.sql) to
 *		meshpg.governance_history_retention, by hand or by the worker.
 *
 * The versions of catalog rows that ended before the retention go; the
 * horizon (meshpg.cat_governance_horizon) moves up to that moment, so that
 * explain_access(at => t) refuses a moment the history no longer covers
 * instead of answering from what is left of it.  Versions still in force,
 * however old, are kept: they answer for every moment since they began.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "meshpg/registry/registry.h"

PG_FUNCTION_INFO_V1(meshpg_prune_governance_history);

/* meshpg.governance_history_retention, minutes; 0 keeps everything */
static int	history_retention = 0;

void
mesh_define_pit_settings(void)
{
	DefineCustomIntVariable("meshpg.governance_history_retention",
							"How long the governance history keeps versions that ended; 0 keeps them forever.",
							"explain_access(at => t) answers for moments within the retention.",
							&history_retention,
							0, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);
}

static int64
prune(void)
{
	MeshSpiState spi;
	int64		n;

	if (history_retention <= 0)
		return 0;
	mesh_spi_begin(&spi);
	mesh_spi_exec("DELETE FROM meshpg.cat_governance_history "
				  " WHERE NOT upper_inf(valid) AND upper(valid) < now() - make_interval(mins => $1)",
				  1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(history_retention)}, NULL);
	n = SPI_processed;
	mesh_spi_exec("INSERT INTO meshpg.cat_governance_horizon VALUES (1, now() - make_interval(mins => $1)) "
				  "ON CONFLICT (id) DO UPDATE SET since = greatest(meshpg.cat_governance_horizon.since, EXCLUDED.since)",
				  1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(history_retention)}, NULL);
	mesh_spi_end(&spi);
	return n;
}

/* meshpg.prune_governance_history(): versions removed */
Datum
meshpg_prune_governance_history(PG_FUNCTION_ARGS)
{
	mesh_require_admin(GetUserId(), "prune the governance history");
	PG_RETURN_INT64(prune());
}

/* The worker's task "governance_history". */
bool
mesh_governance_history_task(void)
{
	if (history_retention <= 0 || mesh_catalog() == NULL ||
		mesh_spi_first_value("SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
							 "ON n.oid = c.relnamespace WHERE n.nspname = 'meshpg' "
							 "AND c.relname = 'cat_governance_history'", 0, NULL, NULL) == NULL)
		return false;
	prune();
	return false;
}
