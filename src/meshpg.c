/*
 * meshpg.c
 *		Library entry point: refuse to run unless preloaded, define the
 *		settings, and install every hook.
 *
 * meshpg fails closed.  Governed tables carry a row-security guard that
 * calls into this library (governance/guard.c); when the library was not
 * preloaded, that call loads it here, and _PG_init raises an error instead
 * of letting the read through ungoverned.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "citus/citus.h"
#include "contract/contract.h"
#include "governance/policy.h"
#include "history/history.h"
#include "meshpg.h"

PG_MODULE_MAGIC;

bool		meshpg_confusable_check = true;

void		_PG_init(void);

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("meshpg must be loaded via shared_preload_libraries"),
				 errdetail("Governed data products are unreadable while meshpg is not preloaded."),
				 errhint("Add meshpg to shared_preload_libraries in postgresql.conf and restart the server.")));

	/*
	 * Turning the check off weakens governance (look-alike names become
	 * possible), so only a superuser may do it.
	 */
	DefineCustomBoolVariable("meshpg.confusable_check",
							 "Refuses look-alike domain and product names.",
							 "Uses the ICU spoof checker: names must be in one script, and 'paypa1' is refused beside 'paypal'.",
							 &meshpg_confusable_check,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	mesh_define_identity_settings();
	mesh_define_contract_settings();
	mesh_slo_init();			/* settings, shared memory, hooks */
	mesh_worker_init();			/* settings, the launcher */
	mesh_define_history_settings();

	MarkGUCPrefixReserved("meshpg");

	mesh_install_catalog_callbacks();
	mesh_install_planner_hook();
	mesh_install_executor_hooks();
	mesh_install_ddl_hooks();
	mesh_install_citus_hooks();	/* citus/citus.c */
	mesh_install_history();		/* last: it sees queries before governance masks them */
}
