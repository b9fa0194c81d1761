/*
 * prune.c
 *		The worker task that keeps the outbox to meshpg.events_retention:
 *		events older than that are deleted, in batches so that one run never
 *		holds a long transaction.  Consumers that fall further behind than
 *		the retention miss events (doc/events.md says so).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"

#include "meshpg/catalog/catalog.h"
#include "meshpg/events/events.h"

#define PRUNE_BATCH 10000

/* worker task: true while there may be more to delete (run again) */
bool
mesh_events_prune_task(void)
{
	MeshSpiState spi;
	uint64		deleted;

	const MeshCatalog *cat = mesh_catalog();

	/* nothing to do before CREATE EXTENSION or ALTER EXTENSION UPDATE to 1.4 */
	if (mesh_events_retention <= 0 || cat == NULL ||
		!OidIsValid(get_relname_relid("cat_event", cat->nsp)))
		return false;
	mesh_spi_begin(&spi);
	mesh_spi_exec("DELETE FROM meshpg.cat_event WHERE id OPERATOR(pg_catalog.=) ANY (ARRAY("
				  "SELECT id FROM meshpg.cat_event "
				  " WHERE time OPERATOR(pg_catalog.<) pg_catalog.now() OPERATOR(pg_catalog.-) "
				  "       pg_catalog.make_interval(mins => $1) "
				  " ORDER BY id LIMIT " CppAsString2(PRUNE_BATCH) "))",
				  1, (Oid[]) {INT4OID}, (Datum[]) {Int32GetDatum(mesh_events_retention)}, NULL);
	deleted = SPI_processed;
	mesh_spi_end(&spi);
	return deleted == PRUNE_BATCH;
}
