/*
 * schedule.c
 *		The worker task that evaluates SLOs when they fall due.
 *
 * A run is claimed before it is measured: the task moves next_due on, under
 * a row lock taken with SKIP LOCKED, and records the run's due time with
 * each result.  Two workers, or a worker and a crash-restarted worker, can
 * therefore never both take the same run, and the unique index on
 * (slo_id, scheduled_for) holds exactly one result per run.  Claim,
 * measurement and results commit together, one product at a time in a
 * subtransaction: if measuring a product fails as a whole, the claim is
 * taken again and an error result recorded for each of its due SLOs.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "meshpg/slo/slo.h"

typedef struct DueProduct
{
	int64		id;
	char	   *ref;
} DueProduct;

/* Claims the due runs of a product; in the caller's memory context. */
static List *
claim(int64 product_id)
{
	List	   *runs = NIL;
	MeshSpiState spi;

	mesh_spi_begin(&spi);
	mesh_spi_exec("UPDATE meshpg.cat_slo s SET next_due = pg_catalog.now() + s.schedule "
				  "  FROM (SELECT id, next_due FROM meshpg.cat_slo "
				  "         WHERE product_id = $1 AND schedule IS NOT NULL "
				  "           AND next_due <= pg_catalog.now() FOR UPDATE SKIP LOCKED) o "
				  " WHERE s.id = o.id RETURNING s.id, o.next_due",
				  1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(product_id)}, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		SloRun	   *run = palloc(sizeof(SloRun));
		bool		isnull;

		run->slo_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		run->scheduled_for = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 2, &isnull));
		runs = lappend(runs, run);
	}
	mesh_spi_end(&spi);
	return runs;
}

static void
record_failure(List *runs, const char *error)
{
	MeshSpiState spi;
	ListCell   *lc;

	mesh_spi_begin(&spi);
	foreach(lc, runs)
	{
		SloRun	   *run = lfirst(lc);

		mesh_spi_exec("INSERT INTO meshpg.cat_slo_result (slo_id, started_at, duration, objective, "
					  "met, error, trigger, scheduled_for) "
					  "VALUES ($1, pg_catalog.now(), '0', 'unknown', NULL, $2, 'scheduled', $3)",
					  3, (Oid[]) {INT8OID, TEXTOID, TIMESTAMPTZOID},
					  (Datum[]) {Int64GetDatum(run->slo_id), CStringGetTextDatum(error),
					  TimestampTzGetDatum(run->scheduled_for)}, NULL);
	}
	mesh_spi_end(&spi);
}

/* Runs body in a subtransaction; returns the error message, or NULL. */
static char *
in_subxact(DueProduct *product, bool failure_pass, const char *error)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *volatile result = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		List	   *runs = claim(product->id);

		if (runs != NIL)
		{
			if (failure_pass)
				record_failure(runs, error);
			else
				mesh_slo_evaluate(product->ref, runs, NIL, 0, false, NULL, NULL);
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED || failure_pass)
			PG_RE_THROW();
		EmitErrorReport();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		result = edata->message;
	}
	PG_END_TRY();
	return result;
}

/* Days of history kept beyond each SLO's compliance window; 0: all. */
int			mesh_slo_history_days = 90;

/*
 * Old results go in batches, so that a first run on a long history does not
 * hold one huge transaction; what is left goes at the next tick.
 */
static void
trim_history(void)
{
	MeshSpiState spi;

	if (mesh_slo_history_days <= 0)
		return;
	mesh_spi_begin(&spi);
	mesh_spi_exec("DELETE FROM meshpg.cat_slo_result WHERE id IN ("
				  " SELECT r.id FROM meshpg.cat_slo_result r JOIN meshpg.cat_slo s ON s.id = r.slo_id"
				  "  WHERE r.started_at < pg_catalog.now() - s.compliance_window - "
				  "        $1 * interval '1 day'"
				  "  LIMIT 10000)",
				  1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(mesh_slo_history_days)}, NULL);
	mesh_spi_end(&spi);
}

bool
mesh_slo_schedule_task(void)
{
	const MeshCatalog *cat = mesh_catalog();
	List	   *due = NIL;
	ListCell   *lc;
	MeshSpiState spi;

	if (cat == NULL || !OidIsValid(get_relname_relid("cat_slo", cat->nsp)))
		return false;

	mesh_spi_begin(&spi);
	mesh_spi_exec("SELECT DISTINCT p.id, d.name || '.' || p.name "
				  "  FROM meshpg.cat_slo s "
				  "  JOIN meshpg.cat_product p ON p.id = s.product_id "
				  "  JOIN meshpg.cat_domain d ON d.id = p.domain_id "
				  " WHERE s.schedule IS NOT NULL AND s.next_due <= pg_catalog.now() "
				  "   AND p.state <> 'retired' ORDER BY 1",
				  0, NULL, NULL, NULL);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		DueProduct *p = palloc(sizeof(DueProduct));
		bool		isnull;

		p->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		p->ref = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		due = lappend(due, p);
	}
	mesh_spi_end(&spi);

	foreach(lc, due)
	{
		DueProduct *p = lfirst(lc);
		char	   *error = in_subxact(p, false, NULL);

		if (error != NULL)
			(void) in_subxact(p, true, error);
	}
	trim_history();
	return false;
}
