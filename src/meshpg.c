/*
 * meshpg.c
 *		Library entry point: refuse to run unless preloaded, define the
 *		settings, register the callbacks, and install the hooks (once, all
 *		of them, through src/hooks.c).
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

#include "meshpg/classify/classify.h"
#include "meshpg/contract/contract.h"
#include "meshpg/retention/retention.h"
#include "meshpg/governance/governance.h"
#include "meshpg/policy/policy.h"
#include "meshpg/registry/registry.h"
#include "meshpg/history/history.h"
#include "meshpg/hooks.h"
#include "meshpg/meshpg.h"
#include "meshpg/ports/ports.h"
#include "meshpg/citus/citus.h"
#include "meshpg/events/events.h"

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
	mesh_define_counter_settings();	/* governance/counters.c */
	mesh_define_stat_settings();	/* governance/statsets.c */
	mesh_define_contract_settings();
	mesh_define_event_settings();	/* events/emit.c: meshpg.events, events_retention */
	mesh_slo_init();			/* settings, transaction callbacks, read gate */
	mesh_worker_init();			/* settings, the launcher */
	mesh_define_history_settings();
	mesh_define_classify_settings();
	mesh_define_retention_settings();
	mesh_ports_init();			/* meshpg.port_max_lag */
	mesh_define_request_settings();	/* registry/requests.c: meshpg.access_request_ttl */
	mesh_define_pit_settings();	/* registry/pit.c: meshpg.governance_history_retention */

	MarkGUCPrefixReserved("meshpg");

	mesh_install_catalog_callbacks();
	mesh_install_function_callbacks();

	/*
	 * Every hook point, in one place: the order of the concerns at each one
	 * is written down in src/hooks.c (history, for one, sees a query
	 * before governance masks it).
	 */
	mesh_install_hooks();
}
