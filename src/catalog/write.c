/*
 * write.c
 *		Running catalog statements as the catalog owner.
 *
 * Consumers and domain teams hold no rights on meshpg's tables.  The
 * registry checks the caller's own identity first (GetUserId() before the
 * switch), then runs fixed, parameterised statements as the owner of the
 * catalog.  The switch is a local user-id change, which the transaction or
 * subtransaction abort undoes if anything fails.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/proc.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/portal.h"

#include "meshpg/catalog/catalog.h"

/*
 * Who the catalog is being changed for: the caller of the outermost
 * mesh_spi_begin of this transaction still running.  The governance
 * history records it (meshpg._governance_actor), since by the time a
 * catalog trigger runs the current user is the catalog owner.  Tagged with
 * the local transaction id, so that a caller left behind by an error never
 * names a later transaction's writer.
 */
static Oid	spi_actor = InvalidOid;
static LocalTransactionId spi_actor_lxid = InvalidLocalTransactionId;

void
mesh_spi_begin(MeshSpiState *state)
{
	const MeshCatalog *cat = mesh_catalog();
	MemoryContext caller = CurrentMemoryContext;

	if (cat == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"meshpg\" is not installed in this database")));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * Back to the caller's context: what callers read in the connection
	 * (SPI_getvalue, names, versions) must outlive SPI_finish, which frees
	 * the procedure context SPI_connect switched to.
	 */
	MemoryContextSwitchTo(caller);

	GetUserIdAndSecContext(&state->userid, &state->sec_context);
	state->prev_actor = spi_actor;
	state->prev_actor_lxid = spi_actor_lxid;
	if (spi_actor_lxid != MyProc->lxid || !OidIsValid(spi_actor))
	{
		spi_actor = state->userid;
		spi_actor_lxid = MyProc->lxid;
	}
	SetUserIdAndSecContext(cat->owner,
						   state->sec_context | SECURITY_LOCAL_USERID_CHANGE);

	/*
	 * Catalog statements touch a few rows, but recursive CTEs and set
	 * functions give them estimates far above jit_above_cost: compiling them
	 * cost ~50 ms per tag propagation.  Abort undoes this like a function's
	 * SET clause.
	 */
	state->guc_nestlevel = NewGUCNestLevel();
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	/*
	 * The statements below run as the catalog owner (a superuser), and not
	 * only from SQL functions whose SET clause pins search_path: the DDL
	 * guard, lineage recording and the history flush reach here from hooks,
	 * under whatever search_path the caller set.  An operator or function
	 * the caller created in a schema of that path (CREATE OPERATOR
	 * myschema.= (bigint, bigint) with "SET search_path = myschema,
	 * pg_catalog") would otherwise run with the owner's rights the moment
	 * a catalog qual calls it.  Pin the path as a SECURITY DEFINER function
	 * should; pg_temp last, so that no temporary relation shadows a table.
	 */
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

void
mesh_spi_end(MeshSpiState *state)
{
	AtEOXact_GUC(true, state->guc_nestlevel);
	SetUserIdAndSecContext(state->userid, state->sec_context);
	spi_actor = state->prev_actor;
	spi_actor_lxid = state->prev_actor_lxid;
	SPI_finish();
}

/*
 * Whether the statement running is a COPY FROM into relid: how pg_restore
 * (and psql's \copy) load a table.  Only the catalog owner and superusers
 * can COPY into meshpg's tables.
 */
static bool
copying_into(Oid relid)
{
	ListCell   *lc;

	if (ActivePortal == NULL || ActivePortal->commandTag != CMDTAG_COPY)
		return false;
	foreach(lc, ActivePortal->stmts)
	{
		PlannedStmt *pstmt = lfirst_node(PlannedStmt, lc);
		CopyStmt   *copy = (CopyStmt *) pstmt->utilityStmt;

		if (copy != NULL && IsA(copy, CopyStmt) && copy->is_from && copy->relation != NULL &&
			RangeVarGetRelid(copy->relation, NoLock, true) == relid)
			return true;
	}
	return false;
}

PG_FUNCTION_INFO_V1(meshpg_governance_actor);

/*
 * meshpg._governance_actor(relation), mesh_governance_actor (history.c): the
 * role a governance-history trigger
 * on relation records as the author of a change, or NULL when the change is
 * a restore loading the table: the dump carries the history rows
 * themselves, and recording the load would rewrite history with
 * restore-time rows.
 */
char *
mesh_governance_actor(Oid relid)
{
	Oid			actor;
	char	   *name;

	if (copying_into(relid))
		return NULL;
	actor = (OidIsValid(spi_actor) && spi_actor_lxid == MyProc->lxid) ? spi_actor : GetUserId();
	name = GetUserNameFromId(actor, true);
	return name ? name : psprintf("role %u", actor);
}

Datum
meshpg_governance_actor(PG_FUNCTION_ARGS)
{
	char	   *name = mesh_governance_actor(PG_GETARG_OID(0));

	if (name == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(name));
}

/*
 * Never read-only: a read-only statement sees the snapshot the caller
 * started with, not what this function wrote a statement ago.
 */
int
mesh_spi_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
			  const char *nulls)
{
	int			rc;
	MemoryContext caller = CurrentMemoryContext;

	rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, false, 0);

	/*
	 * SPI returns in its procedure context, which SPI_finish frees: back to
	 * the caller's, so that what callers read (SPI_getvalue) outlives it.
	 */
	MemoryContextSwitchTo(caller);
	if (rc < 0)
		elog(ERROR, "meshpg catalog statement failed (%s): %s",
			 SPI_result_code_string(rc), sql);
	return rc;
}

/* In a connection of its own, as the catalog owner. */
char *
mesh_spi_first_value(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	MeshSpiState spi;
	char	   *result = NULL;

	mesh_spi_begin(&spi);
	mesh_spi_exec(sql, nargs, argtypes, values, NULL);
	if (SPI_processed > 0)
		result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	mesh_spi_end(&spi);
	return result;
}
